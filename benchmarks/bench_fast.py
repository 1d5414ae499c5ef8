"""Fast mode against the peers' random projections: planted wrong elements caught, by size.

Run by hand (not a test)::

    python benchmarks/bench_fast.py            # n = 1e3 .. 1e6 (about 10 min on 2 cores)
    python benchmarks/bench_fast.py --quick    # n = 1e3, 1e4, 2 seeds

**Part 1.** Two models, each written once against the array API that NumPy, torch and
jax.numpy share (the value and a hand-written gradient side by side): a separable function
``sum(sin x + x^2 / 2)`` and the loss of a tanh MLP 16 -> h -> 1 on 32 samples. The
value and gradient compute in float64, or in float32 (inputs and outputs float64). The
tools, on the same value and gradient, in the same run:

* ``gradcheck``: ``gradcheck.check(f, x, grad=g, mode="fast", seed=s)`` on the NumPy
  version;
* ``torch fast``: ``torch.autograd.gradcheck(fn, (x,), fast_mode=True)``, ``fn`` a custom
  ``autograd.Function`` whose backward is the gradient, after ``torch.manual_seed(s)``;
* ``jax``: ``jax.test_util.check_grads(f, (x,), order=1, modes=("rev",))``, ``f`` a
  ``custom_vjp`` whose bwd is the gradient (its direction is always ``RandomState(0)``:
  across seeds only the planted element changes).

For each seed a bug adds ``+-size * ||g||`` to one random element of the gradient (the
same element and sign in every tool), size 1e-2, 1e-4, 1e-6, 1e-8; with no bug a failure
is a false alarm. ``named``: caught bugs whose report has a mismatch at exactly that
element and nowhere else. ``certified``: gradcheck's ``report.metadata.fast.normwise``,
the single-element error (relative to ``||g||``) it claims to catch for certain. Evaluations
are calls of f, counted the same way in every tool. On a failure torch re-runs slow mode
(2n more evaluations) only to print its message; that re-run is patched out here.

**Part 2.** A float64 torch MLP 1024 -> 1024 -> tanh -> 10 (1,059,850 parameters) whose
first layer is a custom ``autograd.Function`` with one entry of the weight's gradient
scaled by 1.1: gradcheck's torch backend (``mode="fast"``) and ``torch.autograd.gradcheck
(fast_mode=True)`` on the loss as a function of the flattened parameters; then the same
with the correct backward.

Timings are wall-clock medians on a possibly shared machine: compare tools within a run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
import torch
import torch.nn.functional as F
from jax.test_util import check_grads
from torch.func import functional_call

import gradcheck

jax.config.update("jax_enable_x64", True)

SIZES = (1_000, 10_000, 100_000, 1_000_000)
BUG_SIZES = (1e-2, 1e-4, 1e-6, 1e-8)


# -- one model, three array libraries ------------------------------------------------------


def separable_value(xp: Any, w: Any, data: tuple[Any, ...]) -> Any:
    return xp.sum(xp.sin(w) + 0.5 * w * w)


def separable_gradient(xp: Any, w: Any, data: tuple[Any, ...]) -> Any:
    return xp.cos(w) + w


def _mlp_layers(w: Any, X: Any) -> tuple[Any, Any, Any, Any]:
    d = X.shape[1]
    hidden = (w.shape[0] - 1) // (d + 2)
    W1 = w[: d * hidden].reshape(d, hidden)
    b1 = w[d * hidden : (d + 1) * hidden]
    W2 = w[(d + 1) * hidden : (d + 2) * hidden].reshape(hidden, 1)
    return W1, b1, W2, w[(d + 2) * hidden :]


def mlp_value(xp: Any, w: Any, data: tuple[Any, ...]) -> Any:
    X, y = data
    W1, b1, W2, b2 = _mlp_layers(w, X)
    out = xp.tanh(X @ W1 + b1) @ W2 + b2
    return 0.5 * xp.sum((out - y) ** 2)


def mlp_gradient(xp: Any, w: Any, data: tuple[Any, ...]) -> Any:
    X, y = data
    W1, b1, W2, b2 = _mlp_layers(w, X)
    a = xp.tanh(X @ W1 + b1)
    delta = a @ W2 + b2 - y
    dz = (delta @ W2.T) * (1 - a * a)
    parts = [(X.T @ dz).reshape(-1), dz.sum(0), (a.T @ delta).reshape(-1), delta.sum(0)]
    return xp.concatenate(parts)


@dataclass(frozen=True)
class Model:
    """A value and its gradient written once, the start point and the data (NumPy)."""

    name: str
    value: Callable[[Any, Any, tuple[Any, ...]], Any]
    gradient: Callable[[Any, Any, tuple[Any, ...]], Any]
    x0: np.ndarray
    data: tuple[np.ndarray, ...] = ()


class Evaluator:
    """A model's f (its calls counted) and g on float64 arrays of the array library ``xp``
    (NumPy, torch or jax.numpy), computing in ``precision``."""

    def __init__(self, model: Model, xp: Any, precision: str) -> None:
        self.model, self.xp, self.dtype = model, xp, getattr(xp, precision)
        self.data = tuple(xp.asarray(a, dtype=self.dtype) for a in model.data)
        self.calls = 0

    def value(self, w: Any) -> Any:
        self.calls += 1
        return self._in_float64(self.model.value, w)

    def gradient(self, w: Any) -> Any:
        return self._in_float64(self.model.gradient, w)

    def _in_float64(self, function: Callable[..., Any], w: Any) -> Any:
        xp = self.xp
        return xp.asarray(
            function(xp, xp.asarray(w, dtype=self.dtype), self.data), dtype=xp.float64
        )


def make_model(name: str, n: int) -> Model:
    """The separable function or the MLP loss with about n parameters."""
    rng = np.random.default_rng(n)
    if name == "separable":
        return Model(name, separable_value, separable_gradient, rng.standard_normal(n))
    d, batch = 16, 32
    hidden = max(1, round((n - 1) / (d + 2)))
    data = (rng.standard_normal((batch, d)), rng.standard_normal((batch, 1)))
    x0 = 0.3 * rng.standard_normal((d + 2) * hidden + 1)
    return Model(name, mlp_value, mlp_gradient, x0, data)


# -- the tools -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bug:
    """``delta`` added to element ``index`` of the gradient."""

    index: int
    delta: float


@dataclass(frozen=True)
class Run:
    """One check: failed or not, calls of f, seconds; for gradcheck what it named."""

    failed: bool
    evaluations: int
    seconds: float
    mismatches: tuple[int, ...] = ()
    certified: float = float("nan")
    widespread: bool = False


def planted(
    xp: Any, gradient: Callable[[Any], Any], bug: Bug | None, n: int
) -> Callable[[Any], Any]:
    """``gradient`` with the bug added (a one-hot vector of the library ``xp``)."""
    if bug is None:
        return gradient
    one_hot = np.zeros(n)
    one_hot[bug.index] = bug.delta
    error = xp.asarray(one_hot)
    return lambda w: gradient(w) + error


def run_gradcheck(model: Model, precision: str, bug: Bug | None, seed: int) -> Run:
    f = Evaluator(model, np, precision)
    start = time.perf_counter()
    report = gradcheck.check(
        lambda w: float(f.value(w)),
        model.x0,
        grad=planted(np, f.gradient, bug, model.x0.size),
        mode="fast",
        seed=seed,
    )
    seconds = time.perf_counter() - start
    fast = report.metadata.fast
    assert fast is not None
    mismatches = tuple(np.flatnonzero(report.verdicts[0] == gradcheck.Verdict.MISMATCH).tolist())
    return Run(not report.ok, f.calls, seconds, mismatches, fast.normwise, fast.widespread)


@contextlib.contextmanager
def without_slow_rerun() -> Iterator[None]:
    """torch's fast mode, on a failure, re-runs slow mode (2n evaluations) for its message:
    skipped, so that a failure costs what the fast check itself costs."""
    module = importlib.import_module("torch.autograd.gradcheck")
    with mock.patch.object(module, "_run_slow_mode_and_get_error", return_value=""):
        yield


def run_torch(model: Model, precision: str, bug: Bug | None, seed: int) -> Run:
    f = Evaluator(model, torch, precision)
    gradient = planted(torch, f.gradient, bug, model.x0.size)

    class Planted(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, w: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(w)
            return f.value(w)

        @staticmethod
        def backward(ctx: Any, out: torch.Tensor) -> torch.Tensor:
            (w,) = ctx.saved_tensors
            return out * gradient(w)

    w = torch.from_numpy(model.x0).requires_grad_()
    torch.manual_seed(seed)
    start = time.perf_counter()
    with without_slow_rerun():
        passed = torch.autograd.gradcheck(
            Planted.apply, (w,), fast_mode=True, raise_exception=False
        )
    return Run(not passed, f.calls, time.perf_counter() - start)


def run_jax(model: Model, precision: str, bug: Bug | None, seed: int) -> Run:
    f = Evaluator(model, jnp, precision)
    gradient = planted(jnp, f.gradient, bug, model.x0.size)

    @jax.custom_vjp
    def loss(w: jax.Array) -> jax.Array:
        return f.value(w)

    loss.defvjp(
        lambda w: (f.value(w), w),
        lambda w, out: (out * gradient(w),),
    )
    x = jnp.asarray(model.x0)
    start = time.perf_counter()
    try:
        check_grads(loss, (x,), order=1, modes=("rev",))
        failed = False
    except AssertionError:
        failed = True
    return Run(failed, f.calls, time.perf_counter() - start)


RUNNERS = {"gradcheck": run_gradcheck, "torch fast": run_torch, "jax": run_jax}


# -- part 1: the table -----------------------------------------------------------------------


@dataclass
class Cell:
    """Every run of one tool on one model, size and precision: key 0.0 is the correct
    gradient, the others the planted bug sizes."""

    runs: dict[float, list[Run]] = field(default_factory=dict)
    bugs: dict[float, list[Bug]] = field(default_factory=dict)

    def caught(self, size: float) -> str:
        return f"{sum(r.failed for r in self.runs[size])}/{len(self.runs[size])}"

    def named(self) -> str:
        caught = [
            (run, bug)
            for size in BUG_SIZES
            for run, bug in zip(self.runs[size], self.bugs[size], strict=True)
            if run.failed
        ]
        exact = sum(run.mismatches == (bug.index,) for run, bug in caught)
        return f"{exact}/{len(caught)}"

    def row(self, tool: str, model: str, n: int, precision: str) -> list[str]:
        every = [r for runs in self.runs.values() for r in runs]
        passes = [r.evaluations for r in every if not r.failed]
        failures = [r.evaluations for r in every if r.failed]
        evaluations = " / ".join(
            f"{statistics.median(e):.0f}" if e else "-" for e in (passes, failures)
        )
        seconds = f"{statistics.median(r.seconds for r in every):.3g} s"
        caught = [self.caught(size) for size in (*BUG_SIZES, 0.0)]
        certified = f"{statistics.median(r.certified for r in every):.1e}"
        ours = [self.named(), certified] if tool == "gradcheck" else ["-", "-"]
        return [tool, model, f"{n:,}", precision, seconds, evaluations, *caught, *ours]


HEADER = [
    *("tool", "model", "n", "f in", "time/check", "f evals (pass / fail)"),
    *(f"caught {size:.0e}" for size in BUG_SIZES),
    *("false alarms", "named", "certified"),
]


def place_bugs(model: Model, seed: int) -> dict[float, Bug]:
    """For one seed: a random element and sign per bug size, sized by ||g|| (float64)."""
    n = model.x0.size
    norm = float(np.linalg.norm(model.gradient(np, model.x0, model.data)))
    rng = np.random.default_rng([seed, n])
    return {
        size: Bug(int(rng.integers(n)), float(rng.choice([-1.0, 1.0])) * size * norm)
        for size in BUG_SIZES
    }


def notable(
    model: Model, precision: str, seed: int, size: float, bug: Bug | None, run: Run
) -> str | None:
    """For gradcheck: a line for a false alarm, a bug caught but not named exactly, or a
    bug missed although larger than what the report certified."""
    where = f"{model.name} n={model.x0.size}, {precision}, seed={seed}"
    if bug is None:
        return f"FALSE ALARM: {where}, correct gradient" if run.failed else None
    what = f"{where}, bug size {size:.0e} at element {bug.index} (delta {bug.delta:+.3e})"
    if run.failed and run.mismatches != (bug.index,):
        return f"NOT NAMED: {what}: mismatches {run.mismatches[:10]}, widespread={run.widespread}"
    if not run.failed and size > run.certified:
        return f"MISSED ABOVE CERTIFIED {run.certified:.2e}: {what}"
    return None


def bench_cell(model: Model, precision: str, seeds: int) -> Iterator[list[str]]:
    """Every tool on one model and precision: one table row per tool."""
    cells = {tool: Cell() for tool in RUNNERS}
    for seed in range(seeds):
        bugs: dict[float, Bug | None] = {0.0: None, **place_bugs(model, seed)}
        for size, bug in bugs.items():
            for tool, cell in cells.items():
                run = RUNNERS[tool](model, precision, bug, seed)
                cell.runs.setdefault(size, []).append(run)
                if bug is not None:
                    cell.bugs.setdefault(size, []).append(bug)
                line = tool == "gradcheck" and notable(model, precision, seed, size, bug, run)
                if line:
                    print(f"  {line}", flush=True)
    for tool, cell in cells.items():
        yield cell.row(tool, model.name, model.x0.size, precision)


def markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def part_one(sizes: list[int], seeds: int, large_seeds: int) -> list[str]:
    """Run every cell, print its rows as they come; return the whole table."""
    warm = make_model("separable", 100)
    for runner in RUNNERS.values():  # first-call costs (jax dispatch, imports)
        runner(warm, "float64", None, 0)
    table = [markdown_row(HEADER), "|" + "---|" * len(HEADER)]
    print("\n".join(table), flush=True)
    for name in ("separable", "mlp"):
        for n in sizes:
            model = make_model(name, n)
            for precision in ("float64", "float32"):
                for row in bench_cell(model, precision, seeds if n < 1_000_000 else large_seeds):
                    table.append(markdown_row(row))
                    print(table[-1], flush=True)
    return table


# -- part 2: a torch model with a million parameters -----------------------------------------


class WrongLinear(torch.autograd.Function):
    """``x W^T + b`` whose backward scales the weight gradient's entry ``(row, col)``."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, bug: Any) -> Any:
        return x @ weight.T + bias

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        x, weight, _, bug = inputs
        ctx.save_for_backward(x, weight)
        ctx.bug = bug

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:
        x, weight = ctx.saved_tensors
        grad_weight = grad_out.T @ x
        row, col, scale = ctx.bug
        grad_weight[row, col] *= scale
        return grad_out @ weight, grad_weight, grad_out.sum(0), None


