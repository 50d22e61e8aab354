"""Checks for test cells: bounded calls, quiet learner code, strict equality, clear messages.

``within`` inside a real kernel is tested in ``test_kit_kernel.py``.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from autograder import CheckFailed, call, expect, expect_equal, expect_raises, quietly, within

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown, so code that "runs forever" in a left-behind thread ends after the test."""
    event = threading.Event()
    yield event
    event.set()


def not_written() -> None:
    raise NotImplementedError()


# -- call ------------------------------------------------------------------------------------


def test_call_returns_the_result() -> None:
    assert call(pow, 2, 10) == 1024
    assert call(sorted, [3, 1, 2], reverse=True, timeout=None) == [3, 2, 1]


def test_call_fails_in_time_when_the_function_blocks_forever(release: threading.Event) -> None:
    def wait_for_data() -> None:
        release.wait()

    started = time.perf_counter()
    with pytest.raises(CheckFailed, match=r"`wait_for_data` did not return within 0\.5 s"):
        call(wait_for_data, timeout=0.5)
    assert 0.5 <= time.perf_counter() - started < 1.0


def test_call_fails_in_time_when_the_function_loops_forever(release: threading.Event) -> None:
    def spin() -> None:
        while not release.is_set():
            pass

    started = time.perf_counter()
    with pytest.raises(CheckFailed, match="did not return within 0.5 s"):
        call(spin, timeout=0.5)
    assert 0.5 <= time.perf_counter() - started < 1.0


def test_call_reraises_the_learners_exception() -> None:
    def broken() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        call(broken)


@pytest.mark.parametrize("timeout", [2.0, None])
def test_not_implemented_error_means_not_written_yet(timeout: float | None) -> None:
    with pytest.raises(CheckFailed, match="`not_written` is not written yet"):
        call(not_written, timeout=timeout)


def test_call_shows_warnings_and_stderr_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    def noisy() -> int:
        warnings.warn("old API", DeprecationWarning)
        print("debugging", file=sys.stderr)
        return 7

    assert call(noisy) == 7
    out, err = capsys.readouterr()
    assert err == ""
    assert "`noisy` warned: DeprecationWarning: old API" in out
    assert "`noisy` wrote to stderr:\ndebugging" in out


# -- quietly ---------------------------------------------------------------------------------


def test_quietly_shows_warnings_and_stderr_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    with quietly("your cell"):
        warnings.warn("careful")
        warnings.warn("careful")  # shown every time, not once per location
        print("debugging", file=sys.stderr)
    out, err = capsys.readouterr()
    assert err == ""
    assert out.count("your cell warned: UserWarning: careful") == 2
    assert "your cell wrote to stderr:\ndebugging" in out


def test_quietly_says_nothing_when_there_is_nothing_to_say(capsys: pytest.CaptureFixture[str]) -> None:
    with quietly():
        pass
    assert capsys.readouterr() == ("", "")


# -- within ----------------------------------------------------------------------------------


def test_within_returns_the_coroutines_result() -> None:
    async def answer() -> int:
        await asyncio.sleep(0.01)
        return 42

    assert asyncio.run(within(answer(), 1)) == 42


def test_within_fails_in_time_and_cancels_a_coroutine_awaiting_forever() -> None:
    cancelled = []

    async def wait_forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    started = time.perf_counter()
    with pytest.raises(CheckFailed, match=r"waiter did not finish within 0\.3 s"):
        asyncio.run(within(wait_forever(), 0.3, "waiter"))
    assert 0.3 <= time.perf_counter() - started < 0.8
    assert cancelled == [True]


def test_within_turns_not_implemented_error_into_not_written_yet() -> None:
    async def todo() -> None:
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match=r"todo\(\)`? is not written yet"):
        asyncio.run(within(todo(), 1, "todo()"))


def test_within_fails_in_time_even_if_the_coroutine_ignores_cancellation(release: threading.Event) -> None:
    """A bare ``except:`` in a learner's receive loop swallows the cancellation."""
    async def stubborn() -> str:
        while not release.is_set():
            try:
                await asyncio.sleep(0.05)
            except BaseException:  # noqa: BLE001 - the learner's mistake under test
                pass
        return "too late"

    outcome: dict[str, Any] = {}
    returned = threading.Event()

    def grade() -> None:
        # Like a kernel's loop: it goes on running after the cell, so nothing here waits
        # for the stubborn task the way asyncio.run()'s clean-up would.
        loop = asyncio.new_event_loop()
        try:
            outcome["result"] = loop.run_until_complete(within(stubborn(), 0.3, "stubborn()"))
        except BaseException as exc:  # noqa: BLE001
            outcome["error"] = exc
        returned.set()
        release.wait(5)
        loop.run_until_complete(asyncio.sleep(0.1))  # the stubborn task sees the release and ends
        loop.close()

    grader = threading.Thread(target=grade, daemon=True)
    grader.start()
    finished_in_time = returned.wait(1.5)
    release.set()
    grader.join(2)
    assert finished_in_time, "within() was still waiting 1.5 s after its 0.3 s timeout"
    assert isinstance(outcome.get("error"), CheckFailed), outcome


