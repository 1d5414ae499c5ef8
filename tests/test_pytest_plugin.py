"""The pytest plugin, tested as users meet it: test files run by pytester."""

from __future__ import annotations

import subprocess
import sys

import hypothesis.extra.numpy  # noqa: F401  (imported once here, not by every inner run)
import pytest

import gradcheck
from gradcheck import _options as options
from gradcheck import pytest_plugin

MODEL = """
import numpy as np
import hypothesis.extra.numpy  # noqa: F401  (imported once here, not by every inner run)
import pytest


def J(p):  # J = 3 (x + y z)
    return 3 * (p[0] + p[1] * p[2])


def dJ(p):
    return np.array([3.0, 3 * p[2], 3 * p[1]])


def dJ_wrong(p):  # forgot the factor 3 on y and z
    return np.array([3.0, p[2], p[1]])


P0 = np.array([5.0, 3.0, 2.0])
"""


def _file(body: str) -> str:
    return MODEL + "\n" + body


def _lines(*patterns: str) -> list[str]:
    """fnmatch patterns in which ``[`` is literal (element names like ``p[1]``)."""
    return [p.replace("[", "[[]") for p in patterns]


def test_passing_check_returns_the_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        _file(
            """
from gradcheck import GradcheckFixture, Report


def test_ok(gradcheck: GradcheckFixture) -> None:
    report = gradcheck(J, P0, grad=dJ)
    assert isinstance(report, Report)
    assert report.ok
    assert report.counts["ok"] == 3
"""
        )
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


def test_failing_check_prints_the_report_and_no_traceback(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_model=_file(
            """
@pytest.mark.gradcheck(seed=7)
def test_wrong(gradcheck):
    gradcheck(J, P0, grad=dJ_wrong)
"""
        )
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        _lines(
            "*_ test_wrong _*",
            "gradcheck FAILED: 2 / 3 elements disagree (ok 1, mismatch 2)",
            "  numpy backend, float64, central; * evaluations of f, 1 of the gradient; seed 7; * s",
            "",
            "  element  analytic  numeric ± error  tolerance  verdict",
            "  p[0]     3         3 ± *      3e-06      ok",
            "  p[1]     2         6 ± *      2e-06      mismatch",
            "  p[2]     3         9 ± *      3e-06      mismatch",
            "*= gradcheck =*",
        ),
        consecutive=True,
    )
    result.stdout.fnmatch_lines(
        ["FAILED test_model.py::test_wrong - Failed: gradcheck FAILED: 2 / 3 elements*"]
    )
    for internal in ("*pytest_plugin.py*", "*engine.py*", "*api.py*", "*Traceback*", "E  *"):
        result.stdout.no_fnmatch_line(internal)


def test_points_are_all_checked_and_a_failure_names_its_point(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        _file(
            """
def cube(x):
    return np.sum(x**3)


def dcube_wrong(x):  # right only where x >= 0
    return 3 * x * np.abs(x)


def test_right(gradcheck):
    reports = gradcheck(cube, grad=lambda x: 3 * x**2, points=[np.ones(2), -np.ones(2)])
    assert [r.ok for r in reports] == [True, True]


def test_wrong(gradcheck):
    gradcheck(
        cube,
        grad=dcube_wrong,
        points=[np.array([1.0, 2.0]), np.array([-1.0, 2.0]), np.array([3.0, -4.0])],
        ids=["positive", "x<0", "y<0"],
    )
"""
        )
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        _lines(
            "*_ test_wrong _*",
            "gradcheck: 2 of 3 points failed",
            "",
            "point x<0: array([-1.,  2.])",
            "gradcheck FAILED: 1 / 2 elements disagree (ok 1, mismatch 1)",
            "*",
            "",
            "  element  analytic  numeric ± error  tolerance  verdict",
            "  x[0]     -3        3 ± *  mismatch",
            "  x[1]     12        12 ± *  ok",
            "",
            "point y<0: array([ 3., -4.])",
            "gradcheck FAILED: 1 / 2 elements disagree (ok 1, mismatch 1)",
        ),
        consecutive=True,
    )
    result.stdout.no_fnmatch_line("point positive*")


