"""The command line: ``gradcheck run PATH...`` checks the cases declared in model files.

Parse, collect (:mod:`gradcheck._cases`), check each case (:func:`gradcheck._run_result.
check_case`, which also decides what its outcome is), print, write the run's files
(:class:`~gradcheck._run_result.RunResult` renders them) and exit with its status. No
numerics and no outcome logic live here.

Exit status: see :class:`ExitCode`. The ``--json`` schema: see :mod:`gradcheck._run_result`.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import IO, Annotated, Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.segment import Segments
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

import gradcheck
from gradcheck import _cases as cases
from gradcheck import _keywords as keywords
from gradcheck import _plot as plot
from gradcheck._options import OPTION_HELP, describe, validate
from gradcheck._progress import CaseProgress
from gradcheck._report_html import Plot
from gradcheck._run_result import CaseResult, ExitCode, Outcome, RunResult, check_case
from gradcheck._table import (
    ELEMENT_COLUMNS,
    WARNING_STYLE,
    fitted_table,
    outcome_style,
    verdict_text,
)
from gradcheck._worker_pool import SCHEDULER_HELP, WORKERS_HELP, WorkerPool

__all__ = ["ExitCode", "app"]

WORST_PER_PARAMETER = 5
"""Elements listed per parameter with ``-v``."""


def _bare_flags(params: list[Any]) -> list[Any]:
    """Flags and arguments without a Python type beside them in --help (typer labels a
    flag ``<bool>`` and the paths ``<list[Path]>``; the metavar says what to type)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        elif getattr(param, "param_type_name", None) == "argument" and param.metavar:
            param.display_type_rich = _no_type
    return params


def _no_type(ctx: Any) -> None:
    """An argument's type column in --help: nothing."""


class _Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _bare_flags(super().get_params(ctx))


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _bare_flags(super().get_params(ctx))

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        """Command-line errors (a value that does not parse, an unknown option) as the one
        line every other error is, not click's boxed usage panel."""
        try:
            return super().make_context(info_name, args, parent, **extra)
        except Exception as exc:
            # click's UsageError family (vendored by typer, so not importable as such):
            # a bad value, an unknown option, a missing argument; exit status 2
            if getattr(exc, "exit_code", None) != ExitCode.USAGE_ERROR:
                raise
            message = exc.format_message()  # type: ignore[attr-defined]
            err = Console(stderr=True, highlight=False)
            _usage_error(err, f"{message.rstrip('.')}; see gradcheck {info_name or 'run'} -h")


