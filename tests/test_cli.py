"""The command line, tested through what a user reads: exit codes, stdout and stderr."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

import gradcheck
from gradcheck import _plot as plot
from gradcheck import _progress as progress_module
from gradcheck.cli import ExitCode, app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

HEADER = """\
import gradcheck

def J(p):
    return 3 * (p["x"] + p["y"] * p["z"])

def dJ(p):
    return {"x": 3.0, "y": 3 * p["z"], "z": 3 * p["y"]}

def dJ_as_written(p):  # the worked example's [3, z, y]
    return {"x": 3.0, "y": p["z"], "z": p["y"]}

POINT = {"x": 5.0, "y": 3.0, "z": 2.0}

"""

GOOD = """
@gradcheck.case
def good():
    return gradcheck.Case(J, POINT, grad=dJ)
"""

WRONG = """
@gradcheck.case
def wrong():
    return gradcheck.Case(J, POINT, grad=dJ_as_written)
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Run in tmp_path; model files imported by a test are forgotten after it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    yield
    for name, module in list(sys.modules.items()):
        if tmp_path in Path(getattr(module, "__file__", None) or "/").parents:
            del sys.modules[name]


def model(source: str, name: str = "model.py") -> str:
    Path(name).parent.mkdir(parents=True, exist_ok=True)
    Path(name).write_text(HEADER + textwrap.dedent(source))
    return name


def line_of(text: str, path: str = "model.py") -> int:
    """The line of ``path`` that contains ``text``."""
    lines = Path(path).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


# -- exit codes ------------------------------------------------------------------------------


def test_exit_codes_are_documented_and_distinct() -> None:
    assert [(code.name, int(code)) for code in ExitCode] == [
        ("OK", 0),
        ("MISMATCH", 1),
        ("USAGE_ERROR", 2),
    ]
    assert all(code.__doc__ for code in ExitCode)


def test_the_examples_pass_while_showing_the_worked_examples_mistake() -> None:
    result = invoke("run", str(EXAMPLES))
    assert result.exit_code == ExitCode.OK, result.output
    out = result.stdout
    assert "seed_backprop.py::chain_rule_as_written  (expect='mismatch')" in out
    assert (
        "PASSED chain_rule_as_written: mismatch found, as expected: 2 / 3 elements disagree" in out
    )
    assert "PASSED and_gate_neuron_skipping_sigmoid: mismatch found, as expected" in out
    assert "PASSED two_layer_net[0]: 43 elements agree" in out
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("10 cases: 10 passed (2 of them mismatches, as expected) in ")
    assert result.stderr == ""


def test_the_table_names_parameter_shape_worst_element_and_verdict() -> None:
    model(WRONG)
    result = invoke("run", "model.py")
    assert result.exit_code == ExitCode.MISMATCH
    rows = [line.split() for line in result.stdout.splitlines()]
    assert (rows[2][:8]) == [
        "parameter",
        "shape",
        "worst",
        "element",
        "analytic",
        "numeric",
        "±",
        "error",
    ]
    y_row = next(row for row in rows if row and row[0] == "y")
    assert y_row[:5] == ["y", "scalar", "y", "2", "6"]
    assert y_row[-1] == "mismatch"
    assert "FAILED wrong: 2 / 3 elements disagree (ok 1, mismatch 2)" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("1 case: 1 failed in ")


def test_a_mismatch_exits_1_and_the_others_still_pass() -> None:
    model(GOOD + WRONG)
    result = invoke("run", "model.py")
    assert result.exit_code == ExitCode.MISMATCH
    assert "PASSED good: 3 elements agree" in result.stdout
    assert "2 cases: 1 passed, 1 failed in " in result.stdout


