"""Hostile store content renders as inert text: HTML, scripts, markdown, LaTeX, direction overrides,
zero-width spaces and 100 KB names in runs, params, tags, model names, descriptions and reasons.

Anyone who can log a run can name it; the pages must show such names as the text they are. Checked
under AppTest on a direct SQLite store (which, unlike the server, takes a 100 KB run name): no
element renders HTML, every markdown element holds the escaped text, and the hostile text is there
(so the checks are not vacuous). The browser-level XSS check is in tests/e2e/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import streamlit as st
from mlflow import MlflowClient
from streamlit.testing.v1 import AppTest

from registry.access.identity import Actor
from registry.service import Registry
from tests.conftest import build_settings
from tests.run_data import make_run
from tests.stack import create_experiment
from tests.ui.conftest import LEAD
from tests.ui.test_models_page import SECTIONS, open_description, open_section
from tests.ui.tracking_data import unescape

HTML = '<img src=x onerror="alert(1)"><script>alert(2)</script><iframe srcdoc="x"></iframe>'
MARKDOWN = "**bold** [link](javascript-alert) ![pixel](https-e.vil-x.png) `code` :red[red] $\\alpha$ # h"
SPOOF = "evil\u202etxt.exe zero\u200bwidth"
BIG = "x" * 100_000
_ESCAPED = re.compile(r"\\.")  # a backslash-escaped character shows as itself
RAW = ("<img", "<script", "<iframe", "**bold**", "](javascript", "![pixel]", ":red[", "$\\alpha$", "\u202e")


@pytest.fixture
def hostile(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """A run and a model full of markup on a SQLite store, the app's environment pointed at it."""
    s = build_settings(request, "sqlite", tmp_path)
    for name, value in {
        "MLFLOW_TRACKING_URI": s.effective_tracking_uri,
        "REGISTRY_AUDIT_URL": s.effective_audit_url,
        "REGISTRY_HOME": str(tmp_path),
        "REGISTRY_ACTOR": LEAD,
        "REGISTRY_LEADS": LEAD,
    }.items():
        monkeypatch.setenv(name, value)
    st.cache_data.clear()
    st.cache_resource.clear()
    client = MlflowClient(s.effective_tracking_uri)
    exp = create_experiment(client, s, f"exp {HTML}")
    run_id = make_run(
        client, exp, f"{HTML} {MARKDOWN} {SPOOF} {BIG}",
        params={"html": HTML, "markdown": MARKDOWN, "big": BIG},
        metrics={"acc": 0.9},
        tags={"html": HTML, "spoof": SPOOF, "markdown": MARKDOWN},
    )  # fmt: skip
    model = f"{HTML} {MARKDOWN} {SPOOF}".replace("/", "").replace(":", "")  # MLflow refuses / and :
    client.create_registered_model(model, description=f"{HTML}\n{MARKDOWN}\n{BIG}")
    client.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id)
    Registry.connect(s).promote(model, "1", f"{HTML} {MARKDOWN} {SPOOF}", actor=Actor("alice", "lead"))
    return {"run": run_id, "model": model, "experiment": exp}


@pytest.fixture
def open_app(open_page: Callable[..., AppTest]) -> Callable[..., AppTest]:
    """open_page, and the page must not have raised."""

    def open_(page: str, **query: str) -> AppTest:
        at = open_page(page, **query)
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_


def assert_inert(at: AppTest) -> str:
    """No HTML anywhere, no markdown that allows it, no raw markup in markdown; returns what shows."""
    assert not at.get("html")
    shown = []
    kinds = (at.title, at.header, at.subheader, at.caption, at.markdown, at.error, at.warning, at.info,
             at.success, at.toast)  # fmt: skip
    for kind in kinds:
        for el in kind:
            assert not getattr(el.proto, "allow_html", False), el.value
            unescaped = _ESCAPED.sub("", el.value)  # what markdown would still interpret
            for raw in RAW:
                assert raw not in unescaped, (raw, el.value[:300])
            shown.append(unescape(str(el.value)))
    for el in at.button:
        assert not el.help or all(raw not in el.help for raw in RAW), el.help
    return "\n".join(shown)


