"""register_version: from a run id or a logged model URI, on both backends; viewers refused and audited."""

from __future__ import annotations

import pytest

from registry.access.identity import Actor
from registry.errors import BadInput, NotFound, Refused
from registry.lifecycle.registration import TAG_REGISTERED_BY, register_version
from registry.service import Registry
from tests.factories import unique
from tests.run_data import make_logged_model, make_run
from tests.stack import create_experiment

LEAD = Actor("ada", "lead")
VIEWER = Actor("victor", "viewer")


@pytest.fixture
def reg(any_settings) -> Registry:
    return Registry.connect(any_settings)


def register(reg: Registry, source: str, model: str, actor: Actor = LEAD):
    return register_version(reg.settings, reg.client, reg.audit, source, model, actor=actor)


def test_from_run_id_then_from_logged_model_uri(reg):
    exp = create_experiment(reg.client, reg.settings)
    run_id = make_run(reg.client, exp, metrics={"acc": 0.9})
    model_id = make_logged_model(reg.client, exp, run_id)
    name = unique("registered")

    first = register(reg, run_id, name)
    second = register(reg, f"models:/{model_id}", name)

    assert (first.version, second.version) == ("1", "2")
    assert first.source == second.source == f"models:/{model_id}"
    assert first.run_id == second.run_id == run_id
    version = reg.client.get_model_version(name, "1")
    assert version.status == "READY" and version.tags[TAG_REGISTERED_BY] == "ada"
    registered = [(a.action, a.to_version, a.outcome, a.actor) for a in reg.history(name)]
    assert registered == [("register", "1", "done", "ada"), ("register", "2", "done", "ada")]
    assert reg.state(name).holders.production is None  # recorded, and it serves nothing
    assert reg.model_history(name).drift == []


def test_a_run_without_exactly_one_model_says_what_to_do(reg):
    exp = create_experiment(reg.client, reg.settings)
    bare = make_run(reg.client, exp)
    with pytest.raises(BadInput, match="logged no model"):
        register(reg, bare, unique("m"))
    two = make_run(reg.client, exp)
    ids = [make_logged_model(reg.client, exp, two, name=n) for n in ("a", "b")]
    with pytest.raises(BadInput, match="register one of") as raised:
        register(reg, two, unique("m"))
    assert all(f"models:/{i}" in str(raised.value) for i in ids)


@pytest.mark.parametrize("source", ["", "runs:/abc/model", "models:/name/1", "not a run", "0" * 32])
def test_bad_or_unknown_sources(reg, source):
    with pytest.raises(BadInput):  # NotFound is a BadInput
        register(reg, source, unique("m"))


def test_unknown_logged_model_is_not_found(reg):
    with pytest.raises(NotFound):
        register(reg, "models:/m-0123456789abcdef0123456789abcdef", unique("m"))


def test_viewer_is_refused_before_anything_is_read_and_the_refusal_is_audited(reg):
    name = unique("viewer")
    with pytest.raises(Refused, match="victor is a viewer"):
        register(reg, "whatever", name, actor=VIEWER)
    [attempt] = reg.history(name)
    assert (attempt.actor, attempt.role, attempt.action, attempt.outcome) == (
        "victor",
        "viewer",
        "register",
        "refused",
    )


def test_a_run_model_folder_is_registered_and_listed_with_the_logged_models(reg):
    from registry.lifecycle.registration import registrable_sources

    exp = create_experiment(reg.client, reg.settings)
    run_id = make_run(reg.client, exp)
    reg.client.log_text(run_id, "flavors: {}\n", "export/sk/MLmodel")
    reg.client.log_text(run_id, "not a model", "notes/readme.txt")
    model_id = make_logged_model(reg.client, exp, run_id)

    options = [o.source for o in registrable_sources(reg.client, run_id)]
    assert options == [f"models:/{model_id}", f"runs:/{run_id}/export/sk"]

    name = unique("folder")
    done = reg.register_version(f"runs:/{run_id}/export/sk", name, actor=LEAD, description="from a folder")
    version = reg.client.get_model_version(name, done.version)
    assert (version.source, version.run_id, version.description) == (
        f"runs:/{run_id}/export/sk",
        run_id,
        "from a folder",
    )
    with pytest.raises(BadInput, match="no MLmodel"):
        reg.register_version(f"runs:/{run_id}/notes", name, actor=LEAD)
    assert [a.outcome for a in reg.history(name)] == ["done"]


def test_a_description_is_set_edited_and_audited_and_viewers_are_refused(reg):
    exp = create_experiment(reg.client, reg.settings)
    name = unique("described")
    reg.register_version(make_run_with_model(reg, exp), name, actor=LEAD)

    reg.set_description(name, "1", "first cut", actor=LEAD)
    reg.set_description(name, "v1", "validated on the March data", actor=LEAD)
    with pytest.raises(Refused):
        reg.set_description(name, "1", "vandalised", actor=VIEWER)
    with pytest.raises(NotFound):
        reg.set_description(name, "7", "no such version", actor=LEAD)

    assert reg.client.get_model_version(name, "1").description == "validated on the March data"
    history = reg.history(name)
    assert [(a.action, a.actor, a.outcome, a.reason) for a in history if a.action == "describe"] == [
        ("describe", "ada", "done", "first cut"),
        ("describe", "ada", "done", "validated on the March data"),
        ("describe", "victor", "refused", ""),
    ]


def make_run_with_model(reg: Registry, exp: str) -> str:
    run_id = make_run(reg.client, exp)
    make_logged_model(reg.client, exp, run_id)
    return run_id
