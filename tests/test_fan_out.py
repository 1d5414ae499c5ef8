"""executor=: a process pool and a real dask cluster give the verdicts of one process.

The model has every feature whose searches the engine runs on the batched seam (a kink,
a domain edge inside the step, a bound, two outputs) and, where a test plants one, a
wrong element; the functions live at module level, so that a process pool's workers can
unpickle them. One pool and one cluster serve the whole module.
"""

# ruff: noqa: NPY002  (the legacy global generator is restored after a worker dies)

from __future__ import annotations

import importlib
import multiprocessing
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np
import pytest
from numpy.typing import NDArray
from typer.testing import CliRunner

import gradcheck
from gradcheck import ModelError, Verdict, optimize
from gradcheck._fan_out import WorkerLost, worker_count
from gradcheck.cli import app

FloatArray = NDArray[np.float64]
P = ParamSpec("P")
R = TypeVar("R")

WEIGHTS = np.linspace(0.5, 2.0, 8)
START = np.array([0.0, 1e-7, 0.3, -0.7, 1.1, 0.4, -1.3, -0.2])
BOUNDS = (-np.inf, [np.inf] * 7 + [-0.2])


def model(x: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):  # log beyond its edge: NaN
        smooth = float(np.sum(np.sin(x) * WEIGHTS) + abs(x[0]) + np.log(x[1]))
    return np.array([smooth, float(x @ x)])


def jacobian(x: FloatArray) -> FloatArray:
    first = np.cos(x) * WEIGHTS
    first[0] += np.sign(x[0])
    first[1] += 1 / x[1]
    return np.stack([first, 2 * x])


def wrong_jacobian(x: FloatArray) -> FloatArray:
    """The Jacobian with d f[0] / d x[5] off by 1e-3."""
    wrong = jacobian(x)
    wrong[0, 5] += 1e-3
    return wrong


def diverges_beyond(x: FloatArray) -> float:
    """Raises where x[3] moves up from its start: a solver that fails there."""
    if x[3] > START[3] + 1e-9:
        raise ValueError("the solver diverged")
    return float(np.sum(np.sin(x)))


def crashes_when_x3_moves_alone(x: FloatArray) -> float:
    """Kills its process where x[3] alone moved: the start point (in the parent) is fine."""
    moved = np.flatnonzero(x != START)
    if moved.tolist() == [3]:
        os._exit(1)
    return float(np.sum(np.sin(x)))


def _cosine(x: FloatArray) -> FloatArray:
    slope: FloatArray = np.cos(x)
    return slope


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as executor:
        yield executor


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    """A real dask.distributed cluster: two worker processes of one thread each."""
    # the test extra installs dask[distributed]: missing, this fails (never a skip)
    distributed: Any = importlib.import_module("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as local,
        distributed.Client(local) as client,
    ):
        yield client


def _same_report(one: gradcheck.Report, other: gradcheck.Report) -> None:
    assert np.array_equal(one.verdicts, other.verdicts)
    for field in ("numeric", "error", "tolerance", "left", "right"):
        assert np.array_equal(getattr(one, field), getattr(other, field), equal_nan=True), field
    assert one.metadata.function_evaluations == other.metadata.function_evaluations
    assert one.metadata.warnings == other.metadata.warnings


@pytest.mark.parametrize("gradient", [jacobian, wrong_jacobian])
def test_a_process_pool_gives_the_verdicts_of_one_process(
    pool: ProcessPoolExecutor, gradient: Callable[[FloatArray], FloatArray]
) -> None:
    serial = gradcheck.check(model, START, grad=gradient, seed=3, bounds=BOUNDS)
    parallel = gradcheck.check(model, START, grad=gradient, seed=3, bounds=BOUNDS, executor=pool)
    _same_report(serial, parallel)
    assert {Verdict.KINK, Verdict.OK} <= set(serial.verdicts.ravel().tolist())
    assert (serial.verdicts[0, 5] == Verdict.MISMATCH) == (gradient is wrong_jacobian)


