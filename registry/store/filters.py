"""Names inside MLflow filter strings: the one place that quotes them.

Checked on MLflow 3.17.2 (FIELD_NOTES): the filter parser does not undo `\\'` or `''` inside a quoted
string, so no escape exists. What works:
- a name without `'` (and not ending in a backslash, which the registered-model parser reads as an
  escaped quote) goes in single quotes; a name with `'` but no `"` goes in double quotes;
- a name holding both quote kinds cannot be written: search wider and compare names in Python;
- `LIKE` / `ILIKE` patterns have no working escape for `%` and `_` either (`\\%` matches nothing), so a
  "name contains" search sends every character that is special to LIKE or to the quoting as the
  single-character wildcard `_` (a superset of the wanted names) and the caller keeps the names that
  really contain the text.
"""

from __future__ import annotations

# Sent as `_` in a LIKE pattern: LIKE's wildcards, both quotes, the backslash, and anything outside
# ASCII (databases disagree with Python on its case folding).
_LIKE_SPECIAL = frozenset("%_'\"\\")


def quoted(value: str) -> str | None:
    """`value` as a filter string literal MLflow reads back exactly, or None when none exists."""
    if "'" not in value and not value.endswith("\\"):
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return None


def name_equals_filter(name: str) -> str | None:
    """`name = <name>` exactly, or None: then use `name_like_filter` and compare names in Python."""
    literal = quoted(name)
    return f"name = {literal}" if literal is not None else None


def like_pattern(text: str) -> str:
    """`text` as a LIKE pattern matching at least every string equal to it (case aside)."""
    return "".join("_" if c in _LIKE_SPECIAL or not c.isascii() else c for c in text)


def name_like_filter(name: str) -> str:
    """A filter matching `name` and a few look-alikes of the same length: compare exactly after."""
    return f"name ILIKE '{like_pattern(name)}'"


def name_contains_filter(text: str) -> str | None:
    """A case-insensitive filter for names containing `text` (a superset); None for no text."""
    return f"name ILIKE '%{like_pattern(text)}%'" if text else None


def contains(name: str, text: str) -> bool:
    """The exact test the server-side superset is narrowed with (case-insensitive, like ILIKE)."""
    return text.lower() in name.lower()
