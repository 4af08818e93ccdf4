"""Getting fan messages in: validation, storage, enrichment, threading and routing.

Messages arrive three ways, all ending in :func:`ingest`:

- the JSON API (``POST /api/v1/messages``), one message or ``{"messages": [...]}``;
- a channel's signed webhook, the same body, signed with the channel's inbound secret
  (:func:`verify_signature`);
- Facebook Page webhooks, in Facebook's format (:mod:`respondr.domain.facebook`),
  signed with the app secret (:func:`verify_facebook_signature`).

A message is identified by its channel and external id: a repeated delivery returns the
stored message unchanged, never a second copy, even when two deliveries race. One
message is written without a look-up or a savepoint: ``INSERT … ON CONFLICT DO NOTHING
RETURNING`` stores it, or finds the key taken and returns the stored one as
``existing``; nothing else (fan profile, events) is written before the insert has
succeeded, and a repeat gives back the routing turn it took. A batch is written in a
savepoint: a unique-key clash means another delivery won, and each of its messages is
then written on its own, as one message. In a batch each item stands alone: a rejected
item is reported and not stored, and the others are kept. A batch costs a fixed number
of statements, not a few per message: its fans and stored messages are read in one
query each and its new rows inserted together.

Text is stored verbatim. The one exception is what no database here can hold: a NUL
character (U+0000; PostgreSQL text cannot store it) or an unpaired surrogate (not
encodable as UTF-8) is refused with a field error, on every backend alike.

Nothing here commits: the request commits once at its edge.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import func, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.orm.attributes import set_committed_value

from respondr import signals
from respondr.domain.channels import find_channel
from respondr.domain.enrich import OWNED_CHANNEL_KINDS, enrich
from respondr.domain.errors import DomainError, NotFound, ValidationError
from respondr.domain.organisation import get_organisation
from respondr.domain.routing import Routed, Router, announce
from respondr.models import Channel, Fan, Message, Organisation, User, WorkflowEvent

MAX_BATCH = 1000
MAX_TEXT = 100_000
MAX_ID = 255  # external_id, thread_id, in_reply_to
MAX_HANDLE = 255
MAX_NAME = 255
MAX_URL = 2000
MAX_FOLLOWERS = 2**31 - 1  # an INTEGER column
MAX_ROW_ID = 2**31 - 1  # ids are INTEGER: a larger one would overflow the query, not miss
# posted_at may run a little ahead of our clock; further ahead it is wrong.
CLOCK_SKEW = timedelta(minutes=5)
SIGNATURE_HEADER = "X-Respondr-Signature"
SIGNATURE_TOLERANCE = timedelta(minutes=5)
FACEBOOK_SIGNATURE_HEADER = "X-Hub-Signature-256"

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class SignatureMissing(DomainError):
    """The request carries no signature header at all: 400, naming the header."""


class BadSignature(DomainError):
    """A signature that does not match, or is too old: 401, and nothing is stored."""

    status = 401


@dataclass(frozen=True)
class IncomingMessage:
    """One fan message as received, validated but not yet stored."""

    external_id: str
    handle: str
    text: str
    posted_at: datetime
    name: str = ""
    followers: int | None = None
    url: str | None = None
    thread_id: str | None = None
    in_reply_to: str | None = None
    channel: int | str | None = None


@dataclass(frozen=True)
class ItemResult:
    """The fate of one item of a batch: ``created``, ``existing`` or ``rejected``."""

    status: str
    message: Message | None = None
    field: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Received:
    """What a request delivered: one result per item (one item unless ``batch``)."""

    batch: bool
    results: list[ItemResult]


# --------------------------------------------------------------------------- validation


class _Fields:
    """Reads the fields of one JSON object, naming each by its path on error."""

    def __init__(self, data: Any, prefix: str) -> None:
        if not isinstance(data, Mapping):
            raise ValidationError("Send the message as a JSON object.", prefix or "body")
        self.data = data
        self.prefix = prefix

    def name(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, key: str, message: str) -> ValidationError:
        return ValidationError(message, self.name(key))

    def string(
        self,
        key: str,
        *,
        max_length: int,
        required: bool = False,
        identifier: bool = False,
        verbatim: bool = False,
    ) -> str | None:
        """A string field. Identifiers may also be sent as integers; all but verbatim
        fields are stripped, and a blank optional field counts as absent."""
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error(key, f"{key} is required.")
            return None
        if identifier and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise self.error(key, f"{key} must be a string.")
        if not verbatim:
            value = value.strip()
            if not value:
                if required:
                    raise self.error(key, f"{key} must not be blank.")
                return None
        if len(value) > max_length:
            raise self.error(
                key, f"{key} is {len(value):,} characters long; the limit is {max_length:,}."
            )
        if found := _UNSTORABLE.search(value):
            what = "a NUL character (U+0000)" if found.group() == "\x00" else "broken Unicode"
            raise self.error(
                key, f"{key} contains {what}, which cannot be stored; remove it and send again."
            )
        return value

    def required(self, key: str, *, max_length: int, identifier: bool = False) -> str:
        value = self.string(key, max_length=max_length, required=True, identifier=identifier)
        assert value is not None
        return value

    def count(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"{key} must be a whole number.")
        if not 0 <= value <= MAX_FOLLOWERS:
            raise self.error(key, f"{key} must be between 0 and {MAX_FOLLOWERS:,}.")
        return value

    def url(self, key: str) -> str | None:
        value = self.string(key, max_length=MAX_URL)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc or " " in value:
            raise self.error(key, f"{key} must be an http:// or https:// address.")
        return value

    def time(self, key: str, *, now: datetime | None) -> datetime:
        value = self.data.get(key)
        example = "for example 2026-11-26T09:30:00+01:00 or 2026-11-26T08:30:00Z"
        if value is None:
            raise self.error(key, f"{key} is required: the platform's time, {example}.")
        if not isinstance(value, str):
            raise self.error(key, f"{key} must be an ISO 8601 time, {example}.")
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise self.error(key, f"{key} is not an ISO 8601 time; send one {example}.") from None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise self.error(key, f"{key} needs its UTC offset to be unambiguous, {example}.")
        try:
            parsed = parsed.astimezone(UTC)
        except OverflowError:
            raise self.error(key, f"{key} is out of range.") from None
        if now is not None and parsed > now + CLOCK_SKEW:
            raise self.error(key, f"{key} is in the future ({parsed.isoformat()}).")
        return parsed

    def nested(self, key: str) -> _Fields:
        value = self.data.get(key)
        if value is None:
            raise self.error(key, f"{key} is required.")
        if not isinstance(value, Mapping):
            raise self.error(key, f"{key} must be a JSON object.")
        return _Fields(value, self.name(key))


def parse_incoming(
    data: Any, *, prefix: str = "", need_channel: bool = True, now: datetime | None = None
) -> IncomingMessage:
    """Validate one message as the API and webhooks take it.

    Raises :class:`ValidationError` naming the offending field by its path, prefixed with
    ``prefix`` (``messages[3].author.handle``). With ``now``, a ``posted_at`` more than
    five minutes ahead of it is refused.
    """
    fields = _Fields(data, prefix)
    channel: int | str | None = None
    raw_channel = fields.data.get("channel")
    if isinstance(raw_channel, int) and not isinstance(raw_channel, bool):
        channel = raw_channel
    elif raw_channel is not None or need_channel:
        channel = fields.string("channel", max_length=120, required=need_channel)
    if need_channel and channel is None:
        raise fields.error("channel", "Name the channel: its id or its name.")
    author = fields.nested("author")
    return IncomingMessage(
        channel=channel,
        external_id=fields.required("external_id", max_length=MAX_ID, identifier=True),
        handle=author.required("handle", max_length=MAX_HANDLE, identifier=True),
        name=author.string("name", max_length=MAX_NAME) or "",
        followers=author.count("followers"),
        text=_text(fields),
        posted_at=fields.time("posted_at", now=now),
        url=fields.url("url"),
        thread_id=fields.string("thread_id", max_length=MAX_ID, identifier=True),
        in_reply_to=fields.string("in_reply_to", max_length=MAX_ID, identifier=True),
    )


def _text(fields: _Fields) -> str:
    if fields.data.get("text") is None:
        raise fields.error("text", "text is required (it may be empty for a photo or sticker).")
    text = fields.string("text", max_length=MAX_TEXT, verbatim=True)
    assert text is not None
    return text


def batch_items(body: Mapping[str, Any]) -> list[Any] | None:
    """The items of a batch body (``{"messages": [...]}``), or None for a single message."""
    if "messages" not in body:
        return None
    items = body["messages"]
    if not isinstance(items, list):
        raise ValidationError("messages must be a list of messages.", "messages")
    if not 1 <= len(items) <= MAX_BATCH:
        raise ValidationError(
            f"Send from 1 to {MAX_BATCH:,} messages in one batch, not {len(items):,}.",
            "messages",
        )
    return items


def resolve_channel(session: Session, ref: int | str | None, *, field: str = "channel") -> Channel:
    """The channel a body names; an unknown one is a field error, not a missing page."""
    if ref is None:
        raise ValidationError("Name the channel: its id or its name.", field)
    number = ref.strip() if isinstance(ref, str) else str(ref)
    if number.lstrip("-").isdigit() and not (number.isascii() and abs(int(number)) <= MAX_ROW_ID):
        raise ValidationError(f"There is no channel {ref!r}.", field)
    try:
        return find_channel(session, ref)
    except NotFound as error:
        raise ValidationError(error.message, field) from None


def _check_same_channel(channel: Channel, ref: int | str | None, field: str) -> None:
    if ref is not None and str(ref).strip() not in (str(channel.id), channel.name):
        raise ValidationError(
            f"This webhook takes messages for the channel {channel.name!r} only.", field
        )


# --------------------------------------------------------------------------- storing


def find_message(session: Session, channel: Channel, external_id: str) -> Message | None:
    return session.scalar(
        select(Message).where(Message.channel_id == channel.id, Message.external_id == external_id)
    )


def _thread_of(incoming: IncomingMessage, parent: Message | None) -> str:
    if incoming.thread_id:
        return incoming.thread_id
    if incoming.in_reply_to:
        if parent is None:
            return incoming.in_reply_to
        return parent.thread_key or parent.external_id
    return incoming.external_id


def _needs_parent(incoming: IncomingMessage) -> bool:
    return not incoming.thread_id and bool(incoming.in_reply_to)


def thread_key(session: Session, channel: Channel, incoming: IncomingMessage) -> str:
    """The sender's thread id; else the thread of the message replied to (or its id, if
    we do not have it); else the message's own external id: it starts a thread."""
    parent = None
    if _needs_parent(incoming) and incoming.in_reply_to:
        parent = find_message(session, channel, incoming.in_reply_to)
    return _thread_of(incoming, parent)


