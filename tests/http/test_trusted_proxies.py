"""Issue 17, finding 2 (second half): a client behind no proxy cannot choose the address the per-IP
sign-in throttle sees by sending X-Forwarded-For; a named trusted proxy's header is believed.

The app is served by a real uvicorn configured exactly as `praxis serve` configures it (the options
are taken from the CLI's own call to uvicorn.run)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from praxis import cli
from praxis.identity.auth import ip_throttle
from praxis.platform import crypto
from praxis.platform.settings import get_settings
from praxis.web.middleware import CSRF_COOKIE, csrf_token_for


def _serve_options(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The keyword arguments `praxis serve` hands to uvicorn.run (the server is not started)."""
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: seen.update(kw))
    monkeypatch.setattr(cli, "_boot", lambda: None)
    monkeypatch.setattr("praxis.platform.logs.configure_logging", lambda *args, **kwargs: None)
    result = CliRunner().invoke(cli.app, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    return {k: v for k, v in seen.items() if k not in {"host", "port", "reload", "workers", "log_config"}}


@contextmanager
def _served(app: Any, options: dict[str, Any]) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _wrong_sign_ins(base: str, forwarded_for: list[str]) -> list[int]:
    """One wrong sign-in per X-Forwarded-For value, from 127.0.0.1; the status codes."""
    cookie = "proxytest-cookie-value-0123"
    headers = {"Cookie": f"{CSRF_COOKIE}={cookie}",
               "X-CSRF-Token": csrf_token_for(crypto.keyring().secret_key, cookie)}
    with httpx.Client(base_url=base, timeout=30) as c:
        return [c.post("/login", data={"email": "nobody@example.org", "password": "not the password at all"},
                       headers={**headers, "X-Forwarded-For": xff}).status_code for xff in forwarded_for]


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def set_trusted(value: str | None) -> None:
        if value is None:
            monkeypatch.delenv("PRAXIS_TRUSTED_PROXIES", raising=False)
        else:
            monkeypatch.setenv("PRAXIS_TRUSTED_PROXIES", value)
        get_settings.cache_clear()
        ip_throttle.reset()

    yield set_trusted
    monkeypatch.delenv("PRAXIS_TRUSTED_PROXIES", raising=False)
    get_settings.cache_clear()


def test_a_client_behind_no_proxy_cannot_choose_its_address(app, settings_env, monkeypatch):
    settings_env(None)  # the default: no trusted proxy
    options = _serve_options(monkeypatch)
    rotating = [f"203.0.113.{i}" for i in range(ip_throttle.limit + 1)]
    with _served(app, options) as base:
        codes = _wrong_sign_ins(base, rotating)
    # Every attempt came from 127.0.0.1, whatever the header said: the throttle stops the last one.
    assert codes[:-1] == [401] * ip_throttle.limit
    assert codes[-1] == 429


def test_a_named_trusted_proxy_is_believed(app, settings_env, monkeypatch):
    settings_env("127.0.0.1")
    options = _serve_options(monkeypatch)
    assert options["proxy_headers"] is True
    with _served(app, options) as base:
        # Behind the trusted proxy, each client is throttled on its own address ...
        assert set(_wrong_sign_ins(base, [f"203.0.113.{i}" for i in range(ip_throttle.limit + 1)])) == {401}
        # ... and one address that keeps failing is stopped.
        codes = _wrong_sign_ins(base, ["198.51.100.7"] * (ip_throttle.limit + 1))
    assert codes[-1] == 429 and codes[:-1] == [401] * ip_throttle.limit


def test_trusted_proxies_setting_refuses_what_is_not_an_address(settings_env):
    settings_env("10.0.0.0/8, proxy.example.org")
    with pytest.raises(ValueError, match=r"proxy\.example\.org"):
        get_settings()
