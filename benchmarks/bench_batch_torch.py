"""Separate calls of a torch model per check, before and after every point went through the
batched seam, and the time a check takes (on a GPU each call costs a fixed latency).

Run by hand (not a test): ``python benchmarks/bench_batch_torch.py [--device cuda]``.

The model is ``bench_torch.py``'s float64 MLP (``Linear(d, h) -> tanh -> Linear(h, 1)``, an
MSE loss) at n = 1,000 and 10,000. A forward hook counts the model's calls: one per point
evaluated alone, one per ``vmap`` chunk. For each size it prints

* ``batch=False``: every point alone (what a check costs without vmap);
* ``after``: every batch through vmap (``batch=`` the plugin's own chunk size), where the
  noise tables, the screen and each round of refinement levels are batches (the default,
  ``batch=True``, times vmap against one point at a time first and keeps the faster; its
  seconds are printed too);
* ``before``: the same check with only the screen's two sweeps batched, as before this
  seam (its evaluations, less the 4n of the sweeps, plus one call per sweep chunk): counted
  from the run, since the points evaluated are the same;

with the seconds of each run (best of ``--repeat``) and the evaluations of f.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F
from bench_torch import make_problem

import gradcheck


def counted_check(n: int, device: str, batch: bool | int, repeat: int) -> tuple[int, float, int]:
    """Calls of the model, best seconds and evaluations of one check."""
    model, x, y = make_problem(n, device)
    calls = [0]

    def count(*_: object) -> None:
        calls[0] += 1

    model.register_forward_hook(count)
    seconds = math.inf
    for _ in range(repeat):
        calls[0] = 0
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        report = gradcheck.check(model, x, y, loss=F.mse_loss, seed=0, batch=batch, mode="full")
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = min(seconds, time.perf_counter() - started)
    return calls[0], seconds, report.metadata.function_evaluations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    counted_check(1_000, args.device, True, 1)  # warm-up: vmap's and the device's first costs
    print(f"device: {args.device}")
    print(
        "| n | evaluations | calls batch=False | calls before | calls after "
        "| s batch=False | s batch=True | s after |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        size = sum(p.numel() for p in make_problem(n, "cpu")[0].parameters())
        budget = {"cpu": 2**25, "cuda": 2**29}.get(args.device, 2**29)
        chunk = max(1, budget // (size * 8))  # the plugin's chunk of float64 points
        single_calls, single_s, evaluations = counted_check(n, args.device, False, args.repeat)
        _, timed_s, _ = counted_check(n, args.device, True, args.repeat)
        calls, seconds, same = counted_check(n, args.device, chunk, args.repeat)
        assert same == evaluations
        before = evaluations - 4 * size + 2 * math.ceil(2 * size / chunk)
        print(
            f"| {size:,} | {evaluations} | {single_calls} | {before} | {calls} | "
            f"{single_s:.3f} | {timed_s:.3f} | {seconds:.3f} |"
        )


if __name__ == "__main__":
    main()
