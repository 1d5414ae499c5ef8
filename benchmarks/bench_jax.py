"""Full gradient check of a JAX MLP, float32 and float64: gradcheck versus ``check_grads``.

For each dtype and size n (parameters of ``Dense(d, h) -> tanh -> Dense(h, 1)`` on 16
inputs with an MSE loss, a dict of arrays) the table gives, measured in the same run:

* ``gradcheck``: ``gradcheck.check(loss, params, x, y)``, a full, calibrated check of
  every parameter (noise measurement, a Richardson pair for each element, 4n evaluations
  through ``jax.jit(jax.vmap(f))``, refinement where needed), its compile time included
  and also shown apart (the ratio to the floor is given with and without it);
* ``batched CD``: plain central differences over all n coordinates, 2n evaluations with
  ``jax.jit(jax.vmap(f))`` in chunks of the same size, no error model: the floor of any
  full check (compiled before timing);
* ``check_grads``: ``jax.test_util.check_grads(jax.jit(loss), (params, x, y), order=1)``
  with its defaults (forward and reverse mode along one random direction, step 1e-4):
  one directional test, not a check of each element.

float64 rows run inside ``jax.enable_x64(True)``, as a user with x64 on would. Timings are
wall-clock seconds of one run; the machine may be shared, so compare the ratios of one run.

Run::

    python benchmarks/bench_jax.py                      # n = 1e3, 1e4, 1e5, both dtypes
    python benchmarks/bench_jax.py --sizes 1000 10000
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jax.test_util import check_grads

import gradcheck

SIZES = {1_000: (16, 55), 10_000: (32, 300), 100_000: (64, 1500)}
"""n -> (input width d, hidden width h); n = d h + 2 h + 1."""

BATCH_INPUTS = 16
CHUNK_BYTES = 2**25  # as gradcheck_jax.evaluation.BATCH_BYTES

Params = dict[str, jax.Array]


def make_problem(n: int, dtype: Any) -> tuple[Params, jax.Array, jax.Array]:
    """An MLP's parameters with about n elements, its inputs and targets, in ``dtype``."""
    d, h = SIZES[n]
    rng = np.random.default_rng(n)
    params = {
        "w1": rng.standard_normal((d, h)) / np.sqrt(d),
        "b1": 0.1 * rng.standard_normal(h),
        "w2": rng.standard_normal((h, 1)) / np.sqrt(h),
        "b2": 0.1 * rng.standard_normal(1),
    }
    x = rng.standard_normal((BATCH_INPUTS, d))
    y = rng.standard_normal((BATCH_INPUTS, 1))
    return (
        {k: jnp.asarray(v, dtype=dtype) for k, v in params.items()},
        jnp.asarray(x, dtype=dtype),
        jnp.asarray(y, dtype=dtype),
    )


def loss(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean squared error of the MLP."""
    hidden = jnp.tanh(x @ params["w1"] + params["b1"])
    return jnp.mean((hidden @ params["w2"] + params["b2"] - y) ** 2)


def timed(run: Callable[[], object]) -> tuple[float, object]:
    """Seconds of one call, waiting for JAX's asynchronous results."""
    start = time.perf_counter()
    result = jax.block_until_ready(run())  # type: ignore[no-untyped-call]
    return time.perf_counter() - start, result


def batched_central_differences(
    params: Params, x: jax.Array, y: jax.Array
) -> Callable[[], jax.Array]:
    """(f(p + h e_i) - f(p - h e_i)) / 2h for every i, compiled vmap chunks: no error model.

    Returns the call to time; compiling happens here, before it.
    """
    flat, unravel = ravel_pytree(params)
    n = flat.size
    h = 1e-3 * jnp.maximum(jnp.abs(flat), 1.0)
    chunk = max(1, min(n, CHUNK_BYTES // (n * flat.dtype.itemsize)))
    rows = np.arange(-(-n // chunk) * chunk) % n

    @jax.jit
    def differences(index: jax.Array) -> jax.Array:
        def one(i: jax.Array) -> jax.Array:
            up = loss(unravel(flat.at[i].add(h[i])), x, y)
            down = loss(unravel(flat.at[i].add(-h[i])), x, y)
            return (up - down) / (2 * h[i])

        return jax.vmap(one)(index)

    differences(rows[:chunk]).block_until_ready()  # compile outside the timing

    def run() -> jax.Array:
        parts = [differences(rows[s : s + chunk]) for s in range(0, rows.size, chunk)]
        return jnp.concatenate(parts)[:n]

    return run


def check_grads_passes(params: Params, x: jax.Array, y: jax.Array) -> bool:
    """``check_grads`` with its defaults on the jitted loss."""
    try:
        check_grads(jax.jit(loss), (params, x, y), order=1)  # type: ignore[no-untyped-call]
    except AssertionError:
        return False
    return True


def compile_seconds(report: gradcheck.Report) -> float:
    """The compile time the JAX backend notes in the report."""
    (note,) = [w for w in report.metadata.warnings if w.startswith("jax.jit compile time")]
    return float(note.split()[3])


def bench_size(n: int, dtype: Any) -> tuple[str, ...]:
    """One row of the table: every method on the MLP of about n parameters."""
    params, x, y = make_problem(n, dtype)
    size = sum(v.size for v in params.values())
    t_ours, report = timed(lambda: gradcheck.check(loss, params, x, y, seed=0, mode="full"))
    floor = batched_central_differences(params, x, y)
    t_cd, _ = timed(floor)
    t_cg, passed = timed(lambda: check_grads_passes(params, x, y))
    assert isinstance(report, gradcheck.Report)
    counts = report.counts
    compiling = compile_seconds(report)
    return (
        jnp.dtype(dtype).name,
        f"{size:,}",
        f"{t_ours:.3g} s ({'ok' if report.ok else 'FAIL'}, {counts['ok']} ok, "
        f"{counts['inconclusive']} inc.)",
        f"{compiling:.2g} s",
        f"{report.metadata.function_evaluations:,}",
        f"{t_cd:.3g} s",
        f"{t_ours / t_cd:.2f}x ({(t_ours - compiling) / t_cd:.2f}x)",
        f"{t_cg:.3g} s ({'pass' if passed else 'FAIL'})",
        f"{t_ours / t_cg:.1f}x",
    )


def main() -> None:
    """Parse the options, run both dtypes, print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(SIZES), choices=SIZES)
    args = parser.parse_args()
    header = (
        "dtype",
        "n",
        "gradcheck (full)",
        "of it compile",
        "f evals",
        "batched CD",
        "gradcheck / CD (less compile)",
        "check_grads",
        "gradcheck / check_grads",
    )
    print(f"jax {jax.__version__}, gradcheck {gradcheck.__version__}, {jax.devices()[0]}")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for dtype in (jnp.float32, jnp.float64):
        x64 = jax.enable_x64(True) if dtype == jnp.float64 else contextlib.nullcontext()
        with x64:
            params, x, y = make_problem(min(args.sizes), dtype)
            gradcheck.check(loss, params, x, y, seed=0)  # warm-up: JAX's own caches
            for n in sorted(args.sizes):
                print("| " + " | ".join(bench_size(n, dtype)) + " |", flush=True)


if __name__ == "__main__":
    main()
