"""A progress bar on stderr: one redrawn line on a terminal, a line every few seconds in a log."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """``[#######.......] 12/30  2 flagged  0 failed  00:42, about 01:10 left``."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 28) -> None:
        self.total, self.width = total, width
        self.stream = stream or sys.stderr
        self.done = self.flagged = self.failed = 0
        self.started = time.monotonic()
        self._last = 0.0
        self._tty = self.stream.isatty()

    def advance(self, status: str) -> None:
        self.done += 1
        self.flagged += status == "flagged"
        self.failed += status == "failed"
        self.draw(force=self.done == self.total)

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < (0.2 if self._tty else 10):
            return
        self._last = now
        elapsed = now - self.started
        filled = int(self.width * self.done / self.total) if self.total else self.width
        left = elapsed / self.done * (self.total - self.done) if self.done else None
        line = (f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total}"
                f"  {self.flagged} flagged  {self.failed} failed  {_clock(elapsed)}"
                + (f", about {_clock(left)} left" if left is not None and self.done < self.total else ""))
        self.stream.write(("\r" + line) if self._tty else (line + "\n"))
        if self._tty and self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60:02d}:{seconds % 60:02d}"
