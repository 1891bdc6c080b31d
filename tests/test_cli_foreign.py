"""The command line on a registry built by hand (tests/foreign_registry.py): adopt, list, promote, roll
back and read the history as a new user would, plus the terminal's manners (stderr, one line, pipes)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from registry.service import Registry
from tests.cli import ROOT, run_cli
from tests.conftest import build_settings
from tests.foreign_registry import Foreign, build_foreign_registry


@pytest.fixture(scope="module")
def _foreign_store(request, tmp_path_factory) -> tuple[Path, Foreign]:
    """The hand-built registry, built once for the module in a SQLite store of its own."""
    home = tmp_path_factory.mktemp("foreign-registry")
    built = build_foreign_registry(Registry.connect(build_settings(request, "sqlite", home)).client, many=3)
    return home / "mlflow.db", built


@pytest.fixture
def foreign(_foreign_store, sqlite_settings) -> Foreign:
    """A copy of that store as this test's own (each test changes it): building one through the
    client costs ~3 s of CPU, copying the file a few milliseconds. Its runs keep their artifacts
    where the build put them, which no test here changes."""
    database, built = _foreign_store
    shutil.copyfile(database, sqlite_settings.home / "mlflow.db")
    return built


def test_adopt_lists_every_model_once_and_is_idempotent(sqlite_settings, foreign):
    first = run_cli(sqlite_settings, "adopt", "--json")
    assert first.returncode == 0, first.stderr
    adopted = {a["model"]: a for a in json.loads(first.stdout)}
    assert set(adopted) == set(foreign.names)
    assert adopted[foreign.stages]["production"] == "2" and adopted[foreign.stages]["mode"] == "stages"
    assert adopted[foreign.empty]["recorded"] == 1
    again = run_cli(sqlite_settings, "adopt")
    assert again.returncode == 0 and again.stdout.count("already known") == len(foreign.names)
    history = json.loads(run_cli(sqlite_settings, "history", foreign.aliases, "--json").stdout)
    assert [(h["action"], h["actor"], h["to_version"]) for h in history] == [("observed", "mlflow", "2")]


def test_models_shows_stage_mode_holders(sqlite_settings, foreign):
    listed = json.loads(run_cli(sqlite_settings, "models", "--json").stdout)["models"]
    by_name = {m["name"]: m for m in listed}
    assert (by_name[foreign.stages]["mode"], by_name[foreign.stages]["production"]) == ("stages", "2")
    assert by_name[foreign.stages]["staging"] == "3"
    assert by_name[foreign.aliases]["production"] == "2"
    text = run_cli(sqlite_settings, "models", "--search", "digits_sgd").stdout
    assert "stages" in text and "v2" in text and "v3" in text
    assert by_name[foreign.slotted]["serving_slot"] == "champion"
    assert "v1 (champion)" in run_cli(sqlite_settings, "models", "--search", "scorer").stdout


@pytest.mark.parametrize("which,newer,mode", [("aliases", "3", "aliases"), ("stages", "4", "stages")])
def test_promote_then_rollback_restores_the_hand_set_holder(sqlite_settings, foreign, which, newer, mode):
    name = getattr(foreign, which)
    promoted = run_cli(sqlite_settings, "promote", name, newer, "--reason", "newer")
    assert promoted.returncode == 0, promoted.stderr
    rolled = run_cli(sqlite_settings, "rollback", name, "--reason", "back to the hand-set one")
    assert rolled.returncode == 0, rolled.stderr
    assert f"rolled back to v2 (was v{newer})" in rolled.stdout
    versions = json.loads(run_cli(sqlite_settings, "versions", name, "--json").stdout)
    assert (versions["mode"], versions["holders"]["production"]) == (mode, "2")


def test_a_hand_made_change_appears_in_history_json_as_outside(sqlite_settings, foreign):
    reg = Registry.connect(sqlite_settings)
    run_cli(sqlite_settings, "adopt")
    reg.client.set_registered_model_alias(foreign.aliases, "production", "1")  # by hand
    for _ in range(2):
        plan = json.loads(run_cli(sqlite_settings, "plan", "rollback", foreign.aliases, "--json").stdout)
    assert plan["version"] == "2" and "MLflow says v1" in plan["drift"][0]
    history = json.loads(run_cli(sqlite_settings, "history", foreign.aliases, "--json").stdout)
    outside = [h for h in history if h["action"] == "outside"]
    assert [(h["actor"], h["from_version"], h["to_version"]) for h in outside] == [("mlflow", "2", "1")]
    assert outside[0]["reason"].startswith("noticed by the dashboard")


def test_refusals_are_one_line_on_stderr_without_a_doubled_prefix(sqlite_settings, foreign):
    refused = run_cli(sqlite_settings, "promote", foreign.odd_sources, "2", "--reason", "try", process=True)
    assert refused.returncode == 3 and refused.stdout == ""
    assert refused.stderr.endswith("\n") and refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr.startswith("refused: ") and "refused: refused" not in refused.stderr
    assert "was deleted" in refused.stderr and "force" in refused.stderr
    forced = run_cli(sqlite_settings, "promote", foreign.odd_sources, "2", "--reason", "known", "--force")
    assert forced.returncode == 0, forced.stderr
    args = ("promote", foreign.odd_sources, "1", "--reason", "x", "--json")
    as_json = run_cli(sqlite_settings, *args)  # the same refusal, the same path: no second interpreter
    assert json.loads(as_json.stdout)["error"] == "refused" and as_json.stderr.count("\n") == 1


def test_a_closed_pipe_ends_quietly(sqlite_settings, foreign):
    """`history --json | head`: the reader is gone before the output is written (closed here at once)."""
    run_cli(sqlite_settings, "adopt")
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": sqlite_settings.effective_tracking_uri,
        "REGISTRY_AUDIT_URL": sqlite_settings.effective_audit_url,
        "REGISTRY_HOME": str(sqlite_settings.home),
    }
    argv = [sys.executable, "-m", "registry", "history", "--json"]
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `head` after its lines
    proc.wait(timeout=120)
    assert proc.stderr.read() == b"" and proc.returncode == 141


# managed slots: a model whose registry.slots tag (set by hand) names champion and challenger --------
def _aliases(sqlite_settings, name: str) -> dict[str, str]:
    aliases = Registry.connect(sqlite_settings).client.get_registered_model(name).aliases
    return {alias: str(version) for alias, version in aliases.items()}


def test_promote_to_challenger_then_rollback_restores_the_hand_set_challenger(sqlite_settings, foreign):
    name = foreign.slotted
    versions = json.loads(run_cli(sqlite_settings, "versions", name, "--json").stdout)
    assert versions["slots"] == ["champion", "challenger"]
    assert versions["holders"]["slots"] == {"champion": "1", "challenger": "2"}
    promoted = run_cli(
        sqlite_settings, "promote", name, "3", "--to", "challenger", "--reason", "new candidate"
    )
    assert promoted.returncode == 0, promoted.stderr
    assert "promoted to challenger: v3 (was v2)" in promoted.stdout
    assert _aliases(sqlite_settings, name) == {"champion": "1", "challenger": "3", "production": "1"}
    rolled = run_cli(sqlite_settings, "rollback", name, "--slot", "challenger", "--reason", "v3 is noisy")
    assert rolled.returncode == 0, rolled.stderr
    assert f"{name} challenger rolled back to v2 (was v3)" in rolled.stdout
    # the hand-set challenger is back; champion and the unmanaged production alias were never touched
    assert _aliases(sqlite_settings, name) == {"champion": "1", "challenger": "2", "production": "1"}
    history = json.loads(run_cli(sqlite_settings, "history", name, "--json").stdout)
    assert [(h["action"], h["target"], h["to_version"], h["outcome"]) for h in history] == [
        ("observed", "champion", "1", "done"),
        ("observed", "challenger", "2", "done"),
        ("promote", "challenger", "3", "done"),
        ("rollback", "challenger", "2", "done"),
    ]


def test_an_alias_the_model_does_not_manage_is_refused_naming_the_ones_it_does(sqlite_settings, foreign):
    for alias in ("production", "shadow"):
        refused = run_cli(sqlite_settings, "promote", foreign.slotted, "3", "--to", alias, "--reason", "try")
        assert refused.returncode == 2 and refused.stdout == ""
        assert refused.stderr == (
            f"bad input: '{alias}' is not a slot this model manages: use one of champion, challenger "
            "(the registry.slots tag or slots = [...] in registry.toml lists them)\n"
        )
    assert _aliases(sqlite_settings, foreign.slotted)["production"] == "1"


def test_archive_from_a_slot_archives_its_holder_and_leaves_the_other_slot(sqlite_settings, foreign):
    both = run_cli(sqlite_settings, "archive", foreign.slotted, "2", "--from", "challenger", "--reason", "x")
    assert both.returncode == 2 and "name a VERSION, or --from SLOT" in both.stderr
    done = run_cli(sqlite_settings, "archive", foreign.slotted, "--from", "challenger", "--reason", "retired")
    assert done.returncode == 0, done.stderr
    assert _aliases(sqlite_settings, foreign.slotted) == {"champion": "1", "production": "1"}
    reg = Registry.connect(sqlite_settings)
    assert reg.client.get_model_version(foreign.slotted, "2").tags["registry.archived"] == "true"
    empty = run_cli(sqlite_settings, "archive", foreign.slotted, "--from", "challenger", "--reason", "again")
    assert empty.returncode == 2 and "no version holds challenger" in empty.stderr


def test_a_protected_challenger_refuses_a_non_mover_and_the_refusal_is_audited(sqlite_settings, foreign):
    reg = Registry.connect(sqlite_settings)
    reg.client.set_registered_model_tag(
        foreign.slotted, "registry.slots.challenger.movers", "grace"
    )  # by hand
    refused = run_cli(
        sqlite_settings, "promote", foreign.slotted, "3", "--to", "challenger", "--reason", "mine"
    )
    assert refused.returncode == 3 and refused.stdout == ""
    assert "challenger is protected: only grace may move it" in refused.stderr
    assert _aliases(sqlite_settings, foreign.slotted)["challenger"] == "2"
    [last] = [a for a in reg.history(foreign.slotted) if a.action == "promote"]
    assert (last.outcome, last.target, last.to_version) == ("refused", "challenger", "3")
    assert "challenger is protected" in last.error  # the audit says why
    champion = run_cli(sqlite_settings, "promote", foreign.slotted, "3", "--to", "champion", "--reason", "ok")
    assert champion.returncode == 0, champion.stderr  # champion is not protected


def test_a_challenger_moved_by_hand_is_recorded_once_as_an_outside_change_of_challenger(
    sqlite_settings, foreign
):
    reg = Registry.connect(sqlite_settings)
    run_cli(sqlite_settings, "adopt")
    reg.client.set_registered_model_alias(foreign.slotted, "challenger", "3")  # by hand, in MLflow
    reg.client.set_registered_model_alias(foreign.slotted, "production", "3")  # not managed here: no event
    for _ in range(2):
        plan = json.loads(
            run_cli(
                sqlite_settings, "plan", "rollback", foreign.slotted, "--to", "challenger", "--json"
            ).stdout
        )
    assert plan["target"] == "challenger" and plan["version"] == "2"
    assert plan["drift"] == [
        "challenger: MLflow says v3, the audit log says v2 (changed outside the dashboard; recorded "
        + plan["drift"][0].split("recorded ")[1]
    ]
    history = json.loads(run_cli(sqlite_settings, "history", foreign.slotted, "--json").stdout)
    outside = [(h["action"], h["target"], h["from_version"], h["to_version"]) for h in history[2:]]
    assert outside == [("outside", "challenger", "2", "3")]
