"""Fitting an ODE's parameters: a gradient by forward sensitivities, checked on workers.

Four species grow and compete (generalised Lotka-Volterra):
``dx_i/dt = x_i (r_i + sum_j A_ij x_j)``. The parameters are the 4 growth rates r and the
16 interactions A; the loss is half the squared distance between the solutions and noisy
observations at 41 times, in 10 experiments that start from different populations. Each
evaluation of the loss is 10 tight ``solve_ivp`` runs (about 20 ms), so a gradient check's
couple of hundred evaluations are worth spreading over processes.

The gradient comes from forward sensitivities, derived by hand: ``S = dx/dtheta`` solves
``dS/dt = J S + df/dtheta`` beside x, with ``J = diag(r + A x) + diag(x) A``, and
``dL/dtheta = sum_t (x(t) - observed(t)) . S(t)``. ``gradient_as_first_written`` has the
slip that is easy to make there: J without its ``diag(x) A`` term.

Run it: ``python examples/ode_parameters.py [--workers 2]``. It checks both gradients,
in this process and in a pool of worker processes, and shows that the two runs reach the
same verdicts (``executor=``; a dask cluster's ``Client.get_executor()`` works the same).
Not a model file for ``gradcheck run``: it declares no case.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy.integrate import solve_ivp

import gradcheck

K = 4
TIMES = np.linspace(0.0, 6.0, 41)
STARTS = np.random.default_rng(1).uniform(0.2, 0.8, size=(10, K))  # one row per experiment
TOLERANCES = {"rtol": 1e-10, "atol": 1e-12, "method": "DOP853"}
TRUE_THETA = np.concatenate(
    [
        [0.9, 0.6, 0.7, 0.5],  # growth rates r
        -np.array(  # interactions A: self-limiting, competing
            [[1.0, 0.3, 0.2, 0.1], [0.2, 1.0, 0.3, 0.2], [0.1, 0.2, 1.0, 0.3], [0.3, 0.1, 0.2, 1.0]]
        ).ravel(),
    ]
)


def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return theta[:K], theta[K:].reshape(K, K)


def trajectories(theta: np.ndarray) -> np.ndarray:
    """x at TIMES in each experiment, shape (10, 41, K)."""
    r, A = unpack(theta)
    return np.stack(
        [
            solve_ivp(
                lambda t, x: x * (r + A @ x),
                (TIMES[0], TIMES[-1]),
                start,
                t_eval=TIMES,
                **TOLERANCES,
            ).y.T
            for start in STARTS
        ]
    )


OBSERVED = trajectories(TRUE_THETA) + 0.01 * np.random.default_rng(0).standard_normal(
    (len(STARTS), TIMES.size, K)
)


def loss(theta: np.ndarray) -> float:
    residual = trajectories(theta) - OBSERVED
    return 0.5 * float(np.sum(residual**2))


def _sensitivities(
    theta: np.ndarray, start: np.ndarray, with_interactions: bool
) -> tuple[np.ndarray, np.ndarray]:
    """x and S = dx/dtheta at TIMES in one experiment: shapes (41, K) and (41, K, n)."""
    r, A = unpack(theta)
    n = theta.size

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        x, S = y[:K], y[K:].reshape(K, n)
        J = np.diag(r + A @ x) + (np.diag(x) @ A if with_interactions else 0.0)
        forcing = np.zeros((K, n))  # df/dtheta: df_i/dr_i = x_i, df_i/dA_ij = x_i x_j
        forcing[:, :K] = np.diag(x)
        for i in range(K):
            forcing[i, K + i * K : K + (i + 1) * K] = x[i] * x
        return np.concatenate([x * (r + A @ x), (J @ S + forcing).ravel()])

    y0 = np.concatenate([start, np.zeros(K * n)])
    solution = solve_ivp(rhs, (TIMES[0], TIMES[-1]), y0, t_eval=TIMES, **TOLERANCES)
    states = solution.y.T
    return states[:, :K], states[:, K:].reshape(-1, K, n)


def _loss_gradient(theta: np.ndarray, with_interactions: bool) -> np.ndarray:
    total = np.zeros_like(theta)
    for start, observed in zip(STARTS, OBSERVED, strict=True):
        x, S = _sensitivities(theta, start, with_interactions)
        total += np.einsum("tk,tkn->n", x - observed, S)
    return total


def gradient(theta: np.ndarray) -> np.ndarray:
    return _loss_gradient(theta, with_interactions=True)


def gradient_as_first_written(theta: np.ndarray) -> np.ndarray:
    """The slip: the Jacobian of the right-hand side without its diag(x) A term."""
    return _loss_gradient(theta, with_interactions=False)


def main() -> None:
    parser = argparse.ArgumentParser(description="check an ODE fit's gradient on workers")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    theta = TRUE_THETA * 0.9  # an iterate of the fit, away from the optimum
    started = time.perf_counter()
    loss(theta)
    print(f"one evaluation of the loss: {1e3 * (time.perf_counter() - started):.0f} ms")
    with ProcessPoolExecutor(args.workers) as pool:
        for grad in (gradient, gradient_as_first_written):
            reports = {}
            for label, executor in (
                ("in this process", None),
                (f"on {args.workers} workers", pool),
            ):
                started = time.perf_counter()
                reports[label] = gradcheck.check(loss, theta, grad=grad, seed=0, executor=executor)
                print(f"{grad.__name__}, {label}: {time.perf_counter() - started:.2f} s")
            serial, parallel = reports.values()
            assert np.array_equal(serial.verdicts, parallel.verdicts)
            print(parallel, end="\n\n")


if __name__ == "__main__":
    main()
