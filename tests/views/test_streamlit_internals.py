"""The one adapter over Streamlit's private API, against the pinned Streamlit (1.67.0)."""

from __future__ import annotations

import streamlit
from streamlit.runtime.pages_manager import PagesManager

from pages.views import streamlit_internals


def test_checked_against_the_pinned_streamlit() -> None:
    assert streamlit.__version__ == streamlit_internals.STREAMLIT_CHECKED


def test_the_legacy_pages_mode_is_read_and_left() -> None:
    saved = PagesManager.uses_pages_directory
    try:
        PagesManager.uses_pages_directory = True
        assert streamlit_internals.in_legacy_pages_mode()
        streamlit_internals.leave_legacy_pages_mode()
        assert not streamlit_internals.in_legacy_pages_mode()
    finally:
        PagesManager.uses_pages_directory = saved
