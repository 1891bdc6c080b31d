"""MLflow's webhooks into the audit log: a real `mlflow server` delivering to `webhooks serve` on loopback.

The session's tracking server runs with MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS=true and http allowed (test
stack only, tests/stack.py): MLflow refuses loopback receivers otherwise. The receiver is the real
CLI command in its own process; the changes are made with the plain MlflowClient, as by hand.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from registry.access.identity import Actor
from registry.audit.deliveries import Delivery, parse_delivery, record_delivery
from registry.audit.log import Attempt
from registry.audit.replay import replay
from registry.fronts import webhooks
from registry.service import Registry
from registry.settings import Settings
from tests.cli import run_cli
from tests.conftest import build_settings
from tests.factories import make_model
from tests.stack import ServerProcess, free_port

LEAD = Actor("alice", "lead")


def test_our_signature_is_mlflows():
    """Pinned to MLflow 3.17.2's own signing function, so a change in MLflow's scheme fails here."""
    from mlflow.webhooks.delivery import _generate_hmac_signature

    body = json.dumps({"entity": "model_version_alias", "data": {"name": "m ñ"}})
    assert webhooks.signature("s3cret", "d-1", "1700000000", body.encode()) == _generate_hmac_signature(
        "s3cret", "d-1", "1700000000", body
    )


@pytest.fixture(scope="module")
def http_settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One audit log for the module: `install` adopts every model of the shared server once."""
    return build_settings(request, "http", tmp_path_factory.mktemp("webhooks"))


@pytest.fixture(scope="module")
def receiver(http_settings: Settings) -> Iterator[tuple[str, str]]:
    """`webhooks install` on the session's server, then `webhooks serve`; yields (url, secret)."""
    import os
    import sys

    port = free_port()
    url = f"http://127.0.0.1:{port}{webhooks.PATH}"
    installed = run_cli(http_settings, "webhooks", "install", "--url", url, "--json")
    assert installed.returncode == 0, installed.stderr
    assert json.loads(installed.stdout)["adopted"] >= 0
    hook_id = json.loads(installed.stdout)["webhook_id"]
    secret_file = webhooks.secret_path(http_settings)
    assert secret_file.stat().st_mode & 0o077 == 0  # only its owner reads it
    assert secret_file.read_text().strip() not in installed.stdout + installed.stderr  # never shown
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": http_settings.effective_tracking_uri,
        "REGISTRY_AUDIT_URL": http_settings.effective_audit_url,
        "REGISTRY_HOME": str(http_settings.home),
    }
    argv = [sys.executable, "-m", "registry", "webhooks", "serve", "--port", str(port)]
    log = http_settings.home / "receiver.log"
    server = ServerProcess("webhooks serve", argv, log, env, Path(__file__).parents[1])
    try:
        server.wait_until_answers(f"http://127.0.0.1:{port}/health", timeout_s=60)
        yield url, secret_file.read_text().strip()
    finally:
        server.stop()
        Registry.connect(http_settings).client.delete_webhook(hook_id)


