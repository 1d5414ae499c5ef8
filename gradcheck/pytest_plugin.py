"""The pytest plugin: a ``gradcheck`` fixture, a ``gradcheck`` marker, options and a summary.

Registered through the ``pytest11`` entry point, so pytest loads it in every run of every
project where gradcheck is installed; ``-p no:gradcheck`` turns it off. This module imports
only pytest and the standard library: the engine is imported when a test first calls the
fixture.

Options for a check come from, most specific last:

1. ini options ``gradcheck_rtol`` and ``gradcheck_atol``;
2. command-line options ``--gradcheck-seed``, ``--gradcheck-strict``, ``--gradcheck-method``;
3. ``@pytest.mark.gradcheck(**options)`` on the test, its class or module;
4. keyword arguments of the fixture call.

Each check is tallied; the terminal summary shows the number of checks, the elements
compared and the closest call: the agreeing element whose ``|analytic - numeric|`` came
nearest its tolerance. Under pytest-xdist each worker sends its tally to the controller.
"""

from __future__ import annotations

import reprlib
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, final, overload

import pytest

if TYPE_CHECKING:
    from gradcheck import CheckOptions, Report

__all__ = ["GradcheckFixture"]

_POINT_REPR = reprlib.Repr()
_POINT_REPR.maxother = _POINT_REPR.maxstring = 60


@final
class GradcheckFixture:
    """The ``gradcheck`` fixture: ``gradcheck(f, params, grad=df)`` checks, or fails the test.

    Takes the arguments of :func:`gradcheck.check`, plus ``points=`` to check at several
    points. Options from the ini file, the command line and ``@pytest.mark.gradcheck``
    apply underneath the call's own.
    """

    def __init__(self, config: pytest.Config) -> None:
        self._state = config.stash[_STATE]

    def __repr__(self) -> str:
        return "<gradcheck fixture>"

    @overload
    def __call__(
        self,
        obj: object,
        *args: object,
        points: None = None,
        ids: None = None,
        **options: Any,
    ) -> Report: ...

    @overload
    def __call__(
        self,
        obj: object,
        *,
        points: Sequence[object],
        ids: Sequence[str] | None = None,
        **options: Any,
    ) -> list[Report]: ...

    def __call__(
        self,
        obj: object,
        *args: object,
        points: Sequence[object] | None = None,
        ids: Sequence[str] | None = None,
        **options: Any,
    ) -> Report | list[Report]:
        """Check ``obj`` like :func:`gradcheck.check`; fail the test on a mismatch.

        Parameters
        ----------
        obj, *args, **options
            As for :func:`gradcheck.check` (``grad=``, ``value_and_grad=``, ``method=``,
            ``rtol=``, ``atol=``, ``step=``, ``seed=``, ``strict=``, backend options).
        points : sequence, optional
            Check at each of these points instead of at ``args``: ``check(obj, point)``
            for every point, all of them even after one fails.
        ids : sequence of str, optional
            Names of the points in failure messages and the summary; default ``0, 1, ...``.

        Returns
        -------
        Report or list of Report
            The report, or one per point, when every check agrees.
        """
        __tracebackhide__ = True
        from gradcheck._api import check
        from gradcheck._errors import InvalidArgument

        merged = {**self._state.options_for_current_test(), **options}
        if points is None:
            if ids is not None:
                raise InvalidArgument("gradcheck fixture: ids= needs points=")
            report = check(obj, *args, **merged)
            self._state.tally.record(self._state.nodeid(), report)
            if not report.ok:
                pytest.fail(str(report), pytrace=False)
            return report

        if args:
            raise InvalidArgument(
                f"gradcheck fixture: got {len(args)} positional argument(s) and points=; "
                "each point is the one argument after obj, so pass points= alone "
                "(for a function of several arguments, use pytest.mark.parametrize)"
            )
        names = [str(i) for i in range(len(points))] if ids is None else [str(i) for i in ids]
        if len(names) != len(points):
            raise InvalidArgument(
                f"gradcheck fixture: {len(names)} ids for {len(points)} points; "
                "give one id per point"
            )
        return self._check_points(obj, points, names, merged)

    def _check_points(
        self, obj: object, points: Sequence[object], names: list[str], options: dict[str, Any]
    ) -> list[Report]:
        __tracebackhide__ = True
        from gradcheck._api import check

        reports = []
        failures = []
        for name, point in zip(names, points, strict=True):
            report = check(obj, point, **options)
            self._state.tally.record(f"{self._state.nodeid()}[point {name}]", report)
            reports.append(report)
            if not report.ok:
                failures.append(f"point {name}: {_POINT_REPR.repr(point)}\n{report}")
        if failures:
            header = f"gradcheck: {len(failures)} of {len(points)} points failed"
            pytest.fail("\n\n".join([header, *failures]), pytrace=False)
        return reports


