"""The inbox query: filters, search, and keyset pages sorted by SLA time left.

Keyset pagination on ``(sla_due_at, id)`` costs the same on page 1 and page 10,000,
where OFFSET would scan every skipped row — as long as an index hands the rows over in
that order: ``ix_messages_open_sla`` (partial: the open ones), ``ix_messages_status_sla``
(one status) and ``ix_messages_sla`` (every status; other filters, such as a channel, are
checked row by row, which costs a bounded multiple of the page). "All statuses"
therefore puts no condition on the status at all: an ``IN`` of every status would stop
the planner from reading ``ix_messages_sla`` in order. SQLite needs its statistics
(``ANALYZE``) to choose between these.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, bindparam, func, literal_column, or_, select, text
from sqlalchemy.orm import Session, joinedload

from respondr.domain.errors import ValidationError
from respondr.models import CATEGORIES, INTENTS, Channel, Fan, Message, PublishedReply, User
from respondr.models.messages import MESSAGE_STATUSES, OPEN_STATUSES

STATUS_GROUPS = {"open": OPEN_STATUSES, "all": MESSAGE_STATUSES}
SENTIMENTS = ("positive", "neutral", "negative")
PAGE_SIZE = 50

# What a row of the inbox shows (the web page and the API's message JSON), read in the
# page's one statement: of the fan, channel and people only the columns shown, and not
# the roles every User load fetches. Anything else is loaded if asked for, as usual.
ROW_LOADING = (
    joinedload(Message.fan).load_only(Fan.handle, Fan.display_name, Fan.followers),
    joinedload(Message.channel).load_only(Channel.name),
    joinedload(Message.claimed_by).load_only(User.name).lazyload(User.role_rows),
    joinedload(Message.assignee).load_only(User.name).lazyload(User.role_rows),
)


@dataclass(frozen=True)
class InboxFilter:
    channel_id: int | None = None
    category: str | None = None
    intent: str | None = None
    sentiment: str | None = None
    status: str = "open"  # a status, or a group: "open", "all"
    assignee_id: int | None = None
    claimed_by_id: int | None = None
    mine: int | None = None  # a user id: assigned to them or claimed by them
    search: str = ""

    def __post_init__(self) -> None:
        checks = (
            ("category", self.category, CATEGORIES),
            ("intent", self.intent, INTENTS),
            ("sentiment", self.sentiment, SENTIMENTS),
            ("status", self.status, (*STATUS_GROUPS, *MESSAGE_STATUSES)),
        )
        for name, value, allowed in checks:
            if value is not None and value not in allowed:
                raise ValidationError(
                    f"Unknown {name} {value!r}: use one of {', '.join(allowed)}.", name
                )


@dataclass
class InboxPage:
    messages: list[Message]
    next_cursor: str | None


def encode_cursor(message: Message) -> str:
    due = message.sla_due_at.isoformat()
    return base64.urlsafe_b64encode(f"{due}|{message.id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        due, ident = raw.split("|")
        return datetime.fromisoformat(due), int(ident)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError(
            "This page link is broken; start from the first page.", "cursor"
        ) from None


def search_condition(session: Session, words: str):  # type: ignore[no-untyped-def]
    """The database's own full-text search: PostgreSQL tsvector, SQLite FTS5.

    On SQLite a search page costs in proportion to the matches, not the page: the FTS
    index hands over every matching rowid, which are then fetched and sorted by due time
    (about 5 µs a match: 57 ms for a word in 10% of 100,000 messages). The other shape,
    walking ``ix_messages_sla`` and probing FTS5 row by row (``EXISTS … rowid =
    messages.id``), stops after the page but costs about 70 µs a row read: 7 s at
    100,000 messages for a word that matches nothing. PostgreSQL walks the index and
    checks each row, as the rest of the inbox does.
    """
    terms = [w for w in "".join(c if c.isalnum() else " " for c in words).split() if w]
    if not terms:
        return None
    if session.get_bind().dialect.name == "postgresql":
        vector = func.to_tsvector(literal_column("'simple'"), Message.text)
        query = func.plainto_tsquery(literal_column("'simple'"), " ".join(terms))
        return vector.op("@@")(query)
    fts_query = " ".join(f'"{term}"' for term in terms)
    return Message.id.in_(
        select(literal_column("rowid"))
        .select_from(text("messages_fts"))
        .where(text("messages_fts MATCH :fts_query").bindparams(fts_query=fts_query))
    )


def inbox_query(session: Session, filters: InboxFilter) -> Select[Message]:
    query = select(Message)
    if filters.status != "all":
        statuses = STATUS_GROUPS.get(filters.status, (filters.status,))
        # Written into the SQL, not bound: only then can either planner see that the open
        # group is exactly the predicate of the partial index ``ix_messages_open_sla``.
        query = query.where(
            Message.status.in_(
                bindparam("statuses", statuses, expanding=True, literal_execute=True)
            )
        )
    for column, value in (
        (Message.channel_id, filters.channel_id),
        (Message.category, filters.category),
        (Message.intent, filters.intent),
        (Message.sentiment_label, filters.sentiment),
        (Message.assignee_id, filters.assignee_id),
        (Message.claimed_by_id, filters.claimed_by_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.mine is not None:
        query = query.where(
            or_(Message.assignee_id == filters.mine, Message.claimed_by_id == filters.mine)
        )
    if filters.search.strip():
        condition = search_condition(session, filters.search)
        if condition is not None:
            query = query.where(condition)
    return query


def inbox_page(
    session: Session, filters: InboxFilter, *, cursor: str | None = None, limit: int = PAGE_SIZE
) -> InboxPage:
    """One page of the inbox, most urgent (least SLA time left) first."""
    query = inbox_query(session, filters)
    if cursor:
        due, ident = decode_cursor(cursor)
        # The first condition is an index range (where the page starts); the second only
        # skips the rows of that same due time already shown. A bare OR of the two
        # would be a filter, read from the start of the index on every page.
        query = query.where(
            Message.sla_due_at >= due, or_(Message.sla_due_at > due, Message.id > ident)
        )
    rows = session.scalars(
        query.options(*ROW_LOADING).order_by(Message.sla_due_at, Message.id).limit(limit + 1)
    ).all()
    messages = list(rows[:limit])
    next_cursor = encode_cursor(messages[-1]) if len(rows) > limit else None
    return InboxPage(messages=messages, next_cursor=next_cursor)


def thread(session: Session, message: Message, *, limit: int = 50) -> list[Message]:
    """The fan's messages in the same thread (or, without one, their recent messages)."""
    query = select(Message).where(Message.channel_id == message.channel_id)
    if message.thread_key:
        query = query.where(Message.thread_key == message.thread_key)
    else:
        query = query.where(Message.fan_id == message.fan_id)
    return list(
        session.scalars(
            query.options(joinedload(Message.fan)).order_by(Message.received_at).limit(limit)
        )
    )


def replies_to(session: Session, messages: list[Message]) -> dict[int, list[PublishedReply]]:
    """Our published replies, by the message they answer."""
    ids = [m.id for m in messages]
    replies: dict[int, list[PublishedReply]] = {i: [] for i in ids}
    for reply in session.scalars(
        select(PublishedReply)
        .where(PublishedReply.message_id.in_(ids))
        .order_by(PublishedReply.published_at)
    ):
        replies[reply.message_id].append(reply)
    return replies


def count_arrived_since(session: Session, since: datetime) -> int:
    """Open messages received after ``since``: the inbox's "new messages" banner."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.received_at > since, Message.status.in_(OPEN_STATUSES))
        )
        or 0
    )
