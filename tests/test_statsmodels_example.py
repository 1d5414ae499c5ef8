"""examples/statsmodels/: statsmodels 0.15.0's hand-written Hessians checked as the Jacobians
of its scores (gradcheck[statsmodels], installed by the test extra)."""

from __future__ import annotations

import runpy
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import gradcheck
from gradcheck import Verdict
from gradcheck.cli import ExitCode, app

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "examples" / "statsmodels"
EXAMPLE = FOLDER / "statsmodels_hessians.py"


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    return runpy.run_path(str(EXAMPLE))


def report_of(example: dict[str, Any], name: str) -> gradcheck.Report:
    found = example[name]
    case = found if isinstance(found, gradcheck.Case) else found()
    return case.run(seed=0)


def test_the_run_passes_with_both_known_bugs_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, ["run", "examples/statsmodels/", "--seed", "0"])
    assert result.exit_code == ExitCode.OK, result.output
    assert "5 cases: 5 passed (2 of them mismatches, as expected)" in result.stdout
    assert "in_the_wild" not in result.stdout
    assert "statsmodels" not in CliRunner().invoke(app, ["run", "examples/"]).stdout


def test_zero_inflated_poisson_hessian_lacks_exactly_the_cross_terms(
    example: dict[str, Any],
) -> None:
    report = report_of(example, "zip_hessian")
    inflation = example["Z"].shape[1]  # statsmodels puts the inflation parameters first
    wrong = report.verdicts == Verdict.MISMATCH
    cross = np.zeros_like(wrong)
    cross[:inflation, inflation:] = cross[inflation:, :inflation] = True
    np.testing.assert_array_equal(wrong, cross)  # 12 = 2 x 3 x 2 cross terms, nothing else
    assert np.all(report.analytic[cross] == 0.0)  # left at zero, where the truth is not


def test_zero_inflated_poisson_standard_errors_are_too_small(example: dict[str, Any]) -> None:
    from_hessian, from_differences = example["zip_standard_errors"]()
    shortfall = 1 - from_hessian / from_differences
    assert np.all(shortfall > 0)
    assert shortfall.max() > 0.1


def test_ols_profile_hessian_is_half_the_truth_at_the_solution(example: dict[str, Any]) -> None:
    report = report_of(example, "ols_hessian")
    assert report.counts["mismatch"] == report.verdicts.size
    ratio = report.analytic / report.numeric
    np.testing.assert_allclose(ratio, 0.5, rtol=1e-6)


@pytest.mark.parametrize("name", ["zip_score", "ols_score", "ols_hessian_known_scale"])
def test_the_controls_agree(example: dict[str, Any], name: str) -> None:
    assert report_of(example, name).ok


def test_the_pin_of_the_extra_is_that_of_the_folder() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    lines = (FOLDER / "requirements.txt").read_text().splitlines()
    assert extras["statsmodels"] == [line for line in lines if not line.startswith("#")]
    assert any("statsmodels" in entry for entry in extras["test"])
