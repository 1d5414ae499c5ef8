"""The command line: ``gradcheck run PATH...`` checks the cases declared in model files.

Parse, collect (:mod:`gradcheck.cases`), call :func:`gradcheck.check` through each case,
render the :class:`~gradcheck.Report` and pick an exit status. No numerics live here.

Exit status: see :class:`ExitCode`.

JSON written by ``--json`` (``schema_version`` 1)::

    {
      "schema_version": 1,
      "gradcheck_version": str,
      "exit_code": int,                 # an ExitCode
      "seconds": float,                 # the whole run, collection included
      "summary": {"cases": int, "passed": int, "failed": int, "errors": int,
                  "expected_mismatches": int},
      "errors": [{"file": str, "line": int | null, "message": str}],  # files not collected
      "cases": [{"id": str,             # "examples/seed_backprop.py::chain_rule[worked]"
                 "file": str, "line": int, "name": str,
                 "expect": "ok" | "mismatch",
                 "outcome": "passed" | "failed" | "error",
                 "message": str,        # the verdict line, or what went wrong
                 "report": {...} | null}]   # Report.to_dict(): see gradcheck.report
    }
"""

from __future__ import annotations

import enum
import json
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated, Any, NoReturn
from xml.etree import ElementTree

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

import gradcheck
from gradcheck import cases

__all__ = ["ExitCode", "Outcome", "app"]

PROGRESS_DELAY = 1.0
"""Seconds a check runs before the progress bar appears."""

WORST_PER_PARAMETER = 5
"""Elements listed per parameter with ``-v``."""


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
class Result:
    """One case, checked (or not): its outcome, verdict line and report."""

    case: cases.ModelCase
    expect: str
    outcome: Outcome
    message: str
    report: gradcheck.Report | None = None
    exception: BaseException | None = None


_STYLE = {Outcome.PASSED: "green", Outcome.FAILED: "bold red", Outcome.ERROR: "bold red"}
_VERDICT_STYLE = {
    "ok": "green",
    "mismatch": "bold red",
    "kink": "yellow",
    "inconclusive": "magenta",
}
_SEVERITY = {"mismatch": 0, "kink": 1, "inconclusive": 2, "ok": 3}

app = typer.Typer(
    name="gradcheck",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"gradcheck {gradcheck.__version__}")
        raise typer.Exit(ExitCode.OK)


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    """Compare hand-written gradients with finite differences, element by element.

    Point it at the files where your models live, as you point pytest at tests.

    Example: gradcheck run examples/

    Exit status: 0 all cases agree, 1 a gradient mismatch, 2 a usage or input error.
    """


