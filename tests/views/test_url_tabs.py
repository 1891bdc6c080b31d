"""Which tab a link opens (pages/views/url_tabs.py): any spelling a person would type, else the first."""

from __future__ import annotations

import pytest

from pages.views.url_tabs import tab_from_url

MODEL = {"Versions": None, "Slots": "slots", "How to load it": "load", "Compare versions": "compare"}
RUNS = {"Pages": None, "Whole experiment": "Whole experiment", "Charts": "charts"}


@pytest.mark.parametrize(
    "asked,tab",
    [
        ("load", "How to load it"),
        (" LOAD ", "How to load it"),
        ("how to load it", "How to load it"),
        ("how", "How to load it"),  # the label's first word
        ("slots", "Slots"),
        ("compare", "Compare versions"),
        ("versions", "Versions"),
    ],
)
def test_a_label_its_url_name_or_its_first_word_opens_the_tab(asked: str, tab: str) -> None:
    assert tab_from_url(asked, MODEL) == tab


@pytest.mark.parametrize("asked", ["", "   ", "nope", "<script>", "load it", "compare%20versions"])
def test_anything_else_opens_the_first_tab(asked: str) -> None:
    assert tab_from_url(asked, MODEL) == "Versions"


def test_the_runs_page_keeps_its_links() -> None:
    """Links written before the helper was shared still open the same tabs."""
    assert [tab_from_url(a, RUNS) for a in ("charts", "Whole experiment", "whole", "pages", "x")] == [
        "Charts",
        "Whole experiment",
        "Whole experiment",
        "Pages",
        "Pages",
    ]
