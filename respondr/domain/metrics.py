"""Latency metrics: where the time between "fan asked" and "we answered" goes.

The definitions are the product's ("Latency: the definitions" in the product brief).
For each message received in the period, its first reply is split into stages:

- detection: ``posted_at`` → ``received_at``;
- queue wait: ``received_at`` → the first ``claimed`` (the first ``draft_started`` if it
  was never claimed);
- drafting: the end of queue wait → the first ``submitted``;
- approval wait: each submission that needed approval → its round's decision (the
  ``approved`` event with ``final`` true, or the first ``rejected``), summed;
- rework: each rejection → the next submission, summed;
- publish lag: the last round's decision (its submission when it needed none) → the
  first ``published``;
- TTFR: ``received_at`` → ``published``; fan-seen: ``posted_at`` → ``published``;
- next reply: for a fan's follow-up in a thread (a message with an earlier message in the
  same channel and thread), its ``received_at`` → the first ``published`` event on any
  message of that thread at or after it (our next reply there).

Queue wait, drafting, approval wait, rework and publish lag add up exactly to TTFR: every
time is first cut to whole milliseconds since the epoch (an integer, the same on both
backends), and every stage is a difference of two of them. A stage counts for a message
when both of its ends exist; a message closed without a reply counts in queue wait (when
it was picked up) and in no later stage. Only events up to the first ``published`` belong
to the first reply.

Everything is computed in the database, in one statement: a per-message CTE reads the
workflow events of the period's messages, a long "series" CTE holds one row per message
and stage, and the aggregates (count, mean, percentiles, max, buckets) come back as one
row per group and series. PostgreSQL uses ``percentile_cont``; SQLite, which has no
ordered-set aggregates, ranks the values with window functions and interpolates the same
way. Hour of day, day of week and week are read in the organisation's timezone: with
``AT TIME ZONE`` on PostgreSQL, and on SQLite, which has no timezone database, with a
deterministic function ``respondr_local(ts, tz)`` registered on the connection (see
:func:`install_sqlite_functions`; :func:`latency_report` also registers it on the
connection it uses when it is missing).

Business-hours time: for channels with business hours (see
:mod:`respondr.domain.business_hours`), every series is also measured counting only the
time the channel was open (``ReportRow.business``). The channels' open intervals over the
report's time span are expanded in Python from the current spec into a VALUES table, and
the overlaps of each stage's span (each round's, for approval wait and rework) with them
are summed in the same statement, so a change of hours or holidays applies to past
messages too.
"""

from __future__ import annotations

import calendar
import itertools
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    Select,
    and_,
    case,
    column,
    event,
    extract,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
    values,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from respondr.domain import business_hours
from respondr.domain.errors import ValidationError
from respondr.models import (
    ApprovalPolicy,
    Channel,
    Message,
    PolicyVersion,
    User,
    WorkflowEvent,
)

STAGES = ("detection", "queue_wait", "drafting", "approval_wait", "rework", "publish_lag")
TTFR_STAGES = ("queue_wait", "drafting", "approval_wait", "rework", "publish_lag")
"""The stages that add up to time to first response."""
SERIES = (*STAGES, "ttfr", "fan_seen", "next_reply")
"""Every duration reported, in this order."""
STAGE_LABELS = {
    "detection": "Detection",
    "queue_wait": "Queue wait",
    "drafting": "Drafting",
    "approval_wait": "Approval wait",
    "rework": "Rework",
    "publish_lag": "Publish lag",
    "ttfr": "Time to first response",
    "fan_seen": "Fan-seen response time",
    "next_reply": "Next reply time",
}
GROUPINGS = (
    "channel",
    "category",
    "intent",
    "policy_version",
    "agent",
    "approver",
    "hour",
    "weekday",
    "week",
)
BUCKET_LABELS = ("under 1 h", "1–4 h", "4–8 h", "8–24 h", "over 24 h")
BUCKET_BOUNDS_MS = (3_600_000, 14_400_000, 28_800_000, 86_400_000)
"""Upper bounds (excluded) of the first four buckets, in milliseconds."""
PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95))

EVENT_KINDS = (
    "claimed",
    "draft_started",
    "submitted",
    "approved",
    "rejected",
    "published",
    "closed",
    "reopened",
)
"""The workflow events the stages are read from."""

INLINE = "NOT MATERIALIZED"
"""For the CTEs PostgreSQL should read in place rather than store first (it stores every
CTE used more than once): writing the period's events to a tuple store and reading them
back twice cost more than reading the table twice (the what-if's statement over 100,000
messages: 5.3 s stored, 3.1–3.7 s in place)."""

OPEN_AGE = "open_age"
SQLITE_LOCAL_TIME = "respondr_local"
_INSTALLED = "respondr.metrics.sqlite_functions"

GroupKey = int | str | date | None


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Stats:
    """Durations in seconds: count, mean, percentiles (as ``percentile_cont``), max, and
    how many fall in each of :data:`BUCKET_LABELS`. Empty: count 0, the rest None/0."""

    count: int
    mean: float | None
    p50: float | None
    p90: float | None
    p95: float | None
    max: float | None
    buckets: tuple[int, ...]

    @classmethod
    def empty(cls) -> Stats:
        return cls(0, None, None, None, None, None, (0,) * len(BUCKET_LABELS))


@dataclass(frozen=True)
class SlaStats:
    """Answered messages against their channel's SLA target, and open ones past it."""

    answered: int
    met: int
    breached: int
    open_overdue: int

    @property
    def attainment(self) -> float | None:
        return self.met / self.answered if self.answered else None

    @property
    def breach_rate(self) -> float | None:
        return self.breached / self.answered if self.answered else None


