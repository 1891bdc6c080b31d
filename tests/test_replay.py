"""The rollback chain replayed from the audit history, as pure functions over attempts (no store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from registry.audit.log import Attempt
from registry.audit.replay import drift, replay, rollback_target
from registry.store.models import Holders

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(i: int, action: str, to: str | None, frm: str | None = None, target: str = "production",
          outcome: str = "done", actor: str = "ada") -> Attempt:  # fmt: skip
    return Attempt(
        f"a{i}", T0 + timedelta(minutes=i), actor, "lead", "m", action, target, frm, to, "r", outcome
    )


def test_the_holder_before_the_first_audited_change_is_a_rollback_target():
    """An audit log written before baselines existed: the first row's from_version is a fact."""
    state = replay([event(1, "promote", "3", frm="2")])
    assert state.production_stack == ("2", "3")
    assert rollback_target(state, "3") == "2"


def test_rollback_walks_back_across_observed_outside_and_audited_changes():
    state = replay(
        [
            event(1, "observed", "1", actor="mlflow"),
            event(2, "promote", "2", frm="1"),
            event(3, "outside", "3", frm="2", actor="mlflow"),
            event(4, "promote", "4", frm="3"),
        ]
    )
    assert state.production_stack == ("1", "2", "3", "4")
    assert rollback_target(state, "4") == "3"
    walked = replay(
        [
            event(1, "observed", "1", actor="mlflow"),
            event(2, "promote", "2", frm="1"),
            event(3, "outside", "3", frm="2", actor="mlflow"),
            event(4, "rollback", "2", frm="3"),
        ]
    )
    assert rollback_target(walked, "2") == "1"


def test_archived_and_unavailable_versions_are_never_automatic_targets():
    state = replay(
        [event(1, "observed", "1"), event(2, "promote", "2", frm="1"), event(3, "promote", "3", frm="2")]
    )
    assert rollback_target(state, "3", unavailable={"2"}) == "1"
    archived = replay(
        [*[event(1, "observed", "1")], event(2, "promote", "2", frm="1"), event(3, "archive", "1")]
    )
    assert rollback_target(archived, "2") is None


def test_failed_refused_and_incomplete_attempts_move_nothing():
    state = replay(
        [
            event(1, "promote", "1"),
            event(2, "promote", "2", frm="1", outcome="failed"),
            event(3, "promote", "2", frm="1", outcome="refused"),
            event(4, "promote", "2", frm="1", outcome="incomplete"),
        ]
    )
    assert (state.production, state.production_stack) == ("1", ("1",))


def test_slots_have_chains_of_their_own():
    state = replay(
        [
            event(1, "promote", "1", target="staging"),
            event(2, "promote", "2", target="staging", frm="1"),
            event(3, "promote", "2", frm=None),
        ]
    )
    assert (state.production, state.staging) == ("2", None)  # promoting the staging holder frees staging
    assert state.slot("staging").chain == ("1", "2")
    assert rollback_target(state, None, slot="staging") == "2"


def test_a_baseline_raises_no_drift_and_an_outside_change_does():
    baseline = replay([event(1, "observed", "2", actor="mlflow")])
    assert drift(baseline, Holders("2", None)) == []
    outside = replay([event(1, "observed", "2"), event(2, "outside", "3", frm="2", actor="mlflow")])
    [warning] = drift(outside, Holders("3", None))
    assert "MLflow says v3, the audit log says v2" in warning and "recorded 2026-01-01 00:02 UTC" in warning
    assert drift(replay([]), Holders("5", None)) == []  # never met (audit not writable): nothing to compare
    assert drift(replay([event(1, "promote", "1")]), Holders("5", None)) == [
        "production: MLflow says v5, the audit log says v1 (changed outside the dashboard)"
    ]
