"""Links a learner's browser can open: local, or through JupyterHub/Binder's proxy."""

from __future__ import annotations

import pytest

from autograder import human_url
from autograder.links import Links, links


@pytest.fixture(autouse=True)
def no_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_PUBLIC_URL", "JUPYTERHUB_EXTERNAL_URL"):
        monkeypatch.delenv(name, raising=False)


def test_local_link_is_on_the_loopback_address() -> None:
    assert human_url(8000) == "http://127.0.0.1:8000/"
    assert human_url(8000, "docs") == "http://127.0.0.1:8000/docs"
    assert human_url(8000, "/ws", scheme="ws") == "ws://127.0.0.1:8000/ws"


@pytest.mark.parametrize("prefix", ["/user/ada/", "/user/ada", "user/ada/"])
def test_under_jupyterhub_the_link_goes_through_the_server_proxy(monkeypatch: pytest.MonkeyPatch,
                                                                  prefix: str) -> None:
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", prefix)
    assert human_url(8000) == "/user/ada/proxy/8000/"
    assert human_url(8000, "/docs") == "/user/ada/proxy/8000/docs"
    assert human_url(8000, "/ws", scheme="ws") == "/user/ada/proxy/8000/ws"


@pytest.mark.parametrize("public,page,websocket", [
    ("https://hub.example.org/user/ada/", "https://hub.example.org/user/ada/proxy/8000/",
     "wss://hub.example.org/user/ada/proxy/8000/ws/chat"),
    ("http://localhost:8000/user/ada", "http://localhost:8000/user/ada/proxy/8000/",
     "ws://localhost:8000/user/ada/proxy/8000/ws/chat"),
])
def test_a_known_public_url_gives_absolute_links_with_the_matching_websocket_scheme(
        monkeypatch: pytest.MonkeyPatch, public: str, page: str, websocket: str) -> None:
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/")
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", public)
    assert links(8000, "/", "/ws/chat") == Links(page, websocket)


def test_an_empty_public_url_falls_back_to_paths_on_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    # JupyterHub sets JUPYTERHUB_PUBLIC_URL to "" when its public_url is not configured.
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/")
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", "")
    found = links(8000, "/", "ws/chat")
    assert found == Links("/user/ada/proxy/8000/", "/user/ada/proxy/8000/ws/chat")
    assert found.relative
    assert "wss://" in str(found) and "wss://" in found._repr_markdown_()


def test_links_show_the_page_and_the_websocket() -> None:
    found = links(8123, "/", "/ws/ana")
    assert found == Links("http://127.0.0.1:8123/", "ws://127.0.0.1:8123/ws/ana")
    assert not found.relative
    assert str(found) == "Open in your browser: http://127.0.0.1:8123/\nWebSocket endpoint: ws://127.0.0.1:8123/ws/ana"
    assert "[http://127.0.0.1:8123/](http://127.0.0.1:8123/)" in found._repr_markdown_()
    assert links(8123).websocket is None and "WebSocket" not in str(links(8123))
