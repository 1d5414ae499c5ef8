"""A run's outcome: what each case's result means, the exit status, summary, JSON and JUnit."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

import gradcheck
from gradcheck._cases import Collection, CollectionError, ModelCase
from gradcheck._run_result import CaseResult, ExitCode, Outcome, RunResult, check_case


def _f(x: np.ndarray) -> float:
    return float(np.sum(x**2))


def _case(name: str, make: Callable[[], object], expect: str = "ok") -> ModelCase:
    return ModelCase(Path("model.py").resolve(), 3, name, expect, make)


def _right() -> gradcheck.Case:
    return gradcheck.Case(_f, np.array([1.0, -2.0]), grad=lambda x: 2 * x)


def _wrong() -> gradcheck.Case:
    return gradcheck.Case(_f, np.array([1.0, -2.0]), grad=lambda x: 3 * x)


def _raises() -> object:
    raise RuntimeError("no data")


def test_a_case_that_agrees_passes_with_its_verdict_line() -> None:
    result = check_case(_case("right", _right), {"seed": 0})
    assert result.outcome is Outcome.PASSED
    assert result.message == "2 elements agree (ok 2)"
    assert result.report is not None
    assert result.report.metadata.seed == 0  # the options reached the check


def test_a_case_with_a_wrong_gradient_fails() -> None:
    result = check_case(_case("wrong", _wrong), {"seed": 0})
    assert result.outcome is Outcome.FAILED
    assert result.message.startswith("2 / 2 elements disagree")


def test_a_case_that_raises_is_an_error_located_in_the_model_file() -> None:
    result = check_case(_case("broken", _raises), {})
    assert result.outcome is Outcome.ERROR
    assert result.report is None
    assert "broken" in result.message
    assert "RuntimeError: no data" in result.message
    assert isinstance(result.exception, RuntimeError)


def test_an_expected_mismatch_passes_only_when_the_report_shows_one() -> None:
    found = check_case(_case("known", _wrong, expect="mismatch"), {"seed": 0})
    assert found.outcome is Outcome.PASSED
    assert found.message.startswith("mismatch found, as expected: 2 / 2 elements disagree")
    fixed = check_case(_case("fixed", _right, expect="mismatch"), {"seed": 0})
    assert fixed.outcome is Outcome.FAILED
    assert fixed.message == (
        "expected a mismatch (expect='mismatch'), but 2 elements agree (ok 2). "
        "Fixed the gradient? Then drop expect='mismatch'"
    )


def test_optimize_adds_the_cross_check_to_an_agreeing_case() -> None:
    result = check_case(_case("right", _right), {"seed": 0}, optimize=True)
    assert result.outcome is Outcome.PASSED
    assert "; cross-check OK: minimize" in result.message


def _result(outcome: Outcome, expect: str = "ok", name: str = "c") -> CaseResult:
    make = _wrong if (outcome is Outcome.FAILED) != (expect == "mismatch") else _right
    if outcome is Outcome.ERROR:
        return CaseResult(_case(name, make), expect, outcome, "model.py:3: boom")
    report = make().run(seed=0)
    return CaseResult(_case(name, make, expect), expect, outcome, report.headline(), report)


def _run(*results: CaseResult, errors: int = 0, bad_input: bool = False) -> RunResult:
    collection = Collection(
        [r.case for r in results],
        [CollectionError(Path(f"bad{k}.py"), k + 1, "syntax error") for k in range(errors)],
    )
    return RunResult(collection, results, seconds=0.5, bad_input=bad_input)


PASSED, FAILED, ERROR = Outcome.PASSED, Outcome.FAILED, Outcome.ERROR


@pytest.mark.parametrize(
    ("outcomes", "errors", "bad_input", "code"),
    [
        ([], 0, False, ExitCode.OK),
        ([PASSED, PASSED], 0, False, ExitCode.OK),
        ([PASSED, FAILED], 0, False, ExitCode.MISMATCH),
        ([FAILED, ERROR], 0, False, ExitCode.USAGE_ERROR),
        ([FAILED], 1, False, ExitCode.USAGE_ERROR),
        ([PASSED], 0, True, ExitCode.USAGE_ERROR),
    ],
)
def test_errors_outrank_mismatches_which_outrank_agreement(
    outcomes: list[Outcome], errors: int, bad_input: bool, code: ExitCode
) -> None:
    run = _run(*map(_result, outcomes), errors=errors, bad_input=bad_input)
    assert run.exit_code is code


def test_summary_counts_outcomes_as_pytest_does_and_adds_up() -> None:
    run = _run(
        _result(Outcome.PASSED),
        _result(Outcome.PASSED, "mismatch"),
        _result(Outcome.FAILED),
        _result(Outcome.ERROR),
        errors=1,
    )
    assert run.counts == {
        "cases": 4,
        "passed": 2,
        "failed": 1,
        "errors": 1,
        "not_collected": 1,
        "expected_mismatches": 1,
    }
    assert run.summary() == (
        "4 cases: 2 passed (1 of them mismatches, as expected), 1 failed, 1 error; "
        "1 file not collected in 0.50s"
    )
    assert _run().summary() == "0 cases: none run in 0.50s"
    assert _run(_result(Outcome.ERROR)).summary() == "1 case: 1 error in 0.50s"


def test_whole_files_that_fail_are_counted_apart_from_the_cases() -> None:
    """Two files that do not import and twelve cases that raise: the cases' counts add up
    to the cases, never "14 cases: 1 passed, 1 failed, 14 errors"."""
    results = [_result(Outcome.PASSED), _result(Outcome.FAILED)]
    results += [_result(Outcome.ERROR) for _ in range(12)]
    run = _run(*results, errors=2)
    assert run.summary() == (
        "14 cases: 1 passed, 1 failed, 12 errors; 2 files not collected in 0.50s"
    )


def test_json_holds_each_case_with_its_whole_report() -> None:
    run = _run(_result(Outcome.PASSED, name="a"), _result(Outcome.ERROR, name="b"), errors=1)
    stream = io.StringIO()
    run.write_json(stream)
    assert stream.getvalue().endswith("}\n")
    document = json.loads(stream.getvalue())
    assert document["schema_version"] == 1
    assert document["gradcheck_version"] == gradcheck.__version__
    assert document["exit_code"] == ExitCode.USAGE_ERROR
    assert document["summary"] == run.counts
    assert document["errors"] == [{"file": "bad0.py", "line": 1, "message": "syntax error"}]
    passed, error = document["cases"]
    assert passed["id"].endswith("model.py::a")
    assert (passed["outcome"], passed["expect"], passed["line"]) == ("passed", "ok", 3)
    report = run.results[0].report
    assert report is not None
    assert passed["report"] == json.loads(report.to_json())
    assert (error["outcome"], error["report"]) == ("error", None)


def test_junit_has_a_testcase_per_case_and_per_file_not_collected() -> None:
    run = _run(
        _result(Outcome.PASSED, name="ok"),
        _result(Outcome.PASSED, "mismatch", name="known"),
        _result(Outcome.FAILED, name="wrong"),
        _result(Outcome.ERROR, name="broken"),
        errors=1,
    )
    root = ElementTree.fromstring(run.to_junit_xml())
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "1", "2")
    collect, ok, known, wrong, broken = root.findall("testcase")
    assert collect.get("classname") == "gradcheck.collect"
    assert [child.tag for child in collect] == ["error"]
    assert list(ok) == []
    assert [child.tag for child in known] == ["system-out"]
    failure = wrong.find("failure")
    assert failure is not None
    assert failure.get("message") == run.results[2].message
    assert (failure.text or "").startswith("gradcheck FAILED")
    assert broken.get("time") == "0"
    error = broken.find("error")
    assert error is not None
    assert error.text == "model.py:3: boom"