app = typer.Typer(
    name="gradcheck",
    cls=_Group,
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
    cls=_Command,
    help="Check every case declared in the model files at PATH.\n\n"
    "A case is a function decorated with @gradcheck.case that returns what gradcheck.check "
    "accepts (gradcheck.Case(f, params, grad=df), or a model's loss method and its inputs), "
    "or a module-level gradcheck.Case.",
    epilog="Examples:\n\n"
    "  gradcheck run examples/\n\n"
    "  gradcheck run model.py -k 'neuron and not skipping' -v\n\n"
    "  gradcheck run models/ --method richardson --seed 0 --junit-xml gradcheck.xml\n\n"
    "  gradcheck run models/ --html report.html --markdown report.md --plot plots/\n\n"
    "  gradcheck run model.py -q --json - | jq .summary",
)
def run(
    paths: Annotated[
        list[Path],
        typer.Argument(
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
    markdown: Annotated[
        Path | None,
        typer.Option(
            "--markdown",
            metavar="PATH",
            dir_okay=False,
            help="Write a Markdown report to PATH (also appended to $GITHUB_STEP_SUMMARY "
            "when it is set, for the CI job's page).",
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            metavar="PATH",
            dir_okay=False,
            help="Write one self-contained HTML report to PATH (with plots of flagged "
            f"elements when matplotlib is installed: {plot.INSTALL}).",
        ),
    ] = None,
    plot_dir: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="DIR",
            file_okay=False,
            help="Draw each flagged element's difference quotient against the step, as SVG "
            f"files in DIR (needs matplotlib: {plot.INSTALL}).",
        ),
    ] = None,
    method: Annotated[
        gradcheck.Method | None,
        typer.Option(help=describe("method")),
    ] = None,
    rtol: Annotated[
        float | None,
        typer.Option(min=0.0, help=describe("rtol")),
    ] = None,
    atol: Annotated[
        float | None,
        typer.Option(min=0.0, help=describe("atol")),
    ] = None,
    seed: Annotated[int | None, typer.Option(min=0, help=describe("seed"))] = None,
    mode: Annotated[gradcheck.Mode | None, typer.Option(help=describe("mode"))] = None,
    budget: Annotated[int | None, typer.Option(min=0, help=describe("budget"))] = None,
    probes: Annotated[int | None, typer.Option(min=1, help=describe("probes"))] = None,
    taylor: Annotated[bool, typer.Option("--taylor", help=f"{OPTION_HELP['taylor']}.")] = False,
    self_test: Annotated[
        bool, typer.Option("--self-test", help=f"{OPTION_HELP['self_test']}.")
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help=f"{OPTION_HELP['strict']}.")] = False,
    workers: Annotated[int | None, typer.Option(min=1, help=f"{WORKERS_HELP}.")] = None,
    scheduler: Annotated[str | None, typer.Option(help=f"{SCHEDULER_HELP}.")] = None,
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
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        _usage_error(
            err,
            f"no such file or folder: {', '.join(missing)}. Pass model files (*.py) or "
            "folders of them",
        )
    if plot_dir is not None and not plot.available():
        _usage_error(err, f"--plot needs matplotlib: {plot.INSTALL}")
    try:
        matches = keywords.keyword_matcher(keyword or "")
    except gradcheck.InvalidArgument as exc:
        _usage_error(err, str(exc))
    out = err if json_path == "-" else Console(no_color=no_color or None, highlight=False)
    given = {
        **{"method": method, "rtol": rtol, "atol": atol, "seed": seed, "strict": strict or None},
        **{"mode": mode, "budget": budget, "probes": probes},
        **{"taylor": taylor or None, "self_test": self_test or None},
    }
    try:
        options = validate({name: value for name, value in given.items() if value is not None})
    except gradcheck.InvalidArgument as exc:
        _usage_error(err, str(exc))

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

    try:
        pool = WorkerPool(workers, scheduler)  # shut down when the cases are checked
    except gradcheck.InvalidArgument as exc:
        _usage_error(err, str(exc))
    if pool.executor is not None:
        options["executor"] = pool.executor
    results: list[CaseResult] = []
    interrupted = False
    with pool, CaseProgress(err, len(selected)) as progress:
        for item in selected:
            try:
                with progress.running(item.name):
                    result = check_case(item, options, optimize=optimize)
            except KeyboardInterrupt:
                interrupted = True
                _print_error(err, "interrupted: the cases checked so far are reported", None, False)
                break
            results.append(result)
            _print_result(out, err, result, verbose, quiet, show_traceback)

    run_result = RunResult(
        collection,
        results,
        seconds=time.perf_counter() - started,
        bad_input=interrupted or (bool(keyword) and not selected),
    )
    code = run_result.exit_code
    out.print()
    summary_style = "bold green" if code is ExitCode.OK else "bold red"
    out.print(run_result.summary(), style=summary_style, soft_wrap=True)
    if json_path is not None:
        _write(err, json_path, run_result.write_json)
    if junit_xml is not None:
        _write(err, str(junit_xml), run_result.to_junit_xml())
    if markdown is not None:
        _write(err, str(markdown), run_result.to_markdown())
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        _write(err, summary_file, run_result.to_markdown(), mode="a")
    if html is not None or plot_dir is not None:
        plots = _plots(err, results) if plot.available() else {}
        if plot_dir is not None:
            _write_plots(err, plot_dir, results, plots)
        if html is not None:
            _write(err, str(html), run_result.to_html(plots))
    raise typer.Exit(code)


@app.command(epilog="Example:\n\n  gradcheck backends")
def backends() -> None:
    """List the installed backends: name, version and the objects each accepts.

    A backend for a new kind of object registers in the entry-point group 'gradcheck'.
    """
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("backend", "version", "accepts"):
        table.add_column(column)
    for info in gradcheck.installed_backends():
        table.add_row(info.name, info.version, info.accepts.replace("``", ""))  # from RST
    Console(highlight=False).print(table)


# -- rendering ---------------------------------------------------------------------------------


def _usage_error(err: Console, message: str) -> NoReturn:
    err.print(Text(f"error: {message}", style="red"), soft_wrap=True)
    raise typer.Exit(ExitCode.USAGE_ERROR)


