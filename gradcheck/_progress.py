"""The progress bar of ``gradcheck run``: shown only on a terminal, and only while a check
runs longer than :data:`PROGRESS_DELAY`, so quick runs and CI logs never see it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["PROGRESS_DELAY", "CaseProgress"]

PROGRESS_DELAY = 1.0
"""Seconds a check runs before the progress bar appears."""


class CaseProgress:
    """A transient bar on stderr, shown only while a check has run past PROGRESS_DELAY
    and only on a terminal."""

    def __init__(self, console: Console, total: int) -> None:
        self.enabled = console.is_terminal
        self.bar = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} cases"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task = self.bar.add_task("", total=total)
        self.lock = threading.Lock()
        self.shown = False

    def __enter__(self) -> CaseProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._hide()

    def _show(self) -> None:
        with self.lock:
            if not self.shown:
                self.bar.start()
                self.shown = True

    def _hide(self) -> None:
        with self.lock:
            if self.shown:
                self.bar.stop()
                self.shown = False

    @contextmanager
    def running(self, name: str) -> Iterator[None]:
        """Show the bar if the check inside takes longer than PROGRESS_DELAY."""
        self.bar.update(self.task, description=f"checking {name}")
        timer = threading.Timer(PROGRESS_DELAY, self._show)
        if self.enabled:
            timer.start()
        try:
            yield
        finally:
            timer.cancel()
            self._hide()
            self.bar.advance(self.task)
