"""A pure-Python reference for the latency metrics, written from the product's definitions.

:mod:`respondr.domain.metrics` computes the figures in the database; this module computes
them again from plain values, one message and one event at a time, so the tests can
check that both backends and this reference agree. Times are cut to whole milliseconds
since the epoch, as the database queries cut them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from respondr.domain.business_hours import business_seconds_between
from respondr.domain.metrics import (
    BUCKET_BOUNDS_MS,
    SERIES,
    TTFR_STAGES,
    GroupKey,
    ReportRow,
    Scope,
    SlaStats,
    Stats,
    epoch_ms,
)
from respondr.models import Channel, Message, WorkflowEvent


@dataclass(frozen=True)
class Event:
    kind: str
    at: datetime
    actor_id: int | None = None
    submission_id: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class History:
    """A message and its workflow events, in the order they happened."""

    message_id: int
    channel_id: int
    category: str | None
    intent: str | None
    posted_at: datetime
    received_at: datetime
    sla_minutes: int
    events: Sequence[Event]
    thread_key: str | None = None
    business_hours: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class MessageStages:
    """One message's stages in milliseconds (None where a stage does not count)."""

    values: Mapping[str, int | None]
    business: Mapping[str, int | None]
    """The same spans counted in the channel's business hours (None without them)."""
    answered: bool
    open: bool
    closed: bool
    open_age: int | None
    agent_id: int | None
    approver_id: int | None
    policy_version_id: int | None


def load_histories(session: Any) -> list[History]:
    """Every message with its events, read row by row (the reference may; the report may not)."""
    events: dict[int, list[Event]] = {}
    for row in session.scalars(select(WorkflowEvent).order_by(WorkflowEvent.at, WorkflowEvent.id)):
        if row.message_id is not None:
            events.setdefault(row.message_id, []).append(
                Event(row.kind, row.at, row.actor_id, row.submission_id, dict(row.data or {}))
            )
    histories = []
    for message, sla, hours in session.execute(
        select(Message, Channel.sla_minutes, Channel.business_hours).join(
            Channel, Channel.id == Message.channel_id
        )
    ):
        histories.append(
            History(
                message_id=message.id,
                channel_id=message.channel_id,
                category=message.category,
                intent=message.intent,
                posted_at=message.posted_at,
                received_at=message.received_at,
                sla_minutes=sla,
                events=events.get(message.id, []),
                thread_key=message.thread_key,
                business_hours=hours or None,
            )
        )
    return histories


def stages(history: History, now: datetime, thread: Sequence[History] = ()) -> MessageStages:
    """The product's definitions, applied to one message's first reply (and, given the
    messages of its thread, its next reply time)."""
    events = list(history.events)

    def first(kind: str) -> Event | None:
        return next((e for e in events if e.kind == kind), None)

    def last(kind: str) -> Event | None:
        return next((e for e in reversed(events) if e.kind == kind), None)

    ms = epoch_ms
    published, claim, draft = first("published"), first("claimed"), first("draft_started")
    closing, reopening = last("closed"), last("reopened")
    answered = published is not None
    closed = (
        not answered and closing is not None and (reopening is None or closing.at > reopening.at)
    )
    is_open = not answered and not closed

    # The first reply's rounds: each submission with its decision (the first rejection or
    # the approval that cleared the last step, whichever came first).
    rounds: list[tuple[Event, Event | None]] = []
    for event in events:
        if event.kind != "submitted" or event.submission_id is None:
            continue
        if published is not None and event.at > published.at:
            continue
        decision = next(
            (
                e
                for e in events
                if e.submission_id == event.submission_id
                and (e.kind == "rejected" or (e.kind == "approved" and e.data.get("final")))
            ),
            None,
        )
        rounds.append((event, decision))

    def held(submission: Event) -> bool:
        return submission.data.get("outcome") == "needs_approval"

    # Each series as the spans it adds up (approval wait and rework: one per round).
    received, posted = ms(history.received_at), ms(history.posted_at)
    queue_end = claim or draft
    spans: dict[str, list[tuple[int, int]]] = {"detection": [(posted, received)]}
    follow_up = next_reply(history, thread)
    if follow_up is not None:
        spans["next_reply"] = [(received, ms(follow_up))]
    if queue_end is not None:
        spans["queue_wait"] = [(received, ms(queue_end.at))]
    if not closed:
        if queue_end is not None and rounds:
            spans["drafting"] = [(ms(queue_end.at), ms(rounds[0][0].at))]
        waits = [(ms(s.at), ms(d.at)) for s, d in rounds if held(s) and d is not None]
        if waits:
            spans["approval_wait"] = waits
        reworks = [
            (ms(d.at), ms(rounds[i + 1][0].at))
            for i, (_, d) in enumerate(rounds[:-1])
            if d is not None and d.kind == "rejected"
        ]
        if reworks:
            spans["rework"] = reworks
    approver_id = None
    for submission, decision in rounds:
        if held(submission) and decision is not None:
            approver_id = decision.actor_id
    if published is not None:
        spans["ttfr"] = [(received, ms(published.at))]
        spans["fan_seen"] = [(posted, ms(published.at))]
        if rounds:
            submission, decision = rounds[-1]
            start = decision if held(submission) else submission
            if start is not None:
                spans["publish_lag"] = [(ms(start.at), ms(published.at))]
    values: dict[str, int | None] = dict.fromkeys(SERIES)
    business: dict[str, int | None] = dict.fromkeys(SERIES)
    for name, pieces in spans.items():
        values[name] = sum(high - low for low, high in pieces)
        if history.business_hours:
            business[name] = sum(
                business_ms(history.business_hours, low, high) for low, high in pieces
            )
    agent = claim or draft
    return MessageStages(
        values=values,
        business=business,
        answered=answered,
        open=is_open,
        closed=closed,
        open_age=ms(now) - received if is_open else None,
        agent_id=agent.actor_id if agent is not None else None,
        approver_id=approver_id,
        policy_version_id=rounds[0][0].data.get("policy_version_id") if rounds else None,
    )


