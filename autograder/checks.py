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
    "not_written",
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
        return (_same_members(list(actual), list(expected))
                and all(_same(actual[k], expected[k]) for k in expected))
    if isinstance(expected, (set, frozenset)):
        return _same_members(list(actual), list(expected))
    return bool(expected == actual)


def _same_members(actual: list[Any], expected: list[Any]) -> bool:
    """Unordered comparison (set members, dict keys) that no element can cheat."""
    return len(actual) == len(expected) and all(any(_same(a, e) for e in expected) for a in actual)


def expect_raises(exc_type: type[BaseException] | tuple[type[BaseException], ...], fn: Callable[..., Any],
                  *args: Any, what: str, match: str | None = None, timeout: float = 2.0,
                  **kwargs: Any) -> BaseException:
    """Call ``fn`` (bounded, quietly) and fail unless it raises ``exc_type``.

    ``match`` is a regular expression the exception's message must contain.
    """
    names = exc_type.__name__ if isinstance(exc_type, type) else " or ".join(t.__name__ for t in exc_type)
    wanted = exc_type if isinstance(exc_type, tuple) else (exc_type,)
    try:
        result = call(fn, *args, timeout=timeout, **kwargs)
    except Exception as raised:  # noqa: BLE001 - judged below
        exc = raised
        if isinstance(raised, CheckFailed):
            # call()'s own verdict (a timeout, a stub not written yet) stands, unless the
            # test expects NotImplementedError and names it explicitly.
            exc = getattr(raised, "original", None)
            if exc is None or NotImplementedError not in wanted:
                raise
        if not isinstance(exc, exc_type):
            raise CheckFailed(f"{what} should raise {names}, but raised {type(exc).__name__}: {exc}") from None
        if match is not None and not re.search(match, str(exc), re.IGNORECASE):
            raise CheckFailed(f"{what}: the {type(exc).__name__} is right, but its message {str(exc)!r} "
                              f"should say what is wrong (expected it to mention {match!r})") from None
        return exc
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


def not_written(name: str, error: NotImplementedError | None = None) -> CheckFailed:
    """The failure for learner code that still raises the stub's ``NotImplementedError``."""
    failed = CheckFailed(f"`{name}` is not written yet: replace `raise NotImplementedError()` "
                         "with your code, run that cell, then run this test again")
    failed.original = error  # type: ignore[attr-defined]
    return failed


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
            except NotImplementedError as exc:
                raise not_written(name, exc) from None
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
            raise not_written(name, box["error"]) from None
        raise box["error"]
    return box["result"]


async def within(awaitable: Awaitable[T], timeout: float = 2.0, what: str = "your coroutine") -> T:
    """Await learner code, failing clearly if it takes longer than ``timeout`` seconds.

    On timeout the task is cancelled and the check fails at once, even if the learner's
    code swallows the cancellation: the cell always finishes.
    """
    with quietly(what):
        task = asyncio.ensure_future(awaitable)
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not done:
            task.cancel()
            await asyncio.wait({task}, timeout=0.1)  # let it clean up, but never wait for it
            raise CheckFailed(f"{what} did not finish within {timeout} s. Is it awaiting something "
                              "that never happens (a message that never comes, an event never set)?")
        try:
            return task.result()
        except NotImplementedError as exc:
            raise not_written(what, exc) from None
