"""The guards a candidate must pass, as pure functions over what the plan read.

Each check returns pass or fail with a sentence a lead can act on; the plan shows them all, and
`apply` refuses on any failure except the overridable ones (the metric gate, a source run that is gone
or never existed), which a lead may pass with force and a reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from registry.domain.actors import TAG_LEADS, Actor, actor_for_model
from registry.domain.labels import version_label
from registry.domain.model_state import VersionInfo
from registry.domain.policy import Gate


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    overridable: bool = False  # a lead may force past it with a reason (gate, source run)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def check_actor(actor: Actor, model: str | None = None, leads: frozenset[str] | None = None) -> Check:
    """The actor's global role, or, for a model that names its own `leads`, their role for it."""
    name = "actor may change the registry"
    if leads is None:
        if actor.may_change_registry:
            return Check(name, True, f"{actor.name} is a {actor.role}")
        detail = f"{actor.name} is a viewer; only leads may change the registry"
        return Check(name, False, detail + " (ask a lead, or see REGISTRY_LEADS)")
    which = f"model {model}" if model else "this model"
    if actor_for_model(actor, leads).may_change_registry:
        detail = f"{actor.name} is an admin" if actor.role == "admin" else f"{actor.name} leads {which}"
        return Check(name, True, detail)
    return Check(
        name,
        False,
        f"{actor.name} is a viewer for {which}: only its leads ({', '.join(sorted(leads))}) and admins "
        f"may change it (set in its {TAG_LEADS} tag or the config file)",
    )


_NOT_READY = {
    "PENDING_REGISTRATION": "MLflow is still registering it (files may be copying); wait, then plan again",
    "FAILED_REGISTRATION": "its registration failed",
}


def check_ready(version: VersionInfo) -> Check:
    """READY, or why not: a version still registering or whose registration failed cannot serve."""
    if version.status == "READY":
        return Check("version is READY", True, f"v{version.version} status is READY")
    why = _NOT_READY.get(version.status, "MLflow does not consider it ready")
    said = f" (MLflow says: {version.status_message})" if version.status_message else ""
    return Check("version is READY", False, f"v{version.version} is {version.status}: {why}{said}")


SOURCE_RUN = "source run exists and FINISHED"


def check_source_run(
    run_id: str | None, run_status: str | None, *, deleted: bool = False, source: str = ""
) -> Check:
    """The run that produced the version. A version with no run (registered from a bucket or a path)
    or whose run was deleted has no lineage to show: a failure, but one a lead may force past."""
    if not run_id:
        where = f" (registered from {source})" if source else ""
        return Check(SOURCE_RUN, False, f"the version has no source run{where}", overridable=True)
    if run_status is None:
        return Check(SOURCE_RUN, False, f"source run {run_id} does not exist", overridable=True)
    if deleted:
        return Check(SOURCE_RUN, False, f"source run {run_id} was deleted", overridable=True)
    return Check(SOURCE_RUN, run_status == "FINISHED", f"source run {run_id} is {run_status}")


def check_not_archived(version: VersionInfo) -> Check:
    return Check(
        "version is not archived",
        not version.archived,
        f"v{version.version} is archived; use rollback to bring an archived version back"
        if version.archived
        else f"v{version.version} is active",
    )


def check_not_yet_archived(version: VersionInfo) -> Check:
    """Archiving: the version must still be active (archiving twice would record a change that is none)."""
    return Check(
        "version is not archived",
        not version.archived,
        f"v{version.version} " + ("is already archived" if version.archived else "is active"),
    )


def check_not_in_production(version: str, production: str | None, slot: str = "production") -> Check | None:
    """Promoting to another slot: a version that serves the primary slot (production) does not go
    back to staging (or to challenger), which would leave the primary slot empty."""
    if version != production:
        return None
    return Check(f"version is not in {slot}", False, f"v{version} already serves {slot}")


def check_rollback_target(target: str | None, slot: str = "production") -> Check | None:
    """Rolling back without naming a version: the audit history must know an earlier holder."""
    if target is not None:
        return None
    return Check(
        "a rollback target exists",
        False,
        f"no earlier {slot} version in the history (audited, first seen or outside changes) "
        "that can serve; name one with --to VERSION",
    )


def check_not_holder(version: str, holder: str | None, role: str) -> Check:
    return Check(
        f"version does not already hold {role}",
        version != holder,
        f"v{version} already holds {role}"
        if version == holder
        else f"{role} is held by {version_label(holder, 'no version')}",
    )


def check_gate(
    gate: Gate | None,
    candidate: Mapping[str, float],
    current: Mapping[str, float] | None,
    current_version: str | None,
    slot: str = "production",
) -> Check | None:
    """The metric gate against the holder of `slot` (the model's primary slot): None when the model
    configures no gate."""
    if gate is None:
        return None
    name = f"metric gate: {gate.metric} ({'higher' if gate.direction == 'max' else 'lower'} is better"
    name += f", tolerance {gate.tolerance:g})"
    if gate.metric not in candidate:
        return Check(name, False, f"the candidate's run has no metric {gate.metric}", overridable=True)
    if current is None or current_version is None:
        return Check(name, True, f"no {slot} version to compare against", overridable=True)
    if gate.metric not in current:
        return Check(
            name, True, f"{slot} v{current_version} has no {gate.metric} to compare", overridable=True
        )
    cand, cur = candidate[gate.metric], current[gate.metric]
    passed = gate.passes(cand, cur)
    verdict = "not worse than" if passed else "worse than"
    return Check(
        name,
        passed,
        f"{gate.metric} {cand:.6g} is {verdict} {slot} v{current_version}'s {cur:.6g}",
        overridable=True,
    )


def check_required_tags(required: Mapping[str, str], tags: Mapping[str, str]) -> Check | None:
    """Required tags are looked up on the version, then on its source run."""
    if not required:
        return None
    missing = [f"{k}={v}" if v else k for k, v in required.items() if k not in tags or (v and tags[k] != v)]
    wanted = ", ".join(f"{k}={v}" if v else k for k, v in required.items())
    if missing:
        return Check(
            "required tags", False, f"missing or different: {', '.join(missing)} (required: {wanted})"
        )
    return Check("required tags", True, f"present: {wanted}")
