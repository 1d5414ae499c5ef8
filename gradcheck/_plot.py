"""Why an element got its verdict, drawn: the difference quotient against the step.

Needs matplotlib: ``pip install 'gradcheck[plot]'``. A report holds the numbers of one
step per element, not the curve, so drawing one evaluates the model again:
:func:`quotients` takes the :class:`~gradcheck.Case` that was checked and differences one
element at ``count`` steps spread over 13 decades around the step the check chose
(``2 count`` evaluations of f; f is evaluated as it is, never reseeded, so a random f
draws a noisy curve). :func:`figure` draws two panels:

* the central quotient ``D(h) = (f(x+h) - f(x-h)) / 2h`` against ``h``, with the
  analytic value and the check's numeric estimate as horizontal lines;
* its error ``|D(h) - analytic|`` on log-log axes, with the two guides a smooth f
  follows: truncation, slope 2 (``|f'''| h^2 / 6``, drawn through the largest step), and
  round-off, slope -1 (f's measured noise over ``h``); the chosen step and the tolerance
  (the gap a mismatch needs) marked.

How to read it: a right gradient dips between the guides towards zero at the chosen
step; a wrong one levels off on a floor far above the tolerance, the gap no step can
close. At a kink the forward and backward quotients are drawn too: each levels off on a
plateau, half the jump away, while the central one may agree. :meth:`gradcheck.Report.plot`
is ``figure(report, element, quotients(case, element))``.
"""

from __future__ import annotations

import importlib.util
import io
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from gradcheck import _plugins as plugins
from gradcheck._errors import InvalidArgument
from gradcheck._options import OPTION_DEFAULTS
from gradcheck._report_records import Element
from gradcheck._tolerance import Verdict

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from gradcheck._api import Case
    from gradcheck._report import Report

__all__ = [
    "MAX_PLOTS",
    "Quotients",
    "available",
    "figure",
    "file_name",
    "find_element",
    "plotted_elements",
    "quotients",
    "svg",
    "svg_plots",
]

FloatArray = NDArray[np.float64]

STEPS = 53
"""Steps at which :func:`quotients` differences an element by default."""

SPAN = (1e-8, 1e5)
"""The steps' range, as factors of the step the check chose."""

WORTH_PLOTTING = (Verdict.MISMATCH, Verdict.KINK, Verdict.INCONCLUSIVE)
"""The verdicts whose elements ``gradcheck run --plot`` and ``--html`` draw."""

MAX_PLOTS = 3
"""Elements drawn per report at most, worst first."""

INSTALL = "pip install 'gradcheck[plot]'"
"""How to install what plotting needs."""


def available() -> bool:
    """Whether matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


@dataclass(frozen=True, slots=True, eq=False)
class Quotients:
    """One element's difference quotients at many steps.

    Attributes
    ----------
    element : Element
    steps : ndarray, shape (k,)
        The steps as taken: half the distance between the two points, once both are
        rounded to the parameter's dtype.
    central, forward, backward : ndarray, shape (k,)
        ``(f(x+h) - f(x-h)) / 2h``, ``(f(x+h) - f(x)) / h`` and ``(f(x) - f(x-h)) / h``;
        NaN where f raised, was not finite, or the point lay outside the case's bounds.
    """

    element: Element
    steps: FloatArray
    central: FloatArray
    forward: FloatArray
    backward: FloatArray


def find_element(report: Report, element: Element | str) -> Element:
    """The report's element named ``element`` (``"W1[3, 2]"``), or ``element`` itself."""
    if isinstance(element, Element):
        return element
    for candidate in report.elements():
        if candidate.name == element:
            return candidate
    names = ", ".join(report.labels[:5])
    raise InvalidArgument(f"no element {element!r} in this report; its elements are {names}, …")


def plotted_elements(report: Report, limit: int) -> list[Element]:
    """Up to ``limit`` elements worth a plot: mismatches, kinks, inconclusive; worst first."""
    worst, _ = report.worst(limit)
    return [e for e in worst if e.verdict in WORTH_PLOTTING]