@pytest.fixture(scope="session")
def gradcheck(request: pytest.FixtureRequest) -> GradcheckFixture:
    """Check gradients: ``gradcheck(f, params, grad=df)``; see :class:`GradcheckFixture`.

    Session-scoped, so that hypothesis's ``@given`` tests may use it; the options of
    ``@pytest.mark.gradcheck`` are read from the test running when it is called.
    """
    return GradcheckFixture(request.config)


# -- state: options, the running test, the tally ---------------------------------------


@dataclass(slots=True)
class _Closest:
    """The agreeing element that came nearest its tolerance, as the summary shows it."""

    margin: float
    where: str
    cells: tuple[str, ...]  # Element.cells(): element, analytic, numeric ± error, tolerance


@dataclass(slots=True)
class _Tally:
    """What the checks of this process found, for the terminal summary."""

    checks: int = 0
    failed: int = 0
    elements: int = 0
    closest: _Closest | None = None

    def record(self, where: str, report: Report) -> None:
        self.checks += 1
        self.failed += not report.ok
        self.elements += int(report.verdicts.size)
        element = report.closest()
        if element is not None:
            self.merge_closest(_Closest(element.margin, where, element.cells()[:4]))

    def merge_closest(self, other: _Closest | None) -> None:
        if other is not None and (self.closest is None or other.margin > self.closest.margin):
            self.closest = other

    def to_data(self) -> dict[str, Any]:
        """Plain data that execnet can send from an xdist worker."""
        closest = None
        if self.closest is not None:
            closest = [self.closest.margin, self.closest.where, *self.closest.cells]
        return {
            "checks": self.checks,
            "failed": self.failed,
            "elements": self.elements,
            "closest": closest,
        }

    def add_data(self, data: dict[str, Any]) -> None:
        self.checks += data["checks"]
        self.failed += data["failed"]
        self.elements += data["elements"]
        if data["closest"] is not None:
            margin, where, *cells = data["closest"]
            self.merge_closest(_Closest(margin, where, tuple(cells)))

    def lines(self) -> list[str]:
        failed = f" ({self.failed} failed)" if self.failed else ""
        plural = "" if self.checks == 1 else "s"
        lines = [f"{self.checks} check{plural}{failed}, {self.elements} elements compared"]
        if self.closest is not None:
            element, analytic, numeric, tolerance = self.closest.cells
            lines.append(
                f"closest call: {self.closest.where} {element}: |analytic - numeric| is "
                f"{100 * self.closest.margin:.2g}% of the tolerance (analytic {analytic}, "
                f"numeric {numeric}, tolerance {tolerance})"
            )
        return lines


@dataclass(slots=True)
class _State:
    """The plugin's state in one pytest process."""

    defaults: CheckOptions
    tally: _Tally = field(default_factory=_Tally)
    item: pytest.Item | None = None

    def nodeid(self) -> str:
        return "(outside a test)" if self.item is None else self.item.nodeid

    def options_for_current_test(self) -> dict[str, Any]:
        __tracebackhide__ = True
        options: dict[str, Any] = dict(self.defaults)
        if self.item is None:
            return options
        for mark in reversed(list(self.item.iter_markers("gradcheck"))):  # closest last
            if mark.args:
                pytest.fail(
                    f"@pytest.mark.gradcheck{mark.args!r}: the marker takes keyword "
                    "options only, e.g. @pytest.mark.gradcheck(rtol=1e-5)",
                    pytrace=False,
                )
            options.update(mark.kwargs)
        return options


_STATE = pytest.StashKey[_State]()