def test_points_misuse_is_an_error_that_says_how_to_fix_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        _file(
            """
from gradcheck import InvalidArgument


def test_args_and_points(gradcheck):
    with pytest.raises(InvalidArgument, match="pass points= alone"):
        gradcheck(J, P0, grad=dJ, points=[P0])


def test_ids_without_points(gradcheck):
    with pytest.raises(InvalidArgument, match="ids= needs points="):
        gradcheck(J, P0, grad=dJ, ids=["a"])


def test_ids_of_another_length(gradcheck):
    with pytest.raises(InvalidArgument, match="2 ids for 1 points"):
        gradcheck(J, grad=dJ, points=[P0], ids=["a", "b"])
"""
        )
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_parametrize_and_hypothesis_name_the_failing_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        _file(
            """
from hypothesis import given, settings, strategies as st


def dsin_wrong(p):  # wrong where p > 1
    return np.cos(p) + (p > 1)


@pytest.mark.parametrize("x", [0.5, 2.0])
def test_parametrized(gradcheck, x):
    gradcheck(lambda p: np.sin(p).sum(), np.array([x]), grad=dsin_wrong)


@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(st.floats(-3, 3))
def test_right_everywhere(gradcheck, x):
    gradcheck(lambda p: np.sin(p).sum(), np.array([x]), grad=np.cos)


@settings(max_examples=100, deadline=None, database=None, derandomize=True)
@given(st.floats(-3, 3))
def test_given(gradcheck, x):
    gradcheck(lambda p: np.sin(p).sum(), np.array([x]), grad=dsin_wrong)
"""
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(_lines("*_ test_parametrized[2.0] _*", "gradcheck FAILED: *"))
    result.stdout.fnmatch_lines(
        _lines(
            "*_ test_given _*",
            "gradcheck FAILED: 1 / 1 elements disagree (mismatch 1)",
            "  p[0] * mismatch",
            "",
            "*: test_given(",  # hypothesis's "Falsifying example" / "Failing test case"
            "    gradcheck=<gradcheck fixture>,",
            "    x=*,",
            ")",
        )
    )
    result.stdout.no_fnmatch_line("*function-scoped fixture*")


def test_marker_sets_options_and_the_call_overrides_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        _file(
            """
@pytest.mark.gradcheck(seed=123, method="richardson")
def test_marker(gradcheck):
    report = gradcheck(J, P0, grad=dJ)
    assert (report.metadata.seed, report.metadata.method) == (123, "richardson")


@pytest.mark.gradcheck(seed=123)
def test_call_wins(gradcheck):
    assert gradcheck(J, P0, grad=dJ, seed=9).metadata.seed == 9


@pytest.mark.gradcheck(rtol=1e-3, seed=1)
class TestClass:
    @pytest.mark.gradcheck(seed=2)
    def test_closest_marker_wins(self, gradcheck):
        report = gradcheck(J, P0, grad=dJ)
        assert (report.metadata.rtol, report.metadata.seed) == (1e-3, 2)


@pytest.mark.gradcheck(1e-3)
def test_positional(gradcheck):
    gradcheck(J, P0, grad=dJ)
"""
        )
    )
    result = pytester.runpytest("--strict-markers")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        _lines(
            "*_ test_positional _*",
            "@pytest.mark.gradcheck(0.001,): the marker takes keyword options only, "
            "e.g. @pytest.mark.gradcheck(rtol=1e-5)",
        ),
        consecutive=True,
    )


