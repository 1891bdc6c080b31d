"""The only place the dashboard reaches past Streamlit's public API; checked against streamlit 1.67.0.

Streamlit starts a server in its legacy multipage mode when a `pages/` folder sits beside the main
script, and leaves it only once `st.navigation` has run (see `through_app` in pages/views/shared.py).
No public API tells or changes that mode; `PagesManager.uses_pages_directory`, a class attribute in
streamlit/runtime/pages_manager.py, does both. tests/views/test_streamlit_internals.py fails if an
upgrade moves it.
"""

from __future__ import annotations

STREAMLIT_CHECKED = "1.67.0"


def in_legacy_pages_mode() -> bool:
    """Whether Streamlit would run a `pages/` file on its own, without app.py's navigation."""
    from streamlit.runtime.pages_manager import PagesManager

    return bool(PagesManager.uses_pages_directory)


def leave_legacy_pages_mode() -> None:
    """Switch the legacy mode off for the process, so the next run goes through app.py."""
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False
