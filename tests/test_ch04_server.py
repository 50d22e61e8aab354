"""Chapter 04's solution server, taken out of the solution notebook and run in plain Python.

The notebook's own (hidden) test compares FastAPI through the learner's server with uvicorn, and the
suite grades the solution with it. These tests check the same solution code directly, with clearer
failures, and keep tests/benchmarks/bench_ch04_server.py's way of extracting it working.
"""

from __future__ import annotations

import asyncio
import json
import sys
import types
from pathlib import Path

import httpx
import pytest
from fastapi import BackgroundTasks, FastAPI, HTTPException, Response
from fastapi.responses import StreamingResponse

sys.path.insert(0, str(Path(__file__).parent / "benchmarks"))
from bench_ch04_server import server_source  # noqa: E402

from autograder import serve  # noqa: E402


@pytest.fixture(scope="module")
def ch04() -> dict:
    """The namespace the solution's server code defines (Request, read_request, ..., start_server)."""
    module = types.ModuleType("ch04_solution")
    sys.modules[module.__name__] = module  # dataclasses look their class's module up there
    try:
        exec(compile(server_source(), "ch04_solution", "exec", dont_inherit=True), module.__dict__)
        yield module.__dict__
    finally:
        del sys.modules[module.__name__]


def make_app() -> tuple[FastAPI, list[str]]:
    app = FastAPI()
    done: list[str] = []

    @app.get("/items/{item_id}")
    async def item(item_id: int, q: str | None = None):
        if item_id > 10:
            raise HTTPException(404, "no such item")
        return {"item_id": item_id, "q": q}

    async def later(name: str):
        await asyncio.sleep(0.02)
        done.append(name)

    @app.post("/items", status_code=201)
    async def create(payload: dict, background: BackgroundTasks):
        background.add_task(later, payload.get("name", "?"))
        return payload

    @app.get("/stream")
    async def stream():
        async def pieces():
            for piece in ("a" * 20, "", "b"):
                yield piece
                await asyncio.sleep(0.005)

        return StreamingResponse(pieces(), media_type="text/plain")

    @app.delete("/items/{item_id}", status_code=204)
    async def delete(item_id: int):
        return Response(status_code=204)

    @app.get("/crash")
    async def crash():
        raise RuntimeError("crash")

    return app, done


REQUESTS = [
    ("GET", "/items/3?q=x%20y", {}),
    ("GET", "/items/99", {}),
    ("GET", "/items/zero", {}),
    ("POST", "/items", {"json": {"name": "cup"}}),
    ("POST", "/items", {"content": b"[1,", "headers": {"content-type": "application/json"}}),
    ("POST", "/items", {"pieces": [b'{"name"', b': "gen"}']}),  # a generator body: httpx sends it chunked
    ("GET", "/stream", {}),
    ("DELETE", "/items/1", {}),
    ("HEAD", "/items/1", {}),
    ("OPTIONS", "/items/1", {}),
    ("GET", "/items/4", {"headers": {"connection": "close"}}),
    ("GET", "/items/5", {}),
    ("GET", "/crash", {}),  # last: both servers close the connection after it without saying so first
]


async def async_pieces(pieces: list[bytes]):
    for piece in pieces:
        yield piece


async def answers(url: str) -> list:
    out = []
    async with httpx.AsyncClient(base_url=url, timeout=3, limits=httpx.Limits(max_connections=1)) as client:
        for method, path, options in REQUESTS:
            if "pieces" in options:
                options = {"content": async_pieces(options["pieces"])}
            r = await client.request(method, path, **options)
            out.append((method, path, r.status_code,
                        sorted((k, v) for k, v in r.headers.items() if k not in {"date", "server"}), r.content))
    return out


def test_fastapi_answers_as_under_uvicorn(ch04, capsys):
    app, done = make_app()

    async def ours():
        server = await asyncio.wait_for(ch04["start_server"](app, "127.0.0.1", 0), 2)
        try:
            return await asyncio.wait_for(answers(server.url), 20)
        finally:
            await server.astop()
            await asyncio.sleep(0.05)
            left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            assert not left, f"tasks left after astop(): {left}"

    mine = asyncio.run(ours())
    with serve(app, log_level="critical") as uv:
        theirs = asyncio.run(answers(uv.url))
    for got, expected in zip(mine, theirs):
        assert got == expected
    assert "the app raised" in capsys.readouterr().out  # /crash is reported on stdout


def test_keep_alive_pipelining_errors_and_disconnect(ch04):
    heard = []

    async def app(scope, receive, send):
        body = (await receive())["body"]
        if scope["path"] == "/wait":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"waiting\n", "more_body": True})
            heard.append(await receive())
            return
        reply = json.dumps([scope["method"], scope["path"], body.decode()]).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(reply)).encode())]})
        await send({"type": "http.response.body", "body": reply})

    async def exchange(port: int, data: bytes, close_after: float | None = None) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        try:
            if close_after is not None:
                chunk = await asyncio.wait_for(reader.read(65536), 2)
                writer.close()
                return chunk
            return await asyncio.wait_for(reader.read(), 2)  # until the server closes
        finally:
            writer.close()

    async def main():
        server = await ch04["start_server"](app, "127.0.0.1", 0)
        try:
            pipelined = await exchange(server.port, b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n"
                                                    b"POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi"
                                                    b"GET /c HTTP/1.0\r\n\r\n")
            assert pipelined.count(b"HTTP/1.1 200 OK") == 3
            assert b'["POST", "/b", "hi"]' in pipelined and pipelined.endswith(b'["GET", "/c", ""]')
            assert (await exchange(server.port, b"NONSENSE\r\n\r\n")).startswith(b"HTTP/1.1 400 Bad Request")
            assert (await exchange(server.port, b"GET /wait HTTP/1.1\r\nHost: t\r\n\r\n", close_after=0)).startswith(b"HTTP/1.1 200")
            for _ in range(100):
                if heard:
                    break
                await asyncio.sleep(0.01)
            assert heard == [{"type": "http.disconnect"}]
        finally:
            await server.astop()

    asyncio.run(main())


def test_one_thread_serves_many_slow_clients(ch04):
    async def slow(scope, receive, send):
        await asyncio.sleep(0.2)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def main():
        server = await ch04["start_server"](slow, "127.0.0.1", 0)
        try:
            async with httpx.AsyncClient(timeout=5, limits=httpx.Limits(max_connections=80)) as client:
                loop = asyncio.get_running_loop()
                started = loop.time()
                replies = await asyncio.gather(*(client.get(server.url) for _ in range(80)))
                took = loop.time() - started
        finally:
            await server.astop()
        assert [r.text for r in replies] == ["ok"] * 80
        assert took < 2.0, f"80 clients of a 0.2 s endpoint took {took:.2f} s"

    asyncio.run(main())
