"""The READMEs' examples, run: every output a README shows is what its code prints now.

README.md and the torch and JAX plugins' READMEs follow these conventions, and every test
is named after the README and the line of the block it checks (``README.md:23``):

* A ```python block followed, with only blank lines between, by an untagged or ```text
  block: the code runs alone (a fresh namespace, the repository root as working
  directory) and must print exactly that output.
* Any other ```python block runs alone and must not raise. One whose first line is
  ``# test_<name>.py`` is a test file and is run by pytest instead: its tests pass, unless
  an output block further on starts with pytest's section header for one of its tests
  (``____ test_wrong ____``); then that test fails, and pytest's section for it is that
  output.
* An output block whose first line is ``$ gradcheck ...`` is that command's output (run
  through typer's CliRunner). A line ``...`` in it stands for one or more lines, the
  output being abridged.
* ``<!-- not run: why -->`` on the line before a fence exempts the block: a python sketch
  that is not meant to run alone, or an untagged block that is no output.

Only timing figures are normalised (the seconds of a report's provenance line and of the
CLI's summary line), and trailing whitespace. A few figures quoted in prose are computed
too (``test_figures_quoted_in_prose``). ```sh blocks (installing, the whole suite, the
benchmarks) are not run.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import itertools
import random
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import jax  # noqa: F401  # the JAX README's blocks need it: installed wherever the suite runs
import numpy as np
import pytest
import torch  # the torch README's blocks need it: installed wherever the suite runs
from typer.testing import CliRunner

import gradcheck
from gradcheck.cli import app

ROOT = Path(__file__).resolve().parent.parent
READMES = ("README.md", "plugins/gradcheck-torch/README.md", "plugins/gradcheck-jax/README.md")
OUTPUT_LANGS = ("", "text")

OPENING = re.compile(r"^```([\w-]*)\s*$")
CLOSING = re.compile(r"^```\s*$")
NOT_RUN = re.compile(r"^<!-- not run: (.*\S) -->$")
TEST_FILE = re.compile(r"^# (test_\w+)\.py$")
PYTEST_SECTION = re.compile(r"^_{3,} (test_\w+) _{3,}$")

TIMINGS = (
    # a report's provenance line: "...; seed 0; 0.0184 s"
    (re.compile(r"(; seed \d+; )\d+(?:\.\d+)?(?:e[+-]\d+)? s$", re.MULTILINE), r"\1<t> s"),
    # the CLI's summary line: "10 cases: 10 passed (...) in 0.09s"
    (re.compile(r"^(\d+ cases?: .*) in \d+\.\d+s$", re.MULTILINE), r"\1 in <t>s"),
    # the JAX backend's compile-time note: "jax.jit compile time 0.21 s, ... (f 0.043 s, ...)"
    (
        re.compile(r"((?:compile time|f|gradient|vmap\(f\)|mode\)) )\d+(?:\.\d+)?(?:e[+-]\d+)? s"),
        r"\1<t> s",
    ),
)


@dataclass
class Block:
    readme: str
    line: int  # of the opening fence, counted from 1
    lang: str
    text: str
    directly_after_block: bool  # only blank lines since the previous block's closing fence
    exempt: str | None  # the reason of a <!-- not run: ... --> just above the fence
    output: Block | None = None  # python: the output block right after it
    pytest_section: Block | None = None  # a test file: the failure section it must print

    @property
    def where(self) -> str:
        return f"{self.readme}:{self.line}"

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0]


def parse(readme: str) -> list[Block]:
    lines = (ROOT / readme).read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    previous_close = None
    i = 0
    while i < len(lines):
        opening = OPENING.match(lines[i])
        if not opening:
            i += 1
            continue
        start = i
        i += 1
        while not CLOSING.match(lines[i]):
            i += 1
        exempt = NOT_RUN.match(lines[start - 1]) if start else None
        blocks.append(
            Block(
                readme=readme,
                line=start + 1,
                lang=opening.group(1),
                text="\n".join(lines[start + 1 : i]),
                directly_after_block=previous_close is not None
                and not any(line.strip() for line in lines[previous_close + 1 : start]),
                exempt=exempt.group(1) if exempt else None,
            )
        )
        previous_close = i
        i += 1
    for before, after in itertools.pairwise(blocks):
        if before.lang == "python" and after.lang in OUTPUT_LANGS and after.directly_after_block:
            before.output = after
    for k, block in enumerate(blocks):
        section = PYTEST_SECTION.match(block.first_line)
        if block.lang in OUTPUT_LANGS and section:
            test_files = [b for b in blocks[:k] if TEST_FILE.match(b.first_line)]
            assert test_files, f"{block.where}: pytest's output, but no test file above it"
            test_file = test_files[-1]  # the nearest one
            assert f"def {section.group(1)}(" in test_file.text, f"{block.where}: not its test"
            test_file.pytest_section = block
    return blocks


BLOCKS = [block for readme in READMES for block in parse(readme)]
PYTHON = [b for b in BLOCKS if b.lang == "python" and b.exempt is None]
SCRIPTS = [b for b in PYTHON if not TEST_FILE.match(b.first_line)]
TEST_FILES = [b for b in PYTHON if TEST_FILE.match(b.first_line)]
COMMANDS = [b for b in BLOCKS if b.lang in OUTPUT_LANGS and b.first_line.startswith("$ ")]


def where(block: Block) -> str:
    return block.where


def normalise(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    normal = "\n".join(lines)
    for pattern, replacement in TIMINGS:
        normal = pattern.sub(replacement, normal)
    return normal


def assert_shows(block: Block, shown: Block, printed: str, elisions: bool = False) -> None:
    expected = normalise(shown.text)
    actual = normalise(printed)
    if elisions:
        expected = expected.split("\n", 1)[1]  # the "$ command" line
        pattern = "\n".join(
            r"(?:.*\n)*?.*" if line == "..." else re.escape(line) for line in expected.split("\n")
        )
        same = re.fullmatch(pattern, actual) is not None
    else:
        same = expected == actual
    assert same, (
        f"the output shown at {shown.where} (for the block at {block.where}) is stale; "
        f"the code prints now:\n{printed}"
    )


@contextlib.contextmanager
def isolated() -> Iterator[None]:
    """A block's run leaves no trace: the global generators it may seed (torch.manual_seed)
    are put back after it. torch computes on one thread meanwhile, as these small examples
    are best run: its default pool spins for a core a busy machine (pytest -n) cannot give,
    and an example of milliseconds takes seconds."""
    numpy_state, python_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        torch.set_num_threads(threads)
        np.random.set_state(numpy_state)  # noqa: NPY002
        random.setstate(python_state)


# -- python blocks ---------------------------------------------------------------------------


@pytest.mark.parametrize("block", SCRIPTS, ids=where)
def test_python_block(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    # padded, so that a traceback names the README's own lines
    code = compile("\n" * block.line + block.text, block.readme, "exec")
    printed = io.StringIO()
    with isolated(), contextlib.redirect_stdout(printed):
        exec(code, {"__name__": "__main__"})
    if block.output is not None:
        assert_shows(block, block.output, printed.getvalue())


@pytest.mark.parametrize("block", TEST_FILES, ids=where)
def test_test_file_block(
    block: Block, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # pytest's section headers span the terminal
    match = TEST_FILE.match(block.first_line)
    assert match
    pytester.makepyfile(**{match.group(1): block.text})
    with isolated():
        result = pytester.runpytest("-p", "no:cacheprovider")
    if block.pytest_section is None:
        assert result.ret == 0, f"{block.where}: a test fails\n{result.stdout.str()}"
        return
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    lines = result.outlines
    if block.pytest_section.first_line not in lines:
        pytest.fail(
            f"{block.where}: no section {block.pytest_section.first_line!r} in\n"
            + result.stdout.str()
        )
    header = lines.index(block.pytest_section.first_line)
    end = next(i for i in range(header + 1, len(lines)) if lines[i].startswith("="))
    assert_shows(block, block.pytest_section, "\n".join(lines[header:end]))


# -- command outputs -------------------------------------------------------------------------


@pytest.mark.parametrize("block", COMMANDS, ids=where)
def test_command_block(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    for name in ("FORCE_COLOR", "NO_COLOR", "PY_COLORS", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    program, *args = shlex.split(block.first_line.removeprefix("$ "))
    assert program == "gradcheck", f"{block.where}: only gradcheck's own commands are run"
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert_shows(block, block, result.stdout, elisions=True)


# -- what the conventions leave out ----------------------------------------------------------


def test_every_output_block_is_checked() -> None:
    checked = {id(b.output) for b in SCRIPTS} | {id(b.pytest_section) for b in TEST_FILES}
    checked |= {id(b) for b in COMMANDS}
    unchecked = [
        b.where
        for b in BLOCKS
        if b.lang in OUTPUT_LANGS and id(b) not in checked and b.exempt is None
    ]
    assert not unchecked, (
        f"output blocks that no code produces: {unchecked}; put the code that prints them "
        "right above them, or mark a block that is no output with <!-- not run: why -->"
    )


def test_exempt_blocks_show_no_output() -> None:
    exempt = [b for b in BLOCKS if b.exempt is not None]
    assert len(exempt) <= 3, f"keep exemptions rare: {[b.where for b in exempt]}"
    shown = [b.where for b in exempt if b.lang == "python" and b.output is not None]
    assert not shown, f"python blocks marked not run, yet followed by an output: {shown}"


# -- figures quoted in prose -----------------------------------------------------------------


def prose(readme: str) -> str:
    """The README's text with its line breaks undone, so a quoted sentence reads as one."""
    return " ".join((ROOT / readme).read_text(encoding="utf-8").split())


