"""Register a version from the Run page's dialog, and edit a version's description on the Models page."""

from __future__ import annotations

from registry.access.identity import Actor
from tests.factories import unique
from tests.run_data import make_logged_model, make_run
from tests.stack import create_experiment
from tests.ui.test_models_page import description_box, open_description, open_section

ADA = Actor("ada", "lead")


def _run_with_model(reg) -> tuple[str, str]:
    exp = create_experiment(reg.client, reg.settings)
    run_id = make_run(reg.client, exp, metrics={"acc": 0.9})
    return run_id, make_logged_model(reg.client, exp, run_id)


def test_register_a_new_model_from_a_run_in_the_dialog(ui_registry, open_page):
    run_id, model_id = _run_with_model(ui_registry)
    name = unique("from-run")
    at = open_page("pages/run.py", run=run_id)
    assert not at.exception

    at.button(key="run.register_open").click().run()
    assert at.selectbox(key="run.register_source").value == f"models:/{model_id}"
    at.text_input(key="run.register_new_name").input(name)
    at.text_area(key="run.register_description").input("first cut, from the dialog")
    at.button(key="run.register_confirm").click().run()

    assert not at.exception
    assert any(f"Registered {name} v1".replace("-", "\\-") in s.value for s in at.success)
    version = ui_registry.client.get_model_version(name, "1")
    assert (version.run_id, version.description) == (run_id, "first cut, from the dialog")
    history = ui_registry.history(name)
    assert [(a.action, a.outcome, a.actor) for a in history] == [("register", "done", "ada")]

    at.button(key="run.register_open").click().run()  # a second version of the now existing model
    at.selectbox(key="run.register_model").set_value(name).run()
    at.button(key="run.register_confirm").click().run()
    assert ui_registry.client.get_model_version(name, "2").run_id == run_id


def test_a_viewer_cannot_open_the_dialog(ui_registry, open_page, as_viewer):
    run_id, _ = _run_with_model(ui_registry)
    at = open_page("pages/run.py", run=run_id)
    assert at.button(key="run.register_open").disabled  # vera is a viewer


def test_a_missing_name_is_explained_in_the_dialog(ui_registry, open_page):
    run_id, _ = _run_with_model(ui_registry)
    at = open_page("pages/run.py", run=run_id)
    at.button(key="run.register_open").click().run()
    at.button(key="run.register_confirm").click().run()
    assert not at.exception
    assert any("give the registered model a name" in e.value for e in at.error)
    assert at.button(key="run.register_confirm")  # still open


def test_edit_a_version_description_on_the_model_page(ui_registry, open_page):
    run_id, _ = _run_with_model(ui_registry)
    name = unique("described")
    ui_registry.register_version(run_id, name, actor=ADA, description="old words")
    at = open_description(open_page("pages/models.py", model=name), "1")
    box = at.text_area(key=description_box(name, "1"))
    assert box.value == "old words"

    box.input("validated on the March data")
    at.button(key="models.description_save").click().run()

    assert not at.exception
    assert ui_registry.client.get_model_version(name, "1").description == "validated on the March data"
    assert ui_registry.history(name)[-1].action == "describe"
    assert at.text_area(key=description_box(name, "1")).value == "validated on the March data"


def test_the_model_page_says_how_to_load_each_slot(ui_registry, open_page):
    from tests.factories import make_model

    name = make_model(ui_registry.client, [{"acc": 0.8}, {"acc": 0.9}])
    ui_registry.promote(name, "2", "best", actor=ADA)
    ui_registry.client.set_registered_model_alias(name, "champion", "1")

    at = open_section(open_page("pages/models.py", model=name), "How to load it")

    assert not at.exception
    uris = next(d.value for d in at.dataframe if "URI" in d.value.columns).set_index("slot")
    assert uris.loc["production", "URI"] == f"models:/{name}@production"
    assert uris.loc["production", "serves now"] == "v2"
    assert uris.loc["staging", "serves now"] == "nothing"
    assert uris.loc["champion", "serves now"] == "v1"
    snippets = [c.value for c in at.code if "load_model" in c.value]
    assert any(f"mlflow.pyfunc.load_model('models:/{name}@production')  # v2 now" in s for s in snippets)
