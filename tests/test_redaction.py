"""Secrets never reach a message: one choke point (registry/redaction.py), checked at every front.

A tracking URI with `user:password@` is the common case: MLflow quotes the URI back in every
connection error. The password must not appear in an error's text, the CLI (text and --json), the
Overview's store status, the connection banner, or the audit row of a failed apply (History, CSV).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from registry.access.identity import Actor
from registry.errors import BadInput, RegistryError, Unreachable
from registry.lifecycle.actions import apply_plan
from registry.redaction import redact
from registry.service import Registry
from registry.store.status import store_status
from tests.cli import run_command
from tests.factories import make_model
from tests.stack import FaultStack, free_port

PASSWORD = "S3cr3tPW"
LEAD = Actor("alice", "lead")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("http://alice:S3cr3tPW@127.0.0.1:18599 down", "http://alice:***@127.0.0.1:18599 down"),
        ("postgresql+psycopg2://u:S3cr3tPW@db:5432/x?ssl=1", "postgresql+psycopg2://u:***@db:5432/x?ssl=1"),
        ("https://:S3cr3tPW@host/api", "https://:***@host/api"),
        ("host=db password=S3cr3tPW user=x", "host=db password=*** user=x"),
        ('{"password": "S3cr3tPW", "n": 1}', '{"password": "***", "n": 1}'),
        ("?X-Amz-Security-Token=S3c&X-Amz-Signature=S3c", "?X-Amz-Security-Token=***&X-Amz-Signature=***"),
        ("Authorization: Bearer S3cr3tPWS3cr3tPW", "Authorization: Bearer ***"),
        ("AWS_SECRET_ACCESS_KEY=S3cr3tPW", "AWS_SECRET_ACCESS_KEY=***"),
        ("api_key = S3cr3tPW, next", "api_key = ***, next"),
    ],
)  # fmt: skip
def test_credentials_are_masked(text, shown):
    assert redact(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://registry@db/registry",
        "REGISTRY_IDENTITY=header needs REGISTRY_HEADER_SECRET: without the proxy's secret no header",
        "plan_token=abc.def: not a token this server issued",
        "filter: unknown column 'metrics.acc'; did you mean metrics.accuracy?",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert redact(text) == text


def test_a_secret_set_in_the_environment_is_masked_wherever_it_appears(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-S3cr3tPW-123")
    assert redact("server said: bad token tok-S3cr3tPW-123 (401)") == "server said: bad token *** (401)"


def test_every_service_error_masks_itself():
    for kind in (RegistryError, BadInput, Unreachable):
        exc = kind(f"connect to http://alice:{PASSWORD}@h:1: refused")
        assert PASSWORD not in str(exc) and "alice:***@h:1" in str(exc)


def _cli(uri: str, home: Path, *args: str, process: bool = True) -> subprocess.CompletedProcess[str]:
    """`python -m registry ARGS` on `uri`; in a process of its own unless `process` is False
    (then the CLI's main here, which shows its output but not the log records a process prints)."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "REGISTRY_HOME": str(home)}
    env["REGISTRY_AUDIT_URL"] = f"sqlite:///{home / 'audit.db'}"
    return run_command(args, env, process=process)


@pytest.mark.slow
def test_a_password_in_the_tracking_uri_shows_nowhere(fault_stack: FaultStack, make_settings) -> None:
    """A real server reached as http://alice:S3cr3tPW@...; killed in the middle of an apply."""
    server = fault_stack.server
    secret_uri = server.uri.replace("http://", f"http://alice:{PASSWORD}@")
    reg = Registry.connect(
        make_settings("http", tracking_uri=secret_uri, s3_endpoint_url=fault_stack.s3_endpoint_url)
    )
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}])
    reg.promote(model, "1", "first", actor=LEAD)
    plan = reg.plan("promote", model, "2", actor=LEAD)

    def crash() -> None:
        os.killpg(server.process.proc.pid, signal.SIGKILL)
        server.process.proc.wait(timeout=10)

    with pytest.raises(Unreachable) as raised:
        apply_plan(reg.client, reg.audit, reg.settings, plan, "v2", actor=LEAD, before_change=crash)
    assert PASSWORD not in str(raised.value) and "alice:***@" in str(raised.value)
    failed = reg.history(model)[-1]
    assert failed.outcome == "failed" and "alice:***@" in (failed.error or "")
    with reg.audit.engine.connect() as conn:  # what is stored, not only what is read back
        stored = conn.exec_driver_sql("SELECT error FROM registry_audit").fetchall()
    assert not [row for row in stored if PASSWORD in (row[0] or "")]

    statuses = store_status(reg)
    assert [s.store for s in statuses if s.reachable is False]
    assert not [s for s in statuses if PASSWORD in s.detail + s.uri]

    # `experiments` on a dead server runs in a process of its own in the test below; here it and
    # its --json form run in this process, and `history`, another command's path, in its own.
    home = reg.settings.home
    text, as_json, history = (
        _cli(secret_uri, home, *args, process=process)
        for args, process in (
            (("experiments",), False),
            (("experiments", "--json"), False),
            (("history", model, "--json"), True),
        )
    )
    for done in (text, as_json, history):
        assert PASSWORD not in done.stdout + done.stderr, done.args
    assert text.returncode == as_json.returncode == 5
    assert "alice:***@" in text.stderr
    assert "alice:***@" in json.loads(as_json.stdout.splitlines()[0])["message"]


def test_the_cli_masks_a_dead_server_password(tmp_path: Path) -> None:
    done = _cli(f"http://alice:{PASSWORD}@127.0.0.1:{free_port()}", tmp_path, "experiments")
    assert done.returncode == 5
    assert PASSWORD not in done.stdout + done.stderr and "alice:***@" in done.stderr


def test_log_records_are_masked_message_arguments_and_traceback(caplog) -> None:
    """A library's warning and a front's log.exception quote the URI; neither may carry the password."""
    import logging

    from registry.redaction import redact_log_records

    redact_log_records()
    uri = f"http://alice:{PASSWORD}@127.0.0.1:9"
    with caplog.at_level(logging.WARNING):
        logging.getLogger("urllib3.connectionpool").warning("Retrying after connection broken: %s", uri)
        try:
            raise ConnectionError(f"API request to {uri}/api/2.0/mlflow/experiments/search failed")
        except ConnectionError:
            logging.getLogger("registry.fronts").exception("unexpected error")
    assert len(caplog.records) == 2
    assert PASSWORD not in caplog.text and "alice:***@127.0.0.1:9" in caplog.text
    assert "ConnectionError: API request to http://alice:***@" in caplog.text  # the traceback, masked