def test_marker_is_registered_and_documented(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.gradcheck(**options): options of gradcheck.check*"])


REPORTS_OPTIONS = """
def test_options(gradcheck):
    report = gradcheck(J, P0, grad=dJ)
    md = report.metadata
    print("OPTIONS", md.seed, md.method, report.strict, md.rtol, md.atol)
"""


def test_command_line_options_set_seed_strict_and_method(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(_file(REPORTS_OPTIONS))
    result = pytester.runpytest(
        "-s", "--gradcheck-seed=5", "--gradcheck-strict", "--gradcheck-method=richardson"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*OPTIONS 5 richardson True 1e-06 0.0*"])


def test_without_options_the_engine_defaults_apply(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(_file(REPORTS_OPTIONS))
    result = pytester.runpytest("-s")
    result.stdout.fnmatch_lines(["*OPTIONS * central False 1e-06 0.0*"])


def test_an_unknown_method_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--gradcheck-method=forward")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    methods = ", ".join(repr(m.value) for m in options.Method)
    result.stderr.fnmatch_lines(
        [f"*--gradcheck-method=forward: method='forward' is not one of {methods}"]
    )


def test_ini_options_set_default_tolerances(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ngradcheck_rtol = 1e-3\ngradcheck_atol = 1e-9\n")
    pytester.makepyfile(
        _file(
            REPORTS_OPTIONS
            + """

@pytest.mark.gradcheck(rtol=1e-5)
def test_marker_beats_ini(gradcheck):
    assert gradcheck(J, P0, grad=dJ).metadata.rtol == 1e-5
"""
        )
    )
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*OPTIONS * central False 0.001 1e-09*"])


@pytest.mark.parametrize("value", ["tight", "-1", "inf"])
def test_a_bad_ini_tolerance_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    pytester.makeini(f"[pytest]\ngradcheck_rtol = {value}\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"*gradcheck_rtol = '{value}' in the ini file: rtol=*: expected a finite number >= 0"]
    )


def test_disabled_with_p_no_gradcheck(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        _file(
            """
def test_uses_fixture(gradcheck):
    pass


def test_plain():
    pass
"""
        )
    )
    enabled = pytester.runpytest()
    enabled.assert_outcomes(passed=2)
    disabled = pytester.runpytest("-p", "no:gradcheck")
    disabled.assert_outcomes(passed=1, errors=1)
    disabled.stdout.fnmatch_lines(["*fixture 'gradcheck' not found*"])
    unknown = pytester.runpytest("-p", "no:gradcheck", "--gradcheck-seed=1")
    assert unknown.ret == pytest.ExitCode.USAGE_ERROR


SUMMARY_TESTS = """
def test_exact(gradcheck):
    gradcheck(J, P0, grad=dJ)


def test_close(gradcheck):  # p[1] off by a quarter of its tolerance (6e-6)
    gradcheck(J, P0, grad=lambda p: dJ(p) + np.array([0.0, 1.5e-6, 0.0]))


def test_points(gradcheck):
    gradcheck(J, grad=dJ, points=[P0, 2 * P0])
"""


def test_summary_counts_checks_and_names_the_closest_call(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_summary=_file(SUMMARY_TESTS))
    result = pytester.runpytest()
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        _lines(
            "*= gradcheck =*",
            "4 checks, 12 elements compared",
            "closest call: test_summary.py::test_close p[1]: |analytic - numeric| is 2?% of "
            "the tolerance (analytic 6, numeric 6 ± *, tolerance 6e-06)",
        ),
        consecutive=True,
    )


def test_summary_counts_failures_and_is_absent_without_checks(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        _file(
            """
def test_wrong(gradcheck):
    gradcheck(J, P0, grad=dJ_wrong)


def test_plain():
    pass
"""
        )
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*= gradcheck =*", "1 check (1 failed), 3 elements compared"])
    result = pytester.runpytest("-k", "plain")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*= gradcheck =*")


def test_under_xdist_workers_send_their_checks_to_the_summary(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_summary=_file(SUMMARY_TESTS),
        test_failing=_file(
            """
@pytest.mark.gradcheck(seed=7)
def test_wrong(gradcheck):
    gradcheck(J, P0, grad=dJ_wrong)
"""
        ),
    )
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        _lines(
            "*_ test_wrong _*",
            "[gw?] linux -- Python *",
            "gradcheck FAILED: 2 / 3 elements disagree (ok 1, mismatch 2)",
            "*seed 7*",
        ),
        consecutive=True,
    )
    result.stdout.fnmatch_lines(
        _lines(
            "*= gradcheck =*",
            "5 checks (1 failed), 15 elements compared",
            "closest call: test_summary.py::test_close p[1]: *",
        ),
        consecutive=True,
    )


def test_importing_the_plugin_loads_neither_torch_nor_scipy_optimize() -> None:
    code = (
        "import sys, gradcheck.pytest_plugin; "
        "print(sorted(m for m in ('torch', 'scipy.optimize', 'typer', 'rich') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_fixture_class_is_exported_for_annotations() -> None:
    assert gradcheck.GradcheckFixture is pytest_plugin.GradcheckFixture
    assert "GradcheckFixture" in gradcheck.__all__