# -- expect, expect_equal --------------------------------------------------------------------


def test_expect_fails_with_the_message() -> None:
    expect(True, "never shown")
    with pytest.raises(CheckFailed, match="^the status should be 200$"):
        expect(False, "the status should be 200")


def test_check_failed_is_an_assertion_error() -> None:
    assert issubclass(CheckFailed, AssertionError)


class EqualsEverything:
    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return hash(1)


@pytest.mark.parametrize("actual, expected", [
    (1, 1), ("Hello, Ada!", "Hello, Ada!"), (1.5, 1.5), (None, None),
    ([1, "a", [True]], [1, "a", [True]]), ({"a": [1, 2], "b": {"c": None}}, {"a": [1, 2], "b": {"c": None}}),
    ((1, 2), (1, 2)),
])
def test_expect_equal_accepts_equal_values(actual: Any, expected: Any) -> None:
    expect_equal(actual, expected, "the value")


@pytest.mark.parametrize("actual, expected", [
    (EqualsEverything(), 1),
    ([EqualsEverything()], [1]),
    ({"greeting": EqualsEverything()}, {"greeting": "Hello"}),
    ([{"a": [EqualsEverything()]}], [{"a": [1]}]),
], ids=["bare", "in-list", "in-dict", "deeply-nested"])
def test_expect_equal_rejects_an_object_that_equals_everything(actual: Any, expected: Any) -> None:
    with pytest.raises(CheckFailed):
        expect_equal(actual, expected, "the value")


@pytest.mark.parametrize("actual, expected", [
    ({EqualsEverything()}, {1}),
    ({EqualsEverything(): "x"}, {1: "x"}),
], ids=["in-set", "as-dict-key"])
def test_expect_equal_rejects_an_object_that_equals_everything_in_a_set_or_as_a_key(actual: Any,
                                                                                     expected: Any) -> None:
    with pytest.raises(CheckFailed):
        expect_equal(actual, expected, "the value")


@pytest.mark.parametrize("actual, expected", [
    (True, 1), (1, True), (1.0, 1), (1, 1.0), ([1], [True]), ({"n": 1.0}, {"n": 1}), ((1,), [1]), ("1", 1),
])
def test_expect_equal_rejects_a_different_type(actual: Any, expected: Any) -> None:
    with pytest.raises(CheckFailed):
        expect_equal(actual, expected, "the value")


def test_expect_equal_message_names_the_problem_and_the_hint() -> None:
    with pytest.raises(CheckFailed, match=r"^the status should be an? int, but it is a str: '200'\. use response"):
        expect_equal("200", 200, "the status", hint="use response.status_code")
    with pytest.raises(CheckFailed) as wrong_value:
        expect_equal({"a": 2}, {"a": 1}, "the body")
    assert str(wrong_value.value) == "the body should be {'a': 1}, but it is {'a': 2}"


# -- expect_raises ---------------------------------------------------------------------------


def parse_port(text: str) -> int:
    port = int(text)
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    return port


def test_expect_raises_returns_the_matching_exception() -> None:
    error = expect_raises(ValueError, parse_port, "70000", what="parse_port('70000')", match="out of range")
    assert isinstance(error, ValueError)


def test_expect_raises_accepts_a_tuple_of_types() -> None:
    expect_raises((KeyError, ValueError), parse_port, "0", what="parse_port('0')")


def test_expect_raises_fails_when_nothing_is_raised() -> None:
    with pytest.raises(CheckFailed, match=r"parse_port\('80'\) should raise ValueError, but it returned 80"):
        expect_raises(ValueError, parse_port, "80", what="parse_port('80')")


def test_expect_raises_fails_on_the_wrong_type() -> None:
    with pytest.raises(CheckFailed, match="should raise KeyError, but raised ValueError"):
        expect_raises(KeyError, parse_port, "0", what="parse_port('0')")


def test_expect_raises_fails_when_the_message_does_not_match() -> None:
    with pytest.raises(CheckFailed, match="the ValueError is right, but its message .* 'negative'"):
        expect_raises(ValueError, parse_port, "0", what="parse_port('0')", match="negative")


def test_expect_raises_says_not_written_yet_for_not_implemented_error() -> None:
    with pytest.raises(CheckFailed, match="not written yet"):
        expect_raises(ValueError, not_written, what="not_written()")


def test_expect_raises_fails_in_time_when_the_function_blocks(release: threading.Event) -> None:
    with pytest.raises(CheckFailed, match="did not return within 0.3 s"):
        expect_raises(ValueError, release.wait, what="wait()", timeout=0.3)


def test_expect_raises_can_expect_not_implemented_error() -> None:
    def abstract() -> None:
        raise NotImplementedError("subclasses must override this")

    expect_raises(NotImplementedError, abstract, what="abstract()")