def _fan_fields(channel: Channel, incoming: IncomingMessage) -> dict[str, Any]:
    return {
        "channel_id": channel.id,
        "handle": incoming.handle,
        "display_name": incoming.name or incoming.handle,
        "followers": incoming.followers,
    }


def _new_fan(channel: Channel, incoming: IncomingMessage) -> Fan:
    return Fan(**_fan_fields(channel, incoming))


def _refresh_fan(fan: Fan, incoming: IncomingMessage) -> None:
    """Keep a known fan's name and follower count up to date (unless their data was
    erased)."""
    if fan.erased_at is None:
        if incoming.name:
            fan.display_name = incoming.name
        if incoming.followers is not None:
            fan.followers = incoming.followers


def _fan(session: Session, channel: Channel, incoming: IncomingMessage) -> Fan:
    """The author on this channel, created on first sight and kept up to date."""
    fan = session.scalar(
        select(Fan).where(Fan.channel_id == channel.id, Fan.handle == incoming.handle)
    )
    if fan is None:
        fan = _new_fan(channel, incoming)
        session.add(fan)
    else:
        _refresh_fan(fan, incoming)
    return fan


@dataclass(frozen=True)
class _Arrival:
    """What every message of one delivery shares: the organisation's lists, who sent the
    delivery (None for webhooks) and when it arrived."""

    organisation: Organisation
    actor: User | None
    now: datetime


