"""The report as the user reads it: text, JSON, JUnit XML and rich."""

from __future__ import annotations

import json
import math
from xml.etree import ElementTree

import numpy as np
import pytest

import gradcheck
from gradcheck.report import SCHEMA_VERSION


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
