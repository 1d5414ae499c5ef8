"""The report as the user reads it: text, JSON, JUnit XML and rich."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcheck
from gradcheck._problem import element_label
from gradcheck._report import Element, Metadata, ParameterSummary, Report
from gradcheck._report_json import SCHEMA_VERSION
from gradcheck._table import MAX_ROWS
from gradcheck._tolerance import Verdict


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
    gaps: list[float] | np.ndarray | None = None,
) -> Report:
    """A report with the given verdict codes, numbers that fit them (or ``numeric -
    analytic`` as given, against a tolerance of 1e-6), and no engine."""
    codes = np.asarray(verdicts, dtype=np.int8).reshape(1, -1)
    n = codes.shape[1]
    analytic = np.linspace(1.0, 2.0, n).reshape(1, n)
    if gaps is None:
        numeric = analytic + np.where(codes == Verdict.MISMATCH, 1.0, 1e-9)
    else:
        numeric = analytic + np.asarray(gaps, dtype=np.float64).reshape(1, n)
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


# -- what the doors print: provenance, cells, the closest call, the worst elements -------


def test_metadata_describe_is_the_line_under_the_headline(failing: gradcheck.Report) -> None:
    assert str(failing).splitlines()[1] == "  " + failing.metadata.describe()
    md = Metadata("torch", "float32", "richardson", 1e-6, 0.0, 3, 40, 2, 1.23456, (1e-7,))
    assert md.describe() == (
        "torch backend, float32, richardson; 40 evaluations of f, 2 of the gradient; seed 3; 1.23 s"
    )


def test_cells_are_a_row_of_the_text_table(failing: gradcheck.Report) -> None:
    cells = failing.element(0, 1).cells()
    assert cells[:2] == ("p[1]", "2")
    assert cells[2].startswith("6 ± ")
    assert cells[4] == "mismatch"
    row = next(line for line in str(failing).splitlines() if line.startswith("  p[1]"))
    assert row.split() == " ".join(cells).split()


def test_cells_of_a_kink_name_both_one_sided_derivatives() -> None:
    kink = Element("x[0]", "x", (0,), (), 0.5, 0.25, 1e-8, 0.75, Verdict.KINK, -1.0, 1.0)
    assert kink.note == "(left -1, right 1)"
    assert kink.cells() == ("x[0]", "0.5", "0.25 ± 1e-08", "0.75", "kink (left -1, right 1)")
    lost = Element("y", "y", (), (), 2.0, math.nan, math.inf, 0.0, Verdict.INCONCLUSIVE, 0, 0)
    assert lost.note == ""
    assert lost.cells() == ("y", "2", "nan ± inf", "0", "inconclusive")


def test_parameter_describe_is_its_line_in_the_text() -> None:
    report = _report([OK, MISMATCH, OK], parameters=(("a", ()), ("b", (2,))))
    a, b = report.summaries()
    assert b.describe().startswith("b (2,): ok 1, mismatch 1; worst b[0], max abs gap 1")
    assert str(report).splitlines()[-2:] == ["  " + a.describe(), "  " + b.describe()]
    no_worst = ParameterSummary("e", (2,), {"ok": 1, "kink": 1}, None, 0.0, 0.0)
    assert no_worst.describe() == "e (2,): ok 1, kink 1; worst -, max abs gap 0, max rel gap 0"


def test_closest_is_the_agreeing_element_whose_gap_used_most_of_its_tolerance() -> None:
    report = _report([OK, OK, MISMATCH, OK, KINK], gaps=[2e-7, -8e-7, 5.0, 5e-7, 9e-7])
    closest = report.closest()
    assert closest is not None
    assert closest.name == "x[1]"
    assert closest.margin == pytest.approx(0.8)


def test_closest_is_none_when_no_element_agrees() -> None:
    assert _report([MISMATCH, INCONCLUSIVE]).closest() is None
    assert _report([OK], gaps=[math.nan]).closest() is None


def test_worst_lists_mismatches_kinks_inconclusive_then_ok_each_by_margin() -> None:
    report = _report(
        [OK, KINK, OK, MISMATCH, INCONCLUSIVE, MISMATCH], gaps=[1e-7, 0, 9e-7, 2.0, 0, 3.0]
    )
    shown, hidden = report.worst(4)
    assert [e.name for e in shown] == ["x[5]", "x[3]", "x[1]", "x[4]"]
    assert hidden == 2
    every, none_hidden = report.worst(10)
    assert [e.name for e in every[4:]] == ["x[2]", "x[0]"]
    assert none_hidden == 0


def test_worst_of_one_parameter_lists_only_its_elements() -> None:
    report = _report([MISMATCH, OK, OK, KINK], parameters=(("a", (2,)), ("b", (2,))))
    shown, hidden = report.worst(1, "b")
    assert [e.name for e in shown] == ["b[1]"]
    assert hidden == 1
    with pytest.raises(KeyError, match=r"'c'.*\['a', 'b'\]"):
        report.worst(1, "c")


def test_rows_of_a_report_that_agrees_everywhere_are_its_five_closest_calls() -> None:
    gaps = np.zeros(MAX_ROWS + 10)
    gaps[[3, 17, 8, 22, 11, 5]] = [9e-7, 8e-7, 7e-7, 6e-7, 5e-7, 4e-7]
    rows, hidden = _report([OK] * gaps.size, gaps=gaps).rows()
    assert [e.name for e in rows] == ["x[3]", "x[17]", "x[8]", "x[22]", "x[11]"]
    assert hidden == 0
    few, none_hidden = _report([OK, MISMATCH, OK]).rows()
    assert [e.name for e in few] == ["x[0]", "x[1]", "x[2]"]  # every element, in order
    assert none_hidden == 0


# -- JSON, elements and summaries: the same as the per-element implementation ----------


def _reference_summary(report: Report, start: int, stop: int) -> dict[str, object]:
    """One parameter's summary as the per-parameter loop computed it."""
    with np.errstate(all="ignore"):
        gap = np.abs(report.analytic - report.numeric)[:, start:stop]
        rel = gap / np.maximum(np.abs(report.analytic), np.abs(report.numeric))[:, start:stop]
        tol = report.tolerance[:, start:stop]
        margin = np.where(tol > 0, gap / tol, np.inf * (gap > 0))
    worst = None
    if stop > start:
        score = np.where(np.isfinite(margin), margin, -1.0)
        mismatch = report.verdicts[:, start:stop] == Verdict.MISMATCH
        score = np.where(mismatch, score + 1e300, score)
        output, local = np.unravel_index(int(np.argmax(score)), score.shape)
        worst = report.element(int(output), start + int(local)).name
    codes = report.verdicts[:, start:stop]
    max_abs = float(np.nanmax(gap, initial=0.0))
    max_rel = float(np.nanmax(np.nan_to_num(rel), initial=0.0))
    return {
        "counts": {str(v): int(np.count_nonzero(codes == v)) for v in Verdict},
        "worst": worst,
        "max_abs_error": max_abs if math.isfinite(max_abs) else None,
        "max_rel_error": max_rel if math.isfinite(max_rel) else None,
    }