# -- hooks ------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradcheck", "gradient checks (gradcheck fixture)")
    group.addoption(
        "--gradcheck-seed",
        type=int,
        metavar="N",
        help="seed for every gradient check, e.g. the one a failing report printed",
    )
    group.addoption(
        "--gradcheck-strict",
        action="store_true",
        default=None,
        help="fail gradient checks on kinks and inconclusive elements too",
    )
    group.addoption(
        "--gradcheck-method",
        metavar="NAME",
        help="numeric method of gradient checks: central (default), richardson, ...",
    )
    group.addoption(
        "--gradcheck-mode",
        metavar="NAME",
        help="auto (default: full within the budget, else fast), full, or fast",
    )
    group.addoption(
        "--gradcheck-budget",
        type=int,
        metavar="N",
        help="evaluations of f that mode auto spends on a full check at most",
    )
    group.addoption(
        "--gradcheck-workers",
        type=int,
        metavar="N",
        help="evaluate f in N worker processes in every gradient check (same verdicts)",
    )
    group.addoption(
        "--gradcheck-scheduler",
        metavar="ADDRESS",
        help="evaluate f on the dask cluster at ADDRESS in every gradient check",
    )
    parser.addini("gradcheck_rtol", "default rtol of gradient checks (a number)", default="")
    parser.addini("gradcheck_atol", "default atol of gradient checks (a number)", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "gradcheck(**options): options of gradcheck.check for the gradcheck fixture in "
        "this test, e.g. @pytest.mark.gradcheck(rtol=1e-5, method='richardson')",
    )
    config.stash[_STATE] = _State(_defaults(config))
    workers, scheduler = (config.getoption(f"gradcheck_{n}") for n in ("workers", "scheduler"))
    if workers is not None or scheduler is not None:
        from gradcheck._errors import InvalidArgument
        from gradcheck._worker_pool import WorkerPool

        try:
            pool = WorkerPool(workers, scheduler, ("--gradcheck-workers", "--gradcheck-scheduler"))
        except InvalidArgument as exc:
            raise pytest.UsageError(str(exc)) from None
        config.add_cleanup(pool.close)  # when pytest ends
        config.stash[_STATE].defaults["executor"] = pool.executor


def _defaults(config: pytest.Config) -> CheckOptions:
    """Options for every check in this run, from the ini file and the command line,
    validated by :func:`gradcheck._options.validate` (imported only when one is given)."""
    given: dict[str, tuple[str, object]] = {}  # name -> (where it was given, value)
    for name in ("rtol", "atol"):
        raw = str(config.getini(f"gradcheck_{name}")).strip()
        if raw:
            given[name] = (f"gradcheck_{name} = {raw!r} in the ini file", _number(raw))
    for name in ("seed", "strict", "method", "mode", "budget"):
        value = config.getoption(f"gradcheck_{name}")
        if value is not None:
            given[name] = (f"--gradcheck-{name}={value}", value)
    if not given:
        return {}
    from gradcheck._errors import InvalidArgument
    from gradcheck._options import validate

    defaults: CheckOptions = {}
    for name, (where, value) in given.items():
        try:
            defaults.update(validate({name: value}))
        except InvalidArgument as exc:
            raise pytest.UsageError(f"{where}: {exc}") from None
    return defaults


def _number(text: str) -> object:
    """``text`` as a float, or as it is when it is not a number (validate says why)."""
    try:
        return float(text)
    except ValueError:
        return text


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    state = item.config.stash[_STATE]
    state.item = item
    try:
        return (yield)
    finally:
        state.item = None


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    # A failure with pytrace=False is printed without its PEP 678 notes, and hypothesis
    # names the falsifying example in a note: put the notes into the message.
    try:
        return (yield)
    except pytest.fail.Exception as exc:
        notes = getattr(exc, "__notes__", None)
        if notes and not exc.pytrace and "gradcheck" in pyfuncitem.fixturenames:
            exc.msg = "\n".join([exc.msg or "", "", *notes])
        raise


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the tally to the controller
        workeroutput["gradcheck"] = session.config.stash[_STATE].tally.to_data()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    data = getattr(node, "workeroutput", {}).get("gradcheck")
    if data is not None:
        node.config.stash[_STATE].tally.add_data(data)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    tally = terminalreporter.config.stash[_STATE].tally
    if tally.checks:
        terminalreporter.write_sep("=", "gradcheck")
        for line in tally.lines():
            terminalreporter.write_line(line)
