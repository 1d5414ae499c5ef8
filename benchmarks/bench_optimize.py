"""Overhead of a checked ``gradcheck.optimize.minimize`` against plain SciPy.

Counts evaluations, not seconds: the extra calls of fun and jac that the checks make
(``result.gradcheck_nfev`` / ``gradcheck_njev``) next to SciPy's own ``nfev`` / ``njev``
for the same run, which the checks leave unchanged.

Run: ``python benchmarks/bench_optimize.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import scipy.optimize
from scipy.optimize import rosen, rosen_der

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


if __name__ == "__main__":
    main()
