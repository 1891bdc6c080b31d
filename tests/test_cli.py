"""The command line against a real store: output and exit codes (its main in-process, see tests/cli.py)."""

from __future__ import annotations

import json

import pytest

from registry.errors import Conflict
from registry.fronts import cli
from registry.service import Registry
from tests.cli import cli_env, run_cli, run_command
from tests.factories import make_model


@pytest.fixture
def model(sqlite_settings) -> str:
    reg = Registry.connect(sqlite_settings)
    return make_model(
        reg.client, [{"acc": 0.8}, {"acc": 0.9}, {"acc": 0.5}], model_tags={"registry.gate.metric": "acc"}
    )


def test_promote_then_versions_and_history(sqlite_settings, model):
    done = run_cli(sqlite_settings, "promote", model, "1", "--reason", "first release")
    assert done.returncode == 0, done.stderr
    assert "promoted to production: v1" in done.stdout

    versions = run_cli(sqlite_settings, "versions", model, "--json")
    assert json.loads(versions.stdout)["holders"]["production"] == "1"

    history = json.loads(run_cli(sqlite_settings, "history", model, "--json").stdout)
    assert [(h["action"], h["to_version"], h["actor"], h["outcome"]) for h in history] == [
        ("promote", "1", "ada", "done")
    ]


def test_missing_or_empty_reason_is_bad_input(sqlite_settings, model):
    assert run_cli(sqlite_settings, "promote", model, "1").returncode == 2
    empty = run_cli(sqlite_settings, "promote", model, "1", "--reason", " ")
    assert empty.returncode == 2 and "reason is required" in empty.stderr
    assert "Traceback" not in empty.stderr


def test_viewer_is_refused_with_exit_3(sqlite_settings, model):
    refused = run_cli(sqlite_settings, "promote", model, "1", "--reason", "mine", actor="victor")
    assert refused.returncode == 3 and "viewer" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_gate_refuses_then_force_passes(sqlite_settings, model):
    assert run_cli(sqlite_settings, "promote", model, "2", "--reason", "baseline").returncode == 0
    plan = json.loads(run_cli(sqlite_settings, "plan", "promote", model, "3", "--json").stdout)
    assert plan["needs_force"] and not plan["allowed"]
    assert run_cli(sqlite_settings, "promote", model, "3", "--reason", "worse").returncode == 3
    forced = run_cli(sqlite_settings, "promote", model, "3", "--reason", "accepted trade-off", "--force")
    assert forced.returncode == 0, forced.stderr


def test_rollback_and_archive(sqlite_settings, model):
    for v in ("1", "2"):
        run_cli(sqlite_settings, "promote", model, v, "--reason", f"v{v}")
    rolled = run_cli(sqlite_settings, "rollback", model, "--reason", "v2 regressed")
    assert rolled.returncode == 0 and "rolled back to v1" in rolled.stdout
    archived = run_cli(sqlite_settings, "archive", model, "2", "--reason", "broken")
    assert archived.returncode == 0, archived.stderr


def test_unknown_model_is_bad_input(sqlite_settings):
    missing = run_cli(sqlite_settings, "versions", "no-such-model")
    assert missing.returncode == 2 and "no-such-model" in missing.stderr


def test_unreachable_store_exits_5_quickly(sqlite_settings, tmp_path):
    settings = sqlite_settings.model_copy(update={"tracking_uri": "http://127.0.0.1:9"})
    down = run_cli(settings, "models")
    assert down.returncode == 5
    assert "did not answer" in down.stderr and "Traceback" not in down.stderr


def test_conflict_maps_to_exit_4_without_traceback(monkeypatch, capsys, sqlite_settings, model):
    """Plan and apply run back to back in one CLI call; the mapping of a Conflict is checked in process."""

    def conflicting(*_args, **_kwargs):
        raise Conflict(f"{model} changed since the plan was made")

    monkeypatch.setenv("MLFLOW_TRACKING_URI", sqlite_settings.effective_tracking_uri)
    monkeypatch.setenv("REGISTRY_AUDIT_URL", sqlite_settings.effective_audit_url)
    monkeypatch.setattr(Registry, "promote", conflicting)
    assert cli.main(["promote", model, "1", "--reason", "x"]) == 4
    assert "conflict: " in capsys.readouterr().err