class CustomLinear(torch.nn.Linear):
    """A Linear layer through :class:`WrongLinear` with the bug ``(row, col, scale)``."""

    def __init__(self, features: int, bug: tuple[int, int, float]) -> None:
        super().__init__(features, features)
        self.bug = bug

    def forward(self, x: torch.Tensor) -> Any:
        return WrongLinear.apply(x, self.weight, self.bias, self.bug)


def torch_fast_on_flat(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int
) -> tuple[bool, int, float]:
    """torch fast mode on the loss as a function of the flattened parameters:
    (passed, forward calls, seconds)."""
    names = [name for name, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).requires_grad_()
    calls = 0

    def loss(vector: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        parts = torch.split(vector, [s.numel() for s in shapes])
        params = {k: v.reshape(s) for k, v, s in zip(names, parts, shapes, strict=True)}
        return F.mse_loss(functional_call(model, params, (x,)), y)

    torch.manual_seed(seed)
    start = time.perf_counter()
    with without_slow_rerun():
        passed = torch.autograd.gradcheck(loss, (flat,), fast_mode=True, raise_exception=False)
    return passed, calls, time.perf_counter() - start


def part_two(torch_seeds: int) -> None:
    """The million-parameter model with one wrong weight gradient, then with none."""
    row, col, scale = 17, 42, 1.1
    torch.manual_seed(0)
    layer = CustomLinear(1024, (row, col, 1.0))
    model = torch.nn.Sequential(layer, torch.nn.Tanh(), torch.nn.Linear(1024, 10)).double()
    x = torch.randn(16, 1024, dtype=torch.float64)
    y = torch.randn(16, 10, dtype=torch.float64)
    F.mse_loss(model(x), y).backward()
    norm = float(torch.cat([p.grad.reshape(-1) for p in model.parameters()]).norm())
    error = abs((scale - 1) * float(layer.weight.grad[row, col]))
    n = sum(p.numel() for p in model.parameters())
    print(f"\ntorch MLP 1024 -> 1024 -> tanh -> 10, {n:,} parameters, float64; the custom")
    print(f"Function's backward scales weight[{row}, {col}]'s gradient by {scale}: an error")
    print(f"of {error:.3e}, {error / norm:.2e} of the gradient's norm")
    for label, layer.bug in (("wrong", (row, col, scale)), ("correct", (row, col, 1.0))):
        start = time.perf_counter()
        report = gradcheck.check(model, x, y, loss=F.mse_loss, mode="fast", seed=0)
        seconds = time.perf_counter() - start
        named = [e.name for e in report.elements(gradcheck.Verdict.MISMATCH)]
        print(
            f"  {label} backward: gradcheck {'ok' if report.ok else 'FAILED'}, "
            f"named {named or 'nothing'}, {report.metadata.function_evaluations} evaluations, "
            f"{seconds:.3g} s"
        )
        results = [torch_fast_on_flat(model, x, y, seed) for seed in range(torch_seeds)]
        flagged = sum(not passed for passed, _, _ in results)
        print(
            f"  {label} backward: torch fast_mode flagged it in {flagged}/{torch_seeds} seeds, "
            f"{results[0][1]} evaluations, {statistics.median(r[2] for r in results):.3g} s each "
            "(names nothing: it says only that the projections differ)"
        )


def main() -> None:
    """Parse the options, run both parts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 1e3, 1e4 and 2 seeds")
    parser.add_argument("--sizes", type=int, nargs="+", choices=SIZES)
    parser.add_argument("--seeds", type=int, default=4, help="seeds per cell for n < 1e6")
    parser.add_argument("--large-seeds", type=int, default=2, help="seeds per cell at n = 1e6")
    args = parser.parse_args()
    sizes = args.sizes or (list(SIZES[:2]) if args.quick else list(SIZES))
    seeds = 2 if args.quick else args.seeds
    print(
        f"gradcheck {gradcheck.__version__}, torch {torch.__version__}, jax {jax.__version__}, "
        f"numpy {np.__version__}"
    )
    start = time.perf_counter()
    table = part_one(sizes, seeds, args.large_seeds)
    part_two(seeds)
    print(f"\n{chr(10).join(table)}\n\n(total {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