@dataclass(frozen=True)
class ReportRow:
    """One group's figures (the whole period when the report is not grouped)."""

    key: GroupKey
    label: str
    received: int
    answered: int
    open: int
    closed: int
    stages: Mapping[str, Stats]
    """Every name in :data:`SERIES`."""
    answered_totals_ms: Mapping[str, int]
    """Sums over answered messages, in whole milliseconds, of each TTFR stage and of
    ``ttfr``: the five stages add up exactly to ``ttfr``."""
    open_age: Stats
    """How long the open (unanswered, not closed) messages have waited, at ``now``."""
    sla: SlaStats
    business: Mapping[str, Stats]
    """Every name in :data:`SERIES`: the same durations counted in business hours only,
    over the messages of channels with business hours (count 0 when the group has none)."""

    @property
    def response_rate(self) -> float | None:
        """Answered ÷ (answered + open); closed messages needed no reply."""
        asked = self.answered + self.open
        return self.answered / asked if asked else None


@dataclass(frozen=True)
class Scope:
    """What a report covers: the messages received in ``[start, end)``, with hours, days
    and weeks read in ``tz``, grouped by ``group_by``, open ones aged at ``now``."""

    start: datetime | None
    """The period's first instant (UTC), included; None for no lower bound."""
    end: datetime | None
    """The instant (UTC) after the period, excluded; None for no upper bound."""
    tz: str
    group_by: str | None
    now: datetime
    hours: tuple[tuple[int, int, int], ...] = ()
    """Business hours as (channel id, opens, closes) in milliseconds since the epoch:
    every open interval of every channel with business hours, over the time the report's
    events span (see :func:`business_intervals`). Empty: no business-hours figures."""
    message_ids: tuple[int, ...] | BindParameter[Any] | None = None
    """Only these messages (as well as the period), or an expanding parameter that will
    name them (for a statement built once); None: every message of the period."""


@dataclass(frozen=True)
class Report:
    scope: Scope
    rows: tuple[ReportRow, ...]


class Bottleneck(NamedTuple):
    stage: str
    share: float
    sentence: str


def bottleneck(row: ReportRow) -> Bottleneck | None:
    """The stage with the largest share of time to first response over the answered
    messages (its sum ÷ the sum of their TTFR); None when nothing was answered."""
    total = row.answered_totals_ms.get("ttfr", 0)
    if row.answered == 0 or total <= 0:
        return None
    stage = max(TTFR_STAGES, key=lambda name: row.answered_totals_ms.get(name, 0))
    share = row.answered_totals_ms.get(stage, 0) / total
    sentence = f"{STAGE_LABELS[stage]} is {share:.0%} of time to first response"
    return Bottleneck(stage, share, sentence)


# --------------------------------------------------------------------------- backends


def _local_time(value: str | None, tz: str | None) -> str | None:
    """SQLite's ``respondr_local(ts, tz)``: a stored naive-UTC time as wall-clock time in
    ``tz``, to the whole second (SQLite's date functions would round 23:59:59.9995 up to
    the next day)."""
    if value is None or tz is None:
        return None
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def _register(dbapi_connection: Any) -> None:
    connection = cast(sqlite3.Connection, dbapi_connection)
    connection.create_function(SQLITE_LOCAL_TIME, 2, _local_time, deterministic=True)


def install_sqlite_functions(engine: Engine) -> None:
    """Register ``respondr_local`` on every new SQLite connection of ``engine``."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        _register(dbapi_connection)
        record.info[_INSTALLED] = True


def prepare(connection: Connection) -> None:
    """Make sure this connection has the SQLite functions the queries use; on PostgreSQL,
    set the planner up for the report statements for the rest of the transaction (``SET
    LOCAL``): JIT off, more memory per sort and hash, the whole result planned for.

    The report statements are wide (hundreds of expressions) and cheap to run, so the
    planner's cost passes the JIT thresholds and compiling them takes longer than running
    them: 17 s of JIT for a 4 s report over 20,000 messages with business hours."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL jit = off")
        # The per-message aggregates and the percentiles' sorts hold a few bytes per
        # event: with the default 4 MB they spill to disk from about 20,000 messages.
        connection.exec_driver_sql("SET LOCAL work_mem = '64MB'")
        # Rows streamed through a server-side cursor (the what-if's) are all read: plan
        # for the whole result, not for its first tenth.
        connection.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1.0")
    if connection.dialect.name == "sqlite" and not connection.info.get(_INSTALLED):
        _register(connection.connection.dbapi_connection)
        connection.info[_INSTALLED] = True


def epoch_ms_sql(dialect: str, column: Any) -> ColumnElement[Any]:
    """A stored time as whole milliseconds since the epoch (cut, never rounded)."""
    if dialect == "postgresql":
        return sql_cast(func.floor(extract("epoch", column) * 1000), BigInteger)
    if dialect == "sqlite":
        # Stored as naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'. strftime would round the
        # fraction to the millisecond (and 59.9996 s to the next second): take whole
        # seconds from it and the milliseconds from the text.
        seconds = sql_cast(func.strftime("%s", func.substr(column, 1, 19)), BigInteger)
        return seconds * 1000 + sql_cast(func.substr(column, 21, 3), Integer)
    raise NotImplementedError(f"latency metrics do not support {dialect}")


def sla_ms_sql() -> ColumnElement[Any]:
    """The message's channel's SLA target in milliseconds (join :class:`Channel`)."""
    return sql_cast(Channel.sla_minutes, BigInteger) * 60_000


def local_parts(dialect: str, column: Any, tz: str) -> dict[str, ColumnElement[Any]]:
    """Hour of day (0–23), ISO day of week (1 = Monday) and the week's Monday, read in
    ``tz``."""
    if dialect == "postgresql":
        local = func.timezone(tz, column)
        return {
            "hour": sql_cast(extract("hour", local), Integer),
            "weekday": sql_cast(extract("isodow", local), Integer),
            "week": sql_cast(func.date_trunc("week", local), Date),
        }
    local = getattr(func, SQLITE_LOCAL_TIME)(column, tz)
    sunday_first = sql_cast(func.strftime("%w", local), Integer)
    return {
        "hour": sql_cast(func.strftime("%H", local), Integer),
        "weekday": (sunday_first + 6) % 7 + 1,
        # To the next Sunday (or this one), then back six days: the ISO week's Monday.
        "week": func.date(local, "weekday 0", "-6 days"),
    }


