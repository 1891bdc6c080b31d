"""How a version is named in messages: `v3`, or a word when there is none.

Plans, refusals, drift warnings, the CLI and notifications all say "v3" and "none" the same way.
"""

from __future__ import annotations


def version_label(version: str | None, missing: str = "none") -> str:
    """`v3` for "3"; `missing` ("none", or e.g. "no version" inside a sentence) for no version."""
    return f"v{version}" if version else missing


def holder_label(version: str | None, slot: str, missing: str = "") -> str:
    """A model list's "production" cell: `v3`, or `v3 (champion)` when the model names its own slots
    and its first one is what serves; a bare `v3` there would read as the production alias."""
    if not version:
        return missing
    return version_label(version) if slot == "production" else f"{version_label(version)} ({slot})"
