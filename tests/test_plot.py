"""Plots of the difference quotient against the step: their numbers and their structure
(axes, lines, labels), never their pixels."""

from __future__ import annotations

import numpy as np
import pytest

import gradcheck
from gradcheck import _plot as plot


def J(p: np.ndarray) -> float:
    return float(3 * (p[0] + p[1] * p[2]) + np.sin(p[0]) + np.sin(p[1]))


def dJ_wrong(p: np.ndarray) -> np.ndarray:
    return np.array([3.0 + np.cos(p[0]), p[2] + np.cos(p[1]), p[1]])  # y, z: 3 missing


WRONG = gradcheck.Case(J, np.array([5.0, 3.0, 2.0]), grad=dJ_wrong)
KINK = gradcheck.Case(
    lambda x: float(np.sum(np.abs(x))), np.array([0.0, 1.0]), grad=lambda x: np.sign(x) + 1.0
)


def labels(axes: object) -> list[str]:
    return [line.get_label() for line in axes.get_lines()]  # type: ignore[attr-defined]


def test_a_wrong_element_levels_off_on_a_floor_far_above_its_tolerance() -> None:
    report = WRONG.run(seed=0)
    curve = plot.quotients(WRONG, report, "p[1]")
    element = curve.element
    assert (element.name, str(element.verdict)) == ("p[1]", "mismatch")
    middle = (curve.steps > 1e-8) & (curve.steps < 1e-3)
    # D(h) is 3 z + cos y at every step that round-off and truncation leave alone; the gap
    # to the analytic z + cos y is 4, whatever the step
    np.testing.assert_allclose(curve.central[middle], 6.0 + np.cos(3.0), rtol=1e-6)
    assert np.all(np.abs(curve.central[middle] - element.analytic) > 1e5 * element.tolerance)


def test_a_right_element_dips_below_its_tolerance_near_the_chosen_step() -> None:
    report = WRONG.run(seed=0)
    curve = plot.quotients(WRONG, report, "p[0]")
    error = np.abs(curve.central - curve.element.analytic)
    near = np.abs(np.log10(curve.steps / report.step[0])) < 1
    assert str(curve.element.verdict) == "ok"
    assert np.nanmin(error[near]) < curve.element.tolerance
    # truncation: slope 2 at large steps (|sin'''| h^2 / 6); round-off: slope -1 at tiny ones
    large = curve.steps > 1e-2
    slope = np.polyfit(np.log(curve.steps[large]), np.log(error[large]), 1)[0]
    assert slope == pytest.approx(2, abs=0.1)


def test_a_kink_shows_the_one_sided_plateaus() -> None:
    report = KINK.run(seed=4)
    curve = plot.quotients(KINK, report, "x[0]")
    assert str(curve.element.verdict) == "kink"
    # |x| at 0: right derivative 1, left -1, at every step, up to f's round-off (f is about
    # 1, from the other element) over the step
    round_off = 4 * np.finfo(np.float64).eps / curve.steps
    assert np.all(np.abs(curve.forward - 1.0) <= round_off)
    assert np.all(np.abs(curve.backward + 1.0) <= round_off)
    fig = report.plot("x[0]", KINK)
    top, bottom = fig.axes
    assert {"forward", "backward"} <= set(labels(top))
    assert {"|forward - analytic|", "|backward - analytic|"} <= set(labels(bottom))


def test_the_figure_has_two_panels_with_the_guides_and_the_marks() -> None:
    report = WRONG.run(seed=0)
    fig = report.plot("p[1]", WRONG)
    assert fig._suptitle is not None  # type: ignore[attr-defined]
    assert fig._suptitle.get_text() == "p[1]: mismatch"  # type: ignore[attr-defined]
    top, bottom = fig.axes
    assert (top.get_xscale(), top.get_yscale()) == ("log", "linear")
    assert (bottom.get_xscale(), bottom.get_yscale()) == ("log", "log")
    assert (top.get_ylabel(), bottom.get_ylabel(), bottom.get_xlabel()) == (
        "difference quotient",
        "error of the quotient",
        "step h",
    )
    step = f"chosen step {report.step[1]:.2g}"
    assert labels(top) == [
        "central D(h)",
        f"analytic {2 + np.cos(3.0):.6g}",
        f"numeric {6 + np.cos(3.0):.6g} ± {report.element(0, 1).error:.2g}",
        step,
    ]
    assert labels(bottom) == [
        "|central - analytic|",
        f"tolerance {report.element(0, 1).tolerance:.2g}",
        "truncation, slope 2",
        "round-off, slope -1",
        step,
    ]
    chosen = next(line for line in bottom.get_lines() if line.get_label() == step)
    assert list(chosen.get_xdata()) == [report.step[1]] * 2  # type: ignore[arg-type]


def test_svg_is_inline_ready_and_ids_never_repeat_across_figures() -> None:
    report = WRONG.run(seed=0)
    pictures = [plot.svg(report.plot(e, WRONG), f"fig{k}") for k, e in enumerate(["p[1]", "p[2]"])]
    assert all(p.startswith("<svg") for p in pictures)
    assert "<text" in pictures[0]  # text as text, no embedded font
    ids = [i for p in pictures for i in plot._ID.findall(p)]
    assert len(ids) == len(set(ids))
    assert all(i.startswith(("fig0-", "fig1-")) for i in ids)


def test_an_unknown_element_is_named_with_those_there_are() -> None:
    report = WRONG.run(seed=0)
    with pytest.raises(gradcheck.InvalidArgument, match=r"no element 'q\[0\]' in this report; "):
        report.plot("q[0]", WRONG)


def test_only_elements_not_ok_are_plotted_worst_first() -> None:
    report = WRONG.run(seed=0)
    assert [e.name for e in plot.plotted_elements(report, 5)] == ["p[1]", "p[2]"]
