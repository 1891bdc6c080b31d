"""Notifications: audited changes reach a real webhook receiver on loopback, signed, through the outbox.

The receiver is its own process (tests/receiver.py, starlette under uvicorn); the registry runs
against the real mlflow server. A receiver that is down, or answers 500, gets the event on a later
try; nothing about the action waits for it or is undone by it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from registry.access.identity import Actor
from registry.audit.log import Attempt
from registry.errors import Refused
from registry.notify import outbox
from registry.notify.delivery import deliver_due
from registry.notify.message import backoff_s, encode, event_text, mask_target, signature, verify
from registry.service import Registry
from tests.factories import make_model
from tests.receiver import running_receiver
from tests.stack import free_port

SECRET = "webhook-s3cret"
ADA = Actor("ada", "lead")
VICTOR = Actor("victor", "viewer")
LATER = timedelta(hours=2)  # past any backoff


def _attempt(**changes: object) -> Attempt:
    base = {
        "attempt_id": "a1",
        "at": datetime(2026, 11, 26, tzinfo=UTC),
        "actor": "ada",
        "role": "lead",
        "model": "iris",
        "action": "promote",
        "target": "production",
        "from_version": "2",
        "to_version": "3",
        "reason": "better <b>accuracy</b>",
        "outcome": "done",
    }
    return Attempt(**{**base, **changes})  # type: ignore[arg-type]


def test_text_reads_as_a_sentence_and_store_content_stays_text():
    assert event_text(_attempt()) == (
        "✅ ada promoted iris v3 to production (was v2). Reason: better &lt;b&gt;accuracy&lt;/b&gt;"
    )
    refused = _attempt(actor="victor", outcome="refused", error="victor is a viewer", reason="")
    assert event_text(refused) == (
        "⛔ Refused: victor tried to promote iris v3 to production (was v2). victor is a viewer"
    )
    rollback = _attempt(action="rollback", to_version="2", from_version="3", reason="")
    assert event_text(rollback) == "✅ ada rolled back iris production to v2 (was v3)"


def test_signature_covers_timestamp_and_body():
    body = encode({"a": 1})
    signed = signature(SECRET, "1700000000", body)
    assert signed.startswith("sha256=") and verify(SECRET, "1700000000", body, signed)
    assert not verify(SECRET, "1700000001", body, signed)  # a replay with a new timestamp
    assert not verify(SECRET, "1700000000", encode({"a": 2}), signed)
    assert not verify("other", "1700000000", body, signed)


def test_masked_target_hides_the_path_token_and_backoff_doubles_to_a_cap():
    masked = mask_target("https://hooks.slack.com/services/T0/B0/XXXXSECRET")
    assert masked.startswith("https://hooks.slack.com/…") and "XXXXSECRET" not in masked
    assert [round(backoff_s(n) / 10) for n in (1, 2, 3)] in ([1, 2, 4], [1, 2, 3], [1, 2, 5], [1, 1, 4])
    assert backoff_s(40) <= 3600 * 1.2


def _registry(make_settings, backend: str, url: str, **overrides: object) -> Registry:
    settings = make_settings(backend, notify_urls_csv=url, notify_secret=SECRET, **overrides)
    return Registry.connect(settings)


@pytest.mark.parametrize("backend", ["http", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_done_and_refused_changes_reach_the_receiver_signed(make_settings, tmp_path, backend):
    with running_receiver(tmp_path, free_port(), secret=SECRET) as receiver:
        reg = _registry(make_settings, backend, receiver.url)
        model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}])
        reg.promote(model, "2", "best so far", actor=ADA)
        with pytest.raises(Refused):
            reg.promote(model, "1", "sneaky", actor=VICTOR)
        assert reg.background_delivery is not None and reg.background_delivery.wait()
        deliver_due(reg.audit.engine, reg.settings)  # whatever the background pass had not reached

        got = receiver.received()
        assert [r["body"]["event"]["outcome"] for r in got] == ["done", "refused"]
        assert all(r["valid"] for r in got)
        assert got[0]["body"]["text"].startswith(f"✅ ada promoted {model} v2 to production")
        assert got[1]["body"]["text"].startswith(f"⛔ Refused: victor tried to promote {model} v1")
        assert got[0]["event"] == got[0]["body"]["id"] == reg.history(model)[0].attempt_id
        status = reg.notification_status()
        assert (status.outbox.delivered, status.outbox.pending, status.outbox.failed) == (2, 0, 0)
        assert receiver.url not in " ".join(status.targets)  # the token in the path is never shown


def test_a_receiver_that_is_down_gets_the_event_when_it_comes_back(make_settings, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook/T0KEN-secret"
    reg = _registry(make_settings, "http", url)
    model = make_model(reg.client, [{"acc": 0.8}])

    result = reg.promote(model, "1", "first", actor=ADA)  # the receiver is down: the action is not

    assert result.outcome == "done" and reg.state(model).holders.production == "1"
    assert reg.background_delivery is not None and reg.background_delivery.wait()
    status = reg.notification_status().outbox
    assert (status.pending, status.retrying, status.delivered) == (1, 1, 0)
    assert status.last_error and "T0KEN" not in status.last_error
    assert deliver_due(reg.audit.engine, reg.settings).tried == 0  # backing off: not due yet

    with running_receiver(tmp_path, port, secret=SECRET) as receiver:
        report = deliver_due(reg.audit.engine, reg.settings, now=datetime.now(UTC) + LATER)
        assert report.delivered == 1
        [got] = receiver.received()
        assert got["valid"] and got["body"]["event"]["to_version"] == "1"
    status = reg.notification_status().outbox
    assert (status.pending, status.delivered, status.failed) == (0, 1, 0)


def test_an_error_answer_is_retried_then_given_up_as_failed(make_settings, tmp_path):
    with running_receiver(tmp_path, free_port(), secret=SECRET, status=500) as receiver:
        reg = _registry(make_settings, "http", receiver.url, notify_max_attempts=3, notify_background=False)
        model = make_model(reg.client, [{"acc": 0.8}])
        reg.promote(model, "1", "first", actor=ADA)
        now = datetime.now(UTC)
        reports = [deliver_due(reg.audit.engine, reg.settings, now=now + i * LATER) for i in range(4)]

        assert [(r.retrying, r.failed) for r in reports] == [(1, 0), (1, 0), (0, 1), (0, 0)]
        assert len(receiver.received()) == 3  # at least once: every try reached it
    status = reg.notification_status().outbox
    assert (status.pending, status.failed) == (0, 1)
    assert status.last_error and status.last_error.startswith("gave up after 3 tries: HTTP 500")


def test_a_broken_outbox_never_loses_or_undoes_the_action(make_settings, tmp_path):
    reg = _registry(make_settings, "http", "http://127.0.0.1:9/hook/x", notify_background=False)
    model = make_model(reg.client, [{"acc": 0.8}])
    with reg.audit.engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {outbox.outbox.name}"))

    result = reg.promote(model, "1", "first", actor=ADA)

    assert result.outcome == "done"
    assert [(a.action, a.outcome) for a in reg.history(model)] == [("promote", "done")]


def test_cli_status_and_one_worker_pass(sqlite_settings, tmp_path, monkeypatch):
    from tests.cli import run_cli

    with running_receiver(tmp_path, free_port(), secret=SECRET) as receiver:
        monkeypatch.setenv("REGISTRY_NOTIFY_URLS", receiver.url)
        monkeypatch.setenv("REGISTRY_NOTIFY_SECRET", SECRET)
        monkeypatch.setenv("REGISTRY_NOTIFY_BACKGROUND", "false")  # the worker sends, not the action
        model = make_model(Registry.connect(sqlite_settings).client, [{"acc": 0.8}])
        assert run_cli(sqlite_settings, "promote", model, "1", "--reason", "first").returncode == 0

        before = run_cli(sqlite_settings, "notify", "status", "--json")
        sent = run_cli(sqlite_settings, "notify", "run", "--once")
        after = run_cli(sqlite_settings, "notify", "status")

        assert json.loads(before.stdout)["pending"] == 1 and "T0KEN" not in before.stdout
        assert sent.returncode == 0 and "delivered 1" in sent.stdout, sent.stderr
        assert "delivered: 1" in after.stdout and "signed: yes" in after.stdout
        assert [r["valid"] for r in receiver.received()] == [True]
