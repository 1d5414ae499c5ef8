"""Golden reports: a fixed-seed set of checks whose whole output must not change by accident.

Every case below is checked with a fixed seed, and everything a user receives from it is
recorded: the report's data (verdicts, every number, evaluation counts, warnings), its text,
its rich rendering and its JUnit XML; the CLI's table, JSON and JUnit for ``examples/``; a
SciPy cross-check. A refactoring must leave all of it identical; a change in behaviour shows
here as the exact fields that moved.

The recording lives in ``tests/golden/reports.json``. Where behaviour changes on purpose,
regenerate it with ``GRADCHECK_REGENERATE_GOLDEN=1 python -m pytest tests/test_golden.py``
and say why in the commit. Only timing figures and the checkout's absolute path are
normalised away.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

import gradcheck
from gradcheck.cli import app
from gradcheck.optimize import cross_check

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden" / "reports.json"
REGENERATE = os.environ.get("GRADCHECK_REGENERATE_GOLDEN") == "1"

SECONDS = (
    (re.compile(r"(; seed \d+; )\d+(?:\.\d+)?(?:e[+-]\d+)? s"), r"\1<t> s"),
    (re.compile(r'time="[0-9.e+-]+"'), 'time="<t>"'),
    (re.compile(r"\bin \d+(?:\.\d+)? ?s\b"), "in <t> s"),
    (re.compile(r'"seconds": [0-9.e+-]+'), '"seconds": "<t>"'),
)


def _rooted(text: str) -> str:
    """``text`` with the checkout's absolute path written ``<root>``."""
    return text.replace(str(ROOT), "<root>")


def _untimed(text: str) -> str:
    for pattern, replacement in SECONDS:
        text = pattern.sub(replacement, text)
    return "\n".join(line.rstrip() for line in text.splitlines())


def _data(value: Any) -> Any:
    """JSON data with timings dropped and floats at 12 significant digits."""
    if isinstance(value, dict):
        return {k: _data(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list | tuple):
        return [_data(v) for v in value]
    if isinstance(value, float):
        return value if not math.isfinite(value) else float(f"{value:.12g}")
    return value


def _rendered(report: gradcheck.Report) -> dict[str, Any]:
    console = Console(width=110, record=True, color_system=None, force_terminal=False)
    console.print(report)
    return {
        "data": _data(report.to_dict()),
        "text": _untimed(str(report)),
        "rich": _untimed(console.export_text()),
        "junit": _untimed(report.to_junit_xml("case")),
    }


# -- the corpus: one member of every class the engine distinguishes --------------------------

A = np.array([0.3, -1.2, 2.5])


def _dropout_f() -> Callable[[np.ndarray], float]:
    rng = np.random.default_rng(5)  # f's own generator: reseeding cannot tame it

    def f(x: np.ndarray) -> float:
        return float(np.sum(x**2 * (rng.random(x.shape) > 0.3)))

    return f


def _log_sum(x: np.ndarray) -> float:
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN beyond the edge, on purpose
        return float(np.sum(np.log(x)))


def _torch_module() -> gradcheck.Report:
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 0, 1, 1])
    loss = torch.nn.functional.cross_entropy
    return gradcheck.check(model, x, y, loss=loss, input_grad=True, batch=False, seed=16)


