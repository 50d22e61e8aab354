"""Record when each request started and ended, and draw it: one bar per request.

    timeline = Timeline()
    with timeline.request("client 1"):
        httpx.get(url, timeout=5)
    timeline.plot("one connection at a time")

Bars that sit side by side were served concurrently; bars that follow each other
waited in line. Thread-safe, so clients can run in threads.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Iterator

__all__ = ["Span", "Timeline"]


@dataclass(frozen=True)
class Span:
    """One request: who sent it, and when it started and ended (seconds since the timeline began)."""

    client: str
    start: float
    end: float
    label: str = ""

    @property
    def duration(self) -> float:
        return self.end - self.start


class Timeline:
    """Start and end times of requests, per client."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.spans: list[Span] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since this timeline began."""
        return time.perf_counter() - self.t0

    def add(self, client: str, start: float, end: float, label: str = "") -> Span:
        span = Span(client, start, end, label)
        with self._lock:
            self.spans.append(span)
        return span

    @contextlib.contextmanager
    def request(self, client: str, label: str = "") -> Iterator[None]:
        """Time the block as one request by ``client`` (recorded even if it fails)."""
        start = self.now()
        try:
            yield
        finally:
            self.add(client, start, self.now(), label)

    @property
    def total(self) -> float:
        """From the first start to the last end."""
        if not self.spans:
            return 0.0
        return max(s.end for s in self.spans) - min(s.start for s in self.spans)

    def max_overlap(self) -> int:
        """The largest number of requests that were in progress at the same moment."""
        events = sorted([(s.start, 1) for s in self.spans] + [(s.end, -1) for s in self.spans],
                        key=lambda e: (e[0], e[1]))
        current = best = 0
        for _, step in events:
            current += step
            best = max(best, current)
        return best

    def plot(self, title: str = "", ax=None):
        """Draw a horizontal bar per request, one row per client; returns the matplotlib Axes."""
        import matplotlib.pyplot as plt

        clients = list(dict.fromkeys(s.client for s in sorted(self.spans, key=lambda s: s.start)))
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 0.5 + 0.45 * max(len(clients), 1)))
        for span in self.spans:
            row = clients.index(span.client)
            ax.barh(row, span.duration, left=span.start, height=0.6, color=f"C{row % 10}")
            if span.label:
                ax.text(span.start + span.duration / 2, row, span.label, ha="center", va="center", fontsize=8)
        ax.set_yticks(range(len(clients)), clients)
        ax.invert_yaxis()
        ax.set_xlabel("seconds")
        ax.set_xlim(left=0)
        ax.grid(axis="x", alpha=0.3)
        ax.set_title(title or f"{len(self.spans)} requests in {self.total:.2f} s")
        return ax
