"""Characters that make one name look like another, shown as what they are.

`iris\u2060-classifier` and `iris-classifier` print the same: a word joiner, a zero-width (non-)
joiner, a soft hyphen, a direction mark or override has no glyph. Anyone who can name a model can
make a copy that looks like the one in production. Every place that shows a name, tables included,
passes it through `reveal_invisible`, which writes such a character as `‹U+2060›`.
"""

from __future__ import annotations

import re

import pandas as pd

# Every character that draws nothing, as ranges (generated from unicodedata 14.0, Python 3.11; the
# test walks the whole Unicode range to keep this list honest): format characters (Cf: joiners,
# direction marks and overrides, soft hyphen, BOM, tags, ...), control characters but tab and
# newline (Cc), spaces but the plain one (Zs), and letters that draw nothing (Hangul fillers
# U+115F, U+1160, U+3164, U+FFA0; the blank braille pattern U+2800).
_INVISIBLE = re.compile(
    "[\u0000-\u0008\u000b-\u001f\u007f-\u00a0\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891"
    "\u08e2\u115f-\u1160\u1680\u180e\u2000-\u200f\u202a-\u202f\u205f-\u2064\u2066-\u206f\u2800"
    "\u3000\u3164\ufeff\uffa0\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)

_ASCII_INVISIBLE = r"[\x00-\x08\x0b-\x1f\x7f]"  # the part of _INVISIBLE an ASCII text can hold
_SCAN_IN_ARROW_FROM = 500  # rows; measured: 20 columns of 20 rows 27 ms in Arrow, 1.5 ms per cell


def reveal_invisible(text: object) -> str:
    """`text` with every invisible or format character written as ‹U+XXXX›."""
    return _INVISIBLE.sub(lambda m: f"‹U+{ord(m.group(0)):04X}›", str(text))


def reveal_in_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with invisible characters revealed in its text cells, index and column names.

    Only columns holding such a character are rewritten, and only their string cells: numbers,
    lists and links' other cells stay as they are.
    """
    out = frame
    for column in frame.columns:
        values = frame[column]
        if _holds_invisible(values):
            out = out.copy() if out is frame else out
            out[column] = values.map(lambda v: reveal_invisible(v) if isinstance(v, str) else v)
    if any(isinstance(v, str) and _INVISIBLE.search(v) for v in (*out.columns, *out.index)):
        out = out.copy() if out is frame else out
        out.columns = [reveal_invisible(c) if isinstance(c, str) else c for c in out.columns]
        out.index = out.index.map(lambda v: reveal_invisible(v) if isinstance(v, str) else v)
    return out


def _holds_invisible(values: pd.Series) -> bool:
    """Whether any string cell holds an invisible character.

    A pandas string column is scanned in Arrow's compute kernels: its ASCII cells can hide only
    ASCII control characters, and the few other cells go through the whole list. A search per cell
    in Python took 0.78 s for the 21 text columns of a 10,000-run table on every rerun; this takes
    0.05 s (both on a loaded 2-core machine). Arrow's calls cost about a millisecond per column
    whatever its length, so short columns, and object columns (lists, mixed values), keep the
    search per cell.
    """
    if values.dtype != object and not pd.api.types.is_string_dtype(values):
        return False
    if values.dtype == object or len(values) < _SCAN_IN_ARROW_FROM:
        return any(isinstance(v, str) and _INVISIBLE.search(v) for v in values)
    text = values.dropna()
    if text.str.contains(_ASCII_INVISIBLE, regex=True).any():
        return True
    return any(_INVISIBLE.search(v) for v in text[~text.str.isascii()])