@dataclass(frozen=True)
class _Pending:
    """A valid item to store: where it sits in the request (named in errors), its
    channel (active) and the message."""

    where: str | None
    channel: Channel
    incoming: IncomingMessage


_Keyed = TypeVar("_Keyed", Message, Fan)
_LOOKUP_CHUNK = 500  # ids per IN (...): well inside every backend's parameter limit


def _by_key(
    session: Session,
    model: type[_Keyed],
    column: InstrumentedAttribute[str],
    keys: Iterable[tuple[int, str]],
) -> dict[tuple[int, str], _Keyed]:
    """The stored rows of ``model`` with these (channel id, ``column``) keys, read with
    one query per channel (and per 500 keys), not one per key."""
    by_channel: dict[int, set[str]] = {}
    for channel_id, value in keys:
        by_channel.setdefault(channel_id, set()).add(value)
    found: dict[tuple[int, str], _Keyed] = {}
    for channel_id, values in by_channel.items():
        ordered = sorted(values)
        for start in range(0, len(ordered), _LOOKUP_CHUNK):
            chunk = ordered[start : start + _LOOKUP_CHUNK]
            query = select(model).where(model.channel_id == channel_id, column.in_(chunk))
            for row in session.scalars(query):
                found[(channel_id, getattr(row, column.key))] = row
    return found