# --------------------------------------------------------------------------- the query


def parse_zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(
            f"{tz!r} is not a timezone; use a name such as Europe/London.", "tz"
        ) from None


def period_instant(value: date | datetime | None, tz: str) -> datetime | None:
    """A period bound as an aware UTC instant: a date is midnight in ``tz``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a date or an aware datetime")
        return value.astimezone(UTC)
    return datetime.combine(value, time(), tzinfo=parse_zone(tz)).astimezone(UTC)


def epoch_ms(at: datetime) -> int:
    """An aware time as whole milliseconds since the epoch, as the queries cut it."""
    return (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def message_stages(dialect: str, scope: Scope, *, next_reply: bool = True) -> Select[Any]:
    """One row per message in the scope: its channel, when it was received, its group key
    (``grp``), its stages in milliseconds (None where a stage does not count), whether it
    was answered, is open or closed, its age when open, and its channel's SLA in
    milliseconds. ``next_reply=False`` leaves the next reply time out (None), for callers
    that do not read it."""
    start, end, tz, group_by, now = scope.start, scope.end, scope.tz, scope.group_by, scope.now
    if group_by is not None and group_by not in GROUPINGS:
        raise ValidationError(f"Group by one of {', '.join(GROUPINGS)}.", "group_by")
    ms = epoch_ms_sql
    event_ = WorkflowEvent

    period = []
    if start is not None:
        period.append(Message.received_at >= start)
    if end is not None:
        period.append(Message.received_at < end)
    # Only the events of the messages asked for, when asked for a few: read through the
    # message index (SQLite would otherwise read every event of the kinds first).
    by_message = []
    if scope.message_ids is not None:
        period.append(Message.id.in_(scope.message_ids))
        by_message.append(event_.message_id.in_(scope.message_ids))
    msg = (
        select(
            Message.id.label("message_id"),
            Message.channel_id,
            Message.category,
            Message.intent,
            Message.received_at,
            Message.thread_key,
            ms(dialect, Message.posted_at).label("posted_ms"),
            ms(dialect, Message.received_at).label("received_ms"),
            sla_ms_sql().label("sla_ms"),
        )
        .join(Channel, Channel.id == Message.channel_id)
        .where(*period)
        .cte("msg")
        .prefix_with(INLINE, dialect="postgresql")
    )

    # Who did what (the first claim's and first draft's actor, the actor of each round's
    # decision) is read only to group by agent or approver: ranking the events for it
    # sorts every event, the costliest step of the statement.
    actors = group_by in ("agent", "approver")
    # The JSON is read only on the events whose fields are used (on PostgreSQL the column
    # is ``json``: every read parses the text again).
    is_submitted = event_.kind == "submitted"
    final = case((event_.kind == "approved", event_.data["final"].as_boolean()))
    ev = (
        select(
            event_.id,
            event_.message_id,
            event_.submission_id,
            event_.kind,
            event_.actor_id,
            event_.at,
            ms(dialect, event_.at).label("at_ms"),
            case((is_submitted, event_.data["outcome"].as_string())).label("outcome"),
            final.label("final"),
            case((is_submitted, event_.data["policy_version_id"].as_integer())).label(
                "policy_version_id"
            ),
            # 1 on the first event of its kind: the first claim, the first draft and, in
            # each round, the first rejection and the first approval that cleared it.
            *(
                [
                    func.row_number()
                    .over(
                        partition_by=(event_.message_id, event_.kind, event_.submission_id, final),
                        order_by=(event_.at, event_.id),
                    )
                    .label("nth")
                ]
                if actors
                else []
            ),
        )
        # The events of the period's messages that a stage reads, found through the
        # message index.
        .join(msg, msg.c.message_id == event_.message_id)
        .where(event_.kind.in_(EVENT_KINDS), *by_message)
        .cte("ev")
        .prefix_with(INLINE, dialect="postgresql")
    )

    def first(condition: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.min(case((condition, ev.c.at_ms)))

    def first_actor(condition: ColumnElement[Any]) -> ColumnElement[Any]:
        if not actors:
            return sql_cast(null(), Integer)
        return func.max(case((and_(condition, ev.c.nth == 1), ev.c.actor_id)))

    kind = ev.c.kind
    firsts = (
        select(
            ev.c.message_id,
            first(kind == "claimed").label("claimed_ms"),
            first_actor(kind == "claimed").label("claimer_id"),
            first(kind == "draft_started").label("drafted_ms"),
            first_actor(kind == "draft_started").label("drafter_id"),
            first(kind == "published").label("published_ms"),
            # Exact times where events are compared rather than subtracted.
            func.min(case((kind == "published", ev.c.at))).label("published_at"),
            func.max(case((kind == "closed", ev.c.at))).label("closed_at"),
            func.max(case((kind == "reopened", ev.c.at))).label("reopened_at"),
        )
        .group_by(ev.c.message_id)
        .cte("firsts")
    )

    # One row per round (submission): when it was submitted and what the policy said,
    # its first rejection and the approval that cleared its last step.
    submitted, rejected = kind == "submitted", kind == "rejected"
    cleared = and_(kind == "approved", ev.c.final)
    per_round = (
        select(
            ev.c.message_id,
            func.min(case((submitted, ev.c.at))).label("sub_at"),
            func.min(case((submitted, ev.c.id))).label("sub_event_id"),
            first(submitted).label("sub_ms"),
            func.max(case((submitted, ev.c.outcome))).label("outcome"),
            func.max(case((submitted, ev.c.policy_version_id))).label("policy_version_id"),
            first(rejected).label("rejected_ms"),
            first_actor(rejected).label("rejecter_id"),
            first(cleared).label("cleared_ms"),
            first_actor(cleared).label("clearer_id"),
        )
        .where(ev.c.submission_id.is_not(None))
        .group_by(ev.c.message_id, ev.c.submission_id)
        .cte("per_round")
    )
    p = per_round.c
    # The round's decision: the first rejection or the clearing approval, whichever came first.
    rejected_first = and_(
        p.rejected_ms.is_not(None), or_(p.cleared_ms.is_(None), p.rejected_ms <= p.cleared_ms)
    )
    decided_ms = case((rejected_first, p.rejected_ms), else_=p.cleared_ms)
    held_decided = case((and_(p.outcome == "needs_approval", decided_ms.is_not(None)), 1), else_=0)
    in_order = (p.sub_at, p.sub_event_id)
    rounds = (
        select(
            p.message_id,
            p.sub_ms,
            p.outcome,
            p.policy_version_id,
            decided_ms.label("dec_ms"),
            case((rejected_first, 1), else_=0).label("rejected"),
            case((rejected_first, p.rejecter_id), else_=p.clearer_id).label("decider_id"),
            held_decided.label("held_decided"),
            func.lead(p.sub_ms)
            .over(partition_by=p.message_id, order_by=in_order)
            .label("next_sub_ms"),
            func.row_number().over(partition_by=p.message_id, order_by=in_order).label("number"),
            *(
                [
                    func.row_number()
                    .over(
                        partition_by=(p.message_id, held_decided),
                        order_by=(p.sub_at.desc(), p.sub_event_id.desc()),
                    )
                    .label("from_last")
                ]
                if actors
                else []
            ),
        )
        .join(firsts, firsts.c.message_id == p.message_id)
        .where(
            p.sub_ms.is_not(None),
            # Only the first reply's rounds.
            or_(firsts.c.published_at.is_(None), p.sub_at <= firsts.c.published_at),
        )
        .cte("rounds")
    )
    r = rounds.c
    r_held = r.outcome == "needs_approval"
    round_totals = (
        select(
            r.message_id,
            func.min(r.sub_ms).label("first_sub_ms"),
            func.max(case((r.number == 1, r.policy_version_id))).label("policy_version_id"),
            sql_cast(func.sum(case((r.held_decided == 1, r.dec_ms - r.sub_ms))), BigInteger).label(
                "approval_ms"
            ),
            sql_cast(
                func.sum(
                    case(
                        (
                            and_(r.rejected == 1, r.next_sub_ms.is_not(None)),
                            r.next_sub_ms - r.dec_ms,
                        )
                    )
                ),
                BigInteger,
            ).label("rework_ms"),
            func.max(
                case((r.next_sub_ms.is_(None), case((r_held, r.dec_ms), else_=r.sub_ms)))
            ).label("last_decision_ms"),
            # Who made the final decision of the last round that needed approval.
            (
                func.max(case((and_(r.held_decided == 1, r.from_last == 1), r.decider_id)))
                if actors
                else sql_cast(null(), Integer)
            ).label("approver_id"),
        )
        .group_by(r.message_id)
        .cte("round_totals")
    )

    f, t = firsts.c, round_totals.c
    answered = f.published_ms.is_not(None)
    closed = and_(
        f.published_ms.is_(None),
        f.closed_at.is_not(None),
        or_(f.reopened_at.is_(None), f.closed_at > f.reopened_at),
    )
    is_open = and_(f.published_ms.is_(None), ~closed)
    queue_end = func.coalesce(f.claimed_ms, f.drafted_ms)

    def unless_closed(expr: ColumnElement[Any]) -> ColumnElement[Any]:
        # Closed without a reply: no stage after queue wait counts.
        return case((closed, null()), else_=expr)

    keys: dict[str, ColumnElement[Any]] = {
        "channel": msg.c.channel_id,
        "category": msg.c.category,
        "intent": msg.c.intent,
        "policy_version": t.policy_version_id,
        "agent": func.coalesce(f.claimer_id, f.drafter_id),
        "approver": t.approver_id,
    }
    if group_by in ("hour", "weekday", "week"):
        keys.update(local_parts(dialect, msg.c.received_at, tz))
    group = keys[group_by] if group_by is not None else null()
    now_ms = literal(epoch_ms(now), BigInteger)

    joined = msg.outerjoin(firsts, f.message_id == msg.c.message_id).outerjoin(
        round_totals, t.message_id == msg.c.message_id
    )
    next_reply_ms: ColumnElement[Any] = sql_cast(null(), BigInteger)
    if next_reply:
        next_replies = _next_replies(dialect, msg)
        next_reply_ms = next_replies.c.next_reply_ms
        joined = joined.outerjoin(next_replies, next_replies.c.message_id == msg.c.message_id)
    core = select(
        msg.c.message_id,
        msg.c.channel_id,
        msg.c.received_at,
        group.label("grp"),
        # The ends of the stages, for business hours.
        msg.c.posted_ms,
        msg.c.received_ms,
        queue_end.label("queue_end_ms"),
        t.first_sub_ms,
        t.last_decision_ms,
        f.published_ms,
        next_reply_ms.label("next_reply_ms"),
        (msg.c.received_ms - msg.c.posted_ms).label("detection"),
        (queue_end - msg.c.received_ms).label("queue_wait"),
        unless_closed(t.first_sub_ms - queue_end).label("drafting"),
        unless_closed(t.approval_ms).label("approval_wait"),
        unless_closed(t.rework_ms).label("rework"),
        (f.published_ms - t.last_decision_ms).label("publish_lag"),
        (f.published_ms - msg.c.received_ms).label("ttfr"),
        (f.published_ms - msg.c.posted_ms).label("fan_seen"),
        (next_reply_ms - msg.c.received_ms).label("next_reply"),
        case((is_open, now_ms - msg.c.received_ms)).label(OPEN_AGE),
        case((answered, 1), else_=0).label("answered"),
        case((is_open, 1), else_=0).label("is_open"),
        case((closed, 1), else_=0).label("closed"),
        msg.c.sla_ms,
    ).select_from(joined)
    if not scope.hours:
        return core
    return _with_business_time(dialect, core.cte("core"), rounds, msg, scope.hours)


def _next_replies(dialect: str, msg: Any) -> Any:
    """The period's follow-ups (messages with an earlier one in the same channel and
    thread) and, in milliseconds, our first reply in their thread at or after each.

    One pass per thread rather than a lookup per message: the thread's messages and the
    ``published`` events on them form one stream in time order (a reply at the very
    instant a follow-up arrives comes after it), and each follow-up takes the earliest
    reply from its own row onwards."""
    other = aliased(Message)
    # Only threads with another message in them can hold a follow-up.
    threads = (
        select(msg.c.channel_id, msg.c.thread_key)
        .where(
            msg.c.thread_key.is_not(None),
            select(other.id)
            .where(
                other.channel_id == msg.c.channel_id,
                other.thread_key == msg.c.thread_key,
                other.id != msg.c.message_id,
            )
            .exists(),
        )
        .distinct()
        .cte("threads")
    )
    in_thread = and_(
        Message.channel_id == threads.c.channel_id, Message.thread_key == threads.c.thread_key
    )
    arrivals = select(
        Message.id.label("message_id"),
        Message.channel_id,
        Message.thread_key,
        Message.received_at.label("at"),
        literal_column("0").label("is_reply"),
        null().label("at_ms"),
        func.row_number()
        .over(
            partition_by=(Message.channel_id, Message.thread_key),
            order_by=(Message.received_at, Message.id),
        )
        .label("nth"),
    ).join(threads, in_thread)
    replies = (
        select(
            null().label("message_id"),
            Message.channel_id,
            Message.thread_key,
            WorkflowEvent.at,
            literal_column("1"),
            epoch_ms_sql(dialect, WorkflowEvent.at),
            null(),
        )
        .join(Message, Message.id == WorkflowEvent.message_id)
        .join(threads, in_thread)
        .where(WorkflowEvent.kind == "published")
    )
    stream = union_all(arrivals, replies).cte("thread_stream")
    st = stream.c
    ahead = (
        select(
            st.message_id,
            st.nth,
            func.min(case((st.is_reply == 1, st.at_ms)))
            .over(
                partition_by=(st.channel_id, st.thread_key),
                order_by=(st.at, st.is_reply),
                rows=(0, None),
            )
            .label("next_reply_ms"),
        )
        .select_from(stream)
        .cte("thread_ahead")
    )
    return (
        select(ahead.c.message_id, ahead.c.next_reply_ms).where(ahead.c.nth > 1).cte("next_replies")
    )


BUSINESS = "business:"
"""The prefix of the business-hours series in the report query."""
SIMPLE_SPANS = {
    "detection": ("posted_ms", "received_ms"),
    "queue_wait": ("received_ms", "queue_end_ms"),
    "drafting": ("queue_end_ms", "first_sub_ms"),
    "publish_lag": ("last_decision_ms", "published_ms"),
    "ttfr": ("received_ms", "published_ms"),
    "fan_seen": ("posted_ms", "published_ms"),
    "next_reply": ("received_ms", "next_reply_ms"),
}
"""The series that are one span each, by the columns of their ends (approval wait and
rework are sums of spans, one per round)."""


def _with_business_time(
    dialect: str, core: Any, rounds: Any, msg: Any, hours: tuple[tuple[int, int, int], ...]
) -> Select[Any]:
    """``core`` with a ``business_<series>`` column per series: how many of its
    milliseconds fell inside its channel's open intervals (None where the series does
    not count, or the channel has no business hours).

    Each span is joined to its channel's intervals and the overlaps are summed: the
    intervals are a VALUES table built from the current spec, so a change of hours
    applies to past messages as well."""
    table = (
        values(
            column("channel_id", Integer),
            column("opens", BigInteger),
            column("closes", BigInteger),
            name="open_hours",
            literal_binds=True,
        )
        .data(list(hours))
        .cte("open_hours")
    )
    h = table.c

    def overlap(low: ColumnElement[Any], high: ColumnElement[Any]) -> ColumnElement[Any]:
        start = case((low > h.opens, low), else_=h.opens)
        stop = case((high < h.closes, high), else_=h.closes)
        inside = and_(low.is_not(None), high.is_not(None), stop > start)
        return func.sum(case((inside, stop - start), else_=0))

    least, greatest = (
        (func.least, func.greatest) if dialect == "postgresql" else (func.min, func.max)
    )

    def meets(
        lows: Sequence[Any], highs: Sequence[Any], known: ColumnElement[Any]
    ) -> ColumnElement[Any]:
        """Only the intervals that can overlap one of the spans (from the earliest low to
        the latest high; ``known`` stands in for a missing end, whose span counts
        nothing): the others add nothing, and over a long history they are most."""
        return and_(
            h.closes > least(*(func.coalesce(low, known) for low in lows)),
            h.opens < greatest(*(func.coalesce(high, known) for high in highs)),
        )

    c = core.c
    spans = (
        select(
            c.message_id,
            *(overlap(c[a], c[b]).label(name) for name, (a, b) in SIMPLE_SPANS.items()),
        )
        .select_from(
            core.join(
                table,
                and_(
                    h.channel_id == c.channel_id,
                    meets(
                        [c[a] for a, _ in SIMPLE_SPANS.values()],
                        [c[b] for _, b in SIMPLE_SPANS.values()],
                        c.received_ms,
                    ),
                ),
            )
        )
        .group_by(c.message_id)
        .cte("business_spans")
    )
    r = rounds.c
    rework_end = case((and_(r.rejected == 1, r.next_sub_ms.is_not(None)), r.next_sub_ms))
    per_round = (
        select(
            r.message_id,
            overlap(r.sub_ms, case((r.held_decided == 1, r.dec_ms))).label("approval_wait"),
            overlap(r.dec_ms, rework_end).label("rework"),
        )
        .select_from(
            rounds.join(msg, msg.c.message_id == r.message_id).join(
                table,
                and_(
                    h.channel_id == msg.c.channel_id,
                    meets([r.sub_ms, r.dec_ms], [r.dec_ms, rework_end], r.sub_ms),
                ),
            )
        )
        .group_by(r.message_id)
        .cte("business_rounds")
    )
    channels = sorted({channel_id for channel_id, _, _ in hours})

    def business(name: str) -> ColumnElement[Any]:
        found = spans.c[name] if name in SIMPLE_SPANS else per_round.c[name]
        counts = and_(c[name].is_not(None), c.channel_id.in_(channels))
        return case((counts, func.coalesce(found, 0)))

    return select(core, *(business(name).label(f"business_{name}") for name in SERIES)).select_from(
        core.outerjoin(spans, spans.c.message_id == c.message_id).outerjoin(
            per_round, per_round.c.message_id == c.message_id
        )
    )


def series_statistics(dialect: str, series: Any) -> Select[Any]:
    """One row per group and series: count, mean, percentiles, max, buckets and the sum
    over answered messages, all in milliseconds.

    ``series`` is any CTE with the columns ``grp``, ``series``, ``x`` (milliseconds) and
    ``answered`` (1 or 0); other modules' figures (approval waits, the heat map) use it
    too, so every percentile in the app is computed one way."""
    x = series.c.x
    by = (series.c.grp, series.c.series)

    def common(source: Any) -> list[ColumnElement[Any]]:
        value = source.c.x
        buckets = []
        bounds = (None, *BUCKET_BOUNDS_MS, None)
        for number, (lower, upper) in enumerate(itertools.pairwise(bounds)):
            inside = and_(
                value >= lower if lower is not None else true(),
                value < upper if upper is not None else true(),
            )
            buckets.append(func.sum(case((inside, 1), else_=0)).label(f"b{number}"))
        return [
            source.c.grp,
            source.c.series,
            func.count().label("n"),
            func.avg(value).label("mean"),
            func.max(value).label("max"),
            func.sum(case((source.c.answered == 1, value), else_=0)).label("answered_total"),
            *buckets,
        ]

    if dialect == "postgresql":
        return select(
            *common(series),
            *(func.percentile_cont(p).within_group(x).label(name) for name, p in PERCENTILES),
        ).group_by(*by)

    # SQLite: rank each series, then interpolate between the two ranks around
    # (n - 1) * p, exactly as percentile_cont does.
    ranked = select(
        series,
        func.row_number().over(partition_by=by, order_by=x).label("rank"),
        func.count().over(partition_by=by).label("size"),
    ).cte("ranked")

    def position(size: Any, p: float) -> ColumnElement[Any]:
        return (size - 1) * literal(p)

    def below(size: Any, p: float) -> ColumnElement[Any]:
        return sql_cast(position(size, p), Integer)

    around = []
    for name, p in PERCENTILES:
        for offset, side in ((1, "lo"), (2, "hi")):
            at_rank = ranked.c.rank == below(ranked.c.size, p) + offset
            around.append(func.max(case((at_rank, ranked.c.x))).label(f"{name}_{side}"))
    grouped = (
        select(*common(ranked), *around).group_by(ranked.c.grp, ranked.c.series).subquery("grouped")
    )
    g = grouped.c
    interpolated = []
    for name, p in PERCENTILES:
        lo, hi = g[f"{name}_lo"], g[f"{name}_hi"]
        fraction = position(g.n, p) - below(g.n, p)
        interpolated.append((lo + (func.coalesce(hi, lo) - lo) * fraction).label(name))
    plain = [column for column in g if not column.name.endswith(("_lo", "_hi"))]
    return select(*plain, *interpolated)


def report_query(dialect: str, scope: Scope) -> Select[Any]:
    """The whole report in one statement: per group, its totals, each joined to one row
    per series (every stage, TTFR, fan-seen and the open messages' age)."""
    per_message = message_stages(dialect, scope).cte("per_message")
    pm = per_message.c
    series = union_all(
        *(
            select(
                pm.grp,
                literal_column(f"'{name}'").label("series"),
                pm[name].label("x"),
                pm.answered,
            ).where(pm[name].is_not(None))
            for name in (*SERIES, OPEN_AGE)
        ),
        *(
            select(
                pm.grp,
                literal_column(f"'{BUSINESS}{name}'").label("series"),
                pm[f"business_{name}"].label("x"),
                pm.answered,
            ).where(pm[f"business_{name}"].is_not(None))
            for name in (SERIES if scope.hours else ())
        ),
    ).cte("series")
    stats = series_statistics(dialect, series).cte("stats")

    def count_if(condition: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.sum(case((condition, 1), else_=0))

    totals = (
        select(
            pm.grp,
            func.count().label("received"),
            func.sum(pm.answered).label("answered_count"),
            func.sum(pm.is_open).label("open_count"),
            func.sum(pm.closed).label("closed_count"),
            count_if(and_(pm.answered == 1, pm.ttfr <= pm.sla_ms)).label("sla_met"),
            count_if(and_(pm.answered == 1, pm.ttfr > pm.sla_ms)).label("sla_breached"),
            count_if(and_(pm.is_open == 1, pm[OPEN_AGE] > pm.sla_ms)).label("sla_overdue"),
        )
        .group_by(pm.grp)
        .cte("totals")
    )
    s = stats.c
    return select(
        totals,
        *(s[name] for name in ("series", "n", "mean", "max", "answered_total")),
        *(s[f"b{i}"] for i in range(len(BUCKET_LABELS))),
        *(s[name] for name, _ in PERCENTILES),
    ).select_from(totals.outerjoin(stats, totals.c.grp.is_not_distinct_from(s.grp)))


# --------------------------------------------------------------------------- the report


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value) / 1000.0


def stats_from_row(row: Any) -> Stats:
    return Stats(
        count=int(row.n),
        mean=_seconds(row.mean),
        p50=_seconds(row.p50),
        p90=_seconds(row.p90),
        p95=_seconds(row.p95),
        max=_seconds(row.max),
        buckets=tuple(int(getattr(row, f"b{i}")) for i in range(len(BUCKET_LABELS))),
    )


def _normal_key(group_by: str | None, key: Any) -> GroupKey:
    if key is None:
        return None
    if group_by == "week":
        return key if isinstance(key, date) else date.fromisoformat(str(key))
    if group_by in ("category", "intent"):
        return str(key)
    return int(key)


def _labels(session: Session, group_by: str | None, keys: Sequence[GroupKey]) -> dict[Any, str]:
    """What to call each group, looked up once for the groups present."""
    ids = [k for k in keys if isinstance(k, int)]
    names: dict[Any, str] = {}
    if group_by == "channel" and ids:
        query = select(Channel.id, Channel.name).where(Channel.id.in_(ids))
        names = {row.id: row.name for row in session.execute(query)}
    elif group_by in ("agent", "approver") and ids:
        query = select(User.id, User.name).where(User.id.in_(ids))
        names = {row.id: row.name for row in session.execute(query)}
    elif group_by == "policy_version" and ids:
        names = {
            row.id: f"{row.name} v{row.number}"
            for row in session.execute(
                select(PolicyVersion.id, PolicyVersion.number, ApprovalPolicy.name)
                .join(ApprovalPolicy, ApprovalPolicy.id == PolicyVersion.policy_id)
                .where(PolicyVersion.id.in_(ids))
            )
        }
    nobody = {
        None: "All messages",
        "channel": "no channel",
        "category": "uncategorised",
        "intent": "no intent",
        "policy_version": "never submitted",
        "agent": "nobody",
        "approver": "no approval",
    }
    labels: dict[Any, str] = {}
    for key in keys:
        if key is None:
            labels[key] = nobody.get(group_by, "none")
        elif key in names:
            labels[key] = names[key]
        elif group_by == "hour" and isinstance(key, int):
            labels[key] = f"{key:02d}:00"
        elif group_by == "weekday" and isinstance(key, int):
            labels[key] = calendar.day_name[key - 1]
        elif group_by == "week" and isinstance(key, date):
            labels[key] = f"week of {key.isoformat()}"
        elif isinstance(key, str):
            labels[key] = key.replace("_", " ")
        else:
            labels[key] = f"{(group_by or '').replace('_', ' ')} #{key}"
    return labels


def _sort_key(group_by: str | None, label: str, key: GroupKey) -> tuple[Any, ...]:
    if group_by in ("hour", "weekday", "week"):
        return (key is None, key)
    return (key is None, label.casefold())


def open_intervals(spec: object, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The UTC instants a business-hours spec is open between about ``start`` and ``end``
    (whole local days around them), as [opens, closes) pairs in time order."""
    # business_hours owns reading the spec and the wall-clock arithmetic across
    # daylight-saving changes; this walks its days as business_seconds_between does.
    schedule = business_hours._schedule(spec)
    day = start.astimezone(schedule.zone).date() - timedelta(days=1)
    last = end.astimezone(schedule.zone).date() + timedelta(days=1)
    found: list[tuple[datetime, datetime]] = []
    while day <= last:
        if day not in schedule.holidays:
            for opens, closes in schedule.hours[day.weekday()]:
                found += business_hours._open_instants(schedule.zone, day, opens, closes)
        day += timedelta(days=1)
    return found


def business_intervals(session: Session, scope: Scope) -> tuple[tuple[int, int, int], ...]:
    """Every open interval of every channel with business hours, in milliseconds, over the
    time the scope's stages can span: from the first of its messages' posting to the last
    workflow event (or ``now``, if later)."""
    specs = [
        (channel_id, spec)
        for channel_id, spec in session.execute(select(Channel.id, Channel.business_hours))
        if spec
    ]
    if not specs:
        return ()
    period = []
    if scope.start is not None:
        period.append(Message.received_at >= scope.start)
    if scope.end is not None:
        period.append(Message.received_at < scope.end)
    first_posted, first_received = session.execute(
        select(func.min(Message.posted_at), func.min(Message.received_at)).where(*period)
    ).one()
    if first_received is None:
        return ()
    last_event = session.scalar(select(func.max(WorkflowEvent.at)))
    start = min(first_posted, first_received)
    end = max(scope.now, last_event or scope.now)
    return tuple(
        (channel_id, epoch_ms(opens), epoch_ms(closes))
        for channel_id, spec in specs
        for opens, closes in open_intervals(spec, start, end)
    )


def latency_report(
    session: Session,
    *,
    start: date | datetime | None,
    end: date | datetime | None,
    tz: str,
    group_by: str | None,
    now: datetime,
) -> Report:
    """Latency for the messages received in ``[start, end)`` (a date is midnight in
    ``tz``, the organisation's timezone), overall or grouped by one of
    :data:`GROUPINGS`; open messages' age is taken at ``now``."""
    parse_zone(tz)
    scope = Scope(period_instant(start, tz), period_instant(end, tz), tz, group_by, now)
    scope = replace(scope, hours=business_intervals(session, scope))
    connection = session.connection()
    prepare(connection)
    by_group: dict[GroupKey, list[Any]] = {}
    for row in session.execute(report_query(connection.dialect.name, scope)):
        by_group.setdefault(_normal_key(group_by, row.grp), []).append(row)
    if group_by is None and not by_group:
        by_group[None] = []
    labels = _labels(session, group_by, list(by_group))
    rows = [_report_row(key, labels[key], found) for key, found in by_group.items()]
    rows.sort(key=lambda row: _sort_key(group_by, row.label, row.key))
    return Report(scope, tuple(rows))


def _report_row(key: GroupKey, label: str, found: list[Any]) -> ReportRow:
    stages = {name: Stats.empty() for name in (*SERIES, OPEN_AGE)}
    business = {name: Stats.empty() for name in SERIES}
    totals = {name: 0 for name in (*TTFR_STAGES, "ttfr")}
    for row in found:
        if row.series is None:
            continue
        if row.series.startswith(BUSINESS):
            business[row.series.removeprefix(BUSINESS)] = stats_from_row(row)
            continue
        stages[row.series] = stats_from_row(row)
        if row.series in totals:
            totals[row.series] = int(row.answered_total)
    head = found[0] if found else None

    def count(name: str) -> int:
        return int(getattr(head, name) or 0) if head is not None else 0

    open_age = stages.pop(OPEN_AGE)
    return ReportRow(
        key=key,
        label=label,
        received=count("received"),
        answered=count("answered_count"),
        open=count("open_count"),
        closed=count("closed_count"),
        stages=stages,
        answered_totals_ms=totals,
        open_age=open_age,
        sla=SlaStats(
            answered=count("answered_count"),
            met=count("sla_met"),
            breached=count("sla_breached"),
            open_overdue=count("sla_overdue"),
        ),
        business=business,
    )


# --------------------------------------------------------------------------- heat map


@dataclass(frozen=True)
class HeatCell:
    """Time to first response (seconds) of the answered messages received on ``weekday``
    (0 = Monday) at ``hour``, both read in the organisation's timezone."""

    weekday: int
    hour: int
    count: int
    p50: float | None
    p90: float | None


def waiting_heatmap(
    session: Session, *, start: date | datetime | None, end: date | datetime | None, tz: str
) -> tuple[HeatCell, ...]:
    """Every weekday × hour cell (7 × 24, Monday 00:00 first) of the messages received in
    ``[start, end)``: how many were answered and their TTFR's median and p90. Unanswered
    messages have no TTFR: the report's open count and age speak for them."""
    parse_zone(tz)
    # ``now`` only ages open messages, which the heat map does not read.
    scope = Scope(period_instant(start, tz), period_instant(end, tz), tz, None, datetime.now(UTC))
    connection = session.connection()
    prepare(connection)
    dialect = connection.dialect.name
    pm = message_stages(dialect, scope, next_reply=False).cte("per_message")
    parts = local_parts(dialect, pm.c.received_at, tz)
    series = (
        select(
            (parts["weekday"] - 1).label("grp"),
            parts["hour"].label("series"),
            pm.c.ttfr.label("x"),
            pm.c.answered,
        )
        .where(pm.c.ttfr.is_not(None))
        .cte("series")
    )
    found = {
        (int(row.grp), int(row.series)): stats_from_row(row)
        for row in session.execute(series_statistics(dialect, series))
    }
    cells = []
    for weekday, hour in itertools.product(range(7), range(24)):
        stats = found.get((weekday, hour), Stats.empty())
        cells.append(HeatCell(weekday, hour, stats.count, stats.p50, stats.p90))
    return tuple(cells)


# --------------------------------------------------------------------------- neglect


@dataclass(frozen=True)
class NeglectedChannel:
    """An active channel, with how long since we last replied on it and what waits there."""

    channel_id: int
    name: str
    last_reply_at: datetime | None
    since_seconds: float | None
    """From our last reply to ``now``; None when we never replied."""
    open_count: int
    oldest_open_at: datetime | None
    """When the longest-waiting open message was received."""


def neglected_channels(session: Session, *, now: datetime) -> tuple[NeglectedChannel, ...]:
    """Every active channel, the longest since our last reply first (never replied to
    first of all); open means neither answered nor closed, as in the report."""
    connection = session.connection()
    prepare(connection)
    dialect = connection.dialect.name
    replies = (
        select(Message.channel_id, func.max(WorkflowEvent.at).label("last_reply_at"))
        .join(Message, Message.id == WorkflowEvent.message_id)
        .where(WorkflowEvent.kind == "published")
        .group_by(Message.channel_id)
        .subquery("replies")
    )
    scope = Scope(None, None, "UTC", None, now)
    pm = message_stages(dialect, scope, next_reply=False).cte("per_message")
    waiting = (
        select(
            pm.c.channel_id,
            func.count().label("open_count"),
            func.min(pm.c.received_at).label("oldest_open_at"),
        )
        .where(pm.c.is_open == 1)
        .group_by(pm.c.channel_id)
        .subquery("waiting")
    )
    query = (
        select(
            Channel.id,
            Channel.name,
            replies.c.last_reply_at,
            waiting.c.open_count,
            waiting.c.oldest_open_at,
        )
        .outerjoin(replies, replies.c.channel_id == Channel.id)
        .outerjoin(waiting, waiting.c.channel_id == Channel.id)
        .where(Channel.active.is_(True))
    )
    channels = [
        NeglectedChannel(
            channel_id=row.id,
            name=row.name,
            last_reply_at=row.last_reply_at,
            since_seconds=(
                (now - row.last_reply_at).total_seconds() if row.last_reply_at is not None else None
            ),
            open_count=int(row.open_count or 0),
            oldest_open_at=row.oldest_open_at,
        )
        for row in session.execute(query)
    ]
    channels.sort(
        key=lambda c: (
            c.last_reply_at is not None,
            c.last_reply_at or now,
            c.name.casefold(),
        )
    )
    return tuple(channels)