def test_an_expected_mismatch_that_is_not_found_fails() -> None:
    model(
        """
        @gradcheck.case(expect="mismatch")
        def fixed():
            return gradcheck.Case(J, POINT, grad=dJ)
        """
    )
    result = invoke("run", "model.py")
    assert result.exit_code == ExitCode.MISMATCH
    assert (
        "FAILED fixed: expected a mismatch (expect='mismatch'), but 3 elements agree (ok 3). "
        "Fixed the gradient? Then drop expect='mismatch'" in result.stdout
    )


def test_an_expected_mismatch_is_not_found_in_a_check_that_verified_nothing() -> None:
    model(
        """
        import numpy as np

        RNG = np.random.default_rng()  # a generator of its own: gradcheck cannot reseed it

        def noisy(x):
            return float(np.sum(x**2) + RNG.normal())

        @gradcheck.case(expect="mismatch")
        def random_f():
            return gradcheck.Case(noisy, np.array([1.0, 2.0]), grad=lambda x: 2 * x)
        """
    )
    result = invoke("run", "model.py")
    assert result.exit_code == ExitCode.MISMATCH
    assert "FAILED random_f: expected a mismatch (expect='mismatch'), but " in result.stdout
    assert "f is random" in result.stdout
    assert "Fixed the gradient?" not in result.stdout


# -- bad input: one short message, no traceback ---------------------------------------------


def assert_one_message(result: Result, expected: str) -> None:
    assert result.exit_code == ExitCode.USAGE_ERROR, result.output
    assert expected in result.stderr
    assert "Traceback" not in result.output


def test_a_missing_path_is_one_line_naming_it() -> None:
    model(GOOD)
    result = invoke("run", "model.py", "no_such_model.py")
    assert result.exit_code == ExitCode.USAGE_ERROR
    assert result.stderr == (
        "error: no such file or folder: no_such_model.py. Pass model files (*.py) or "
        "folders of them\n"
    )
    assert result.stdout == ""  # nothing checked


def test_a_file_that_is_not_python_is_named_as_such(tmp_path: Path) -> None:
    Path("notes.txt").write_text("hello\n")
    result = invoke("run", "notes.txt")
    assert result.exit_code == ExitCode.USAGE_ERROR
    assert result.stderr == (
        "error: notes.txt: not a Python file; gradcheck runs model files (*.py) that declare "
        "cases, or folders of them\n"
    )


def test_an_unusable_option_value_is_a_usage_error_before_any_case_runs() -> None:
    model(GOOD)
    result = invoke("run", "model.py", "--rtol", "inf")
    assert_one_message(result, "error: rtol=inf: expected a finite number >= 0")
    assert "good" not in result.output


def test_a_syntax_error_names_file_and_line() -> None:
    model(GOOD + "\ndef broken(:\n    pass\n")
    result = invoke("run", "model.py")
    assert_one_message(
        result,
        f"error: model.py:{line_of('def broken(')}: syntax error: invalid syntax. Fix the file",
    )


def test_a_model_that_fails_to_import_says_which_module_is_missing() -> None:
    model("import not_installed_anywhere\n" + GOOD)
    result = invoke("run", "model.py")
    assert_one_message(
        result,
        f"error: model.py:{line_of('import not_installed')}: the model could not be imported: "
        "no module named 'not_installed_anywhere'. Install it into the environment",
    )


def test_a_model_that_raises_at_import_says_what_it_raised() -> None:
    model("SIZE = int('ten')\n" + GOOD)
    result = invoke("run", "model.py")
    assert_one_message(
        result,
        f"error: model.py:{line_of('SIZE =')}: importing the model raised ValueError: invalid "
        "literal for int() with base 10: 'ten'",
    )


def test_a_file_without_cases_says_how_to_declare_one() -> None:
    model("def not_a_case():\n    return gradcheck.Case(J, POINT, grad=dJ)\n")
    result = invoke("run", "model.py")
    assert_one_message(
        result,
        "error: model.py: no gradcheck cases in this file. Declare one with a function "
        "decorated @gradcheck.case that returns gradcheck.Case(f, params, grad=df), or assign "
        "one to a name at module level: my_case = gradcheck.Case(f, params, grad=df)\n",
    )
    assert "README" not in result.stderr  # a pip user has none
    assert "0 cases: none run; 1 file not collected in " in result.stdout