def _cases() -> dict[str, Callable[[], gradcheck.Report]]:
    check = gradcheck.check
    tiny = np.array([3e-8, -5e-9, 1e-8])
    return {
        "torch module": _torch_module,
        "sin ok": lambda: check(lambda x: float(np.sum(np.sin(x))), A, grad=np.cos, seed=1),
        "sin wrong element": lambda: check(
            lambda x: float(np.sum(np.sin(x))),
            A,
            grad=lambda x: np.cos(x) * np.array([1.0, 1.001, 1.0]),
            seed=1,
        ),
        "jacobian": lambda: check(
            lambda x: np.array([x[0] * x[1], np.exp(x[2]), x @ x]),
            A,
            grad=lambda x: np.array(
                [[x[1], x[0], 0.0], [0.0, 0.0, np.exp(x[2])], list(2 * x + [0, 0, 1e-4])]
            ),
            seed=2,
        ),
        "small magnitudes": lambda: check(
            lambda w: float(np.sum(w * np.cos(w * 1e7))),
            tiny,
            grad=lambda w: np.cos(w * 1e7) - 1e7 * w * np.sin(w * 1e7) * [1, 1, 1.01],
            seed=3,
        ),
        "kink": lambda: check(
            lambda x: float(np.sum(np.abs(x))),
            np.array([0.0, 1.0]),
            grad=np.sign,
            seed=4,
        ),
        "domain edge": lambda: check(_log_sum, np.array([1e-7, 1.0]), grad=lambda x: 1 / x, seed=5),
        "bounds": lambda: check(
            lambda x: float(np.sum(np.sqrt(x))),
            np.array([0.0, 0.5]),
            grad=lambda x: np.where(x > 0, 0.5 / np.sqrt(np.maximum(x, 1e-300)), 1e3),
            bounds=(0.0, 1.0),
            seed=6,
        ),
        "float32 parameters": lambda: check(
            lambda x: float(np.sum(np.tanh(x) * x)),
            np.array([0.5, -1.5, 3.0], dtype=np.float32),
            grad=lambda x: np.tanh(x) + x * (1 - np.tanh(x) ** 2),
            seed=7,
        ),
        "float32 inside f": lambda: check(
            lambda x: float(np.sum(x.astype(np.float32).astype(np.float64) ** 2)),
            A,
            grad=lambda x: 2 * x,
            seed=8,
        ),
        "random f": lambda: check(_dropout_f(), A, grad=lambda x: 2 * x, seed=9),
        "containers": lambda: check(
            lambda p: float(p["w"] @ p["w"] + p["b"] ** 3),
            {"w": np.array([1.0, 2.0]), "b": 0.5},
            grad=lambda p: {"w": 2 * p["w"], "b": 3 * p["b"] ** 2 + 0.01},
            seed=10,
        ),
        "richardson": lambda: check(
            lambda x: float(np.sum(np.exp(x))), A, grad=np.exp, method="richardson", seed=11
        ),
        "complex": lambda: check(
            lambda x: np.sum(np.sin(x)), A, grad=np.cos, method="complex", seed=12
        ),
        "scipy": lambda: check(
            lambda x: float(np.sum(x**3)),
            A,
            grad=lambda x: 3 * x**2 + [0, 0.1, 0],
            method="scipy",
            seed=0,
        ),
        "strict tolerances": lambda: check(
            lambda x: float(np.sum(x**4)),
            A,
            grad=lambda x: 4 * x**3,
            rtol=1e-9,
            atol=0.0,
            strict=True,
            seed=13,
        ),
        "many elements": lambda: check(
            lambda x: float(np.sum(np.sin(x) * np.arange(60.0))),
            np.linspace(-2, 2, 60),
            grad=lambda x: np.cos(x) * np.arange(60.0) * np.where(np.arange(60) % 7 == 3, 1.1, 1.0),
            seed=14,
        ),
        "pole": lambda: check(
            lambda x: float(np.sum(1.0 / (x - 1e-9))),
            np.array([0.0, 2.0]),
            grad=lambda x: -1 / (x - 1e-9) ** 2,
            seed=15,
        ),
    }


CASES = _cases()


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "110"})
    return _untimed(f"exit {result.exit_code}\n{result.output}")


def _outputs() -> dict[str, Any]:
    """Everything recorded, keyed by what produced it."""
    recorded: dict[str, Any] = {name: _rendered(make()) for name, make in CASES.items()}
    recorded["cli table"] = _cli("run", "examples/", "--seed", "0")
    return recorded


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}


def _compare(name: str, fresh: Any, golden: dict[str, Any]) -> None:
    if REGENERATE:
        golden[name] = fresh
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
        return
    assert name in golden, f"no golden record for {name!r}: regenerate (see the docstring)"
    assert json.loads(json.dumps(fresh)) == golden[name]


@pytest.mark.parametrize("name", list(CASES))
def test_report_unchanged(name: str, golden: dict[str, Any]) -> None:
    _compare(name, _rendered(CASES[name]()), golden)


def test_cli_outputs_unchanged(
    golden: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    json_path, junit_path = tmp_path / "run.json", tmp_path / "run.xml"
    table = _cli(
        "run", "examples/", "--seed", "0", "--json", str(json_path), "--junit-xml", str(junit_path)
    )
    # where the checkout lies is no behaviour: absolute paths are recorded from <root>
    fresh = {
        "table": table,
        "json": _data(json.loads(_rooted(json_path.read_text()))),
        "junit": _untimed(_rooted(junit_path.read_text())),
    }
    _compare("cli examples", fresh, golden)


def test_cross_check_unchanged(golden: dict[str, Any]) -> None:
    def rosen(x: np.ndarray) -> float:
        return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))

    def rosen_wrong(x: np.ndarray) -> np.ndarray:
        d = np.zeros_like(x)
        d[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
        d[1:] += 200 * (x[1:] - x[:-1] ** 2) * 1.01
        return d

    result = cross_check(rosen, np.array([-1.2, 1.0, 0.5]), rosen_wrong, method="BFGS")
    fresh = {"text": _untimed(str(result)), "ok": result.ok, "headline": result.headline()}
    _compare("cross check", fresh, golden)
