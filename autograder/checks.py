"""Checks for test cells: failures that read like a reviewer's comment, and bounded calls.

Two nbgrader facts shape everything here (see the README's "Grading" section):

* any output on **stderr** in a test cell scores it 0, even when every assert passed;
  so learner code is called through ``call``/``within``/``quietly``, which catch
  warnings and stderr and show them on stdout instead;
* a top-level ``await`` that never finishes makes nbgrader **discard the whole
  submission**; so every await of learner code goes through ``within``, and every
  sync call that could block goes through ``call(..., timeout=...)``.

A failed check raises ``CheckFailed`` (an ``AssertionError``) whose message says what is
wrong and what to do about it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import threading
import warnings
from typing import Any, Awaitable, Callable, Iterator, TypeVar

__all__ = [
    "CheckFailed",
    "call",
    "expect",
    "expect_equal",
    "expect_raises",
    "quietly",
    "short",
    "within",
]

T = TypeVar("T")


class CheckFailed(AssertionError):
    """A test found a problem; the message is meant for the learner."""

    def _render_traceback_(self) -> list[str]:
        """How IPython shows it: the message alone, without the kit's internals."""
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


def short(value: Any, limit: int = 300) -> str:
    """``repr(value)``, shortened for a failure message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 20] + f"... ({len(text)} chars)"


def expect(condition: object, message: str) -> None:
    """Fail with ``message`` unless ``condition`` is true."""
    if not condition:
        raise CheckFailed(message)


def expect_equal(actual: Any, expected: Any, what: str, hint: str = "") -> None:
    """Fail unless ``actual`` has exactly ``expected``'s type and value.

    The type is compared first, so an object that claims to equal everything fails.
    """
    if type(actual) is not type(expected):
        raise CheckFailed(f"{what} should be a {type(expected).__name__}, but it is a "
                          f"{type(actual).__name__}: {short(actual)}" + (f". {hint}" if hint else ""))
    if not _same(actual, expected):
        raise CheckFailed(f"{what} should be {short(expected)}, but it is {short(actual)}"
                          + (f". {hint}" if hint else ""))


def _same(actual: Any, expected: Any) -> bool:
    """Equality that recurses through containers with exact types, so no element can cheat."""
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, (list, tuple)):
        return len(actual) == len(expected) and all(_same(a, e) for a, e in zip(actual, expected))
    if isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(_same(actual[k], expected[k]) for k in expected)
    return bool(expected == actual)


def expect_raises(exc_type: type[BaseException] | tuple[type[BaseException], ...], fn: Callable[..., Any],
                  *args: Any, what: str, match: str | None = None, timeout: float = 2.0,
                  **kwargs: Any) -> BaseException:
    """Call ``fn`` (bounded, quietly) and fail unless it raises ``exc_type``.

    ``match`` is a regular expression the exception's message must contain.
    """
    names = exc_type.__name__ if isinstance(exc_type, type) else " or ".join(t.__name__ for t in exc_type)
    try:
        result = call(fn, *args, timeout=timeout, **kwargs)
    except exc_type as exc:
        if match is not None and not re.search(match, str(exc), re.IGNORECASE):
            raise CheckFailed(f"{what}: the {type(exc).__name__} is right, but its message {str(exc)!r} "
                              f"should say what is wrong (expected it to mention {match!r})") from None
        return exc
    except CheckFailed:
        raise
    except Exception as exc:  # noqa: BLE001
        raise CheckFailed(f"{what} should raise {names}, but raised {type(exc).__name__}: {exc}") from None
    raise CheckFailed(f"{what} should raise {names}, but it returned {short(result)}")


@contextlib.contextmanager
def quietly(what: str = "your code") -> Iterator[None]:
    """Run a block with warnings and stderr captured, then show them on stdout.

    Learner code that warns or prints to stderr keeps its points; the learner still
    sees what it said.
    """
    err = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        yield
    for w in caught:
        print(f"note: {what} warned: {w.category.__name__}: {w.message}")
    if err.getvalue().strip():
        print(f"note: {what} wrote to stderr:\n{err.getvalue().rstrip()}")


def _not_written(name: str) -> CheckFailed:
    return CheckFailed(f"`{name}` is not written yet: replace `raise NotImplementedError()` "
                       "with your code, run that cell, then run this test again")


def call(fn: Callable[..., T], *args: Any, timeout: float | None = 2.0, **kwargs: Any) -> T:
    """Call learner code, quietly, failing clearly if it takes longer than ``timeout`` seconds.

    With a timeout the call runs in a daemon thread, so a function stuck in a loop or
    on a socket cannot hang the kernel or the grader (the thread is left behind).
    ``timeout=None`` calls it directly in this thread.
    """
    name = getattr(fn, "__name__", "the function")
    with quietly(f"`{name}`"):
        if timeout is None:
            try:
                return fn(*args, **kwargs)
            except NotImplementedError:
                raise _not_written(name) from None
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["result"] = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                box["error"] = exc

        worker = threading.Thread(target=run, name=f"check:{name}", daemon=True)
        worker.start()
        worker.join(timeout)
    if worker.is_alive():
        raise CheckFailed(f"`{name}` did not return within {timeout} s. Is it waiting for data that "
                          "will never come, or stuck in a loop?")
    if "error" in box:
        if isinstance(box["error"], NotImplementedError):
            raise _not_written(name) from None
        raise box["error"]
    return box["result"]


async def within(awaitable: Awaitable[T], timeout: float = 2.0, what: str = "your coroutine") -> T:
    """Await learner code, failing clearly if it takes longer than ``timeout`` seconds.

    The awaited task is cancelled on timeout, so the cell always finishes.
    """
    with quietly(what):
        try:
            return await asyncio.wait_for(awaitable, timeout)
        except asyncio.TimeoutError:
            raise CheckFailed(f"{what} did not finish within {timeout} s. Is it awaiting something "
                              "that never happens (a message that never comes, an event never set)?") from None
        except NotImplementedError:
            raise CheckFailed(f"{what} is not written yet: replace `raise NotImplementedError()` "
                              "with your code, run that cell, then run this test again") from None

