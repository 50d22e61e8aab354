"""Timeline: which requests overlapped, and one bar per request."""

from __future__ import annotations

import threading
import time

import matplotlib
import pytest

from autograder import Timeline

matplotlib.use("Agg")


def timeline_of(*spans: tuple[str, float, float]) -> Timeline:
    timeline = Timeline()
    for client, start, end in spans:
        timeline.add(client, start, end)
    return timeline


def test_sequential_requests_never_overlap() -> None:
    timeline = timeline_of(("a", 0.0, 1.0), ("b", 1.5, 2.0), ("c", 2.5, 3.0))
    assert timeline.max_overlap() == 1
    assert timeline.total == pytest.approx(3.0)


def test_a_request_starting_as_another_ends_does_not_overlap_it() -> None:
    assert timeline_of(("a", 0.0, 1.0), ("b", 1.0, 2.0)).max_overlap() == 1


def test_overlapping_requests_count_at_their_busiest_moment() -> None:
    timeline = timeline_of(("a", 0.0, 1.0), ("b", 0.2, 1.2), ("c", 0.4, 0.6), ("d", 1.1, 2.0))
    assert timeline.max_overlap() == 3


def test_an_empty_timeline() -> None:
    assert (Timeline().max_overlap(), Timeline().total) == (0, 0.0)


def test_request_records_a_span_from_threads() -> None:
    timeline = Timeline()

    def client(name: str) -> None:
        with timeline.request(name):
            time.sleep(0.2)

    threads = [threading.Thread(target=client, args=(f"client {i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(2)
    assert sorted(s.client for s in timeline.spans) == ["client 0", "client 1", "client 2"]
    assert all(s.duration >= 0.2 for s in timeline.spans)
    assert timeline.max_overlap() == 3


def test_request_records_the_span_even_when_the_request_fails() -> None:
    timeline = Timeline()
    with pytest.raises(TimeoutError), timeline.request("client", "slow"):
        raise TimeoutError
    assert [(s.client, s.label) for s in timeline.spans] == [("client", "slow")]


def test_plot_draws_one_bar_per_request_and_one_row_per_client() -> None:
    import matplotlib.pyplot as plt

    timeline = timeline_of(("a", 0.0, 1.0), ("b", 0.5, 1.5), ("a", 1.0, 2.0))
    ax = timeline.plot("two clients")
    try:
        assert isinstance(ax, matplotlib.axes.Axes)
        bars = ax.patches
        assert len(bars) == 3
        assert sorted((bar.get_x(), bar.get_width()) for bar in bars) == [(0.0, 1.0), (0.5, 1.0), (1.0, 1.0)]
        assert [label.get_text() for label in ax.get_yticklabels()] == ["a", "b"]
        assert ax.get_title() == "two clients"
    finally:
        plt.close(ax.figure)
