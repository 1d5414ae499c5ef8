"""A vectorised f (``vectorized=True``) against the per-call floor, the loop and SciPy.

Run by hand (not a test): ``python benchmarks/bench_batch.py [--sizes 100 1000 10000 100000]``
and ``--stack-bytes`` to measure the stack size (``gradcheck._stacks.STACK_BYTES``).

The model is a tanh MLP 8 -> h -> 1 on 8 samples with about n parameters, written once for
a stack of parameter vectors (k, n) -> k losses; one point is a stack of one. For each
size n, in the same process and run:

* the floor: 2n calls of f at one point each, the least any central-difference check of
  every coordinate costs when f is called point by point;
* ``gradcheck.check`` one point at a time (the loop) and with ``vectorized=True``, both
  ``mode="full"``: the same evaluations (counted and asserted equal), the same verdicts;
* ``scipy.differentiate.jacobian``, vectorised too (its own (n, n, 8) stacks: only where
  that fits in memory, n <= 3,000).

Each time is printed as a ratio to the floor; times are the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

import gradcheck
from gradcheck import _stacks as stacks

FloatArray = NDArray[np.float64]

INPUTS, SAMPLES = 8, 8
SCIPY_LIMIT = 3_000


class MLP:
    """tanh MLP INPUTS -> h -> 1 on SAMPLES samples: loss of one parameter vector or a stack."""

    def __init__(self, n_params: int, rng: np.random.Generator) -> None:
        self.h = max(1, round((n_params - 1) / (INPUTS + 2)))
        self.X = rng.standard_normal((SAMPLES, INPUTS))
        self.y = rng.standard_normal(SAMPLES)
        self.cuts = np.cumsum([INPUTS * self.h, self.h, self.h])
        self.w0 = rng.standard_normal(int(self.cuts[-1]) + 1) * 0.3

    def loss(self, w: FloatArray) -> FloatArray:
        """w: (n,) or (k, n); the loss, shape () or (k,)."""
        stack = w.reshape(-1, w.shape[-1])  # (k, n)
        W1, b1, w2, b2 = np.split(stack, self.cuts, axis=-1)
        # one matrix product for the whole stack: (SAMPLES, INPUTS) @ (INPUTS, k h)
        W1 = W1.reshape(-1, INPUTS, self.h).transpose(1, 0, 2).reshape(INPUTS, -1)
        a = np.tanh((self.X @ W1).reshape(SAMPLES, -1, self.h) + b1)  # (SAMPLES, k, h)
        out = np.einsum("skh,kh->ks", a, w2) + b2  # (k, SAMPLES)
        losses = 0.5 * np.sum((out - self.y) ** 2, axis=-1)
        result: FloatArray = losses.reshape(w.shape[:-1])
        return result

    def scalar_loss(self, w: FloatArray) -> float:
        return float(self.loss(w))

    def grad(self, w: FloatArray) -> FloatArray:
        W1, b1, w2, b2 = np.split(w, self.cuts)
        a = np.tanh(self.X @ W1.reshape(INPUTS, self.h) + b1)
        delta = a @ w2 + b2 - self.y
        dz = np.outer(delta, w2) * (1 - a * a)
        return np.concatenate([(self.X.T @ dz).ravel(), dz.sum(0), a.T @ delta, [delta.sum()]])


def best(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def per_call(f: Callable[[FloatArray], object], x: FloatArray) -> float:
    """Median seconds of one call of f at one point (the element moved, as a check does)."""
    y = x.copy()
    calls = max(50, min(2000, int(2e6 // x.size)))
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for i in range(calls):
            j = i % y.size
            old = y[j]
            y[j] = old + 1e-6
            f(y)
            y[j] = old
        samples.append((time.perf_counter() - started) / calls)
    return float(np.median(samples))


def scipy_jacobian(model: MLP) -> None:
    from scipy.differentiate import jacobian

    jacobian(lambda w: model.loss(np.moveaxis(w, 0, -1))[None], model.w0)


def compare(n: int, repeat: int) -> None:
    model = MLP(n, np.random.default_rng(0))
    x, size = model.w0, model.w0.size
    floor = 2 * size * per_call(model.scalar_loss, x)
    reports: dict[str, gradcheck.Report] = {}

    def check(vectorized: bool) -> Callable[[], None]:
        f = model.loss if vectorized else model.scalar_loss

        def run() -> None:
            reports[str(vectorized)] = gradcheck.check(
                f, x, grad=model.grad, seed=0, mode="full", vectorized=vectorized
            )

        return run

    loop = best(check(False), repeat)
    stacked = best(check(True), repeat)
    one, many = reports["False"], reports["True"]
    assert np.array_equal(one.verdicts, many.verdicts)
    assert one.metadata.function_evaluations == many.metadata.function_evaluations
    peer = best(lambda: scipy_jacobian(model), repeat) if size <= SCIPY_LIMIT else float("nan")
    print(
        f"| {size:,} | {stacks.stacked_rows(size)} | {loop / floor:.2f}x | "
        f"{stacked / floor:.2f}x | {loop / stacked:.1f}x | {peer / floor:.2f}x |"
    )


def vectorised_check(model: MLP) -> Callable[[], object]:
    def run() -> object:
        return gradcheck.check(
            model.loss, model.w0, grad=model.grad, seed=0, mode="full", vectorized=True
        )

    return run


def stack_sizes(sizes: list[int], repeat: int) -> None:
    """Time the vectorised check at each stack size, relative to 2**18 bytes."""
    choices = [2**k for k in range(15, 23)]
    print("| n | " + " | ".join(f"2^{c.bit_length() - 1} B" for c in choices) + " |")
    print("|---" * (len(choices) + 1) + "|")
    chosen = stacks.STACK_BYTES
    for n in sizes:
        model = MLP(n, np.random.default_rng(0))
        times = []
        for choice in choices:
            stacks.STACK_BYTES = choice
            times.append(best(vectorised_check(model), repeat))
        stacks.STACK_BYTES = chosen
        base = min(times)
        print(f"| {model.w0.size:,} | " + " | ".join(f"{t / base:.2f}" for t in times) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stack-bytes", action="store_true", help="time stack sizes instead")
    parser.add_argument("--bytes", type=int, default=stacks.STACK_BYTES, help="bytes per stack")
    args = parser.parse_args()
    stacks.STACK_BYTES = args.bytes
    if args.stack_bytes:
        stack_sizes(args.sizes, args.repeat)
        return
    print(
        "| n | rows per stack | loop / floor | vectorized / floor | loop / vectorized "
        "| scipy jacobian / floor |"
    )
    print("|---|---|---|---|---|---|")
    for n in args.sizes:
        compare(n, 1 if n >= 30_000 else args.repeat)


if __name__ == "__main__":
    main()