def test_runs_and_experiments_listing(sqlite_settings):
    reg = Registry.connect(sqlite_settings)
    exp = reg.client.create_experiment("cli-listing", artifact_location=(sqlite_settings.home / "a").as_uri())
    for acc in (0.7, 0.9):
        run = reg.client.create_run(exp)
        reg.client.log_metric(run.info.run_id, "accuracy", acc)
    listed = run_cli(sqlite_settings, "experiments")
    assert "cli-listing" in listed.stdout
    runs = run_cli(sqlite_settings, "runs", "cli-listing", "--order-by", "metrics.accuracy DESC", "--json")
    assert runs.returncode == 0, runs.stderr
    assert [r["metrics.accuracy"] for r in json.loads(runs.stdout)["runs"]] == [0.9, 0.7]
    bad = run_cli(sqlite_settings, "runs", "cli-listing", "--filter", "metrics.accuracy >>> 1")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


# Each way of failing runs once in a process of its own (one line on a real stderr, log records
# included); audit-timeout fails where identity does (the settings' validation, before any store is
# opened), so it runs here, as the CLI's own `main`, to spare an interpreter (~4 s of CPU).
@pytest.mark.parametrize(
    ("env", "args", "process"),
    [
        ({}, ("models", "--max-results", "0"), True),
        ({"REGISTRY_AUDIT_URL": "nonsense"}, ("history",), True),
        ({"REGISTRY_AUDIT_TIMEOUT": "abc"}, ("models",), False),
        ({"REGISTRY_IDENTITY": "ldap"}, ("models",), True),
        ({"REGISTRY_CONFIG": "."}, ("versions", "anything"), True),
    ],
    ids=["max-results-0", "audit-url", "audit-timeout", "identity", "config-is-a-folder"],
)
def test_bad_input_and_bad_settings_exit_2_in_one_line(sqlite_settings, monkeypatch, env, args, process):
    settings = sqlite_settings
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if "REGISTRY_AUDIT_URL" in env:  # run_cli sets it from the settings
        settings = settings.model_copy(update={"audit_url": env["REGISTRY_AUDIT_URL"]})
    done = run_cli(settings, *args, process=process)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "unexpected" not in done.stderr, done.stderr


def test_a_dead_postgresql_tracking_store_is_reported_without_a_long_retry(sqlite_settings, monkeypatch):
    from tests.stack import free_port

    monkeypatch.setenv("REGISTRY_HTTP_TIMEOUT", "3")
    dead = sqlite_settings.model_copy(
        update={"tracking_uri": f"postgresql://u@127.0.0.1:{free_port()}/mlflow"}
    )
    done = run_cli(dead, "experiments", timeout=60)  # MLflow alone retries for about 100 s
    assert done.returncode == 5 and "did not answer" in done.stderr, done.stderr


def test_audit_verify_exits_0_when_intact_and_4_naming_a_rewritten_row(sqlite_settings, model):
    import sqlalchemy as sa

    from registry.audit.log import events

    assert run_cli(sqlite_settings, "promote", model, "1", "--reason", "first release").returncode == 0
    intact = run_cli(sqlite_settings, "audit", "verify")
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.startswith("audit log intact: ") and "row(s) checked" in intact.stdout
    kept = json.loads(run_cli(sqlite_settings, "audit", "verify", "--json").stdout)["head_hash"]
    assert run_cli(sqlite_settings, "audit", "verify", "--anchor", kept).returncode == 0
    assert run_cli(sqlite_settings, "audit", "verify", "--anchor", "not-a-hash").returncode == 2

    audit = Registry.connect(sqlite_settings).audit
    with audit.engine.begin() as conn:  # someone with the database file drops a trigger and rewrites
        conn.execute(sa.text("DROP TRIGGER registry_audit_no_update"))
        row = conn.execute(sa.select(events.c.id).where(events.c.reason == "first release")).scalars().first()
        conn.execute(sa.update(events).where(events.c.id == row).values(reason="routine"))

    altered = run_cli(sqlite_settings, "audit", "verify")
    assert altered.returncode == 4 and "Traceback" not in altered.stderr
    said = altered.stderr.splitlines()[-1]  # above it: the log's note that the triggers were recreated
    assert said.startswith("conflict: ") and f"broken at row {row} (model {model}, at " in said
    assert "rewritten" in altered.stdout and "missing when the log was opened" in altered.stdout
    report = json.loads(run_cli(sqlite_settings, "audit", "verify", "--json").stdout)
    assert not report["intact"] and report["broken"]["id"] == row and report["broken"]["model"] == model

    lead = run_cli(sqlite_settings, "audit", "acknowledge", "--reason", "looked into it")
    assert lead.returncode == 3 and "only an admin" in lead.stderr
    as_admin = {**cli_env(sqlite_settings), "REGISTRY_ADMINS": "ada"}
    done = run_command(["audit", "acknowledge", "--reason", "INC-7: restored"], as_admin)
    assert done.returncode == 0 and "acknowledged by ada" in done.stdout, done.stderr
    assert run_cli(sqlite_settings, "audit", "verify").returncode == 0
