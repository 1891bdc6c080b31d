"""Invisible and format characters are shown as what they are, so two names never look the same."""

from __future__ import annotations

import sys
import unicodedata

import pandas as pd
import pytest

from registry.domain.lookalike import reveal_in_frame, reveal_invisible


def test_every_format_character_is_marked():
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) == "Cf":
            assert reveal_invisible(f"a{char}b") == f"a‹U+{code:04X}›b", hex(code)


def test_other_invisible_look_alikes_are_marked_and_plain_text_is_not():
    for char in ("\u3164", "\u115f", "\u00a0", "\u2800", "\u0007"):
        assert reveal_invisible(f"x{char}y") == f"x‹U+{ord(char):04X}›y"
    for text in ("iris-classifier", "ünïcödé 名前", "tab\tand\nnewline", "a b"):
        assert reveal_invisible(text) == text


def test_the_list_covers_every_invisible_character_and_nothing_visible():
    kept, blank = {"\t", "\n", " "}, {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        invisible = char not in kept and (unicodedata.category(char) in {"Cf", "Cc", "Zs"} or char in blank)
        assert (reveal_invisible(char) != char) == invisible, hex(code)


@pytest.mark.parametrize("rows", [3, 1200])  # a short table, and one long enough for Arrow's scan
def test_tables_reveal_invisible_characters_in_text_columns_of_every_kind(rows: int):
    filler = rows - 3
    frame = pd.DataFrame({
        "plain": ["iris", "wine", None] + ["x"] * filler,  # pandas' string dtype, a missing cell
        "control": ["ok", "bell\x07", None] + ["x"] * filler,  # an ASCII control character
        "joiner": ["iris\u2060-classifier", "é", None] + ["x"] * filler,  # beside a visible accent
        "mixed": pd.Series(["a\u200bb", 3, ["x"]] + ["x"] * filler, dtype=object),  # lists, numbers
        "number": [1.0, 2.0, 3.0] + [0.0] * filler,
    })  # fmt: skip
    shown = reveal_in_frame(frame)
    assert shown["plain"].tolist()[:2] == ["iris", "wine"] and pd.isna(shown["plain"].iloc[2])
    assert shown["control"].tolist()[:2] == ["ok", "bell‹U+0007›"]
    assert shown["joiner"].tolist()[:2] == ["iris‹U+2060›-classifier", "é"]
    assert shown["mixed"].tolist()[:3] == ["a‹U+200B›b", 3, ["x"]]
    assert shown["number"].tolist()[:3] == [1.0, 2.0, 3.0]
    assert frame["control"].iloc[1] == "bell\x07"  # the caller's frame is never changed


def test_a_table_without_invisible_characters_is_returned_as_it_is():
    frame = pd.DataFrame({"name": [f"run-{i}" for i in range(1000)], "tab": ["a\tb\nc"] * 1000})
    assert reveal_in_frame(frame) is frame  # tab and newline are visible layout, not look-alikes
