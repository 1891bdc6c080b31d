"""How a version is named in messages: `v3`, or a word when there is none.

Plans, refusals, drift warnings, the CLI and notifications all say "v3" and "none" the same way.
"""

from __future__ import annotations


def version_label(version: str | None, missing: str = "none") -> str:
    """`v3` for "3"; `missing` ("none", or e.g. "no version" inside a sentence) for no version."""
    return f"v{version}" if version else missing