def stored_messages(
    session: Session, keys: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], Message]:
    """The stored messages with these (channel id, external id) keys."""
    return _by_key(session, Message, Message.external_id, keys)


def _message_fields(
    item: _Pending, fan: Fan, parent: Message | None, arrival: _Arrival
) -> dict[str, Any]:
    """The message's columns as stored: enriched, threaded and given its SLA due time
    (its fan and routing aside)."""
    channel, incoming, now = item.channel, item.incoming, arrival.now
    keyword_lists = arrival.organisation.keyword_lists
    handles = arrival.organisation.handles
    found = enrich(
        incoming.text,
        followers=incoming.followers if incoming.followers is not None else fan.followers,
        handles=handles if isinstance(handles, list) else [],
        keyword_lists=keyword_lists if isinstance(keyword_lists, dict) else {},
        owned_space=channel.kind in OWNED_CHANNEL_KINDS,
    )
    return {
        "channel_id": channel.id,
        "external_id": incoming.external_id,
        "text": incoming.text,
        "url": incoming.url,
        "posted_at": incoming.posted_at,
        "received_at": now,
        "thread_key": _thread_of(incoming, parent),
        "in_reply_to": incoming.in_reply_to,
        "category": found.category,
        "intent": found.intent,
        "sentiment_score": found.sentiment_score,
        "sentiment_label": found.sentiment_label,
        "priority": found.priority,
        "status": "new",
        "sla_due_at": now + timedelta(minutes=channel.sla_minutes),
    }


_NUMBERED = (Fan, Message, WorkflowEvent)
# From this many new messages on, a batch's ids are taken up front (below that, the
# INSERT … RETURNING is short and the nextval queries would only add round trips).
_NUMBER_FROM = 20


def _number_new_rows(session: Session, created: int) -> None:
    """On PostgreSQL, give a batch's new fans, messages and events their ids up front,
    one ``nextval`` query per table, so that the flush sends each table as one prepared
    ``executemany`` (psycopg's pipeline) instead of an ``INSERT … VALUES … RETURNING``
    with thousands of parameters, which psycopg and the server parse afresh for every
    batch (profiled: a quarter of a 1,000-message batch). Ids follow the order the rows
    were added in. SQLite has no sequences and needs none of this."""
    if created < _NUMBER_FROM or session.get_bind().dialect.name != "postgresql":
        return
    unnumbered: dict[type[Any], list[Any]] = {}
    for row in session.new:
        if isinstance(row, _NUMBERED) and row.id is None:
            unnumbered.setdefault(type(row), []).append(row)
    for model, rows in unnumbered.items():
        rows.sort(key=lambda row: inspect(row).insert_order)
        sequence = func.pg_get_serial_sequence(model.__tablename__, "id")
        with session.no_autoflush:
            ids = session.scalars(
                select(func.nextval(sequence)).select_from(func.generate_series(1, len(rows)))
            ).all()
        for row, new_id in zip(rows, sorted(ids), strict=True):
            row.id = new_id