def _reference_dict(report: Report) -> dict[str, Any]:
    """The JSON data as the per-element implementation wrote it, one dict per element."""

    def number(value: float) -> float | None:
        return float(value) if math.isfinite(value) else None

    md = report.metadata
    sizes = [math.prod(shape) for _, shape in report.parameters]
    ends = np.cumsum(sizes)
    m, n = report.verdicts.shape
    elements = []
    for output in range(m):
        out = (
            [int(k) for k in np.unravel_index(output, report.output_shape)]
            if report.output_shape
            else []
        )
        for i in range(n):
            owner = int(np.searchsorted(ends, i, side="right"))
            local = i - (int(ends[owner - 1]) if owner else 0)
            name, shape = report.parameters[owner]
            label = element_label(name, shape, local)
            values = {
                key: float(getattr(report, key)[output, i])
                for key in ("analytic", "numeric", "error", "tolerance", "left", "right")
            }
            elements.append(
                {
                    "name": f"f[{', '.join(map(str, out))}] / {label}" if out else label,
                    "parameter": name,
                    "index": [int(k) for k in np.unravel_index(local, shape)] if shape else [],
                    "output": out,
                    **{key: number(values[key]) for key in ("analytic", "numeric", "error")},
                    "tolerance": number(values["tolerance"]),
                    "detectable": number(values["tolerance"] + values["error"]),
                    "verdict": str(Verdict(int(report.verdicts[output, i]))),
                    "left": number(values["left"]),
                    "right": number(values["right"]),
                }
            )
    parameters = []
    for (name, shape), size, end in zip(report.parameters, sizes, ends, strict=True):
        summary = _reference_summary(report, int(end) - size, int(end))
        parameters.append(
            {"name": name, "shape": list(shape), "size": size, "counts": summary["counts"]}
            | {k: summary[k] for k in ("worst", "max_abs_error", "max_rel_error")}
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "ok": report.ok,
        "strict": report.strict,
        "counts": report.counts,
        "metadata": {
            "backend": md.backend,
            "dtype": md.dtype,
            "method": md.method,
            "rtol": md.rtol,
            "atol": md.atol,
            "seed": md.seed,
            "function_evaluations": md.function_evaluations,
            "gradient_evaluations": md.gradient_evaluations,
            "seconds": md.seconds,
            "noise": [number(v) for v in md.noise],
            "warnings": list(md.warnings),
            "random": md.random,
            "evaluations_by_stage": dict(md.stages),
            "mode": md.mode,
            "fast": None,
        },
        "parameters": parameters,
        "elements": elements,
    }


SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e16, 1e-5, 1e-4, 5e-324, 1e300, 3.0, -123456789.0]


def _synthetic(
    parameters: tuple[tuple[str, tuple[int, ...]], ...],
    output_shape: tuple[int, ...],
    rng: np.random.Generator,
) -> Report:
    """Random numbers over twenty decades, special values among them, random verdicts."""
    n = sum(math.prod(shape) for _, shape in parameters)
    m = math.prod(output_shape)
    shape = (m, n)
    arrays = [rng.normal(size=shape) * 10.0 ** rng.integers(-20, 20, size=shape) for _ in "ant"]
    for values in arrays:
        values.flat[rng.integers(0, max(m * n, 1), size=min(m * n, 4))] = rng.choice(SPECIAL)
    analytic, numeric, error = arrays
    verdicts = rng.integers(0, 4, size=shape).astype(np.int8)
    left = np.where(verdicts == Verdict.KINK, rng.normal(size=shape), np.nan)
    return Report(
        parameters=parameters,
        output_shape=output_shape,
        analytic=analytic,
        numeric=numeric,
        error=np.abs(error),
        tolerance=np.abs(error) * 3,
        verdicts=verdicts,
        left=left,
        right=left + 1.0,
        step=np.full(n, 1e-5),
        strict=False,
        metadata=Metadata(
            "numpy", "float64", "central", 1e-6, 0, 7, 10, 1, 0.25, (1e-16,) * m, ('é "w"',)
        ),
    )


LAYOUTS = [
    ((("W", (3, 4)), ("b", (4,)), ("s", ())), ()),
    ((('x"\\é%', (2,)), ("empty", (0,)), ("t", (2, 1, 3))), (2, 3)),
    ((("a", ()), ("b", ())), (4,)),
    ((("W", (5, 7)),), ()),
    ((("layers[0]", (2, 2)), ("layers[1]", (2,))), (1,)),
]


@pytest.mark.parametrize(("parameters", "output_shape"), LAYOUTS)
def test_json_is_byte_for_byte_what_the_per_element_format_wrote(
    parameters: tuple[tuple[str, tuple[int, ...]], ...],
    output_shape: tuple[int, ...],
    rng: np.random.Generator,
) -> None:
    for _ in range(3):
        report = _synthetic(parameters, output_shape, rng)
        reference = _reference_dict(report)
        for indent in (None, 0, 2, 4):
            assert report.to_json(indent=indent) == json.dumps(reference, indent=indent)
        assert json.dumps(report.to_dict()) == json.dumps(reference)


