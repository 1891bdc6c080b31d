"""plain(): store text shown where Streamlit renders markdown must come out inert."""

from __future__ import annotations

import pytest

from pages.views.shared import plain, settings
from registry.errors import BadInput


def test_markdown_and_html_are_escaped():
    assert plain("**bold** <b>x</b>") == r"\*\*bold\*\* \<b\>x\</b\>"


def test_bare_addresses_cannot_autolink():
    for text, link in (("[x](http://e.vil)", "://"), ("see www.evil.com", "www."), ("mail a@b.com", "a@b")):
        rendered = plain(text).replace("\\", "")  # what markdown shows once escapes are consumed
        assert link not in rendered
    assert plain("http://e.vil").replace("\\", "").replace("\u200b", "") == "http://e.vil"


def test_settings_follow_a_changed_environment(monkeypatch):
    """Settings are read once per environment (pages/views/shared.settings), never kept stale."""
    monkeypatch.setenv("REGISTRY_ACTOR", "first-lead")
    assert settings().actor == "first-lead"
    assert settings() is settings()  # the same environment: read once
    monkeypatch.setenv("REGISTRY_ACTOR", "second-lead")
    assert settings().actor == "second-lead"
    monkeypatch.setenv("REGISTRY_IDENTITY", "no-such-mode")
    with pytest.raises(BadInput, match="REGISTRY_IDENTITY"):  # a bad value is still refused
        settings()
