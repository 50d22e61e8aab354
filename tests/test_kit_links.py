"""Links a learner's browser can open: local, or through JupyterHub/Binder's proxy."""

from __future__ import annotations

import pytest

from autograder import human_url


@pytest.fixture(autouse=True)
def no_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    monkeypatch.delenv("JUPYTERHUB_EXTERNAL_URL", raising=False)


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