def test_elements_labels_and_summaries_are_those_of_the_per_element_loop(
    rng: np.random.Generator,
) -> None:
    for parameters, output_shape in LAYOUTS:
        report = _synthetic(parameters, output_shape, rng)
        reference = _reference_dict(report)
        elements = list(report.elements())
        assert [e.name for e in elements] == [e["name"] for e in reference["elements"]]
        assert [list(e.index) for e in elements] == [e["index"] for e in reference["elements"]]
        assert report.labels == tuple(
            element_label(name, shape, j)
            for name, shape in parameters
            for j in range(math.prod(shape))
        )
        for verdict in Verdict:
            chosen = [e.name for e in report.elements(verdict)]
            assert chosen == [e.name for e in elements if e.verdict == verdict]
        worst = [s.worst.name if s.worst else None for s in report.summaries()]
        assert worst == [p["worst"] for p in reference["parameters"]]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=4),
            st.lists(st.integers(0, 3), max_size=3).map(tuple),
        ),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.integers(1, 3), max_size=2).map(tuple),
    st.integers(0, 2**32 - 1),
    st.sampled_from([None, 0, 1, 2]),
)
def test_json_of_any_layout_is_what_the_per_element_format_wrote(
    parameters: list[tuple[str, tuple[int, ...]]],
    output_shape: tuple[int, ...],
    seed: int,
    indent: int | None,
) -> None:
    report = _synthetic(tuple(parameters), output_shape, np.random.default_rng(seed))
    reference = _reference_dict(report)
    assert report.to_json(indent=indent) == json.dumps(reference, indent=indent)
    assert json.dumps(report.to_dict()) == json.dumps(reference)


def test_write_json_to_a_path_or_a_text_file_writes_the_document(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    report = _synthetic(*LAYOUTS[1], rng)
    report.write_json(tmp_path / "report.json")
    assert (tmp_path / "report.json").read_text(encoding="utf-8") == report.to_json()
    stream = io.StringIO()
    report.write_json(stream, indent=None)
    assert stream.getvalue() == report.to_json(indent=None)


def test_write_json_at_a_level_nests_in_a_larger_document_as_json_dumps_would(
    rng: np.random.Generator,
) -> None:
    report = _synthetic(*LAYOUTS[0], rng)
    whole = {"schema_version": 1, "cases": [{"id": "a.py::f", "report": report.to_dict()}]}
    for indent in (None, 2):
        outer = {"schema_version": 1, "cases": [{"id": "a.py::f", "report": "\0"}]}
        before, after = json.dumps(outer, indent=indent).split('"\\u0000"')
        stream = io.StringIO()
        stream.write(before)
        report.write_json(stream, indent=indent, level=3)
        stream.write(after)
        assert stream.getvalue() == json.dumps(whole, indent=indent)


class _Writes(io.StringIO):
    """A text file that records the size of every piece written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def write(self, text: str) -> int:
        self.sizes.append(len(text))
        return super().write(text)

    def writelines(self, lines: Iterable[str]) -> None:  # type: ignore[override]
        for line in lines:
            self.write(line)


def test_write_json_streams_a_large_report_in_pieces(rng: np.random.Generator) -> None:
    report = _synthetic((("W", (300, 200)),), (), rng)
    stream = _Writes()
    report.write_json(stream)
    assert stream.getvalue() == report.to_json()
    assert max(stream.sizes) < sum(stream.sizes) / 3  # never the whole document at once


def test_text_of_a_report_with_many_parameters_stays_short_and_shows_the_failing_ones() -> None:
    codes = [OK] * 200
    codes[37] = codes[180] = MISMATCH
    parameters = tuple((f"p{k}", ()) for k in range(200))
    report = _report(codes, parameters=parameters)
    lines = str(report).splitlines()
    assert lines[0] == "gradcheck FAILED: 2 / 200 elements disagree (ok 198, mismatch 2)"
    assert len(lines) < 3 * MAX_ROWS
    summary = [line for line in lines if line.startswith("  p") and "worst" in line]
    assert len(summary) == MAX_ROWS
    shown = [line.split()[0] for line in summary]
    assert "p37" in shown  # the failing parameters are among those shown
    assert "p180" in shown
    assert shown == sorted(shown, key=lambda name: int(name[1:]))  # in parameter order
    assert lines[-1] == f"  ... and {200 - MAX_ROWS} more parameters"


def test_text_of_a_large_unverified_report_lists_a_page_of_elements() -> None:
    report = _report([INCONCLUSIVE] * 1000, random=True)
    lines = str(report).splitlines()
    rows = [line for line in lines if line.strip().startswith("x[")]
    assert len(rows) == MAX_ROWS
    assert f"  ... and {1000 - MAX_ROWS} more" in lines