def test_a_run_named_with_markup_shows_it_as_text(hostile, open_app):
    at = open_app("pages/run.py", run=hostile["run"])
    shown = assert_inert(at)
    assert "<img src=x onerror=" in shown and "**bold**" in shown  # the name is there, as text
    assert "evil‹U+202E›txt.exe zero‹U+200B›width" in shown  # overrides shown, not obeyed
    params = at.dataframe[0].value if at.dataframe else None
    assert params is not None  # params and tags are tables: text by construction


def test_a_model_named_with_markup_shows_it_as_text_everywhere(hostile, open_app):
    model = hostile["model"]
    at = open_app("pages/models.py", model=model)
    shown = assert_inert(at)
    assert "<script>alert(2)" in shown and "evil‹U+202E›txt" in shown
    assert [t.value for t in at.text if BIG[:100] in t.value]  # the 100 KB description, as plain text
    for label in SECTIONS[1:]:  # the tabs sent only when opened, and the description editor
        assert "<script>alert(2)" in assert_inert(open_section(at, label)), label
    assert_inert(open_description(at, "1"))

    listing = assert_inert(open_app("pages/models.py", q="evil"))
    assert listing is not None
    assert_inert(open_app("pages/history.py", model=model))
    overview = assert_inert(open_app("pages/overview.py"))
    assert overview is not None


LOOKALIKES = ["\u2060", "\u200c", "\u200d", "\u200e", "\u200f", "\u00ad", "\u2061", "\ufeff"]


@pytest.fixture
def lookalikes(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`iris-classifier` and copies of it that differ only by an invisible character."""
    s = build_settings(request, "sqlite", tmp_path)
    for name, value in {
        "MLFLOW_TRACKING_URI": s.effective_tracking_uri,
        "REGISTRY_AUDIT_URL": s.effective_audit_url,
        "REGISTRY_HOME": str(tmp_path),
        "REGISTRY_ACTOR": LEAD,
        "REGISTRY_LEADS": LEAD,
    }.items():
        monkeypatch.setenv(name, value)
    st.cache_data.clear()
    st.cache_resource.clear()
    client = MlflowClient(s.effective_tracking_uri)
    exp = create_experiment(client, s, "lookalikes")
    run_id = make_run(client, exp, "iris\u2060-run", metrics={"acc": 0.9})
    names = ["iris-classifier", *(f"iris{c}-classifier" for c in LOOKALIKES)]
    for name in names:
        client.create_registered_model(name)
        client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    Registry.connect(s).promote(names[1], "1", "look\u200dalike", actor=Actor("alice", "lead"))
    return names


def test_look_alike_names_are_marked_in_tables_and_text(lookalikes, open_app):
    at = open_app("pages/models.py", q="iris")
    cells = [str(v) for frame in at.dataframe for v in frame.value.astype(str).to_numpy().ravel()]
    listed = [c for c in cells if c.startswith("iris") and c.endswith("classifier")]
    assert len(listed) == len(lookalikes) and len(set(listed)) == len(listed)
    for char in LOOKALIKES:
        assert any(f"‹U+{ord(char):04X}›" in c for c in listed), hex(ord(char))
    assert not [c for c in cells if any(ch in c for ch in LOOKALIKES)]  # nothing invisible left

    page = open_app("pages/models.py", model=lookalikes[1])
    assert "iris‹U+2060›-classifier" in assert_inert(page)
    history = open_app("pages/history.py", model=lookalikes[1])
    cells = [str(v) for frame in history.dataframe for v in frame.value.astype(str).to_numpy().ravel()]
    assert any("iris‹U+2060›-classifier" in c for c in cells)
    assert any("look‹U+200D›alike" in c for c in cells)