def _flat_position(report: Report, element: Element) -> tuple[int, int]:
    """The element's parameter element number and output number in the report's arrays."""
    start = 0
    for name, shape in report.parameters:
        if name == element.parameter:
            local = int(np.ravel_multi_index(element.index, shape)) if shape else 0
            shape_out = report.output_shape
            output = int(np.ravel_multi_index(element.output, shape_out)) if shape_out else 0
            return start + local, output
        start += math.prod(shape)
    raise InvalidArgument(f"no parameter {element.parameter!r} in this report")


def _bound(bounds: Any, side: int, n: int, i: int) -> float:
    if bounds is None or bounds[side] is None:
        return -math.inf if side == 0 else math.inf
    return float(np.broadcast_to(np.asarray(bounds[side], dtype=np.float64), (n,))[i])


def quotients(
    case: Case, report: Report, element: Element | str, *, count: int = STEPS
) -> Quotients:
    """Difference one element of ``case`` at ``count`` steps (``2 count`` evaluations of f).

    Parameters
    ----------
    case : Case
        The check that produced ``report``: its model, arguments and options.
    report : Report
        Where the element's step and place come from.
    element : Element or str
        The element, or its name as the report writes it (``"W1[3, 2]"``).
    count : int, default STEPS
        Steps, spread evenly on a log scale over :data:`SPAN` times the chosen step.

    Returns
    -------
    Quotients

    Raises
    ------
    InvalidArgument
        When the report has no such element.
    """
    chosen = find_element(report, element)
    i, output = _flat_position(report, chosen)
    options = dict(case.kwargs)
    grad, value_and_grad = options.pop("grad", None), options.pop("value_and_grad", None)
    bounds = options.get("bounds")
    reseed = options.get("reseed", OPTION_DEFAULTS["reseed"])
    backend = {k: v for k, v in options.items() if k not in OPTION_DEFAULTS}
    problem = plugins.adapt(
        case.obj, case.args, grad, value_and_grad, {**backend, "reseed": reseed}
    )
    n = problem.size
    step = float(report.step[i])
    wanted = np.geomspace(step * SPAN[0], step * SPAN[1], count)
    lower, upper = _bound(bounds, 0, n, i), _bound(bounds, 1, n, i)
    try:
        owner = int(np.searchsorted(problem.offsets, i, side="right")) - 1
        values = problem.parameters[owner].values
        k = i - int(problem.offsets[owner])
        x = values[k].copy()

        def at(point: float) -> float:
            values[k] = point
            try:
                return float(np.asarray(problem.value(), dtype=np.float64).reshape(-1)[output])
            except Exception:  # a point f cannot take: left out of the curve
                return math.nan
            finally:
                values[k] = x

        f0 = at(float(x))
        taken, plus, minus = [], [], []
        for h in wanted.tolist():
            up, down = values.dtype.type(x + h), values.dtype.type(x - h)
            inside = lower <= float(down) and float(up) <= upper and up != down
            taken.append((float(up) - float(down)) / 2)
            plus.append(at(float(up)) if inside else math.nan)
            minus.append(at(float(down)) if inside else math.nan)
    finally:
        problem.restore()
    h_arr = np.array(taken)
    with np.errstate(divide="ignore", invalid="ignore"):
        up_arr, down_arr = np.array(plus), np.array(minus)
        return Quotients(
            element=chosen,
            steps=h_arr,
            central=(up_arr - down_arr) / (2 * h_arr),
            forward=(up_arr - f0) / h_arr,
            backward=(f0 - down_arr) / h_arr,
        )


