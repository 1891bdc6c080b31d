"""A stateful property test over random action sequences, in both modes.

Whatever leads and viewers do, in whatever order: at most one version holds production, replaying
the audit log gives MLflow's state for every managed slot (production and staging, or a model's own
champion, challenger and shadow), a version holds one managed slot at a time, and no version is
ever deleted.
"""

from __future__ import annotations

import contextlib
import os
import warnings

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from registry.access.identity import Actor
from registry.audit.replay import replay
from registry.errors import RegistryError
from registry.service import Registry
from tests.factories import make_model

VERSIONS = ("1", "2", "3", "4")
LEADS = (Actor("alice", "lead"), Actor("bob", "lead"))
VIEWER = Actor("victor", "viewer")
# Random sequences per run on SQLite (a third of them over HTTP on PostgreSQL): a few in `make test`,
# where every step and invariant still runs; REGISTRY_PROPERTY_EXAMPLES=100 for a deeper search.
EXAMPLES = int(os.environ.get("REGISTRY_PROPERTY_EXAMPLES", "8"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])])
def registry_for_machine(request, make_settings) -> Registry:
    """Direct SQLite; and once on a server and an audit log in PostgreSQL (fewer examples: over HTTP)."""
    return Registry.connect(make_settings(request.param))


def test_random_action_sequences_keep_the_invariants(registry_for_machine: Registry) -> None:
    reg = registry_for_machine

    class LifecycleMachine(RuleBasedStateMachine):
        @initialize(mode=st.sampled_from(["aliases", "stages", "slots"]))
        def new_model(self, mode: str) -> None:
            tags = {"registry.mode": mode}
            self.slots = ("production", "staging")
            if mode == "slots":
                tags = {"registry.mode": "aliases", "registry.slots": "champion, challenger, shadow"}
                self.slots = ("champion", "challenger", "shadow")
            self.model = make_model(
                reg.client, [{"acc": 0.5 + i / 10} for i in range(len(VERSIONS))], model_tags=tags
            )
            self.mode = mode

        @rule(
            version=st.sampled_from(VERSIONS),
            where=st.integers(min_value=0, max_value=2),
            actor=st.sampled_from(LEADS),
        )
        def promote(self, version: str, where: int, actor: Actor) -> None:
            slot = self.slots[where % len(self.slots)]
            self._try(lambda: reg.promote(self.model, version, "random promote", actor=actor, target=slot))

        @rule(version=st.sampled_from(VERSIONS))
        def archive(self, version: str) -> None:
            self._try(lambda: reg.archive(self.model, version, "random archive", actor=LEADS[0]))

        @rule(to=st.one_of(st.none(), st.sampled_from(VERSIONS)), which=st.integers(min_value=0, max_value=2))
        def rollback(self, to: str | None, which: int) -> None:
            slot = self.slots[which % len(self.slots)]
            self._try(
                lambda: reg.rollback(self.model, "random rollback", actor=LEADS[1], to_version=to, slot=slot)
            )

        @rule(version=st.sampled_from(VERSIONS))
        def viewer_tries(self, version: str) -> None:
            before = reg.state(self.model).holders
            self._try(lambda: reg.promote(self.model, version, "not mine to do", actor=VIEWER))
            assert reg.state(self.model).holders == before
            assert reg.history(self.model)[-1].outcome == "refused"

        @rule(version=st.sampled_from(VERSIONS))
        def stale_plan_conflicts(self, version: str) -> None:
            stale = reg.plan("promote", self.model, version, actor=LEADS[0])
            other = next(v for v in VERSIONS if v != version)
            self._try(lambda: reg.promote(self.model, other, "someone else first", actor=LEADS[1]))
            if reg.history(self.model)[-1].outcome == "done":
                with pytest.raises(RegistryError):
                    reg.apply(stale, "too late", actor=LEADS[0])

        def _try(self, action) -> None:  # type: ignore[no-untyped-def]
            with contextlib.suppress(RegistryError):  # refusals and conflicts are expected; nothing else
                action()

        @invariant()
        def one_production_holder(self) -> None:
            versions = reg.client.search_model_versions(f"name = '{self.model}'")
            assert len([v for v in versions if v.current_stage == "Production"]) <= 1
            assert len(versions) == len(VERSIONS)  # nothing deleted

        @invariant()
        def audit_replay_equals_registry_state(self) -> None:
            state = reg.state(self.model)
            assert state.policy.slots == self.slots
            replayed = replay(reg.history(self.model), state.policy.slots)
            assert {slot: replayed.slot(slot).holder for slot in self.slots} == state.holders.by_slot
            assert not any(a.outcome == "incomplete" for a in reg.history(self.model))
            primary = state.holders.of(self.slots[0])
            if primary:
                assert not state.versions[primary].archived
            held = [v for v in state.holders.by_slot.values() if v]
            assert len(held) == len(set(held))  # one managed slot per version

    examples = EXAMPLES if reg.settings.effective_audit_url.startswith("sqlite") else max(1, EXAMPLES // 3)
    LifecycleMachine.TestCase.settings = settings(
        max_examples=examples, stateful_step_count=10, deadline=None, suppress_health_check=list(HealthCheck)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        LifecycleMachine.TestCase().runTest()