@app.command(
    help="Check every case declared in the model files at PATH.\n\n"
    "A case is a function decorated with @gradcheck.case that returns what gradcheck.check "
    "accepts (gradcheck.Case(f, params, grad=df), or a model's loss method and its inputs), "
    "or a module-level gradcheck.Case.",
    epilog="Examples:\n\n"
    "  gradcheck run examples/\n\n"
    "  gradcheck run model.py -k 'neuron and not skipping' -v\n\n"
    "  gradcheck run models/ --method richardson --seed 0 --junit-xml gradcheck.xml\n\n"
    "  gradcheck run model.py -q --json - | jq .summary",
)
def run(
    paths: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            metavar="PATH",
            show_default=False,
            help="Model files, or folders searched for *.py files, that declare cases.",
        ),
    ],
    keyword: Annotated[
        str | None,
        typer.Option(
            "-k",
            metavar="EXPR",
            help="Only cases whose id matches EXPR, as pytest's -k: names (substrings), "
            "and, or, not, parentheses.",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Show the worst elements of every parameter.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="Show only failures and the summary.")
    ] = False,
    json_path: Annotated[
        str | None,
        typer.Option(
            "--json", metavar="PATH", help="Write the results as JSON to PATH ('-': stdout)."
        ),
    ] = None,
    junit_xml: Annotated[
        Path | None,
        typer.Option(
            "--junit-xml",
            metavar="PATH",
            dir_okay=False,
            help="Write JUnit XML for CI to PATH: one testcase per case.",
        ),
    ] = None,
    method: Annotated[
        gradcheck.Method | None,
        typer.Option(help="How to compute the numeric derivatives (default: central)."),
    ] = None,
    rtol: Annotated[
        float | None,
        typer.Option(min=0.0, help="Relative floor added to every tolerance (default 1e-6)."),
    ] = None,
    atol: Annotated[
        float | None,
        typer.Option(min=0.0, help="Absolute floor added to every tolerance (default 0)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(min=0, help="Seed for the random choices (recorded anyway).")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Kinks and inconclusive elements fail too.")
    ] = False,
    optimize: Annotated[
        bool,
        typer.Option(
            "--optimize",
            help="Also minimize each case f(x0) with SciPy twice, with its gradient and with "
            "SciPy's own 3-point differences, and fail it when the runs disagree.",
        ),
    ] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colours (NO_COLOR is respected as well).")
    ] = False,
    show_traceback: Annotated[
        bool,
        typer.Option("--traceback", help="Show the traceback behind an error in a model file."),
    ] = False,
) -> None:
    """Check every case declared in the model files at PATH."""
    started = time.perf_counter()
    err = Console(stderr=True, no_color=no_color or None, highlight=False)
    if verbose and quiet:
        _usage_error(err, "-v and -q cannot be used together: pick one")
    try:
        matches = cases.keyword_matcher(keyword or "")
    except gradcheck.InvalidArgument as exc:
        _usage_error(err, str(exc))
    out = err if json_path == "-" else Console(no_color=no_color or None, highlight=False)
    options: dict[str, Any] = {
        name: value
        for name, value in (("method", method), ("rtol", rtol), ("atol", atol), ("seed", seed))
        if value is not None
    }
    if strict:
        options["strict"] = True

    try:
        collection = cases.collect(paths)
    except KeyboardInterrupt:
        _usage_error(err, "interrupted while importing the model files")
    for error in collection.errors:
        _print_error(err, str(error), error.exception, show_traceback)
    selected = [c for c in collection.cases if matches(c.nodeid)]
    if keyword and collection.cases and not selected:
        names = ", ".join(c.name for c in collection.cases[:5])
        _print_error(
            err,
            f"-k {keyword!r} matches none of the {len(collection.cases)} cases (e.g. {names}); "
            "-k matches substrings of the case ids",
            None,
            show_traceback,
        )

    results: list[Result] = []
    interrupted = False
    with _Progress(err, len(selected)) as progress:
        for item in selected:
            try:
                with progress.running(item.name):
                    result = _check(item, options, optimize)
            except KeyboardInterrupt:
                interrupted = True
                _print_error(err, "interrupted: the cases checked so far are reported", None, False)
                break
            results.append(result)
            _print_result(out, err, result, verbose, quiet, show_traceback)

    code = _exit_code(results, collection, interrupted or (bool(keyword) and not selected))
    seconds = time.perf_counter() - started
    out.print()
    out.print(_summary(results, collection, seconds), style=_summary_style(code), soft_wrap=True)
    if json_path is not None:
        document = _json_document(results, collection, code, seconds)
        _write(err, json_path, lambda stream: _dump_json(stream, document, results))
    if junit_xml is not None:
        _write(err, str(junit_xml), _junit_xml(results, collection, seconds))
    raise typer.Exit(code)


@app.command(epilog="Example:\n\n  gradcheck backends")
def backends() -> None:
    """List the installed backends: name, version and the objects each accepts.

    A backend for a new kind of object registers in the entry-point group 'gradcheck'.
    """
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("backend", "version", "accepts"):
        table.add_column(column)
    for info in gradcheck.backends():
        table.add_row(info.name, info.version, info.accepts)
    Console(highlight=False).print(table)


# -- checking ----------------------------------------------------------------------------------


def _check(item: cases.ModelCase, options: dict[str, Any], optimize: bool) -> Result:
    try:
        case, report = item.check(**options)
    except cases.CaseError as exc:
        return Result(
            item, item.expect, Outcome.ERROR, f"{exc.location}: {exc.message}", None, exc.__cause__
        )
    detail = report.headline().split(": ", 1)[-1]
    if case.expect == "mismatch":
        # only a mismatch is the expected outcome: a report that fails for want of
        # verification (a random f, all inconclusive) did not show one
        if not report.counts["mismatch"]:
            fixed = ". Fixed the gradient? Then drop expect='mismatch'" if report.ok else ""
            return Result(
                item,
                case.expect,
                Outcome.FAILED,
                f"expected a mismatch (expect='mismatch'), but {detail}{fixed}",
                report,
            )
        return Result(
            item, case.expect, Outcome.PASSED, f"mismatch found, as expected: {detail}", report
        )
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
    return Result(item, case.expect, outcome, detail, report)


def _exit_code(results: list[Result], collection: cases.Collection, bad_input: bool) -> ExitCode:
    if bad_input or collection.errors or any(r.outcome is Outcome.ERROR for r in results):
        return ExitCode.USAGE_ERROR
    if any(r.outcome is Outcome.FAILED for r in results):
        return ExitCode.MISMATCH
    return ExitCode.OK