def _print_error(
    err: Console, message: str, exception: BaseException | None, show_traceback: bool
) -> None:
    err.print(Text(f"error: {message}", style="red"), soft_wrap=True)
    if show_traceback and exception is not None:
        err.print(Text("".join(traceback.format_exception(exception)).rstrip(), style="dim"))


def _print_result(
    out: Console, err: Console, result: CaseResult, verbose: bool, quiet: bool, show_traceback: bool
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
        out.print(report.metadata.describe(), style="dim", soft_wrap=True)
    _print_table(out, *_parameter_table(report), optional=("shape",))
    if verbose:
        _print_table(out, *_element_table(report))
    for warning in report.metadata.warnings:
        out.print(Text(f"warning: {warning}", style=WARNING_STYLE), soft_wrap=True)
    line = Text(result.outcome.name, style=outcome_style(result.outcome is Outcome.PASSED))
    line.append(f" {result.case.name}: {result.message}")
    out.print(line, soft_wrap=True)


Row = tuple[str | Text, ...]


def _print_table(
    out: Console, columns: tuple[str, ...], rows: list[Row], optional: tuple[str, ...] = ()
) -> None:
    """A table with every cell in full (see :func:`gradcheck._table.fitted_table`)."""
    table, width = fitted_table(out, columns, rows, optional=optional)
    lines = out.render_lines(table, out.options.update_width(width), pad=False, new_lines=True)
    for line in lines:
        out.print(Segments(line), soft_wrap=True, end="")  # as laid out, never cropped


def _parameter_table(report: gradcheck.Report) -> tuple[tuple[str, ...], list[Row]]:
    """Per parameter: its worst element and how many elements disagree."""
    columns = ("parameter", "shape", "worst element", "analytic", "numeric ± error", "verdict")
    rows: list[Row] = []
    for summary in report.summaries():
        shape = str(summary.shape) if summary.shape else "scalar"
        element = summary.worst
        if element is None:
            rows.append((summary.name, shape, "-", "", "", ""))
            continue
        disagreeing = summary.size - summary.counts["ok"]
        share = f"({disagreeing} / {summary.size})" if disagreeing > 1 else ""
        verdict = verdict_text(str(element.verdict), share)
        rows.append((summary.name, shape, *element.cells()[:3], verdict))
    return columns, rows


def _element_table(report: gradcheck.Report) -> tuple[tuple[str, ...], list[Row]]:
    """With -v: up to WORST_PER_PARAMETER elements of each parameter, worst first."""
    rows: list[Row] = []
    for parameter, _ in report.parameters:
        elements, hidden = report.worst(WORST_PER_PARAMETER, parameter)
        rows.extend((*e.cells()[:4], verdict_text(str(e.verdict), e.note)) for e in elements)
        if hidden:
            rows.append((f"... {hidden} more", "", "", "", ""))
    return ELEMENT_COLUMNS, rows


# -- files -------------------------------------------------------------------------------------


def _write(
    err: Console, path: str, content: str | Callable[[IO[str]], None], mode: str = "w"
) -> None:
    """Write text, or what ``content(stream)`` writes, to a path or ``-`` (stdout)."""
    write = content if callable(content) else lambda stream: stream.write(content)
    if path == "-":
        write(sys.stdout)
        return
    try:
        with open(path, mode, encoding="utf-8") as stream:
            write(stream)
    except OSError as exc:
        _usage_error(err, f"cannot write {path}: {exc.strerror}. Check that its folder exists")


def _plots(err: Console, results: list[CaseResult]) -> dict[int, list[Plot]]:
    """Each case's flagged elements drawn (f evaluated again), by the case's place."""
    plots: dict[int, list[Plot]] = {}
    for k, result in enumerate(results):
        if result.report is not None and result.checked is not None:
            try:
                plots[k] = plot.svg_plots(result.checked, result.report, f"case{k}")
            except Exception as exc:  # a plot that fails leaves the check's results alone
                _print_error(err, f"{result.case.nodeid}: no plot: {exc}", exc, False)
    return plots


def _write_plots(
    err: Console, folder: Path, results: list[CaseResult], plots: dict[int, list[Plot]]
) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _usage_error(err, f"cannot create {folder}: {exc.strerror}")
    for k, drawn in plots.items():
        for element, picture in drawn:
            name = plot.file_name(results[k].case.nodeid, element.name)
            _write(err, str(folder / name), picture)
