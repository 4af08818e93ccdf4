"""One place for the clock: every timestamp respondr stores is aware UTC."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (a function, never a value at import)."""
    return datetime.now(UTC)
