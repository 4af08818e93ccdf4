"""One-time form submission keys: a form sent twice has one effect.

Each form that changes state carries a fresh random key. Spending it is an
``INSERT … ON CONFLICT DO NOTHING`` in the same transaction as the form's effect, so:
a second sending of the same form finds the key spent and changes nothing; a concurrent
second sending waits on the first one's row (PostgreSQL's unique index, SQLite's write
lock) and then sees it spent; a first sending that fails and rolls back releases its key,
so the same form can be corrected and sent again. It works across any number of app
servers because the database is the one place that decides.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from respondr.models import FormSubmission

# A key is remembered this long; a form left open longer is reloaded before sending.
KEPT_FOR = timedelta(days=7)


def spend(session: Session, key: str, *, now: datetime) -> bool:
    """Record ``key`` as used; False when it already was (the form was sent before)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(FormSubmission)
        .values(key=key, submitted_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(FormSubmission.key)
    )
    return session.execute(statement).scalar_one_or_none() is not None


def prune(session: Session, *, now: datetime) -> int:
    """Forget keys spent longer ago than :data:`KEPT_FOR`; returns how many."""
    result = session.execute(
        delete(FormSubmission).where(FormSubmission.submitted_at < now - KEPT_FOR)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount
