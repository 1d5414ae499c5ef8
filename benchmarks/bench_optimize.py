"""Overhead of a checked ``gradcheck.optimize.minimize`` against plain SciPy.

Counts evaluations: the extra calls of fun and jac that the checks make
(``result.gradcheck_nfev`` / ``gradcheck_njev``) next to SciPy's own ``nfev`` / ``njev``
for the same run, which the checks leave unchanged. The second table does the same for
the checks of ``hess`` (as the Jacobian of jac: about 4n + 40 calls of jac and one of
hess per check) and ``hessp`` (along 4 seeded directions: about 60 calls of jac and 4
of hessp, whatever n) on Rosenbrock's function with Newton-CG, n = 2 .. 1,000, per check
and against the run's own calls of jac and hess; and in seconds, the checks' time
against the run's.

Run: ``python benchmarks/bench_optimize.py [--sizes 2 10 100 1000]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.optimize
from scipy.optimize import rosen, rosen_der, rosen_hess, rosen_hess_prod

from gradcheck import optimize

sys.path.insert(0, str(Path(__file__).parent.parent / "examples"))
import and_gate_minimize as and_gate


def problems() -> list[tuple[str, object, object, np.ndarray]]:
    start = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
    return [
        ("rosen n=2", rosen, rosen_der, start[:2]),
        ("rosen n=5", rosen, rosen_der, start),
        ("rosen n=20", rosen, rosen_der, np.resize(start, 20)),
        ("rosen n=100", rosen, rosen_der, np.resize(start, 100)),
        ("AND gate n=3", and_gate.loss, and_gate.backprop, and_gate.START),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 10, 100, 1000])
    sizes = parser.parse_args().sizes
    jac_checks()
    print()
    second_derivative_checks(sizes)


def jac_checks() -> None:
    print(
        f"{'problem':14} {'method':9} {'SciPy nfev/njev':>16} {'check':>7} "
        f"{'extra nfev/njev':>16} {'extra/nfev':>10}"
    )
    for name, fun, jac, x0 in problems():
        for method in ("BFGS", "L-BFGS-B"):
            plain = scipy.optimize.minimize(fun, x0, jac=jac, method=method)
            for check in ("start", 3):
                result = optimize.minimize(
                    fun, x0, jac=jac, method=method, check=check, check_options={"seed": 0}
                )
                if result.nfev != plain.nfev or not np.array_equal(result.x, plain.x):
                    raise RuntimeError(f"{name}, {method}: the checked run differs from SciPy's")
                print(
                    f"{name:14} {method:9} {f'{plain.nfev}/{plain.njev}':>16} {check!s:>7} "
                    f"{f'{result.gradcheck_nfev}/{result.gradcheck_njev}':>16} "
                    f"{result.gradcheck_nfev / plain.nfev:>10.2f}"
                )


def second_derivative_checks(sizes: list[int]) -> None:
    """Checks of hess and hessp in a Newton-CG run on Rosenbrock's function."""
    print(
        f"{'n':>5} {'checked':7} {'SciPy njev/nhev':>16} {'check at x0: jac/hess':>22} "
        f"{'all checks / run':>17} {'seconds / run':>14}"
    )
    for n in sizes:
        x0 = np.resize(np.array([1.3, 0.7, 0.8, 1.9, 1.2]), n)
        for name in ("hess", "hessp"):
            second = {name: rosen_hess if name == "hess" else rosen_hess_prod}
            started = time.perf_counter()
            plain = scipy.optimize.minimize(rosen, x0, jac=rosen_der, method="Newton-CG", **second)
            run_seconds = time.perf_counter() - started
            started = time.perf_counter()
            result = optimize.minimize(
                rosen, x0, jac=rosen_der, method="Newton-CG", check_options={"seed": 0}, **second
            )
            seconds = time.perf_counter() - started - run_seconds
            if result.nhev != plain.nhev or not np.array_equal(result.x, plain.x):
                raise RuntimeError(f"n={n}, {name}: the checked run differs from SciPy's")
            checks = [p for p in result.gradcheck_reports if p.subject == name]
            jac_calls = sum(p.report.metadata.function_evaluations for p in checks)
            at_x0 = checks[0].report.metadata
            products = result.gradcheck_nhev // len(checks)  # hessp: one per direction
            first = f"{at_x0.function_evaluations}/{products}"
            extra = (jac_calls + result.gradcheck_nhev) / (plain.njev + plain.nhev)
            print(
                f"{n:>5} {name:7} {f'{plain.njev}/{plain.nhev}':>16} {first:>22} "
                f"{extra:>16.2f}x {seconds / run_seconds:>13.2f}x"
            )


if __name__ == "__main__":
    main()
