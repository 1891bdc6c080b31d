"""MLflow Registry Dashboard: navigation, page config and connection status; nothing else."""

import streamlit as st

from pages.views.first_paint import charts_after_paint
from pages.views.prefetch import DATAFRAME, prefetch
from pages.views.preload import import_every_page_in_background
from pages.views.shared import (
    connection_banner,
    identity_sidebar,
    inside_app,
    login_page,
    needs_login,
    plain,
    settings,
)
from registry.errors import BadInput

st.set_page_config(page_title="MLflow Registry Dashboard", page_icon="📦", layout="wide")

try:
    settings()
except BadInput as exc:  # a setting that cannot work (or is unsafe): say which, and serve nothing
    problem = f"The dashboard cannot start: {plain(exc)}"
    st.navigation(
        [st.Page(lambda: st.error(problem, icon=":material/block:"), title="Cannot start")], position="hidden"
    ).run()
    st.stop()

PAGES = {
    "Tracking": [
        st.Page(
            "pages/overview.py", title="Overview", icon=":material/home:", url_path="overview", default=True
        ),
        st.Page("pages/runs.py", title="Experiments & runs", icon=":material/science:", url_path="runs"),
        st.Page("pages/run.py", title="Run", icon=":material/description:", url_path="run"),
        st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    ],
    "Registry": [
        st.Page("pages/models.py", title="Models", icon=":material/inventory_2:", url_path="models"),
        st.Page("pages/history.py", title="History", icon=":material/history:", url_path="history"),
    ],
}

if needs_login():  # REGISTRY_IDENTITY=oidc and nobody logged in yet: the login page, and nothing else
    page = st.navigation([st.Page(login_page, title="Log in", url_path="login")], position="hidden")
else:
    # .streamlit/config.toml hides the sidebar navigation so that a fresh server never shows its
    # file list of pages/ (see there); the real navigation shows it again, for every session.
    st.set_option("client.showSidebarNavigation", True)
    page = st.navigation(PAGES)
    prefetch(DATAFRAME)  # every page shows a table: its code loads while the page reads the store
    with st.sidebar:
        s = settings()
        st.caption(f"Tracking: {plain(s.describe()['tracking_uri'])}")
        try:
            identity_sidebar()
        except Exception as exc:  # noqa: BLE001 - identity trouble must not take the page down
            st.caption(f"Identity unavailable: {plain(exc)}")
    connection_banner()
with inside_app():  # the page's through_app() then knows app.py came first
    page.run()
charts_after_paint()
import_every_page_in_background()  # the other pages' imports, while this one is read