def _write(session: Session, pending: Sequence[_Pending], arrival: _Arrival) -> list[ItemResult]:
    """Store ``pending`` in order, one result per item, with a fixed number of
    statements whatever their count: the stored messages (repeats and the messages
    replied to) and the fans are read in one query each, the rules once, each team
    locked once; the new fans, messages and their events are inserted together."""
    wanted = [(p.channel.id, p.incoming.external_id) for p in pending]
    wanted += [
        (p.channel.id, p.incoming.in_reply_to)
        for p in pending
        if _needs_parent(p.incoming) and p.incoming.in_reply_to
    ]
    messages = stored_messages(session, wanted)
    fans = _by_key(session, Fan, Fan.handle, [(p.channel.id, p.incoming.handle) for p in pending])
    router = Router(session)
    channels = {p.channel.id: p.channel for p in pending}
    results: list[ItemResult] = []
    created: list[tuple[Message, Routed | None]] = []
    with session.no_autoflush:  # nothing read below depends on the rows being added
        for item in pending:
            channel_id, incoming = item.channel.id, item.incoming
            known = messages.get((channel_id, incoming.external_id))
            if known is not None:
                results.append(ItemResult("existing", known))
                continue
            fan = fans.get((channel_id, incoming.handle))
            if fan is None:
                fan = fans[(channel_id, incoming.handle)] = _new_fan(item.channel, incoming)
                session.add(fan)
            else:
                _refresh_fan(fan, incoming)
            parent = None
            if _needs_parent(incoming) and incoming.in_reply_to:
                parent = messages.get((channel_id, incoming.in_reply_to))
            message = Message(**_message_fields(item, fan, parent, arrival), fan=fan)
            routed = router.assign(message)
            session.add(message)
            messages[(channel_id, incoming.external_id)] = message
            created.append((message, routed))
            results.append(ItemResult("created", message))
    if created:
        _number_new_rows(session, len(created))
        session.flush()  # the events need the messages' ids
        _announce(session, created, channels, router, arrival)
    return results


def _announce(
    session: Session,
    created: Sequence[tuple[Message, Routed | None]],
    channels: Mapping[int, Channel],
    router: Router,
    arrival: _Arrival,
) -> None:
    """Send each stored message's signals (its events), then write the teams' turns."""
    for message, routed in created:
        # Linked after the insert: linked before, adding the message walks the channel.
        set_committed_value(message, "channel", channels[message.channel_id])
        signals.message_received.send(message, session=session, actor=arrival.actor, at=arrival.now)
        announce(session, message, routed, now=arrival.now)
    _number_new_rows(session, len(created))
    router.save()
    session.flush()


_Inserted = TypeVar("_Inserted", Message, Fan)


@functools.cache
def _insert_statement(dialect: str, model: type[Any]) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING`` the row, built once per dialect and
    model (building it per message cost a quarter of the insert)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(model).on_conflict_do_nothing().returning(model)


def _insert_new(
    session: Session, model: type[_Inserted], values: dict[str, Any]
) -> _Inserted | None:
    """Insert a row of ``model``, or None when its unique key is taken (a concurrent
    insert of the key is waited for, not clashed with)."""
    statement = _insert_statement(session.get_bind().dialect.name, model)
    found: _Inserted | None = session.scalars(statement, [values]).first()
    return found


def _write_one(session: Session, item: _Pending, arrival: _Arrival) -> ItemResult:
    """Store one message in as few statements as it takes: its fan read (and inserted on
    first sight), routing (which takes the team's turn), then the message inserted unless
    its key is taken, and only then the fan's profile and the events. No savepoint is
    needed: nothing clashes, and a repeat gives its turn back."""
    channel, incoming = item.channel, item.incoming
    lookup = select(Fan).where(Fan.channel_id == channel.id, Fan.handle == incoming.handle)
    fan = session.scalar(lookup)
    if fan is None:
        fan = _insert_new(session, Fan, _fan_fields(channel, incoming)) or session.scalar(lookup)
    message = None
    if fan is not None:
        parent = None
        if _needs_parent(incoming) and incoming.in_reply_to:
            parent = find_message(session, channel, incoming.in_reply_to)
        fields = _message_fields(item, fan, parent, arrival)
        draft = Message(**fields)  # routed before the insert, which stores its assignee
        router = Router(session)
        routed = router.assign(draft)
        routing = {"assignee_id": draft.assignee_id, "assigned_team_id": draft.assigned_team_id}
        message = _insert_new(session, Message, fields | routing | {"fan_id": fan.id})
    if message is None or fan is None:
        if fan is not None:
            router.give_back()
        known = find_message(session, channel, incoming.external_id)
        if known is not None:
            return ItemResult("existing", known)
        return ItemResult(
            "rejected",
            field=item.where,
            error="This message could not be stored just now; send it again.",
        )
    set_committed_value(message, "fan", fan)
    _refresh_fan(fan, incoming)
    _announce(session, [(message, routed)], {channel.id: channel}, router, arrival)
    return ItemResult("created", message)


