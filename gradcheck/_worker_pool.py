"""The executor a door opens for ``--workers N`` or ``--scheduler ADDRESS``, and closes.

``gradcheck run --workers 4`` and ``pytest --gradcheck-workers 4`` check every case with
``executor=`` a pool of 4 worker processes; ``--scheduler tcp://host:8786`` with a running
dask.distributed cluster (``pip install gradcheck[dask]``). The pool is opened once for the
whole run and shut down at its end, its outstanding work cancelled.
"""

from __future__ import annotations

import importlib
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from types import TracebackType
from typing import Any

from gradcheck._errors import InvalidArgument

__all__ = ["SCHEDULER_HELP", "WORKERS_HELP", "WorkerPool"]

WORKERS_HELP = (
    "Evaluate f in N worker processes on this machine; the verdicts are those of one "
    "process (f, the gradient and the parameters must be picklable)"
)
SCHEDULER_HELP = (
    "Evaluate f on the dask.distributed cluster whose scheduler listens at ADDRESS "
    "(tcp://host:8786); needs gradcheck[dask]"
)

CONNECT_SECONDS = 10
"""How long to wait for a dask scheduler to answer."""


class WorkerPool:
    """A process pool or a dask cluster's executor, opened now and closed on exit.

    Parameters
    ----------
    workers : int or None
        Worker processes of a ``ProcessPoolExecutor`` (forked where the platform can, so
        that they see the model files the door imported).
    scheduler : str or None
        Address of a running dask scheduler. At most one of the two.
    names : (str, str), default ("--workers", "--scheduler")
        How messages name the two options.

    Attributes
    ----------
    executor : Executor or None
        None when neither was given.

    Raises
    ------
    InvalidArgument
        For both at once, a count below 1, dask missing, or no scheduler at the address.
    """

    def __init__(
        self,
        workers: int | None,
        scheduler: str | None,
        names: tuple[str, str] = ("--workers", "--scheduler"),
    ) -> None:
        self.executor: Executor | None = None
        self._client: Any = None
        if workers is not None and scheduler is not None:
            raise InvalidArgument(
                f"{names[0]} and {names[1]} both given: workers on this machine, or a dask "
                "cluster's, not both"
            )
        if workers is not None:
            if workers < 1:
                raise InvalidArgument(f"{names[0]} {workers}: expected at least 1 process")
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            self.executor = ProcessPoolExecutor(workers, mp_context=context)
        elif scheduler is not None:
            try:
                distributed = importlib.import_module("distributed")
            except ImportError:
                raise InvalidArgument(
                    f"{names[1]} {scheduler}: dask.distributed is not installed; "
                    "pip install 'gradcheck[dask]'"
                ) from None
            try:
                self._client = distributed.Client(scheduler, timeout=CONNECT_SECONDS)
            except (OSError, TimeoutError, ValueError) as exc:
                raise InvalidArgument(
                    f"{names[1]} {scheduler}: no dask scheduler answered there within "
                    f"{CONNECT_SECONDS} s ({type(exc).__name__}: {exc}). Start one with "
                    "`dask scheduler` and its workers with `dask worker ADDRESS`, or check "
                    "the address"
                ) from None
            self.executor = self._client.get_executor()

    def close(self) -> None:
        """Shut the pool down, cancelling what it has not started; disconnect from dask."""
        try:
            if isinstance(self.executor, ProcessPoolExecutor):
                self.executor.shutdown(wait=True, cancel_futures=True)
            elif self.executor is not None:
                self.executor.shutdown(wait=False)  # dask's cancels what is outstanding
        finally:
            if self._client is not None:
                self._client.close()

    def __enter__(self) -> Executor | None:
        return self.executor

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
