"""Tabs that run only the open tab, with the open tab named in the URL so a link opens it.

Streamlit 1.67's stateful tabs (`on_change="rerun"`) say which tab is open (`.open`): a page renders
that one only, and the other tabs' elements are not even sent, which is what makes a page with
several heavy parts paint its first one sooner. The open tab goes into the URL under a short name
of its own. Not Streamlit's bind="query-params": that writes the label verbatim and, in the
browser, drops any other spelling, where links say `view=charts` or `section=load`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from pages.views.shared import query_param, set_query


def tab_from_url(asked: str, in_url: Mapping[str, str | None]) -> str:
    """The tab a link asks for: a label or its URL name in any case, or its first word; else the
    first tab (a bad or old value opens the page as usual, never an error)."""
    asked = asked.strip().lower()
    for label, name in in_url.items():
        if asked and asked in (label.lower(), (name or "").lower(), label.split()[0].lower()):
            return label
    return next(iter(in_url))


def url_tabs(in_url: Mapping[str, str | None], key: str, param: str) -> Sequence[Any]:
    """`st.tabs` over `in_url`'s labels (label → its name in the URL, None for the default tab).

    The URL's `param` chooses the tab when the tabs first appear in a session; from then on the
    user's clicks do, and the URL follows, so a copied link opens the same tab. Callers render a
    tab's content only `if tab.open` (Streamlit's TabContainer, which it does not export).
    """
    if key not in st.session_state:
        st.session_state[key] = tab_from_url(query_param(param, "") or "", in_url)
    tabs = st.tabs(list(in_url), key=key, on_change="rerun")
    set_query(**{param: in_url[st.session_state[key]]})
    return tabs
