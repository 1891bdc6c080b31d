"""Times as the registry writes them: ISO text in tags, read back as aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(text: str | None) -> datetime | None:
    """An ISO timestamp as an aware datetime (UTC when it names no zone); None for empty or bad text."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