def test_a_dask_cluster_gives_the_verdicts_of_one_process(dask_client: Any) -> None:
    # this module is not importable in dask's workers: its functions travel by value
    cluster = dask_client.get_executor()
    assert worker_count(cluster) == 2
    serial = gradcheck.check(model, START, grad=wrong_jacobian, seed=4, bounds=BOUNDS)
    on_dask = gradcheck.check(
        model, START, grad=wrong_jacobian, seed=4, bounds=BOUNDS, executor=cluster
    )
    _same_report(serial, on_dask)
    assert serial.verdicts[0, 5] == Verdict.MISMATCH
    # cloudpickle sends a lambda; a vectorised f is stacked in the workers
    stacked = gradcheck.check(
        lambda xs: np.sum(np.sin(xs), axis=-1),
        START[2:],
        grad=_cosine,
        seed=4,
        executor=cluster,
        vectorized=True,
    )
    assert stacked.ok


def test_fast_mode_on_a_pool_names_the_element_one_process_names(
    pool: ProcessPoolExecutor,
) -> None:
    x = np.linspace(-1, 1, 40)
    options: gradcheck.CheckOptions = {"seed": 2, "mode": "fast", "probes": 3}
    serial = gradcheck.check(model_40, x, grad=wrong_gradient_40, **options)
    on_pool: gradcheck.CheckOptions = {**options, "executor": pool}
    parallel = gradcheck.check(model_40, x, grad=wrong_gradient_40, **on_pool)
    _same_report(serial, parallel)
    assert [e.name for e in parallel.elements() if e.verdict == Verdict.MISMATCH] == ["x[17]"]


def model_40(x: FloatArray) -> float:
    return float(np.sum(np.sin(x) * np.arange(1.0, 41.0)))


def wrong_gradient_40(x: FloatArray) -> FloatArray:
    slope: FloatArray = np.cos(x) * np.arange(1.0, 41.0)
    slope[17] *= 1.01
    return slope


