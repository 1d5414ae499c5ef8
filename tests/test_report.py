"""The report as the user reads it: text, JSON, JUnit XML and rich."""

from __future__ import annotations

import json
import math
from xml.etree import ElementTree

import numpy as np
import pytest

import gradcheck
from gradcheck.report import SCHEMA_VERSION, Metadata, Report
from gradcheck.tolerance import Verdict


@pytest.fixture
def failing() -> gradcheck.Report:
    def J(p: np.ndarray) -> float:
        return float(3 * (p[0] + p[1] * p[2]))

    return gradcheck.check(
        J, np.array([5.0, 3.0, 2.0]), grad=lambda p: np.array([3.0, p[2], p[1]]), seed=7
    )


def test_text_report_has_headline_rows_and_evidence(failing: gradcheck.Report) -> None:
    lines = str(failing).splitlines()
    assert lines[0] == "gradcheck FAILED: 2 / 3 elements disagree (ok 1, mismatch 2)"
    assert "seed 7" in lines[1]
    header = lines[3].split()
    assert header[:2] == ["element", "analytic"]
    row = next(line for line in lines if line.strip().startswith("p[1]"))
    assert row.split()[1:3] == ["2", "6"]
    assert row.rstrip().endswith("mismatch")


def test_large_reports_show_failures_first_and_never_the_whole_gradient() -> None:
    n = 500
    wrong = np.zeros(n)
    wrong[[17, 230]] = 1.0
    report = gradcheck.check(
        lambda x: float(np.sum(x**2)), np.linspace(-1, 1, n), grad=lambda x: 2 * x + wrong, seed=0
    )
    text = str(report)
    assert "2 / 500 elements disagree" in text
    assert "x[17]" in text
    assert "x[230]" in text
    assert len(text.splitlines()) < 20


def test_json_follows_the_documented_schema(failing: gradcheck.Report) -> None:
    data = json.loads(failing.to_json())
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["ok"] is False
    assert data["counts"] == {"ok": 1, "mismatch": 2, "kink": 0, "inconclusive": 0}
    assert data["metadata"]["seed"] == 7
    assert data["parameters"][0]["name"] == "p"
    assert data["parameters"][0]["worst"] in ("p[1]", "p[2]")
    element = data["elements"][1]
    assert element["name"] == "p[1]"
    assert element["verdict"] == "mismatch"
    assert element["index"] == [1]
    assert element["numeric"] == pytest.approx(6.0)
    assert element["left"] is None  # NaN becomes null
    assert element["detectable"] == pytest.approx(element["tolerance"] + element["error"])


def test_junit_xml_has_one_failing_testcase_with_the_report(failing: gradcheck.Report) -> None:
    root = ElementTree.fromstring(failing.to_junit_xml(name="seed"))
    assert root.get("failures") == "1"
    case = root.find("testcase")
    assert case is not None
    assert case.get("name") == "seed"
    failure = case.find("failure")
    assert failure is not None
    assert "p[2]" in (failure.text or "")


def test_rich_rendering_shows_the_same_rows(failing: gradcheck.Report) -> None:
    from rich.console import Console

    console = Console(record=True, width=100, color_system=None)
    console.print(failing)
    text = console.export_text()
    assert "2 / 3 elements disagree" in text
    assert "p[2]" in text
    assert "mismatch" in text


def test_every_element_states_the_smallest_error_it_could_detect() -> None:
    report = gradcheck.check(np.sin, 0.5, grad=np.cos, seed=0)
    assert report.detectable.shape == (1, 1)
    assert 0 < report.detectable[0, 0] < 1e-5 * math.cos(0.5)


# -- a check that verified nothing must not pass ---------------------------------------


def _report(
    verdicts: list[int] | np.ndarray,
    *,
    random: bool = False,
    strict: bool = False,
    parameters: tuple[tuple[str, tuple[int, ...]], ...] | None = None,
) -> Report:
    """A report with the given verdict codes, numbers that fit them, and no engine."""
    codes = np.asarray(verdicts, dtype=np.int8).reshape(1, -1)
    n = codes.shape[1]
    analytic = np.linspace(1.0, 2.0, n).reshape(1, n)
    numeric = analytic + np.where(codes == Verdict.MISMATCH, 1.0, 1e-9)
    error = np.where(codes == Verdict.INCONCLUSIVE, 10.0, 1e-9)
    nan = np.full((1, n), np.nan)
    return Report(
        parameters=parameters or (("x", (n,)),),
        output_shape=(),
        analytic=analytic,
        numeric=numeric,
        error=error,
        tolerance=np.full((1, n), 1e-6),
        verdicts=codes,
        left=nan,
        right=nan,
        step=np.full(n, 1e-5),
        strict=strict,
        metadata=Metadata(
            "numpy", "float64", "central", 1e-6, 0.0, 3, 4 * n, 1, 0.01, (1e-16,), random=random
        ),
    )