def test_a_case_that_raises_is_reported_and_the_others_are_still_checked() -> None:
    broken = """
@gradcheck.case
def broken():
    scale = 1 / 0
    return gradcheck.Case(J, POINT, grad=dJ)
"""
    model(broken + GOOD + WRONG)
    result = invoke("run", "model.py")
    assert_one_message(
        result,
        f"error: model.py:{line_of('1 / 0')}: case 'broken' raised ZeroDivisionError: division "
        "by zero. Fix the case function (--traceback shows where it failed)",
    )
    assert "PASSED good" in result.stdout
    assert "FAILED wrong" in result.stdout
    assert "3 cases: 1 passed, 1 failed, 1 error in " in result.stdout


def test_a_case_no_backend_accepts_names_the_backends() -> None:
    model(
        """
        @gradcheck.case
        def not_a_model():
            return "a string", 3
        """
    )
    result = invoke("run", "model.py")
    assert_one_message(
        result,
        f"error: model.py:{line_of('@gradcheck.case')}: case 'not_a_model': no backend accepts "
        "str 'a string' with 1 argument(s) (int). Installed backends: ",
    )
    assert "python" in result.stderr
    assert "numpy" in result.stderr


def test_a_non_finite_loss_says_to_start_elsewhere() -> None:
    model(
        """
        import math

        @gradcheck.case
        def log_at_zero():
            return gradcheck.Case(lambda x: math.log(x) if x > 0 else math.nan, 0.0,
                                  grad=lambda x: 1 / x if x else math.inf)
        """
    )
    result = invoke("run", "model.py")
    assert_one_message(
        result,
        "case 'log_at_zero': f is nan at the start point; a gradient can only be checked where "
        "f is finite: start from other parameters",
    )


def test_traceback_shows_where_the_case_failed() -> None:
    model("@gradcheck.case\ndef broken():\n    return {}['missing']\n")
    result = invoke("run", "model.py", "--traceback")
    assert result.exit_code == ExitCode.USAGE_ERROR
    assert "case 'broken' raised KeyError" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    assert "return {}['missing']" in result.stderr


def test_usage_errors_take_precedence_over_mismatches() -> None:
    model(WRONG)
    model("import not_installed_anywhere\n", name="other.py")
    result = invoke("run", "model.py", "other.py")
    assert result.exit_code == ExitCode.USAGE_ERROR
    assert "FAILED wrong" in result.stdout


def test_ctrl_c_stops_the_run_and_reports_the_cases_checked_so_far() -> None:
    model(
        GOOD
        + """
@gradcheck.case
def pressed_ctrl_c():
    raise KeyboardInterrupt
"""
        + WRONG
    )
    result = invoke("run", "model.py")
    assert_one_message(result, "error: interrupted: the cases checked so far are reported")
    assert "PASSED good" in result.stdout
    assert "wrong" not in result.stdout
    assert "1 case: 1 passed in " in result.stdout


def test_verbose_and_quiet_together_are_a_usage_error() -> None:
    result = invoke("run", "-v", "-q", str(EXAMPLES))
    assert_one_message(result, "error: -v and -q cannot be used together")


# -- selection and verbosity -----------------------------------------------------------------


def test_k_selects_cases_by_name() -> None:
    result = invoke("run", str(EXAMPLES), "-k", "chain_rule and not written")
    assert result.exit_code == ExitCode.OK
    assert "PASSED chain_rule[worked]" in result.stdout
    assert "PASSED chain_rule[other]" in result.stdout
    assert "written" not in result.stdout
    assert "2 cases: 2 passed in " in result.stdout


def test_k_that_does_not_parse_is_a_usage_error() -> None:
    result = invoke("run", str(EXAMPLES), "-k", "chain and")
    assert_one_message(result, "error: -k 'chain and': expected a name, 'not' or '(', found")


