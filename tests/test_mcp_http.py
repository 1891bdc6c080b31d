"""MCP over streamable HTTP: a bearer token is required, and it names the actor.

`python -m registry mcp --transport http` as a subprocess, a real MCP client (the SDK's
streamable HTTP client) with and without `Authorization: Bearer`, and plain HTTP requests for what a
hostile local process would send: no token, a wrong token, a bad Host, a foreign Origin.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from registry.errors import Refused
from registry.service import Registry
from registry.settings import Settings
from tests.conftest import build_settings
from tests.factories import make_model
from tests.stack import ServerProcess, child_env, free_port
from tests.test_mcp import LEAD, VIEWER, server_env

ROOT = Path(__file__).resolve().parents[1]
LEAD_TOKEN = "lead-token-0123456789abcdefghijklmnop"
VIEWER_TOKEN = "viewer-token-0123456789abcdefghijklmn"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@dataclass(frozen=True)
class HttpMcp:
    url: str
    settings: Settings
    server: ServerProcess


def _wait_for_port(server: ServerProcess, port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert server.proc.poll() is None, server.log_tail()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.2)


def _start(settings: Settings, log: Path, **env: str) -> tuple[ServerProcess, int]:
    port = free_port()
    argv = [sys.executable, "-m", "registry", "mcp", "--transport", "http", "--port", str(port)]
    server = ServerProcess("mcp http", argv, log, child_env(**{**server_env(settings, LEAD), **env}), ROOT)
    _wait_for_port(server, port)
    return server, port


@pytest.fixture(scope="module")
def settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_settings(request, "sqlite", tmp_path_factory.mktemp("mcp-http"), actor=LEAD, leads_csv=LEAD)


@pytest.fixture(scope="module")
def http_mcp(settings: Settings) -> Iterator[HttpMcp]:
    tokens = f"{LEAD}={LEAD_TOKEN}, {VIEWER}={VIEWER_TOKEN}"
    server, port = _start(settings, settings.home / "mcp-http.log", REGISTRY_MCP_TOKENS=tokens)
    try:
        yield HttpMcp(f"http://127.0.0.1:{port}/mcp", settings, server)
    finally:
        server.stop()


async def _call(url: str, token: str | None, tool: str, args: dict) -> object:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with Client(
        streamable_http_client(url, http_client=create_mcp_http_client(headers=headers))
    ) as client:
        return await client.call_tool(tool, args)


def _text(result: object) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token-0123456789abcdefghij", f"Basic {LEAD_TOKEN}"]
)
def test_a_request_without_a_valid_token_is_refused(http_mcp: HttpMcp, authorization):
    headers = {**MCP_HEADERS, **({"Authorization": authorization} if authorization else {})}
    answer = httpx.post(http_mcp.url, json=INIT, headers=headers, timeout=30)
    assert answer.status_code == 401
    assert "bearer" in answer.headers.get("www-authenticate", "").lower()


def test_the_token_names_the_actor(http_mcp: HttpMcp):
    reg = Registry.connect(http_mcp.settings)
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}])

    refused = anyio.run(
        _call, http_mcp.url, VIEWER_TOKEN, "promote", {"model": model, "version": "2", "reason": "x"}
    )
    assert refused.is_error and f"{VIEWER} is a viewer" in _text(refused)
    done = anyio.run(
        _call, http_mcp.url, LEAD_TOKEN, "promote", {"model": model, "version": "2", "reason": "y"}
    )
    assert not done.is_error, _text(done)

    assert [(a.actor, a.outcome) for a in reg.history(model)] == [(VIEWER, "refused"), (LEAD, "done")]
    assert reg.state(model).holders.production == "2"
    with pytest.raises(Refused):  # the viewer's token gives nothing the service would not
        reg.promote(model, "1", "as the viewer", actor=reg.actor(VIEWER))


def test_a_bad_host_or_a_foreign_origin_is_refused_even_with_a_token(http_mcp: HttpMcp):
    auth = {**MCP_HEADERS, "Authorization": f"Bearer {LEAD_TOKEN}"}
    bad_host = httpx.post(http_mcp.url, json=INIT, headers={**auth, "Host": "evil.example:80"}, timeout=30)
    assert bad_host.status_code == 421
    foreign = httpx.post(
        http_mcp.url, json=INIT, headers={**auth, "Origin": "http://evil.example"}, timeout=30
    )
    assert foreign.status_code == 403
    ok = httpx.post(http_mcp.url, json=INIT, headers=auth, timeout=30)
    assert ok.status_code == 200


def test_without_configured_tokens_one_is_made_and_printed_once(settings: Settings, tmp_path: Path):
    log = tmp_path / "mcp-made.log"
    server, port = _start(settings, log)
    try:
        printed = re.findall(rf"bearer token for {LEAD} \(shown once.*?\): (\S+)", log.read_text())
        assert len(printed) == 1
        url = f"http://127.0.0.1:{port}/mcp"
        listed = anyio.run(_call, url, printed[0], "list_models", {"search": "no-such-model"})
        assert not listed.is_error
        assert httpx.post(url, json=INIT, headers=MCP_HEADERS, timeout=30).status_code == 401
    finally:
        server.stop()


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = child_env(**server_env(settings, LEAD))
    return subprocess.run(
        [sys.executable, "-m", "registry", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_port_out_of_range_or_in_use_is_one_line_with_its_exit_code(settings: Settings):
    bad = _cli(settings, "mcp", "--transport", "http", "--port", "99999")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "99999" in bad.stderr

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = _cli(settings, "mcp", "--transport", "http", "--port", str(port))
    assert busy.returncode == 5 and "Traceback" not in busy.stderr
    assert len(busy.stderr.strip().splitlines()) == 1 and str(port) in busy.stderr
