"""Invisible and format characters are shown as what they are, so two names never look the same."""

from __future__ import annotations

import sys
import unicodedata

from registry.domain.lookalike import reveal_invisible


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