def test_k_that_matches_nothing_is_a_usage_error() -> None:
    model(GOOD)
    result = invoke("run", "model.py", "-k", "nothing_like_it")
    assert_one_message(
        result, "error: -k 'nothing_like_it' matches none of the 1 cases (e.g. good)"
    )


def test_quiet_shows_only_failures_and_the_summary() -> None:
    model(GOOD + WRONG)
    result = invoke("run", "model.py", "-q")
    assert "good" not in result.stdout
    assert "FAILED wrong" in result.stdout
    assert "2 cases: 1 passed, 1 failed in " in result.stdout


def test_verbose_lists_the_worst_elements_of_every_parameter() -> None:
    result = invoke("run", str(EXAMPLES / "two_layer_numpy.py"), "-v", "-k", "net[0]")
    assert result.exit_code == ExitCode.OK
    out = result.stdout
    assert "numpy backend, float64, central;" in out
    assert "element" in out
    assert "tolerance" in out
    for parameter, hidden in (("W1", 15), ("b1", 0), ("W2", 10), ("b2", 0)):
        rows = [line for line in out.splitlines() if line.startswith(f"{parameter}[")]
        assert len(rows) == min(5, {"W1": 20, "b1": 5, "W2": 15, "b2": 3}[parameter])
        if hidden:
            assert f"... {hidden} more" in out


# -- options ---------------------------------------------------------------------------------


def test_engine_options_reach_the_report() -> None:
    model(GOOD)
    result = invoke(
        "run", "model.py", "--method", "richardson", "--seed", "7", "--rtol", "1e-3", "-v",
        "--strict", "--json", "-",
    )  # fmt: skip
    assert result.exit_code == ExitCode.OK
    report = json.loads(result.stdout)["cases"][0]["report"]
    assert report["metadata"]["method"] == "richardson"
    assert report["metadata"]["seed"] == 7
    assert report["metadata"]["rtol"] == 1e-3
    assert report["strict"] is True


def test_a_bad_method_is_a_usage_error_listing_the_choices() -> None:
    model(GOOD)
    result = invoke("run", "model.py", "--method", "forward")
    assert result.exit_code == ExitCode.USAGE_ERROR
    message = " ".join(result.stderr.replace("│", "").split())
    assert "'forward' is not one of 'central', 'richardson', 'complex', 'scipy'" in message


def test_a_negative_tolerance_is_a_usage_error() -> None:
    model(GOOD)
    result = invoke("run", "model.py", "--rtol", "-1")
    assert result.exit_code == ExitCode.USAGE_ERROR
    assert "Invalid value for '--rtol': Input should be greater than or equal to 0" in (
        result.stderr
    )


def test_an_option_the_case_cannot_use_is_reported_for_that_case() -> None:
    model(
        """
        import math

        @gradcheck.case
        def uses_math():
            return gradcheck.Case(math.exp, 1.0, grad=math.exp)
        """
    )
    result = invoke("run", "model.py", "--method", "complex")
    assert_one_message(result, "case 'uses_math': f raised TypeError at a complex point")


# -- machine-readable output -----------------------------------------------------------------


def test_json_to_stdout_follows_the_schema_and_keeps_tables_off_stdout() -> None:
    model(GOOD + WRONG)
    result = invoke("run", "model.py", "--json", "-")
    assert result.exit_code == ExitCode.MISMATCH
    document = json.loads(result.stdout)
    assert document["schema_version"] == 1
    assert document["exit_code"] == ExitCode.MISMATCH
    assert document["summary"] == {
        "cases": 2,
        "passed": 1,
        "failed": 1,
        "errors": 0,
        "not_collected": 0,
        "expected_mismatches": 0,
    }
    good, wrong = document["cases"]
    assert (good["id"], good["outcome"], good["line"]) == (
        "model.py::good",
        "passed",
        line_of("@gradcheck.case"),
    )
    assert wrong["outcome"] == "failed"
    assert wrong["report"]["counts"]["mismatch"] == 2
    assert wrong["report"]["schema_version"] == 1
    assert "FAILED wrong" in result.stderr  # the human-readable report moved to stderr
    # each report is streamed in: the document is exactly what one json.dumps would write
    assert result.stdout == json.dumps(document, indent=2) + "\n"


