"""plain(): store text shown where Streamlit renders markdown must come out inert."""

from __future__ import annotations

from pages.views.shared import plain


def test_markdown_and_html_are_escaped():
    assert plain("**bold** <b>x</b>") == r"\*\*bold\*\* \<b\>x\</b\>"


def test_bare_addresses_cannot_autolink():
    for text, link in (("[x](http://e.vil)", "://"), ("see www.evil.com", "www."), ("mail a@b.com", "a@b")):
        rendered = plain(text).replace("\\", "")  # what markdown shows once escapes are consumed
        assert link not in rendered
    assert plain("http://e.vil").replace("\\", "").replace("\u200b", "") == "http://e.vil"
