"""Chapter 06's chat page in a real browser, locally and behind jupyter-server-proxy.

Headless Chromium, driven through its DevTools protocol, opens the page that the solution's
``make_chat_app`` serves (its code is read from the solution notebook, as the chapter's benchmark
reads it) and joins the chat with ``?name=...``: the page must say its WebSocket is open, the
server must have let it join, and the room's "joined" message must come back to the page. The
second test puts a Jupyter server with a JupyterHub-style base URL in front, as on Binder, and
opens the link that the kit's ``links()`` gives there.

Skipped where Chromium is missing (Debian: ``apt-get install chromium``); ``.ci/run`` installs it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

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


def stop(process: subprocess.Popen) -> None:
    """Terminate ``process``, killing it if it has not exited within 10 s."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Page:
    """A page open in headless Chromium, read through the DevTools protocol while its scripts run.

    Polled in real time: headless Chromium's ``--dump-dom`` runs scripts on virtual time, which
    does not wait for a WebSocket handshake, so on a busy machine it dumped the page too early.
    """

    def __init__(self, devtools) -> None:
        self.devtools = devtools
        self.calls = 0

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page."""
        self.calls += 1
        self.devtools.send(json.dumps({"id": self.calls, "method": "Runtime.evaluate",
                                       "params": {"expression": expression, "returnByValue": True}}))
        while True:
            reply = json.loads(self.devtools.recv(timeout=10))
            if reply.get("id") == self.calls:
                return reply.get("result", {}).get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 20) -> str:
        """Poll ``expression`` until it is truthy; returns the page's HTML either way."""
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression) and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.evaluate("document.documentElement.outerHTML") or ""


def devtools_address(process: subprocess.Popen, port_file: Path) -> str:
    """The DevTools WebSocket address of Chromium's page, once Chromium has written its port."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text().count("\n") >= 1:
            port = int(port_file.read_text().split()[0])
            targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
            pages = [t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page"]
            if pages:
                return pages[0]
        assert process.poll() is None, f"Chromium exited with {process.returncode}"
        time.sleep(0.1)
    raise AssertionError("Chromium did not open its DevTools port within 30 s")


@contextlib.contextmanager
def browser(url: str, tmp_path: Path) -> Iterator[Page]:
    """``url`` open in headless Chromium (its own profile in ``tmp_path``), until the block ends."""
    profile = tmp_path / "chromium-profile"
    process = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}",
         "--remote-debugging-port=0", url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with connect(devtools_address(process, profile / "DevToolsActivePort"), open_timeout=10,
                     max_size=None) as devtools:
            yield Page(devtools)
    finally:
        stop(process)


def joined(chapter, name: str, page: Page, websocket_url: str) -> None:
    """The page opened its WebSocket (its status line says so) and the server let ``name`` join the room."""
    dom = page.wait_for("document.getElementById('status').textContent.startsWith('connected to')")
    assert f"connected to {websocket_url}" in dom, dom[-1500:]
    deadline = time.monotonic() + 5
    while f"* {name} joined" not in chapter.said and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f"* {name} joined" in chapter.said, f"the server never let {name} join: {chapter.said}"
    dom = page.wait_for(f"document.getElementById('log').textContent.includes('* {name} joined')", timeout=5)
    assert f"* {name} joined" in dom, f"the page never showed that {name} joined:\n{dom[-1500:]}"


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
        stop(process)
        log.close()


def test_the_chat_page_joins_over_a_websocket_locally(chat, monkeypatch, tmp_path):
    server, chapter = chat
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    page = links(server.port, "/").page
    assert page == f"http://127.0.0.1:{server.port}/"
    with browser(page + "?name=ana", tmp_path) as tab:
        joined(chapter, "ana", tab, f"ws://127.0.0.1:{server.port}/ws/ana")
    wait_until_empty(chapter.room)


def test_the_chat_page_works_through_jupyter_server_proxy(chat, monkeypatch, tmp_path):
    server, chapter = chat
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ana/")
    monkeypatch.delenv("JUPYTERHUB_PUBLIC_URL", raising=False)
    page = links(server.port, "/").page
    assert page == f"/user/ana/proxy/{server.port}/"
    with jupyter_server(tmp_path, "/user/ana/") as hub_port, \
            browser(f"http://127.0.0.1:{hub_port}{page}?name=bob&token={TOKEN}", tmp_path) as tab:
        dom = tab.wait_for("document.title === 'Chat, chapter 06'")
        assert "<title>Chat, chapter 06</title>" in dom, f"the page did not load through the proxy:\n{dom[-1500:]}"
        joined(chapter, "bob", tab, f"ws://127.0.0.1:{hub_port}/user/ana/proxy/{server.port}/ws/bob")
    wait_until_empty(chapter.room)
