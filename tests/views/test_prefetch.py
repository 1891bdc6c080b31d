"""The chunks pages/views/prefetch.py names are files the installed Streamlit serves."""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from pages.views.prefetch import DATAFRAME, PLOTLY, _files

STATIC = Path(st.__file__).parent / "static" / "static"


def test_the_table_and_chart_code_are_found_in_the_installed_streamlit() -> None:
    # A Streamlit release that renames or splits these chunks would silently end the head start
    # (the browser's import would 404): this fails first.
    scripts, styles = _files("js"), _files("css")
    assert set(scripts) == {DATAFRAME, PLOTLY}
    for name, file in scripts.items():
        assert file.startswith(f"{name}.") and (STATIC / "js" / file).is_file()
    assert (STATIC / "css" / styles[DATAFRAME]).is_file()
    # The component's script finds the chunks beside Streamlit's entry module, named so in index.html.
    page = (STATIC.parent / "index.html").read_text()
    assert re.search(r'<script type="module"[^>]*src="\./static/js/index\.[^"]+\.js"', page)