OK, MISMATCH, KINK, INCONCLUSIVE = (int(v) for v in Verdict)


def test_metadata_random_defaults_to_false_and_is_written_to_json() -> None:
    md = Metadata("numpy", "float64", "central", 1e-6, 0.0, 3, 10, 1, 0.01, (1e-16,))
    assert md.random is False
    assert json.loads(_report([OK, OK]).to_json())["metadata"]["random"] is False
    assert json.loads(_report([OK, OK], random=True).to_json())["metadata"]["random"] is True


def test_random_f_with_inconclusive_elements_fails_and_says_why() -> None:
    report = _report([INCONCLUSIVE] * 4, random=True)
    assert not report.ok
    assert report.failed.tolist() == [[True] * 4]
    assert report.headline() == (
        "gradcheck FAILED: f is random (it returned different values at the same point), "
        "so no element could be verified (all 4 inconclusive); seed the random generator f "
        "uses, or switch off dropout, and check again"
    )
    partial = _report([OK, INCONCLUSIVE, OK, INCONCLUSIVE], random=True)
    assert not partial.ok
    assert partial.failed.tolist() == [[False, True, False, True]]
    assert partial.headline() == (
        "gradcheck FAILED: f is random (it returned different values at the same point), "
        "so 2 / 4 elements could not be verified (ok 2, inconclusive 2); seed the random "
        "generator f uses, or switch off dropout, and check again"
    )


def test_random_f_whose_noise_left_every_element_decided_passes() -> None:
    report = _report([OK, OK, KINK], random=True)
    assert report.ok
    assert not report.failed.any()
    assert report.headline() == "gradcheck OK: 2 / 3 elements agree (ok 2, kink 1)"


def test_random_f_with_a_mismatch_names_both_the_mismatch_and_the_unverified() -> None:
    report = _report([OK, MISMATCH, INCONCLUSIVE, INCONCLUSIVE], random=True)
    assert not report.ok
    assert report.failed.tolist() == [[False, True, True, True]]
    assert report.headline() == (
        "gradcheck FAILED: 1 / 4 elements disagree (ok 1, mismatch 1, inconclusive 2); "
        "f is random (it returned different values at the same point), so 2 more elements "
        "could not be verified; seed the random generator f uses, or switch off dropout, "
        "and check again"
    )


def test_every_element_inconclusive_fails_as_nothing_was_verified() -> None:
    report = _report([INCONCLUSIVE] * 3)
    assert not report.ok
    assert report.failed.all()
    assert report.counts == {"ok": 0, "mismatch": 0, "kink": 0, "inconclusive": 3}
    assert report.headline() == (
        "gradcheck FAILED: no element could be verified (all 3 inconclusive): the finite "
        "differences were too uncertain to decide any of them; pass step= with the scale f "
        "varies on, or check at another point"
    )
    strict = _report([INCONCLUSIVE] * 3, strict=True)
    assert strict.headline() == report.headline()


def test_some_inconclusive_elements_of_a_deterministic_f_pass_and_only_ok_ones_agree() -> None:
    report = _report([OK, INCONCLUSIVE, OK, OK])
    assert report.ok
    assert not report.failed.any()
    assert report.headline() == "gradcheck OK: 3 / 4 elements agree (ok 3, inconclusive 1)"
    assert _report([OK, OK]).headline() == "gradcheck OK: 2 elements agree (ok 2)"


def test_strict_fails_every_element_that_is_not_ok() -> None:
    report = _report([OK, KINK, INCONCLUSIVE], strict=True)
    assert not report.ok
    assert report.failed.tolist() == [[False, True, True]]
    assert report.headline() == (
        "gradcheck FAILED: 2 / 3 elements disagree (ok 1, kink 1, inconclusive 1)"
    )
    assert _report([OK, KINK, INCONCLUSIVE]).ok


def test_a_mismatch_fails_and_the_failed_mask_marks_exactly_it() -> None:
    report = _report([OK, MISMATCH, KINK])
    assert not report.ok
    assert report.failed.tolist() == [[False, True, False]]
    assert (
        report.headline() == "gradcheck FAILED: 1 / 3 elements disagree (ok 1, mismatch 1, kink 1)"
    )


def test_every_rendering_fails_a_random_report_with_the_reason() -> None:
    from rich.console import Console

    report = _report([INCONCLUSIVE] * 25, random=True)
    text = str(report)
    assert text.splitlines()[0] == report.headline()
    assert "f is random" in text
    assert "x[0]" in text  # the unverified elements are listed, as failures are
    data = json.loads(report.to_json())
    assert data["ok"] is False
    root = ElementTree.fromstring(report.to_junit_xml())
    assert root.get("failures") == "1"
    failure = root.find("testcase/failure")
    assert failure is not None
    assert failure.get("message") == report.headline()
    console = Console(record=True, width=400, color_system=None)
    console.print(report)
    assert report.headline() in console.export_text()