def _positive(values: FloatArray) -> FloatArray:
    """Values a log axis can show: NaN in place of zeros and non-finite values."""
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def figure(report: Report, element: Element | str, curve: Quotients) -> Figure:
    """The two panels described in the module docstring, as a matplotlib Figure."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(f"plots need matplotlib: {INSTALL}") from exc

    chosen = find_element(report, element)
    i, output = _flat_position(report, chosen)
    step = float(report.step[i])
    noise = report.metadata.noise[min(output, len(report.metadata.noise) - 1)]
    h = curve.steps
    kink = chosen.verdict == Verdict.KINK

    fig = Figure(figsize=(6.4, 6.4), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    fig.suptitle(f"{chosen.name}: {chosen.verdict}")

    top.plot(h, curve.central, "o-", markersize=3, label="central D(h)")
    if kink:
        top.plot(h, curve.forward, "^-", markersize=3, label="forward")
        top.plot(h, curve.backward, "v-", markersize=3, label="backward")
    top.axhline(chosen.analytic, color="tab:red", label=f"analytic {chosen.analytic:.6g}")
    top.axhline(
        chosen.numeric,
        color="tab:green",
        linestyle="--",
        label=f"numeric {chosen.numeric:.6g} ± {chosen.error:.2g}",
    )
    top.set_xscale("log")
    top.set_ylabel("difference quotient")

    with np.errstate(invalid="ignore"):
        errors = {"central": _positive(np.abs(curve.central - chosen.analytic))}
        if kink:
            errors["forward"] = _positive(np.abs(curve.forward - chosen.analytic))
            errors["backward"] = _positive(np.abs(curve.backward - chosen.analytic))
    for (name, error), marker in zip(errors.items(), "o^v", strict=False):
        bottom.plot(h, error, f"{marker}-", markersize=3, label=f"|{name} - analytic|")
    shown = np.concatenate([*errors.values(), [chosen.tolerance, noise / step]])
    shown = shown[np.isfinite(shown) & (shown > 0)]
    low, high = (shown.min() / 100, shown.max() * 100) if shown.size else (1e-16, 1.0)
    if math.isfinite(chosen.tolerance) and chosen.tolerance > 0:
        bottom.axhline(
            chosen.tolerance,
            color="tab:orange",
            linestyle="--",
            label=f"tolerance {chosen.tolerance:.2g}",
        )
    finite = np.flatnonzero(np.isfinite(curve.central))
    if finite.size and math.isfinite(chosen.numeric):
        largest = int(finite[-1])
        reach = abs(curve.central[largest] - chosen.numeric)
        if reach > 0:
            guide = reach * (h / h[largest]) ** 2
            bottom.plot(h, guide, ":", color="gray", label="truncation, slope 2")
    if noise > 0:
        bottom.plot(h, noise / h, "-.", color="gray", label="round-off, slope -1")
    bottom.set_ylim(low, high)
    bottom.set_xscale("log")
    bottom.set_yscale("log")
    bottom.set_xlabel("step h")
    bottom.set_ylabel("error of the quotient")
    for axes in (top, bottom):
        axes.axvline(step, color="black", linewidth=0.8, label=f"chosen step {step:.2g}")
        axes.legend(fontsize="small")
    return fig


_ID = re.compile(r'\bid="([^"]+)"')


def svg(fig: Figure, prefix: str) -> str:
    """The figure as an ``<svg>`` element to put inline in HTML: no XML prologue, text as
    text (searchable, no font files), and every id prefixed so that several figures in
    one page never share one."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": prefix}):
        fig.savefig(buffer, format="svg")
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    for name in set(_ID.findall(text)):
        quoted = re.escape(name)
        text = re.sub(rf'\bid="{quoted}"', f'id="{prefix}-{name}"', text)
        text = re.sub(rf"#{quoted}(?=[)\"'])", f"#{prefix}-{name}", text)
    return text


def svg_plots(case: Case, report: Report, prefix: str) -> list[tuple[Element, str]]:
    """Up to :data:`MAX_PLOTS` of the report's flagged elements (:func:`plotted_elements`),
    each drawn and rendered as inline SVG, its ids starting with ``prefix``."""
    return [
        (element, svg(figure(report, element, quotients(case, report, element)), f"{prefix}-{k}"))
        for k, element in enumerate(plotted_elements(report, MAX_PLOTS))
    ]


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_name(nodeid: str, element: str) -> str:
    """A file name for one case's plot of one element, from their names.

    >>> file_name("examples/seed_backprop.py::chain_rule_as_written", "W[0, 1]")
    'seed_backprop.py-chain_rule_as_written-W_0_1.svg'
    """
    case = nodeid.rsplit("/", 1)[-1].replace("::", "-")
    return f"{_UNSAFE.sub('_', case).strip('_')}-{_UNSAFE.sub('_', element).strip('_')}.svg"