def test_json_to_a_file_records_errors_too(tmp_path: Path) -> None:
    model(GOOD)
    model("import not_installed_anywhere\n", name="other.py")
    result = invoke("run", "model.py", "other.py", "--json", "out.json")
    assert result.exit_code == ExitCode.USAGE_ERROR
    document = json.loads((tmp_path / "out.json").read_text())
    (error,) = document["errors"]
    assert error["file"] == str(tmp_path / "other.py")
    assert error["line"] == line_of("import not_installed", "other.py")
    assert "no module named 'not_installed_anywhere'" in error["message"]
    assert "PASSED good" in result.stdout


def test_json_to_a_missing_folder_is_a_usage_error() -> None:
    model(GOOD)
    result = invoke("run", "model.py", "--json", "no/such/folder/out.json")
    assert_one_message(result, "error: cannot write no/such/folder/out.json: No such file")


def test_junit_xml_has_one_testcase_per_case_with_the_report_as_failure(tmp_path: Path) -> None:
    model(
        GOOD
        + WRONG
        + """
@gradcheck.case
def broken():
    raise RuntimeError("no data")
"""
    )
    result = invoke("run", "model.py", "--junit-xml", "junit.xml")
    assert result.exit_code == ExitCode.USAGE_ERROR
    suite = ElementTree.parse(tmp_path / "junit.xml").getroot()
    assert (suite.tag, suite.get("tests"), suite.get("failures"), suite.get("errors")) == (
        "testsuite",
        "3",
        "1",
        "1",
    )
    good, wrong, broken = suite.findall("testcase")
    assert [c.get("name") for c in (good, wrong, broken)] == ["good", "wrong", "broken"]
    assert good.find("failure") is None
    failure = wrong.find("failure")
    assert failure is not None
    assert failure.get("message") == "2 / 3 elements disagree (ok 1, mismatch 2)"
    assert "gradcheck FAILED: 2 / 3 elements disagree" in (failure.text or "")
    error = broken.find("error")
    assert error is not None
    assert "case 'broken' raised RuntimeError: no data" in (error.get("message") or "")


# -- colour and progress ---------------------------------------------------------------------


def test_colour_follows_the_terminal_no_color_and_the_flag() -> None:
    model(WRONG)
    coloured = invoke("run", "model.py", env={"FORCE_COLOR": "1"})
    assert "\x1b[" in coloured.stdout
    assert "\x1b[" not in invoke("run", "model.py").stdout  # not a terminal
    for env, flags in (
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, ()),
        ({"FORCE_COLOR": "1"}, ("--no-color",)),
    ):
        plain = invoke("run", "model.py", *flags, env=env)
        assert "\x1b[3" not in plain.stdout  # no colour codes (bold may remain)
        assert "FAILED wrong" in plain.stdout


def test_the_progress_bar_appears_only_for_a_slow_check_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(progress_module, "PROGRESS_DELAY", 0.02)
    for terminal in (True, False):
        screen = io.StringIO()
        console = Console(file=screen, force_terminal=terminal, width=80)
        with progress_module.CaseProgress(console, total=2) as progress:
            with progress.running("fast"):
                pass
            with progress.running("slow"):
                time.sleep(0.25)
        shown = screen.getvalue()
        assert ("checking slow" in shown) is terminal
        assert "checking fast" not in shown


# -- other commands --------------------------------------------------------------------------