def _store(session: Session, pending: Sequence[_Pending], arrival: _Arrival) -> list[ItemResult]:
    """Write one message on its own (:func:`_write_one`), a batch in one savepoint. A
    unique-key clash in a batch means a concurrent delivery stored one of its messages,
    or a fan, first: the savepoint is rolled back and each message is written on its
    own, so the winner's message is returned as ``existing`` and only that item is
    affected."""
    if len(pending) > 1:
        try:
            with session.begin_nested():
                return _write(session, pending, arrival)
        except IntegrityError:
            pass
    return [_write_one(session, item, arrival) for item in pending]


def _check_active(channel: Channel, field: str) -> None:
    if not channel.active:
        raise ValidationError(
            f"The channel {channel.name!r} is switched off and takes no messages.", field
        )


def ingest(
    session: Session,
    channel: Channel,
    incoming: IncomingMessage,
    *,
    actor: User | None,
    now: datetime,
) -> tuple[Message, bool]:
    """Store ``incoming`` on ``channel`` and return it with ``True``; when the channel
    already has a message with its external id, return that one, unchanged, with
    ``False``.

    A new message is enriched (sentiment, category, intent, priority), threaded, given
    its SLA due time (``received_at = now`` plus the channel's SLA minutes), routed and
    announced (``message_received``, ``actor`` being the API caller or None for
    webhooks; then ``message_routed``). It is written in a savepoint: a clash with a
    concurrent delivery of the same message rolls back only this message and returns the
    winner's.
    """
    _check_active(channel, "channel")
    arrival = _Arrival(get_organisation(session), actor, now)
    [result] = _store(session, [_Pending(None, channel, incoming)], arrival)
    if result.message is None:
        raise ValidationError(result.error or "", result.field)
    return result.message, result.status == "created"


def _named_channel(
    session: Session, seen: dict[int | str, Channel], ref: int | str | None, field: str
) -> Channel:
    """:func:`resolve_channel`, once per distinct reference in a batch."""
    if ref is None or ref not in seen:
        channel = resolve_channel(session, ref, field=field)
        if ref is None:
            return channel
        seen[ref] = channel
    return seen[ref]


def ingest_batch(
    session: Session,
    items: Sequence[Any],
    *,
    channel: Channel | None,
    actor: User | None,
    now: datetime,
    labels: Sequence[str] | None = None,
) -> list[ItemResult]:
    """Validate and store each item on its own: one result per item, in order.

    Items are message objects as the API takes them. With ``channel`` (a webhook), items
    need not name a channel and may not name another. ``labels`` name the items in field
    errors (default ``messages[i]``). The valid items are then stored together
    (:func:`_store`), with the same results as storing them one by one.
    """
    arrival = _Arrival(get_organisation(session), actor, now)
    outcomes: dict[int, ItemResult] = {}
    pending: list[tuple[int, _Pending]] = []
    channels: dict[int | str, Channel] = {}
    for index, item in enumerate(items):
        where = labels[index] if labels is not None else f"messages[{index}]"
        try:
            incoming = parse_incoming(item, prefix=where, need_channel=channel is None, now=now)
            if channel is None:
                target = _named_channel(session, channels, incoming.channel, f"{where}.channel")
            else:
                _check_same_channel(channel, incoming.channel, f"{where}.channel")
                target = channel
            _check_active(target, f"{where}.channel")
        except ValidationError as error:
            outcomes[index] = ItemResult("rejected", field=error.field, error=error.message)
            continue
        pending.append((index, _Pending(where, target, incoming)))
    stored = _store(session, [p for _, p in pending], arrival)
    outcomes.update(zip((index for index, _ in pending), stored, strict=True))
    return [outcomes[index] for index in range(len(items))]