def cells(report: gradcheck.Report, row: int = 0) -> list[str]:
    """The cells of one element row of the report's text: name, analytic, numeric ± error,
    tolerance, verdict."""
    lines = str(report).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("  element  "))
    return re.split(r"\s{2,}", lines[header + 1 + row].strip())


def load(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def below_round_off() -> str:
    from scipy.special import ndtr

    report = gradcheck.check(
        lambda x: float(ndtr(x[0]) + ndtr(x[1])),
        np.array([-13.1, -10.0]),
        grad=lambda x: np.exp(-(x**2) / 2) / np.sqrt(2 * np.pi),
        seed=0,
    )
    _, analytic, numeric, _, verdict = cells(report)
    detectable = report.element(0, 0).detectable
    return (
        f"(`ndtr(-13.1)` summed with `ndtr(-10)`) is `{verdict}` at `{numeric}` for an "
        f"analytic `{analytic}`, with `detectable` {detectable:.3g}."
    )


def pole() -> str:
    from scipy.special import digamma, polygamma

    report = gradcheck.check(
        lambda x: float(digamma(x[0])),
        np.array([-5.00000001]),
        grad=lambda x: polygamma(1, x),
        seed=0,
    )
    _, _, _, tolerance, verdict = cells(report)
    return f"(`digamma` at -5.00000001) is `{verdict}`, tolerance `{tolerance}`."


def fast_oscillation() -> str:
    def f(p: np.ndarray) -> float:
        return float(np.sin(1e7 * p[0]))

    right = gradcheck.check(f, np.array([0.3]), grad=lambda p: 1e7 * np.cos(1e7 * p), seed=0)
    flipped = gradcheck.check(f, np.array([0.3]), grad=lambda p: -1e7 * np.cos(1e7 * p), seed=0)
    _, _, numeric, _, verdict = cells(right)
    return (
        f"`sin(1e7 x)` at x = 0.3 is `{verdict}` at `{numeric}` "
        f"({right.metadata.function_evaluations} evaluations of f), and a "
        f"`{cells(flipped)[-1]}` with the sign flipped."
    )


def nothing_verified() -> str:
    report = gradcheck.check(
        lambda p: float(1e12 + 3 * p[0]), np.array([0.3]), grad=lambda p: 3 + 0 * p, seed=0
    )
    assert "no element could be verified" in report.headline()
    _, analytic, numeric, _, _ = cells(report)
    return (
        f'("no element could be verified"; f = `1e12 + 3 x` at x = 0.3: `{numeric}` for a '
        f"derivative of {analytic})"
    )


def optimize_cost() -> str:
    """The extra evaluations a checked minimize makes with check="start", as
    benchmarks/bench_optimize.py counts them (its start points, seed 0): one check, at x0.
    SciPy's optimisation after it (maxiter=0 here) adds none."""
    from scipy.optimize import rosen, rosen_der

    from gradcheck import optimize

    start = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
    counts = [
        optimize.minimize(
            rosen,
            np.resize(start, n),
            jac=rosen_der,
            method="BFGS",
            check="start",
            check_options={"seed": 0},
            options={"maxiter": 0},
        ).gradcheck_nfev
        for n in (2, 20, 100)
    ]
    return "(`bench_optimize.py`: {} at n = 2, {} at n = 20, {} at n = 100)".format(*counts)


def tsne_in_3d() -> str:
    """The in-the-wild t-SNE case's size of error, as the README quotes it."""
    report = load("examples/in_the_wild/sklearn_tsne.py").tsne_3d().run(seed=0)
    (summary,) = report.summaries()
    wrong = report.counts["mismatch"]
    assert wrong == report.verdicts.size
    return f"wrong at all {wrong} elements in 3-D (max rel gap {summary.max_rel_error:.2g} in"


FIGURES: dict[str, tuple[str, Callable[[], str]]] = {
    "below round-off": ("README.md", below_round_off),
    "pole": ("README.md", pole),
    "fast oscillation": ("README.md", fast_oscillation),
    "nothing verified": ("README.md", nothing_verified),
    "optimize cost": ("README.md", optimize_cost),
    "t-SNE in 3-D": ("README.md", tsne_in_3d),
}


@pytest.mark.parametrize("name", FIGURES)
def test_figures_quoted_in_prose(name: str) -> None:
    readme, sentence = FIGURES[name]
    expected = sentence()
    if expected not in prose(readme):
        pytest.fail(f"{readme} should say, from its code now: {expected}", pytrace=False)


def test_engine_benchmark_table_evaluations_per_element() -> None:
    """The evaluations per element in the table of benchmarks/bench_engine.py's results, up
    to n = 3,007 (the row of n = 10,009 takes seconds); the ratios are timings, not tested."""
    bench = load("benchmarks/bench_engine.py")
    rng = np.random.default_rng(0)  # drawing the models one size after another, as its main()
    expected = {}
    for size in (100, 1000, 3000):
        f, grad, w0 = bench.make_mlp(size, rng)
        report = gradcheck.check(f, w0, grad=grad, seed=1)
        expected[f"{w0.size:,}"] = f"{report.metadata.function_evaluations / w0.size:.3f}"
    row = re.compile(r"^\s*\| ([\d,]+) \| [^|]* \| ([\d.]+) \|")
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    table = {m[1]: m[2] for m in map(row.match, lines) if m}
    shown = {n: table.get(n) for n in expected}
    assert shown == expected, f"README.md's benchmark table should read {expected}"
