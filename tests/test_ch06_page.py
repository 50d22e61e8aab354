"""Chapter 06's chat page in a real browser, locally and behind jupyter-server-proxy.

Headless Chromium opens the page that the solution's ``make_chat_app`` serves (its code is read
from the solution notebook, as the chapter's benchmark reads it) and joins the chat with
``?name=...``: the page must say its WebSocket is open, and the server must have let it join. The
second test puts a Jupyter server with a JupyterHub-style base URL in front, as on Binder, and
opens the link that the kit's ``links()`` gives there.

Skipped where Chromium is missing (Debian: ``apt-get install chromium``); ``.ci/run`` installs it.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "benchmarks"))
from bench_ch04_server import free_port, wait_listening  # noqa: E402
from bench_ch06_websockets import chapter_definitions  # noqa: E402

from autograder import serve  # noqa: E402
from autograder.links import links  # noqa: E402

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
TOKEN = "course-test-token"

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)"),
    pytest.mark.timeout(120),
]


@pytest.fixture(scope="module")
def chat() -> Iterator[tuple[object, types.ModuleType]]:
    """The solution's chat app, served by the kit; yields (server, chapter namespace)."""
    module = types.ModuleType("ch06_solution")
    sys.modules[module.__name__] = module  # dataclasses look their class's module up there
    try:
        exec(compile(chapter_definitions(), "ch06_solution", "exec", dont_inherit=True), module.__dict__)
        room = module.ChatRoom()
        module.room, module.said = room, []
        broadcast = room.broadcast

        async def recorded(message: str) -> None:  # what the server said to the room, whoever was listening
            module.said.append(message)
            await broadcast(message)

        room.broadcast = recorded
        with serve(module.make_chat_app(room)) as server:
            yield server, module
    finally:
        del sys.modules[module.__name__]


def page_after_scripts(url: str) -> str:
    """The page's DOM once its scripts have run for a few (virtual) seconds."""
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--virtual-time-budget=5000", "--dump-dom", url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def joined(chapter, name: str, dom: str, websocket_url: str) -> None:
    """The page opened its WebSocket (its status line says so) and the server let ``name`` join the room.

    Whether the room's "joined" message is back in the page's log when Chromium dumps it depends on
    how busy the machine is (headless Chromium's virtual time does not wait for WebSocket messages),
    so the server's side is checked instead.
    """
    assert f"connected to {websocket_url}" in dom, dom[-1500:]
    deadline = time.monotonic() + 5
    while f"* {name} joined" not in chapter.said and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f"* {name} joined" in chapter.said, f"the server never let {name} join: {chapter.said}"


def wait_until_empty(room, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while room.members and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not room.members, f"the browser left, but the room still holds {sorted(room.members)}"


@contextlib.contextmanager
def jupyter_server(root: Path, base_url: str) -> Iterator[int]:
    """A Jupyter server (with jupyter-server-proxy, as Binder runs it) on a free loopback port."""
    port = free_port()
    log = open(root / "jupyter.log", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "server", "--no-browser", "--allow-root", f"--port={port}",
         "--ip=127.0.0.1", f"--ServerApp.base_url={base_url}", f"--IdentityProvider.token={TOKEN}",
         f"--ServerApp.root_dir={root}"],
        stdout=log, stderr=subprocess.STDOUT, cwd=root)
    try:
        wait_listening(port, process, log, timeout=60)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_the_chat_page_joins_over_a_websocket_locally(chat, monkeypatch):
    server, chapter = chat
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    page = links(server.port, "/").page
    assert page == f"http://127.0.0.1:{server.port}/"
    dom = page_after_scripts(page + "?name=ana")
    joined(chapter, "ana", dom, f"ws://127.0.0.1:{server.port}/ws/ana")
    wait_until_empty(chapter.room)


def test_the_chat_page_works_through_jupyter_server_proxy(chat, monkeypatch, tmp_path):
    server, chapter = chat
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ana/")
    monkeypatch.delenv("JUPYTERHUB_PUBLIC_URL", raising=False)
    page = links(server.port, "/").page
    assert page == f"/user/ana/proxy/{server.port}/"
    with jupyter_server(tmp_path, "/user/ana/") as hub_port:
        dom = page_after_scripts(f"http://127.0.0.1:{hub_port}{page}?name=bob&token={TOKEN}")
    assert "<title>Chat, chapter 06</title>" in dom, dom[-1500:]
    joined(chapter, "bob", dom, f"ws://127.0.0.1:{hub_port}/user/ana/proxy/{server.port}/ws/bob")
    wait_until_empty(chapter.room)
