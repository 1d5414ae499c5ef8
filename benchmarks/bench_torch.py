"""Full gradient check of a float64 MLP: gradcheck versus ``torch.autograd.gradcheck``.

For each size n (parameters of ``Linear(d, h) -> tanh -> Linear(h, 1)`` on 16 inputs with
an MSE loss) and each device (the CPU, and CUDA where available) the table gives:

* ``gradcheck``: ``gradcheck.check(model, x, y, loss=F.mse_loss)``, a full, calibrated
  check of every parameter (noise measurement, screening with a Richardson pair for each,
  4n batched evaluations, refinement where needed), after one warm-up call at the
  smallest size;
* ``batched CD``: plain central differences over all n coordinates, 2n evaluations with
  ``vmap(functional_call)`` in the same chunks, no error model: the floor of any full check;
* ``torch slow`` / ``torch fast``: ``torch.autograd.gradcheck`` with its defaults
  (``fast_mode=False`` / ``True``) on the same loss as a function of the parameters; slow
  mode runs up to ``--torch-max-n`` (it makes 2n separate forward calls).

Run::

    python benchmarks/bench_torch.py                  # CPU, and CUDA when available
    python benchmarks/bench_torch.py --device cuda    # one device only
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap

import gradcheck

SIZES = {1_000: (16, 55), 10_000: (32, 300), 100_000: (64, 1500)}
"""n -> (input width d, hidden width h); n = d h + 2 h + 1."""

BATCH_INPUTS = 16


def make_problem(n: int, device: str) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """A float64 MLP with about n parameters, its inputs and targets."""
    d, h = SIZES[n]
    gen = torch.Generator().manual_seed(n)
    torch.manual_seed(n)
    model = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.Tanh(), torch.nn.Linear(h, 1))
    model = model.double().to(device)
    x = torch.randn(BATCH_INPUTS, d, generator=gen, dtype=torch.float64).to(device)
    y = torch.randn(BATCH_INPUTS, 1, generator=gen, dtype=torch.float64).to(device)
    return model, x, y


def timed(run: Callable[[], object], device: str) -> tuple[float, object]:
    """Seconds of one call, synchronising CUDA around it."""
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = run()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, result


def batched_central_differences(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, chunk_bytes: int
) -> torch.Tensor:
    """(f(p + h e_i) - f(p - h e_i)) / 2h for every i, in vmap chunks: no error model."""
    names = [name for name, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    n = flat.numel()
    h = 1e-5 * flat.abs().clamp(min=1.0)

    def loss(vector: torch.Tensor) -> torch.Tensor:
        parts = torch.split(vector, [s.numel() for s in shapes])
        params = {k: v.reshape(s) for k, v, s in zip(names, parts, shapes, strict=True)}
        return F.mse_loss(functional_call(model, params, (x,)), y)

    batched = vmap(loss)
    chunk = max(1, chunk_bytes // (8 * n))
    out = torch.empty(n, dtype=torch.float64, device=flat.device)
    with torch.no_grad():
        for start in range(0, n, chunk):
            rows = torch.arange(start, min(start + chunk, n), device=flat.device)
            block = flat.expand(rows.numel(), -1).clone()
            block[torch.arange(rows.numel()), rows] += h[rows]
            up = batched(block)
            block[torch.arange(rows.numel()), rows] -= 2 * h[rows]
            down = batched(block)
            out[start : start + rows.numel()] = (up - down) / (2 * h[rows])
    return out


def torch_gradcheck(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, fast: bool) -> bool:
    """``torch.autograd.gradcheck`` with its defaults on the loss as a function of the params."""
    names = [name for name, _ in model.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in model.parameters())

    def loss(*values: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(functional_call(model, dict(zip(names, values, strict=True)), (x,)), y)

    return torch.autograd.gradcheck(loss, params, raise_exception=False, fast_mode=fast)


def bench_size(n: int, device: str, torch_max_n: int) -> tuple[str, ...]:
    """One row of the table: every method on the MLP of about n parameters."""
    model, x, y = make_problem(n, device)
    chunk_bytes = 2**29 if device == "cuda" else 2**25
    size = sum(p.numel() for p in model.parameters())
    t_ours, report = timed(lambda: gradcheck.check(model, x, y, loss=F.mse_loss, seed=0), device)
    t_cd, _ = timed(lambda: batched_central_differences(model, x, y, chunk_bytes), device)
    t_fast, fast_ok = timed(lambda: torch_gradcheck(model, x, y, fast=True), device)
    if n <= torch_max_n:
        t_slow, slow_ok = timed(lambda: torch_gradcheck(model, x, y, fast=False), device)
        slow = f"{t_slow:.3g} s ({'pass' if slow_ok else 'FAIL'})"
    else:
        slow = f"not run (n > {torch_max_n})"
    assert isinstance(report, gradcheck.Report)
    counts = report.counts
    return (
        device,
        f"{size:,}",
        f"{t_ours:.3g} s ({'ok' if report.ok else 'FAIL'}, {counts['ok']} ok, "
        f"{counts['inconclusive']} inc.)",
        f"{report.metadata.function_evaluations:,}",
        f"{t_cd:.3g} s",
        slow,
        f"{t_fast:.3g} s ({'pass' if fast_ok else 'FAIL'})",
    )


def bench(device: str, sizes: list[int], torch_max_n: int) -> None:
    """Print one row per size on one device, after a warm-up check (vmap, kernels)."""
    model, x, y = make_problem(min(sizes), device)
    gradcheck.check(model, x, y, loss=F.mse_loss, seed=0)
    for n in sizes:
        print("| " + " | ".join(bench_size(n, device, torch_max_n)) + " |", flush=True)


def main() -> None:
    """Parse the options, run every device, print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(SIZES), choices=SIZES)
    parser.add_argument("--cpu-sizes", type=int, nargs="+", choices=SIZES)
    parser.add_argument("--torch-max-n", type=int, default=10_000)
    args = parser.parse_args()
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        devices.remove("cuda")
        print("(no CUDA device: GPU rows skipped)")
    header = (
        "device",
        "n",
        "gradcheck (full)",
        "f evals",
        "batched CD",
        "torch slow",
        "torch fast",
    )
    print(f"torch {torch.__version__}, gradcheck {gradcheck.__version__}")
    if torch.cuda.is_available():
        print(f"GPU: {torch.cuda.get_device_name()}")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for device in devices:
        sizes = args.cpu_sizes if device == "cpu" and args.cpu_sizes else args.sizes
        bench(device, sorted(sizes), args.torch_max_n)


if __name__ == "__main__":
    main()