def business_ms(spec: Mapping[str, Any], low: int, high: int) -> int:
    """Milliseconds of [low, high) (milliseconds since the epoch) the spec is open."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    seconds = business_seconds_between(
        spec, epoch + timedelta(milliseconds=low), epoch + timedelta(milliseconds=high)
    )
    return round(seconds * 1000)


def next_reply(history: History, thread: Sequence[History]) -> datetime | None:
    """For a follow-up (an earlier message in the same channel and thread), our first
    reply in the thread at or after its arrival."""
    if history.thread_key is None:
        return None
    if not any(
        (other.received_at, other.message_id) < (history.received_at, history.message_id)
        for other in thread
    ):
        return None
    replies = [
        e.at
        for other in thread
        for e in other.events
        if e.kind == "published" and e.at >= history.received_at
    ]
    return min(replies) if replies else None


def percentile(ordered: Sequence[float], p: float) -> float:
    """Linear interpolation between the closest ranks, as PostgreSQL's percentile_cont."""
    position = (len(ordered) - 1) * p
    lower = math.floor(position)
    low = ordered[lower]
    high = ordered[lower + 1] if lower + 1 < len(ordered) else low
    return low + (high - low) * (position - lower)


def statistics(values_ms: Iterable[int]) -> Stats:
    ordered = sorted(values_ms)
    if not ordered:
        return Stats.empty()
    buckets = [0] * (len(BUCKET_BOUNDS_MS) + 1)
    for value in ordered:
        buckets[sum(1 for bound in BUCKET_BOUNDS_MS if value >= bound)] += 1
    return Stats(
        count=len(ordered),
        mean=sum(ordered) / len(ordered) / 1000,
        p50=percentile(ordered, 0.5) / 1000,
        p90=percentile(ordered, 0.9) / 1000,
        p95=percentile(ordered, 0.95) / 1000,
        max=ordered[-1] / 1000,
        buckets=tuple(buckets),
    )


def group_key(history: History, result: MessageStages, group_by: str | None, tz: str) -> GroupKey:
    local = history.received_at.astimezone(ZoneInfo(tz))
    keys: dict[str | None, GroupKey] = {
        None: None,
        "channel": history.channel_id,
        "category": history.category,
        "intent": history.intent,
        "policy_version": result.policy_version_id,
        "agent": result.agent_id,
        "approver": result.approver_id,
        "hour": local.hour,
        "weekday": local.isoweekday(),
        "week": local.date() - timedelta(days=local.weekday()),
    }
    return keys[group_by]


def in_period(history: History, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or history.received_at >= start) and (
        end is None or history.received_at < end
    )


def report(histories: Iterable[History], scope: Scope) -> dict[GroupKey, ReportRow]:
    """The report's rows by group key (labels left empty)."""
    everything = list(histories)
    threads: dict[tuple[int, str | None], list[History]] = {}
    for history in everything:
        threads.setdefault((history.channel_id, history.thread_key), []).append(history)
    groups: dict[GroupKey, list[tuple[History, MessageStages]]] = {}
    for history in everything:
        if in_period(history, scope.start, scope.end):
            result = stages(history, scope.now, threads[(history.channel_id, history.thread_key)])
            key = group_key(history, result, scope.group_by, scope.tz)
            groups.setdefault(key, []).append((history, result))
    if scope.group_by is None and not groups:
        groups[None] = []
    rows = {}
    for key, members in groups.items():
        answered = [(h, s) for h, s in members if s.answered]
        opened = [(h, s) for h, s in members if s.open]

        def values(name: str, of: list[tuple[History, MessageStages]] = members) -> list[int]:
            return [v for _, s in of if (v := s.values[name]) is not None]

        def business(name: str, of: list[tuple[History, MessageStages]] = members) -> list[int]:
            return [v for _, s in of if (v := s.business[name]) is not None]

        def within(h: History, s: MessageStages) -> bool:
            return (s.values["ttfr"] or 0) <= h.sla_minutes * 60_000

        rows[key] = ReportRow(
            key=key,
            label="",
            received=len(members),
            answered=len(answered),
            open=len(opened),
            closed=sum(1 for _, s in members if s.closed),
            stages={name: statistics(values(name)) for name in SERIES},
            answered_totals_ms={
                name: sum(values(name, answered)) for name in (*TTFR_STAGES, "ttfr")
            },
            open_age=statistics(s.open_age for _, s in opened if s.open_age is not None),
            business={name: statistics(business(name)) for name in SERIES},
            sla=SlaStats(
                answered=len(answered),
                met=sum(1 for h, s in answered if within(h, s)),
                breached=sum(1 for h, s in answered if not within(h, s)),
                open_overdue=sum(
                    1 for h, s in opened if (s.open_age or 0) > h.sla_minutes * 60_000
                ),
            ),
        )
    return rows
