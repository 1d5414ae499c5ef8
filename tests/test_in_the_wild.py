"""examples/in_the_wild/: derivative bugs gradcheck found in widely used libraries, each
an expect="mismatch" case against the version it was seen in (gradcheck[wild])."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gradcheck.cli import ExitCode, app

ROOT = Path(__file__).resolve().parent.parent
WILD = ROOT / "examples" / "in_the_wild"


@pytest.fixture(autouse=True)
def _at_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def run(*args: str) -> str:
    result = CliRunner().invoke(app, ["run", *args, "--seed", "0"], env={"COLUMNS": "120"})
    assert result.exit_code == ExitCode.OK, result.output
    return result.stdout


def test_sklearn_tsne_gradient_is_wrong_in_3d_and_right_in_2d() -> None:
    out = run("examples/in_the_wild/sklearn_tsne.py")
    assert "PASSED tsne_2d: 16 elements agree (ok 16)" in out
    assert "PASSED tsne_3d: mismatch found, as expected: 24 / 24 elements disagree" in out


def test_torch_float64_hardsigmoid_multiplies_by_a_float32_sixth() -> None:
    out = run("examples/in_the_wild/torch_hardsigmoid.py")
    assert "PASSED hardsigmoid_default_rtol: 6 elements agree (ok 6)" in out
    assert "PASSED hardsigmoid_rtol_0: mismatch found, as expected: 6 / 6 elements disagree" in out
    assert "0.166666672" in out  # float32's 1/6, shown apart from 1/6's 0.166666667


def test_the_demo_passes_by_the_folder_and_naming_it_runs_it() -> None:
    assert "in_the_wild" not in run("examples/")
    assert re.search(r"^4 cases: 4 passed \(2 of them mismatches", run(str(WILD)), re.M)


def test_the_pins_of_the_wild_extra_are_those_of_the_folder() -> None:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["wild"]
    lines = (WILD / "requirements.txt").read_text().splitlines()
    assert sorted(extra) == sorted(line for line in lines if not line.startswith("#"))
