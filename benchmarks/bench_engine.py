"""Cost of a full gradient check against its floor and against peers, on one NumPy MLP.

Run by hand (not a test): ``python benchmarks/bench_engine.py [--sizes 100 1000 10000]``.

For each size n it times, in the same process and run:

* the floor: 2n evaluations of f at perturbed points, the least any central-difference
  check of every coordinate can cost (one difference each, its truncation unmeasured);
* ``gradcheck.check`` (full, calibrated check of every element: a Richardson pair each,
  4n evaluations and the probes, so about twice the floor by design);
* ``scipy.optimize.check_grad`` (one random direction: a single number, not per element);
* ``torch.autograd.gradcheck`` on the same NumPy f wrapped in an ``autograd.Function``
  (if torch is installed), slow mode;
* ``numdifftools.Gradient`` (if installed), its default adaptive scheme;

and prints each time as a ratio to the floor, plus gradcheck's own overhead per
coordinate: (check time - its evaluations x the mean time of one evaluation) / n.
Timings are the best of ``--repeat`` runs; the machine is shared, so compare ratios from
one run, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable

import numpy as np

import gradcheck


def make_mlp(n_params: int, rng: np.random.Generator) -> tuple[Callable, Callable, np.ndarray]:
    """A tanh MLP 16 -> h -> 1 on 32 samples with about n_params parameters."""
    d, batch = 16, 32
    hidden = max(1, round((n_params - 1) / (d + 2)))
    X = rng.standard_normal((batch, d))
    y = rng.standard_normal((batch, 1))
    sizes = [d * hidden, hidden, hidden, 1]
    cuts = np.cumsum(sizes)[:-1]

    def unpack(w: np.ndarray) -> list[np.ndarray]:
        W1, b1, W2, b2 = np.split(w, cuts)
        return [W1.reshape(d, hidden), b1, W2.reshape(hidden, 1), b2]

    def f(w: np.ndarray) -> float:
        W1, b1, W2, b2 = unpack(w)
        out = np.tanh(X @ W1 + b1) @ W2 + b2
        return float(0.5 * np.sum((out - y) ** 2))

    def grad(w: np.ndarray) -> np.ndarray:
        W1, b1, W2, b2 = unpack(w)
        a = np.tanh(X @ W1 + b1)
        delta = a @ W2 + b2 - y
        dz = (delta @ W2.T) * (1 - a * a)
        return np.concatenate([(X.T @ dz).ravel(), dz.sum(0), (a.T @ delta).ravel(), delta.sum(0)])

    w0 = rng.standard_normal(sum(sizes)) * 0.3
    return f, grad, w0


def best_of(repeat: int, run: Callable[[], object]) -> float:
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def floor_time(f: Callable, w0: np.ndarray) -> float:
    """2n evaluations of f, each at one perturbed coordinate."""
    w = w0.copy()
    h = 1e-6
    for i in range(w.size):
        old = w[i]
        w[i] = old + h
        f(w)
        w[i] = old - h
        f(w)
        w[i] = old
    return 0.0


def torch_gradcheck(f: Callable, grad: Callable, w0: np.ndarray) -> Callable[[], object] | None:
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    class NumpyLoss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, w):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(w)
            return torch.tensor(f(w.detach().numpy()), dtype=torch.float64)

        @staticmethod
        def backward(ctx, out_grad):  # type: ignore[no-untyped-def]
            (w,) = ctx.saved_tensors
            return out_grad * torch.from_numpy(grad(w.detach().numpy()))

    w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    return lambda: torch.autograd.gradcheck(NumpyLoss.apply, (w,), raise_exception=False)


def numdifftools_gradient(f: Callable, w0: np.ndarray) -> Callable[[], object] | None:
    if importlib.util.find_spec("numdifftools") is None:
        return None
    import numdifftools as nd

    return lambda: nd.Gradient(f)(w0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peers-up-to", type=int, default=3000, help="skip slow peers above n")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(
        f"{'n':>7} {'floor s':>9} {'gradcheck':>10} {'overhead/coord':>15} "
        f"{'check_grad':>11} {'torch slow':>11} {'numdifftools':>13}  evals/coord"
    )
    for size in args.sizes:
        print(measure(*make_mlp(size, rng), repeat=args.repeat, peers_up_to=args.peers_up_to))


def measure(f: Callable, grad: Callable, w0: np.ndarray, repeat: int, peers_up_to: int) -> str:
    """One table row: times as ratios to the floor of 2n evaluations of f."""
    from scipy.optimize import check_grad

    n = w0.size
    floor = best_of(repeat, lambda: floor_time(f, w0))
    per_eval = floor / (2 * n)
    reports: list[gradcheck.Report] = []
    ours = best_of(repeat, lambda: reports.append(gradcheck.check(f, w0, grad=grad, seed=1)))
    report = reports[-1]
    if not report.ok:
        raise SystemExit(f"gradcheck flagged a correct gradient:\n{report}")
    evaluations = report.metadata.function_evaluations
    overhead = (ours - evaluations * per_eval) / n
    peers = {
        "check_grad": lambda: check_grad(f, grad, w0, direction="random", seed=0),
        "torch": torch_gradcheck(f, grad, w0) if n <= peers_up_to else None,
        "numdifftools": numdifftools_gradient(f, w0) if n <= peers_up_to else None,
    }
    ratios = {
        name: "-" if run is None else f"{best_of(1, run) / floor:.2f}x"
        for name, run in peers.items()
    }
    return (
        f"{n:>7} {floor:>9.4f} {ours / floor:>9.3f}x {overhead * 1e6:>12.2f} us "
        f"{ratios['check_grad']:>11} {ratios['torch']:>11} {ratios['numdifftools']:>13}"
        f"  {evaluations / n:.3f}"
    )


if __name__ == "__main__":
    main()