def outside_events(
    reg: Registry, model: str, targets: set[str], wanted: int, timeout_s: float = 30
) -> list[Attempt]:
    """The model's outside events on those targets, once there are `wanted` of them and every target
    has one (a late delivery of an earlier change must not stand in for one still on its way)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [a for a in reg.history(model) if a.action == "outside" and a.target in targets]
        complete = len(found) >= wanted and {a.target for a in found} == targets
        if complete or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def signed(secret: str, body: bytes, delivery_id: str, at: int | None = None) -> dict[str, str]:
    stamp = str(at if at is not None else int(time.time()))
    return {
        webhooks.DELIVERY_ID_HEADER: delivery_id,
        webhooks.TIMESTAMP_HEADER: stamp,
        webhooks.SIGNATURE_HEADER: webhooks.signature(secret, delivery_id, stamp, body),
    }


def test_a_hand_made_alias_change_arrives_by_webhook_with_mlflows_time(http_settings, receiver):
    reg = Registry.connect(http_settings)
    model = make_model(reg.client, [{"acc": 0.8}, {"acc": 0.9}])
    reg.promote(model, "1", "first", actor=LEAD)  # ours: its own deliveries are recognised
    before = time.time()
    reg.client.set_registered_model_alias(model, "production", "2")  # by hand
    reg.client.set_registered_model_alias(model, "champion", "2")  # an alias that is no slot
    reg.client.set_model_version_tag(model, "2", "validated", "yes")
    found = outside_events(reg, model, {"production", "alias", "tag"}, 3)
    by_target = {a.target: a for a in found}
    assert set(by_target) == {"production", "alias", "tag"}, [a.reason for a in found]
    moved = by_target["production"]
    assert (moved.actor, moved.from_version, moved.to_version) == ("mlflow", "1", "2")
    assert moved.reason == "webhook model_version_alias.created: alias 'production' set to v2"
    assert before - 5 <= moved.at.timestamp() <= time.time()
    assert "alias 'champion' set to v2" in by_target["alias"].reason
    assert "tag validated=yes on v2" in by_target["tag"].reason
    assert not [a for a in reg.history(model) if a.action == "outside" and "registry." in a.reason]
    versions = outside_events(reg, model, {"version"}, 2)  # made by hand too, after the receiver began
    assert [a.reason.split(": ", 1)[1][:16] for a in versions] == ["v1 registered fr", "v2 registered fr"]
    history = reg.model_history(model)  # detection finds nothing more to record
    assert len([a for a in history.attempts if a.action == "outside"]) == 5
    assert history.rollback_to == "1" and "MLflow says v2, the audit log says v1" in history.drift[0]
    json_history = json.loads(run_cli(http_settings, "history", model, "--json").stdout)
    assert [h["actor"] for h in json_history if h["action"] == "outside"] == ["mlflow"] * 5


def test_unsigned_forged_and_replayed_deliveries_are_refused_and_redeliveries_record_once(
    http_settings, receiver
):
    url, secret = receiver
    reg = Registry.connect(http_settings)
    model = make_model(reg.client, [{"acc": 0.8}])
    body = json.dumps(
        {
            "entity": "model_version_tag",
            "action": "set",
            "timestamp": "2026-01-01T00:00:00+00:00",
            "data": {"name": model, "version": "1", "key": "k", "value": "v"},
        }
    ).encode()
    assert post(url, body, {})[0] == 401
    forged = signed("not-the-secret", body, str(uuid.uuid4()))
    assert post(url, body, forged)[0] == 401
    stale = signed(secret, body, str(uuid.uuid4()), at=int(time.time()) - 3600)
    status, said = post(url, body, stale)
    assert status == 401 and "replay" in said["message"]
    good = signed(secret, body, str(uuid.uuid4()))
    assert post(url, body, good) == (
        200,
        {"delivery": good[webhooks.DELIVERY_ID_HEADER], "result": "recorded"},
    )
    assert post(url, body, good)[1]["result"] == "already recorded"
    time.sleep(1)
    assert len(outside_events(reg, model, {"tag"}, 1)) == 1
    assert post(url, b"{not json", signed(secret, b"{not json", str(uuid.uuid4())))[0] == 400


def test_a_managed_alias_moved_by_hand_arrives_as_an_outside_change_of_its_slot(http_settings, receiver):
    reg = Registry.connect(http_settings)
    model = make_model(
        reg.client, [{"acc": 0.8}, {"acc": 0.9}], model_tags={"registry.slots": "champion, challenger"}
    )
    reg.promote(model, "1", "first", actor=LEAD, target="challenger")  # ours: recognised, not recorded again
    reg.client.set_registered_model_alias(model, "challenger", "2")  # by hand
    reg.client.set_registered_model_alias(
        model, "production", "2"
    )  # not managed by this model: an alias event
    found = outside_events(reg, model, {"challenger", "alias"}, 2)
    by_target = {a.target: a for a in found}
    assert set(by_target) == {"challenger", "alias"}, [a.reason for a in found]
    moved = by_target["challenger"]
    assert (moved.from_version, moved.to_version) == ("1", "2")
    assert moved.reason == "webhook model_version_alias.created: alias 'challenger' set to v2"
    history = reg.model_history(model)  # detection agrees: nothing more recorded for challenger
    assert [a.target for a in history.attempts if a.action == "outside" and a.target == "challenger"] == [
        "challenger"
    ]
    assert history.rollback_targets["challenger"] == "1"


def _alias_delivery(model: str, alias: str, version: str, at: datetime) -> Delivery:
    """A delivery as MLflow sends it for `set_registered_model_alias` (mlflow/webhooks/types.py)."""
    body = {
        "entity": "model_version_alias",
        "action": "created",
        "timestamp": at.isoformat(),
        "data": {"name": model, "alias": alias, "version": version},
    }
    return parse_delivery(uuid.uuid4().hex, body)


def test_a_late_delivery_of_an_earlier_alias_change_does_not_move_the_slot_back(sqlite_settings):
    """MLflow delivers from a thread pool: production→v1 can arrive after production→v2. Taken in
    arrival order, the history said v1 held production while MLflow said v2 (seen in CI)."""
    reg = Registry.connect(sqlite_settings)
    model, t1 = "late-delivery", datetime.now(UTC) - timedelta(seconds=30)
    first, second = (
        _alias_delivery(model, "production", v, t1 + timedelta(seconds=s)) for v, s in (("1", 0), ("2", 1))
    )

    assert record_delivery(reg.audit, reg.settings, second) == "recorded"
    assert record_delivery(reg.audit, reg.settings, first) == "recorded"

    attempts = reg.audit.attempts(model)
    assert replay(attempts, ["production"]).slot("production").holder == "2"
    late = next(a for a in attempts if a.attempt_id == first.delivery_id)
    assert (late.target, late.to_version, late.outcome) == ("alias", "1", "done")
    assert late.at == t1 and "arrived after" in late.reason
