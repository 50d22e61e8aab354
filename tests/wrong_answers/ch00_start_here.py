"""Chapter 00: a first FastAPI app and an async client."""

from tests.wrong_answers import RightAnswer, WrongAnswer

ASSIGNMENT = "00-start-here"

WRONG_ANSWERS = [
    WrongAnswer(
        name="route-without-path-parameter",
        replaces={"make_app": '''
from fastapi import FastAPI


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/greet")
    def greet(name: str, shout: bool = False) -> dict[str, str]:
        return {"greeting": f"Hello, {name}!"}

    return app
'''},
        fails={"test_make_app": r"status of GET /greet/Ada should be 200, but it is 404.*/greet/\{name\}"},
    ),
    WrongAnswer(
        name="shout-ignored",
        replaces={"make_app": '''
from fastapi import FastAPI


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/greet/{name}")
    def greet(name: str) -> dict[str, str]:
        return {"greeting": f"Hello, {name}!"}

    return app
'''},
        fails={"test_make_app": r"shout=true.*should be .*HELLO, ADA!"},
    ),
    WrongAnswer(
        name="returns-whole-body",
        replaces={"fetch_greeting": '''
import httpx


async def fetch_greeting(base_url: str, name: str) -> str:
    async with httpx.AsyncClient(timeout=5) as client:
        return (await client.get(f"{base_url}/greet/{name}")).json()
'''},
        fails={"test_fetch_greeting": r"should be a str, but it is a dict.*'greeting' field"},
    ),
    WrongAnswer(
        # A coroutine that never finishes: the test's timeout turns it into a failed test,
        # and the submission keeps the points it earned elsewhere.
        name="awaits-forever",
        replaces={"fetch_greeting": '''
import asyncio


async def fetch_greeting(base_url: str, name: str) -> str:
    await asyncio.Event().wait()
'''},
        fails={"test_fetch_greeting": r"did not finish within 5 s"},
    ),
    WrongAnswer(
        name="blocking-client-in-async-def",
        replaces={"fetch_greeting": '''
import httpx


def fetch_greeting(base_url: str, name: str) -> str:
    return httpx.get(f"{base_url}/greet/{name}", timeout=5).json()["greeting"]
'''},
        fails={"test_fetch_greeting": r"async def"},
    ),
]

RIGHT_ANSWERS = [
    RightAnswer(
        # Correct, but noisy: warnings and stderr output in learner code must not zero a passing test.
        name="correct-but-warns-and-prints-to-stderr",
        replaces={
            "make_app": '''
import sys
import warnings

from fastapi import FastAPI


def make_app() -> FastAPI:
    warnings.warn("make_app is experimental", DeprecationWarning)
    print("building the app", file=sys.stderr)
    app = FastAPI()

    @app.get("/greet/{name}")
    async def greet(name: str, shout: bool = False):
        text = "Hello, " + name + "!"
        if shout:
            text = text.upper()
        return {"greeting": text}

    return app
''',
            "fetch_greeting": '''
import sys
import warnings

import httpx


async def fetch_greeting(base_url: str, name: str) -> str:
    warnings.warn("fetching", UserWarning)
    print("fetching", name, file=sys.stderr)
    client = httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(3.0))
    try:
        response = await client.get("/greet/" + name)
    finally:
        await client.aclose()
    data = response.json()
    return data["greeting"]
''',
        },
    ),
]
