"""Stored stage rows: each message's first-reply stages, kept as its events arrive.

:func:`respondr.domain.metrics.message_stages` derives a message's stages from its
workflow events (about eight per message); over a whole history that is the cost of the
what-if. :class:`~respondr.models.MessageStageTotals` keeps the figures the what-if reads,
one narrow row per message, written by :func:`refresh_stage_totals` from that same query
restricted to the messages concerned: there is one definition of the stages, never an
incremental copy of it.

Freshness: the workflow event writer (:mod:`respondr.receivers`) notes the message of
every event a stage reads (:func:`note_event`); before the session commits,
:func:`refresh_pending` rewrites those messages' rows in the same transaction, so the rows
commit with the events or not at all. Readers in a session that has not committed yet
call :func:`refresh_pending` first.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Insert, bindparam, delete, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from respondr.domain import metrics
from respondr.models import MessageStageTotals

PENDING = "respondr.stage_totals.pending"
"""The ``session.info`` key of the messages whose rows are due for a refresh."""
BATCH = 500
"""Messages refreshed per statement (SQLite caps a statement's parameters)."""
COLUMNS = ("message_id", "approval_wait", "rework", "ttfr", "answered")
_CHANGING_KINDS = frozenset(metrics.EVENT_KINDS) - {"claimed", "draft_started"}
"""The event kinds that can change a stored figure. A claim or a draft's start ends queue
wait and starts drafting, neither of which is stored: refreshing on them would only hold
the claimed row's lock longer while 50 agents race for the same messages."""
_IDS: BindParameter[int] = bindparam("message_ids", expanding=True)
_RESTRICTED = MessageStageTotals.message_id.in_(_IDS)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STATEMENTS: dict[tuple[str, bool], Insert] = {}


def refresh_stage_totals(session: Session, message_ids: Iterable[int] | None = None) -> None:
    """Rewrite the stored rows of ``message_ids`` (None: of every message, in one
    statement) from :func:`metrics.message_stages`."""
    connection = session.connection()
    dialect = connection.dialect.name
    if message_ids is None:
        metrics.prepare(connection)  # a statement over every event: no JIT, more memory
        connection.execute(delete(MessageStageTotals))
        connection.execute(_insert(dialect, restricted=False))
        return
    ids = sorted(set(message_ids))
    for start in range(0, len(ids), BATCH):
        chunk = {_IDS.key: ids[start : start + BATCH]}
        connection.execute(delete(MessageStageTotals).where(_RESTRICTED), chunk)
        connection.execute(_insert(dialect, restricted=True), chunk)


def _insert(dialect: str, *, restricted: bool) -> Insert:
    """The INSERT … SELECT of the stored rows, built once per backend: building the
    per-message query costs far more than running it for one message."""
    found = _STATEMENTS.get((dialect, restricted))
    if found is None:
        # Open messages' ages are not stored: the instant they are taken at is moot.
        scope = metrics.Scope(
            None, None, "UTC", None, _EPOCH, message_ids=_IDS if restricted else None
        )
        stages = metrics.message_stages(dialect, scope, next_reply=False).subquery("stages")
        s = stages.c
        rows = select(s.message_id, s.approval_wait, s.rework, s.ttfr, s.answered == 1)
        found = insert(MessageStageTotals).from_select(COLUMNS, rows)
        _STATEMENTS[(dialect, restricted)] = found
    return found


def note_event(session: Session, kind: str, message_id: int | None) -> None:
    """Mark a message's row as due when an event of ``kind`` can change it."""
    if message_id is not None and kind in _CHANGING_KINDS:
        session.info.setdefault(PENDING, set()).add(message_id)


def refresh_pending(session: Session) -> None:
    """Refresh the rows of the messages noted since the last refresh (a session
    ``before_commit`` hook; see :func:`respondr.receivers.connect_receivers`)."""
    pending = session.info.pop(PENDING, None)
    if pending:
        session.flush()  # the noted events are in the database
        refresh_stage_totals(session, pending)