class _Progress:
    """A transient bar on stderr, shown only while a check has run past PROGRESS_DELAY
    and only on a terminal."""

    def __init__(self, console: Console, total: int) -> None:
        self.enabled = console.is_terminal
        self.bar = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} cases"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task = self.bar.add_task("", total=total)
        self.lock = threading.Lock()
        self.shown = False

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._hide()

    def _show(self) -> None:
        with self.lock:
            if not self.shown:
                self.bar.start()
                self.shown = True

    def _hide(self) -> None:
        with self.lock:
            if self.shown:
                self.bar.stop()
                self.shown = False

    @contextmanager
    def running(self, name: str) -> Iterator[None]:
        """Show the bar if the check inside takes longer than PROGRESS_DELAY."""
        self.bar.update(self.task, description=f"checking {name}")
        timer = threading.Timer(PROGRESS_DELAY, self._show)
        if self.enabled:
            timer.start()
        try:
            yield
        finally:
            timer.cancel()
            self._hide()
            self.bar.advance(self.task)


# -- rendering ---------------------------------------------------------------------------------


def _usage_error(err: Console, message: str) -> NoReturn:
    err.print(f"error: {message}", style="red", soft_wrap=True)
    raise typer.Exit(ExitCode.USAGE_ERROR)


def _print_error(
    err: Console, message: str, exception: BaseException | None, show_traceback: bool
) -> None:
    err.print(Text(f"error: {message}", style="red"), soft_wrap=True)
    if show_traceback and exception is not None:
        err.print(Text("".join(traceback.format_exception(exception)).rstrip(), style="dim"))


def _print_result(
    out: Console, err: Console, result: Result, verbose: bool, quiet: bool, show_traceback: bool
) -> None:
    if result.outcome is Outcome.ERROR:
        _print_error(err, result.message, result.exception, show_traceback)
        return
    if quiet and result.outcome is Outcome.PASSED:
        return
    report = result.report
    assert report is not None  # a result without error has a report
    out.print()
    title = Text(result.case.nodeid, style="bold")
    if result.expect == "mismatch":
        title.append("  (expect='mismatch')", style="dim")
    out.print(title, soft_wrap=True)
    if verbose:
        md = report.metadata
        out.print(
            f"{md.backend} backend, {md.dtype}, {md.method}; {md.function_evaluations} "
            f"evaluations of f, {md.gradient_evaluations} of the gradient; seed {md.seed}; "
            f"{md.seconds:.3g} s",
            style="dim",
            soft_wrap=True,
        )
    out.print(_parameter_table(report))
    if verbose:
        out.print(_element_table(report))
    for warning in report.metadata.warnings:
        out.print(Text(f"warning: {warning}", style="yellow"), soft_wrap=True)
    line = Text(result.outcome.name, style=_STYLE[result.outcome])
    line.append(f" {result.case.name}: {result.message}")
    out.print(line, soft_wrap=True)


def _number(value: float) -> str:
    return f"{value:.6g}"


def _shape(shape: tuple[int, ...]) -> str:
    return str(shape) if shape else "scalar"


def _table(*columns: str) -> Table:
    """A plain table; the numeric columns (analytic, numeric, tolerance) right-aligned."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    numeric = {"analytic", "numeric ± error", "tolerance"}
    for column in columns:
        table.add_column(column, justify="right" if column in numeric else "left", no_wrap=True)
    return table


def _parameter_table(report: gradcheck.Report) -> Table:
    """Per parameter: its worst element and how many elements disagree."""
    table = _table("parameter", "shape", "worst element", "analytic", "numeric ± error", "verdict")
    for summary in report.summaries():
        element = summary.worst
        if element is None:
            table.add_row(summary.name, _shape(summary.shape), "-", "", "", "")
            continue
        verdict = Text(str(element.verdict), style=_VERDICT_STYLE[str(element.verdict)])
        disagreeing = summary.size - summary.counts["ok"]
        if disagreeing > 1:
            verdict.append(f" ({disagreeing} / {summary.size})")
        table.add_row(
            summary.name,
            _shape(summary.shape),
            element.name,
            _number(element.analytic),
            f"{_number(element.numeric)} ± {element.error:.2g}",
            verdict,
        )
    return table


def _element_table(report: gradcheck.Report) -> Table:
    """With -v: up to WORST_PER_PARAMETER elements of each parameter, worst first."""
    table = _table("element", "analytic", "numeric ± error", "tolerance", "verdict")
    every = list(report.elements())
    for parameter, _ in report.parameters:
        elements = sorted(
            (e for e in every if e.parameter == parameter),
            key=lambda e: (_SEVERITY[str(e.verdict)], -e.margin),
        )
        for e in elements[:WORST_PER_PARAMETER]:
            verdict = Text(str(e.verdict), style=_VERDICT_STYLE[str(e.verdict)])
            if str(e.verdict) == "kink":
                verdict.append(f" (left {_number(e.left)}, right {_number(e.right)})")
            table.add_row(
                e.name,
                _number(e.analytic),
                f"{_number(e.numeric)} ± {e.error:.2g}",
                f"{e.tolerance:.2g}",
                verdict,
            )
        if len(elements) > WORST_PER_PARAMETER:
            table.add_row(f"... {len(elements) - WORST_PER_PARAMETER} more", "", "", "", "")
    return table


def _counts(results: Sequence[Result], collection: cases.Collection) -> dict[str, int]:
    return {
        "cases": len(results),
        "passed": sum(r.outcome is Outcome.PASSED for r in results),
        "failed": sum(r.outcome is Outcome.FAILED for r in results),
        "errors": sum(r.outcome is Outcome.ERROR for r in results) + len(collection.errors),
        "expected_mismatches": sum(
            r.outcome is Outcome.PASSED and r.expect == "mismatch" for r in results
        ),
    }


def _summary(results: Sequence[Result], collection: cases.Collection, seconds: float) -> str:
    """``3 cases: 2 passed, 1 failed in 0.4s``, as pytest's last line."""
    counts = _counts(results, collection)
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
    n = counts["cases"]
    return f"{n} case{'' if n == 1 else 's'}: {', '.join(parts) or 'none run'} in {seconds:.2f}s"