def receive(
    session: Session,
    body: Mapping[str, Any],
    *,
    channel: Channel | None,
    actor: User | None,
    now: datetime,
) -> Received:
    """Ingest a request body: one message, or a batch ``{"messages": [...]}``.

    A single message that fails validation raises :class:`ValidationError`; a batch
    reports each item's fate instead. ``channel`` is the webhook's (None for the API,
    where each message names its channel).
    """
    items = batch_items(body)
    if items is not None:
        return Received(
            batch=True,
            results=ingest_batch(session, items, channel=channel, actor=actor, now=now),
        )
    incoming = parse_incoming(body, need_channel=channel is None, now=now)
    if channel is None:
        target = resolve_channel(session, incoming.channel)
    else:
        _check_same_channel(channel, incoming.channel, "channel")
        target = channel
    message, created = ingest(session, target, incoming, actor=actor, now=now)
    result = ItemResult("created" if created else "existing", message)
    return Received(batch=False, results=[result])


# --------------------------------------------------------------------------- signatures


def _hmac_hex(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def constant_time_equal(expected: str, given: str) -> bool:
    """Constant-time equality; bytes, so that a header with non-ASCII characters compares
    (unequal) instead of raising."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def _same_hex(expected: str, given: str) -> bool:
    return constant_time_equal(expected, given.strip().lower())


def sign(secret: str, body: bytes, *, timestamp: int) -> str:
    """The ``X-Respondr-Signature`` value for ``body`` sent at ``timestamp`` (Unix time):
    ``t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>." + body, keyed by the secret>``."""
    return f"t={timestamp},v1={_hmac_hex(secret, f'{timestamp}.'.encode() + body)}"


def verify_signature(secret: str, header: str | None, body: bytes, *, now: datetime) -> None:
    """Check a channel webhook's ``X-Respondr-Signature`` against its inbound secret.

    The header holds ``t=<Unix time>`` and one or more ``v1=<hex>`` (several while a
    sender rotates secrets). A signature that does not match, or a time more than five
    minutes from ``now`` either way, raises :class:`BadSignature` (401): a captured
    delivery cannot be replayed later. No header at all raises :class:`SignatureMissing`.
    """
    if not header:
        raise SignatureMissing(
            f"Sign the request: send the {SIGNATURE_HEADER} header.", SIGNATURE_HEADER
        )
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise BadSignature(
            f"Malformed {SIGNATURE_HEADER}: expected t=<unix time>,v1=<hex HMAC-SHA256>.",
            SIGNATURE_HEADER,
        )
    expected = _hmac_hex(secret, f"{timestamp}.".encode() + body)
    if not any(_same_hex(expected, candidate) for candidate in candidates):
        raise BadSignature(
            "The signature does not match this channel's inbound secret.", SIGNATURE_HEADER
        )
    drift = abs(now.timestamp() - timestamp)
    if drift > SIGNATURE_TOLERANCE.total_seconds():
        raise BadSignature(
            "The signature's time is more than 5 minutes from ours: sign each delivery "
            "when you send it.",
            SIGNATURE_HEADER,
        )


def sign_facebook(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Facebook sends: ``sha256=<hex HMAC of the body>``."""
    return "sha256=" + _hmac_hex(app_secret, body)


def verify_facebook_signature(app_secret: str, header: str | None, body: bytes) -> None:
    """Check Facebook's ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body, keyed by
    the app secret)."""
    if not header:
        raise SignatureMissing(
            f"Sign the request: send the {FACEBOOK_SIGNATURE_HEADER} header.",
            FACEBOOK_SIGNATURE_HEADER,
        )
    scheme, _, given = header.strip().partition("=")
    if scheme.lower() != "sha256" or not _same_hex(sign_facebook(app_secret, body)[7:], given):
        raise BadSignature(
            "The signature does not match this channel's Facebook app secret.",
            FACEBOOK_SIGNATURE_HEADER,
        )
