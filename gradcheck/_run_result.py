"""What a run of model-file cases found: each case's outcome, and the run's verdict.

:func:`check_case` decides a case's outcome: it passes when its report is ok, or, declared
``expect="mismatch"``, when its report shows a mismatch; with ``optimize``, an ok case
also fails when two SciPy runs, with its gradient and with SciPy's own differences,
disagree. :class:`RunResult` holds the run and renders it: the counts, the exit status,
pytest's kind of summary line, JSON and JUnit XML. ``gradcheck run`` parses, calls these,
prints and exits.

JSON written by :meth:`RunResult.write_json` (``gradcheck run --json``; ``schema_version``
1)::

    {
      "schema_version": 1,
      "gradcheck_version": str,
      "exit_code": int,                 # an ExitCode
      "seconds": float,                 # the whole run, collection included
      "summary": {"cases": int, "passed": int, "failed": int,
                  "errors": int,                # cases that could not be checked
                  "not_collected": int,         # files, listed under "errors" below
                  "expected_mismatches": int},
      "errors": [{"file": str, "line": int | null, "message": str}],  # files not collected
      "cases": [{"id": str,             # "examples/seed_backprop.py::chain_rule[worked]"
                 "file": str, "line": int, "name": str,
                 "expect": "ok" | "mismatch",
                 "outcome": "passed" | "failed" | "error",
                 "message": str,        # the verdict line, or what went wrong
                 "report": {...} | null}]   # Report.to_dict(): see gradcheck._report_json
    }
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import IO, Any

import gradcheck
from gradcheck._cases import CaseError, Collection, ModelCase
from gradcheck._junit import JUnitCase, junit_xml
from gradcheck._report_html import Plot, run_html
from gradcheck._report_markdown import run_markdown

__all__ = ["CaseResult", "ExitCode", "Outcome", "RunResult", "check_case"]


class ExitCode(enum.IntEnum):
    """The exit status of ``gradcheck``, like pytest's ``ExitCode``."""

    OK = 0
    """Every case agrees (and every ``expect="mismatch"`` case showed its mismatch)."""
    MISMATCH = 1
    """Some case has a gradient mismatch, or an expected mismatch was not found."""
    USAGE_ERROR = 2
    """Bad arguments or input: a missing path, a model file that does not import or
    declares no case, a case that raises or is not a check, a non-finite loss; also an
    interrupted run (Ctrl-C). Takes precedence over MISMATCH."""


