"""An expensive f on worker processes: executor= with 1 and 2 workers against one process.

Run by hand (not a test): ``python benchmarks/bench_batch_workers.py [--workers 1 2]``.

f is the loss of ``examples/ode_parameters.py``: 10 tight ``solve_ivp`` runs of a 4-species
Lotka-Volterra model, about 20 ms of real computation per evaluation, 20 parameters. In
the same run it times:

* one evaluation of f, and a check in this process (``executor=None``);
* the same check with ``executor=ProcessPoolExecutor(w)`` for each w (the pool started
  beforehand), asserting the same verdicts and evaluation counts;
* the round trip of one batch to the pool's workers and back (a no-op, waited for) and,
  with dask installed, to a dask ``LocalCluster``'s;

and prints the speed-ups, then what a larger cluster can give: the check's batches
(rounds of the engine's searches, each evaluated in parallel) are counted, and a time on
W workers predicted from them, ``sum over batches of (ceil(points / W) t_f + round
trip)``, plus the evaluations made in this process (the start point, the recheck).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

import gradcheck
from gradcheck import _fan_out as fan_out
from gradcheck._evaluation import Session
from gradcheck._points import Points


def load_example() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "examples" / "ode_parameters.py"
    spec = importlib.util.spec_from_file_location("ode_parameters", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def noop() -> None:
    return None


def task_overhead(executor: Executor, tasks: int = 50) -> float:
    """Seconds of one batch's round trip to the workers and back (a no-op, waited for)."""
    executor.submit(noop).result()
    started = time.perf_counter()
    for _ in range(tasks):
        executor.submit(noop).result()
    return (time.perf_counter() - started) / tasks


def batch_sizes(check: Callable[[Executor], gradcheck.Report], executor: Executor) -> list[int]:
    """The sizes of the batches one check sends to the workers."""
    sizes: list[int] = []
    original = fan_out.FanOut.evaluate

    def counted(self: fan_out.FanOut, session: Session, points: Points) -> Any:
        sizes.append(points.size)
        return original(self, session, points)

    fan_out.FanOut.evaluate = counted  # type: ignore[method-assign]
    try:
        check(executor)
    finally:
        fan_out.FanOut.evaluate = original  # type: ignore[method-assign]
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    ode = load_example()
    theta = ode.TRUE_THETA * 0.9
    started = time.perf_counter()
    for _ in range(5):
        ode.loss(theta)
    t_f = (time.perf_counter() - started) / 5

    def check(executor: Executor | None) -> gradcheck.Report:
        return gradcheck.check(ode.loss, theta, grad=ode.gradient, seed=0, executor=executor)

    started = time.perf_counter()
    serial = check(None)
    serial_s = time.perf_counter() - started
    evaluations = serial.metadata.function_evaluations
    print(f"f: {1e3 * t_f:.1f} ms; {evaluations} evaluations; one process: {serial_s:.2f} s")
    print("| workers | seconds | speed-up |")
    print("|---|---|---|")
    overheads: dict[str, float] = {}
    sizes: list[int] = []
    for workers in args.workers:
        with ProcessPoolExecutor(workers) as pool:
            check(pool)  # the workers start and build their problems
            started = time.perf_counter()
            parallel = check(pool)
            seconds = time.perf_counter() - started
            assert np.array_equal(parallel.verdicts, serial.verdicts)
            assert parallel.metadata.function_evaluations == evaluations
            print(f"| {workers} | {seconds:.2f} | {serial_s / seconds:.2f}x |")
            overheads["process pool"] = task_overhead(pool)
            sizes = batch_sizes(check, pool)
    if importlib.util.find_spec("distributed") is not None:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster,
            Client(cluster) as client,
        ):
            overheads["dask LocalCluster"] = task_overhead(client.get_executor())
    here = evaluations - sum(sizes)
    print(
        f"\n{len(sizes)} batches ({min(sizes)} to {max(sizes)} points) sent out, "
        f"{here} evaluations in this process; round trip: "
        + ", ".join(f"{name} {1e3 * s:.2f} ms" for name, s in overheads.items())
    )
    print("| workers W | predicted speed-up (" + ") | (".join(overheads) + ") |")
    print("|---|" + "---|" * len(overheads))
    for w in (2, 4, 8, 16, 32, 64):
        cells = []
        for overhead in overheads.values():
            rounds = sum(math.ceil(k / w) * t_f + overhead for k in sizes)
            cells.append(f"{evaluations * t_f / (rounds + here * t_f):.1f}x")
        print(f"| {w} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