def test_an_unpicklable_f_is_named_before_anything_is_sent(
    pool: ProcessPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = _Locked()
    with pytest.raises(gradcheck.InvalidArgument, match=r"grad cannot be pickled.*locks"):
        gradcheck.check(model, START, grad=holder.gradient, executor=pool)
    monkeypatch.setitem(sys.modules, "cloudpickle", None)  # pickle alone: functions by name
    with pytest.raises(
        gradcheck.InvalidArgument, match=r"f \(<lambda>\) cannot be pickled.*def at the top level"
    ):
        gradcheck.check(lambda x: float(x @ x), START, grad=jacobian, executor=pool)


def test_with_cloudpickle_a_lambda_travels_to_a_pool(pool: ProcessPoolExecutor) -> None:
    report = gradcheck.check(
        lambda x: float(np.sum(np.sin(x))), START[2:], grad=_cosine, seed=0, executor=pool
    )
    assert report.ok


class _Locked:
    """A gradient that holds a lock, which no pickler can send."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def gradient(self, x: FloatArray) -> FloatArray:
        with self.lock:
            return jacobian(x)


def test_f_raising_in_a_worker_names_the_element(pool: ProcessPoolExecutor) -> None:
    with pytest.raises(ModelError, match=r"ValueError with x\[3\] = .*the solver diverged"):
        gradcheck.check(diverges_beyond, START.copy(), grad=_cosine, seed=0, executor=pool)


def test_a_dead_worker_is_reported_with_the_element_and_the_parameters_untouched() -> None:
    x = START.copy()
    numpy_state = np.random.get_state(legacy=False)
    with (
        ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as doomed,
        pytest.raises(WorkerLost, match=r"worker died.*x\[3\].* moved.*BrokenProcessPool"),
    ):
        gradcheck.check(crashes_when_x3_moves_alone, x, grad=_cosine, seed=0, executor=doomed)
    assert x.tobytes() == START.tobytes()
    assert str(np.random.get_state(legacy=False)) == str(numpy_state)


class _Interrupted(Executor):
    """Takes two chunks, then the user presses Ctrl-C while the third is submitted."""

    def __init__(self) -> None:
        self.futures: list[Future[Any]] = []

    def submit(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        if len(self.futures) == 2:
            raise KeyboardInterrupt
        future: Future[R] = Future()
        self.futures.append(future)
        return future


def test_ctrl_c_cancels_the_outstanding_futures_and_restores_everything() -> None:
    interrupted = _Interrupted()
    x = START.copy()
    with pytest.raises(KeyboardInterrupt):
        gradcheck.check(model, x, grad=jacobian, seed=0, executor=interrupted)
    assert len(interrupted.futures) == 2
    assert all(future.cancelled() for future in interrupted.futures)
    assert x.tobytes() == START.tobytes()


MODEL_FILE = """
import numpy as np
import gradcheck

W = np.linspace(0.5, 2.0, 6)


def f(x):
    return float(np.sum(np.sin(x) * W))


def df(x):
    slope = np.cos(x) * W
    slope[2] *= 1.01
    return slope


wrong = gradcheck.Case(f, np.linspace(-1, 1, 6), grad=df, expect="mismatch")
"""


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "100"})
    return result.exit_code, re.sub(r"\b\d+(\.\d+)?(e-\d+)? ?s\b", "<t> s", result.output)


def test_gradcheck_run_on_workers_or_a_cluster_reports_what_one_process_does(
    tmp_path: Path, dask_client: Any
) -> None:
    model_file = tmp_path / "model_on_workers.py"
    model_file.write_text(MODEL_FILE)
    serial = _run("run", str(model_file), "--seed", "1", "-v")
    assert serial[0] == 0
    assert "x[2]" in serial[1]
    assert _run("run", str(model_file), "--seed", "1", "-v", "--workers", "2") == serial
    address = dask_client.scheduler.address
    assert _run("run", str(model_file), "--seed", "1", "-v", "--scheduler", address) == serial


def test_workers_and_a_scheduler_at_once_is_a_usage_error(tmp_path: Path) -> None:
    model_file = tmp_path / "model_both.py"
    model_file.write_text(MODEL_FILE)
    code, output = _run("run", str(model_file), "--workers", "2", "--scheduler", "tcp://x:1")
    assert code == 2
    assert "--workers and --scheduler both given" in output


def test_the_pytest_option_checks_every_test_on_workers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        MODEL_FILE.replace("wrong = ", "CASE = ")
        + """
import os
from pathlib import Path


def logged(x):
    with Path(__file__).with_name("pids.txt").open("a") as log:
        log.write(f"{os.getpid()}\\n")
    return f(x)


def test_right(gradcheck):
    gradcheck(logged, np.linspace(-1, 1, 6), grad=lambda x: np.cos(x) * W, seed=0)


def test_wrong(gradcheck):
    gradcheck(f, np.linspace(-1, 1, 6), grad=df, seed=0)
"""
    )
    result = pytester.runpytest("--gradcheck-workers", "2", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*1 / 6 elements disagree*"])
    pids = set((pytester.path / "pids.txt").read_text().split())
    assert len(pids - {str(os.getpid())}) >= 1  # f ran in the workers


def test_minimize_checks_jac_on_workers(pool: ProcessPoolExecutor) -> None:
    x0 = np.linspace(-1, 1, 6)
    with pytest.raises(gradcheck.GradientMismatch, match=r"x\[2\]"):
        optimize.minimize(
            model_6, x0, jac=wrong_gradient_6, check_options={"executor": pool, "seed": 0}
        )


def model_6(x: FloatArray) -> float:
    return float(np.sum(np.sin(x) * np.linspace(0.5, 2.0, 6)))


def wrong_gradient_6(x: FloatArray) -> FloatArray:
    slope: FloatArray = np.cos(x) * np.linspace(0.5, 2.0, 6)
    slope[2] *= 1.01
    return slope