def _summary_style(code: ExitCode) -> str:
    return "bold green" if code is ExitCode.OK else "bold red"


# -- files -------------------------------------------------------------------------------------


def _write(err: Console, path: str, content: str | Callable[[IO[str]], None]) -> None:
    """Write text, or what ``content(stream)`` writes, to a path or ``-`` (stdout)."""
    write = content if callable(content) else lambda stream: stream.write(content)
    if path == "-":
        write(sys.stdout)
        return
    try:
        with open(path, "w", encoding="utf-8") as stream:
            write(stream)
    except OSError as exc:
        _usage_error(err, f"cannot write {path}: {exc.strerror}. Check that its folder exists")


REPORT_SLOT = re.compile(r'"@@gradcheck-report-(\d+)@@"')
"""Where each case's report goes in the run's JSON document: reports are streamed in
(Report.write_json), never held as a tree of dicts (10^6 elements would take minutes)."""


def _dump_json(stream: IO[str], document: dict[str, Any], results: Sequence[Result]) -> None:
    """The run's JSON document, each case's report streamed in at its slot."""
    text = json.dumps(document, indent=2)
    start = 0
    for slot in REPORT_SLOT.finditer(text):
        stream.write(text[start : slot.start()])
        report = results[int(slot.group(1))].report
        assert report is not None  # only cases with a report get a slot
        report.write_json(stream, indent=2, level=3)
        start = slot.end()
    stream.write(text[start:] + "\n")


def _json_document(
    results: Sequence[Result], collection: cases.Collection, code: ExitCode, seconds: float
) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "gradcheck_version": gradcheck.__version__,
        "exit_code": int(code),
        "seconds": seconds,
        "summary": _counts(results, collection),
        "errors": [
            {"file": str(e.path), "line": e.line, "message": e.message} for e in collection.errors
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
            for k, r in enumerate(results)
        ],
    }


def _junit_xml(results: Sequence[Result], collection: cases.Collection, seconds: float) -> str:
    counts = _counts(results, collection)
    suite = ElementTree.Element(
        "testsuite",
        name="gradcheck",
        tests=str(counts["cases"] + len(collection.errors)),
        failures=str(counts["failed"]),
        errors=str(counts["errors"]),
        time=f"{seconds:.3f}",
    )
    for error in collection.errors:
        testcase = ElementTree.SubElement(
            suite, "testcase", classname="gradcheck.collect", name=error.location
        )
        ElementTree.SubElement(testcase, "error", message=error.message).text = str(error)
    for r in results:
        testcase = ElementTree.SubElement(
            suite,
            "testcase",
            classname=r.case.nodeid.split("::")[0],
            name=r.case.name,
            file=str(r.case.path),
            line=str(r.case.line),
            time=f"{r.report.metadata.seconds:.3f}" if r.report else "0",
        )
        if r.outcome is Outcome.ERROR:
            ElementTree.SubElement(testcase, "error", message=r.message).text = r.message
        elif r.outcome is Outcome.FAILED:
            failure = ElementTree.SubElement(testcase, "failure", message=r.message)
            failure.text = str(r.report)
        elif r.report is not None and r.expect == "mismatch":
            ElementTree.SubElement(testcase, "system-out").text = str(r.report)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