class Outcome(enum.StrEnum):
    """What became of one case."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"


@dataclass(frozen=True)
class CaseResult:
    """One case, checked (or not): its outcome, verdict line and report.

    Attributes
    ----------
    case : ModelCase
    expect : {"ok", "mismatch"}
        What the case declared, once built.
    outcome : Outcome
    message : str
        The verdict line (the report's headline without its "gradcheck OK: "), or what
        went wrong.
    report : Report or None
        None when the case could not be checked.
    exception : BaseException or None
        What the case raised, for ``--traceback``.
    checked : Case or None
        The check that produced ``report`` (to evaluate again for a plot).
    """

    case: ModelCase
    expect: str
    outcome: Outcome
    message: str
    report: gradcheck.Report | None = None
    exception: BaseException | None = None
    checked: gradcheck.Case | None = None

    def junit_case(self) -> JUnitCase:
        """The case as a JUnit testcase: failing with its report, erring with its message;
        an expected mismatch passes and shows its report."""
        case = JUnitCase(
            classname=self.case.nodeid.split("::")[0],
            name=self.case.name,
            time=f"{self.report.metadata.seconds:.3f}" if self.report else "0",
            file=str(self.case.path),
            line=self.case.line,
        )
        if self.outcome is Outcome.ERROR:
            return replace(case, outcome="error", message=self.message, text=self.message)
        if self.outcome is Outcome.FAILED:
            return replace(case, outcome="failure", message=self.message, text=str(self.report))
        if self.report is not None and self.expect == "mismatch":
            return replace(case, outcome="system-out", text=str(self.report))
        return case


def check_case(
    item: ModelCase, options: gradcheck.CheckOptions, *, optimize: bool = False
) -> CaseResult:
    """Build and check one case, and decide its outcome.

    Parameters
    ----------
    item : ModelCase
    options : CheckOptions
        Options of :func:`gradcheck.check`; they override the case's own.
    optimize : bool, default False
        Also cross-check an ok case with two SciPy runs (:func:`gradcheck.optimize.
        cross_check_case`) and fail it when they disagree.

    Returns
    -------
    CaseResult
        ``ERROR`` when the case raised or is not a check, never an exception.
    """
    try:
        case, report = item.check(**options)
    except CaseError as exc:
        return CaseResult(
            item, item.expect, Outcome.ERROR, f"{exc.location}: {exc.message}", None, exc.__cause__
        )
    detail = report.headline().split(": ", 1)[-1]
    if case.expect == "mismatch":
        # only a mismatch is the expected outcome: a report that fails for want of
        # verification (a random f, all inconclusive) did not show one
        if not report.counts["mismatch"]:
            fixed = ". Fixed the gradient? Then drop expect='mismatch'" if report.ok else ""
            return CaseResult(
                item,
                case.expect,
                Outcome.FAILED,
                f"expected a mismatch (expect='mismatch'), but {detail}{fixed}",
                report,
                checked=case,
            )
        found = f"mismatch found, as expected: {detail}"
        return CaseResult(item, case.expect, Outcome.PASSED, found, report, checked=case)
    outcome = Outcome.PASSED if report.ok else Outcome.FAILED
    if optimize and report.ok:
        from gradcheck.optimize import cross_check_case  # imports scipy.optimize

        try:
            cross = cross_check_case(case)
        except gradcheck.InvalidArgument as exc:
            detail += f"; not cross-checked: {exc}"
        else:
            detail += f"; {cross.headline()}"
            if not cross.agree:
                outcome = Outcome.FAILED
    return CaseResult(item, case.expect, outcome, detail, report, checked=case)


_REPORT_SLOT = re.compile(r'"@@gradcheck-report-(\d+)@@"')
"""Where each case's report goes in the run's JSON document: reports are streamed in
(Report.write_json), never held as a tree of dicts (10^6 elements would take minutes)."""


@dataclass(frozen=True)
class RunResult:
    """A whole run: the collection, each case's result, how long it took.

    Attributes
    ----------
    collection : Collection
        The cases found and the files that could not be collected.
    results : sequence of CaseResult
        The cases checked, in order.
    seconds : float
        The whole run, collection included.
    bad_input : bool
        The run was interrupted, or a ``-k`` expression selected no case.
    """

    collection: Collection
    results: Sequence[CaseResult]
    seconds: float
    bad_input: bool = False

    @property
    def counts(self) -> dict[str, int]:
        """Cases, passed, failed and errors (these three add up to the cases), files not
        collected, and expected mismatches among the passed."""
        results = self.results
        return {
            "cases": len(results),
            "passed": sum(r.outcome is Outcome.PASSED for r in results),
            "failed": sum(r.outcome is Outcome.FAILED for r in results),
            "errors": sum(r.outcome is Outcome.ERROR for r in results),
            "not_collected": len(self.collection.errors),
            "expected_mismatches": sum(
                r.outcome is Outcome.PASSED and r.expect == "mismatch" for r in results
            ),
        }

    @property
    def exit_code(self) -> ExitCode:
        """USAGE_ERROR for bad input or any error, else MISMATCH for any failure, else OK."""
        errors = any(r.outcome is Outcome.ERROR for r in self.results)
        if self.bad_input or self.collection.errors or errors:
            return ExitCode.USAGE_ERROR
        if any(r.outcome is Outcome.FAILED for r in self.results):
            return ExitCode.MISMATCH
        return ExitCode.OK

    def summary(self) -> str:
        """``3 cases: 2 passed, 1 failed in 0.40s``, as pytest's last line; files that
        could not be collected follow the cases' counts, which add up to the cases."""
        counts = self.counts
        parts = []
        if counts["passed"]:
            passed = f"{counts['passed']} passed"
            if counts["expected_mismatches"]:
                passed += f" ({counts['expected_mismatches']} of them mismatches, as expected)"
            parts.append(passed)
        if counts["failed"]:
            parts.append(f"{counts['failed']} failed")
        if counts["errors"]:
            parts.append(f"{counts['errors']} error{'s' if counts['errors'] > 1 else ''}")
        n, files = counts["cases"], counts["not_collected"]
        told = ", ".join(parts) or "none run"
        if files:
            told += f"; {files} file{'' if files == 1 else 's'} not collected"
        return f"{n} case{'' if n == 1 else 's'}: {told} in {self.seconds:.2f}s"

    def _document(self) -> dict[str, Any]:
        """The JSON document, each report a placeholder string (see ``_REPORT_SLOT``)."""
        return {
            "schema_version": 1,
            "gradcheck_version": gradcheck.__version__,
            "exit_code": int(self.exit_code),
            "seconds": self.seconds,
            "summary": self.counts,
            "errors": [
                {"file": str(e.path), "line": e.line, "message": e.message}
                for e in self.collection.errors
            ],
            "cases": [
                {
                    "id": r.case.nodeid,
                    "file": str(r.case.path),
                    "line": r.case.line,
                    "name": r.case.name,
                    "expect": r.expect,
                    "outcome": str(r.outcome),
                    "message": r.message,
                    "report": f"@@gradcheck-report-{k}@@" if r.report is not None else None,
                }
                for k, r in enumerate(self.results)
            ],
        }

    def write_json(self, stream: IO[str]) -> None:
        """Write the run as a JSON document (schema in the module docstring), each case's
        report streamed in at its place."""
        text = json.dumps(self._document(), indent=2)
        start = 0
        for slot in _REPORT_SLOT.finditer(text):
            stream.write(text[start : slot.start()])
            report = self.results[int(slot.group(1))].report
            assert report is not None  # only cases with a report get a slot
            report.write_json(stream, indent=2, level=3)
            start = slot.end()
        stream.write(text[start:] + "\n")

    def to_markdown(self) -> str:
        """The run as Markdown, for a CI job's page (see :mod:`gradcheck._report_markdown`)."""
        return run_markdown(self)

    def to_html(self, plots: dict[int, list[Plot]] | None = None) -> str:
        """The run as one self-contained HTML page; ``plots`` maps a case's place in
        :attr:`results` to its figures (see :mod:`gradcheck._report_html`)."""
        return run_html(self, plots)

    def to_junit_xml(self) -> str:
        """A JUnit XML file: a testcase per file not collected (an error) and per case."""
        collection_errors = [
            JUnitCase(
                "gradcheck.collect",
                error.location,
                outcome="error",
                message=error.message,
                text=str(error),
            )
            for error in self.collection.errors
        ]
        cases = collection_errors + [r.junit_case() for r in self.results]
        return junit_xml(cases, time=f"{self.seconds:.3f}")