def test_backends_lists_the_installed_backends() -> None:
    result = invoke("backends")
    assert result.exit_code == ExitCode.OK
    for info in gradcheck.installed_backends():
        assert info.name in result.stdout
    assert "Pure Python: f(params) over floats" in result.stdout


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == ExitCode.OK
    assert result.stdout == f"gradcheck {gradcheck.__version__}\n"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ((), "Example: gradcheck run examples/"),
        (("run",), "gradcheck run model.py -k 'neuron and not skipping' -v"),
        (("backends",), "gradcheck backends"),
    ],
)
def test_help_on_every_command_shows_examples(command: tuple[str, ...], expected: str) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == ExitCode.OK
    assert expected in result.stdout


def test_the_console_script_runs_the_examples_in_a_real_process() -> None:
    script = Path(sys.executable).with_name("gradcheck")
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS")}
    done = subprocess.run(
        [str(script), "run", str(EXAMPLES), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == ExitCode.OK, done.stderr
    assert done.stdout.strip().startswith("10 cases: 10 passed (2 of them mismatches")
    assert done.stderr == ""


def test_python_m_gradcheck_reports_a_usage_error_in_a_real_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gradcheck", "run", "no_such_model.py"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == ExitCode.USAGE_ERROR
    assert done.stderr == (
        "error: no such file or folder: no_such_model.py. Pass model files (*.py) or folders of "
        "them\n"
    )
    assert done.stdout == ""


# -- --optimize: the SciPy cross-check ---------------------------------------------------------

BOWL = """
import numpy as np

def bowl(x):
    return float(np.sum((x - 2.0) ** 2))

@gradcheck.case
def right():
    return gradcheck.Case(bowl, np.zeros(3), grad=lambda x: 2 * (x - 2.0))

@gradcheck.case
def wrong_away_from_x0():  # exact at x0 = 0, wrong everywhere else
    return gradcheck.Case(bowl, np.zeros(3), grad=lambda x: 2 * (x - 2.0) + 5 * x**2)
"""


def test_optimize_cross_checks_cases_and_fails_the_one_whose_runs_disagree() -> None:
    model(BOWL)
    plain = invoke("run", "model.py")
    assert plain.exit_code == ExitCode.OK, plain.output
    result = invoke("run", "model.py", "--optimize")
    assert result.exit_code == ExitCode.MISMATCH, result.output
    assert "PASSED right: 3 elements agree (ok 3); cross-check OK" in result.stdout
    assert "FAILED wrong_away_from_x0: 3 elements agree (ok 3); cross-check FAILED" in result.stdout


def test_optimize_says_which_cases_cannot_be_cross_checked() -> None:
    model(GOOD)
    result = invoke("run", "model.py", "--optimize")
    assert result.exit_code == ExitCode.OK
    assert "not cross-checked" in result.stdout
    assert "needs one array of numbers" in result.stdout


# -- reports people read: full numbers, Markdown, HTML, plots --------------------------------

LONG_NAMES = """
import numpy as np

def loss(p):
    return float(np.sum(p["encoder_layer_attention_weights"] ** 3))

def wrong(p):
    return {"encoder_layer_attention_weights": 3.0001 * p["encoder_layer_attention_weights"] ** 2}

@gradcheck.case
def a_case_with_a_long_name_and_a_slightly_wrong_gradient():
    w = np.linspace(-1.234567, 2.345678, 12).reshape(3, 4)
    return gradcheck.Case(loss, {"encoder_layer_attention_weights": w}, grad=wrong)
"""


@pytest.mark.parametrize("columns", ["60", "80"])
def test_a_narrow_terminal_or_a_log_never_cuts_a_number_a_name_or_a_verdict(columns: str) -> None:
    model(LONG_NAMES)
    for flags in ((), ("-v",)):
        result = invoke("run", "model.py", "--seed", "0", *flags, env={"COLUMNS": columns})
        assert result.exit_code == ExitCode.MISMATCH, result.output
        assert "…" not in result.stdout
        loss, params, wrong = _long_names_case()
        report = gradcheck.check(loss, params, grad=wrong, seed=0)  # the same check
        worst = report.summaries()[0].worst
        assert worst is not None
        for cell in worst.cells()[:3]:
            assert cell in result.stdout
        assert "mismatch (12 / 12)" in result.stdout
    # what fits stays: the shape is dropped only where the numbers need the room
    wide = invoke("run", "model.py", "--seed", "0", env={"COLUMNS": "200"})
    assert "(3, 4)" in wide.stdout


def _long_names_case() -> tuple[Callable[..., float], dict[str, Any], Callable[..., Any]]:
    import numpy as np

    def loss(p: dict[str, np.ndarray]) -> float:
        return float(np.sum(p["encoder_layer_attention_weights"] ** 3))

    def wrong(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {
            "encoder_layer_attention_weights": 3.0001 * p["encoder_layer_attention_weights"] ** 2
        }

    w = np.linspace(-1.234567, 2.345678, 12).reshape(3, 4)
    return loss, {"encoder_layer_attention_weights": w}, wrong


def test_help_shows_no_python_type_beside_a_flag_or_the_paths() -> None:
    for command in (("--help",), ("run", "--help")):
        result = invoke(*command, env={"COLUMNS": "120"})
        assert result.exit_code == ExitCode.OK
        assert "<bool>" not in result.stdout
        assert "<list[Path]>" not in result.stdout
        assert "--verbose" in result.stdout or "run" in result.stdout


def test_backends_prints_plain_text_not_rst() -> None:
    result = invoke("backends", env={"COLUMNS": "200"})
    assert "``" not in result.stdout
    assert "models with a params dict" in result.stdout


def test_markdown_report_and_the_ci_job_summary(tmp_path: Path) -> None:
    model(GOOD + WRONG)
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n")
    result = invoke(
        "run", "model.py", "--seed", "0", "--markdown", "report.md",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert result.exit_code == ExitCode.MISMATCH
    written = Path("report.md").read_text()
    assert written.startswith("## gradcheck: 2 cases: 1 passed, 1 failed in ")
    assert "### `model.py::wrong`: failed" in written
    assert summary.read_text() == "earlier step\n" + written  # appended, not replaced


def test_html_report_is_one_file_with_a_section_per_case() -> None:
    model(GOOD + WRONG)
    result = invoke("run", "model.py", "--seed", "0", "--html", "report.html")
    assert result.exit_code == ExitCode.MISMATCH
    page = Path("report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert 'id="case-0"' in page
    assert 'id="case-1"' in page
    assert page.count("<svg") == 2  # the wrong case's two mismatches, drawn


def test_plot_writes_an_svg_per_flagged_element(monkeypatch: pytest.MonkeyPatch) -> None:
    model(GOOD + WRONG)
    result = invoke("run", "model.py", "--seed", "0", "--plot", "plots")
    assert result.exit_code == ExitCode.MISMATCH
    assert sorted(p.name for p in Path("plots").iterdir()) == [
        "model.py-wrong-y.svg",
        "model.py-wrong-z.svg",
    ]
    monkeypatch.setattr(plot, "available", lambda: False)
    missing = invoke("run", "model.py", "--plot", "plots")
    assert missing.exit_code == ExitCode.USAGE_ERROR
    assert missing.stderr == "error: --plot needs matplotlib: pip install 'gradcheck[plot]'\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--rtol", "abc"],
            "error: Invalid value for '--rtol': Input should be a valid number, unable to "
            "parse string as a number; see gradcheck run -h",
        ),
        ([], "error: Missing argument 'PATH'; see gradcheck run -h"),
    ],
)
def test_a_command_line_that_does_not_parse_is_one_line_not_a_panel(
    args: list[str], message: str
) -> None:
    result = invoke("run", *args)
    assert result.exit_code == ExitCode.USAGE_ERROR
    assert result.output.strip() == message
