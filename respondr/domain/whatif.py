"""What-if: what a period would have looked like under another approval policy.

:func:`run_whatif` replays the first submitted reply of every message received in the
period through another policy with the pure engine (:func:`respondr.domain.policy.evaluate`)
and sets the estimate beside what happened: replies that needed (would need) approval,
time to first response p50/p90 and SLA attainment. The rules of the estimate are in
:data:`the result's assumptions <WhatIfResult.assumptions>`, in words, for the page:

- a reply that was held but would go out freely loses its approval wait and rework;
- a reply that went out freely but would be held (or blocked) gains the median approval
  wait observed in the period for the hour of day of its submission (in the
  organisation's timezone) and its approver pool; failing that, the median for the pool
  at any hour; failing that, the median of every observed wait; it is cleared at the
  first try;
- every other answered message keeps its actual time to first response.

The stages come from :func:`respondr.domain.metrics.message_stages`, the latency report's
own per-message query, joined to each message's first submission, in one statement whose
rows are streamed (``yield_per``), never held. The policy is evaluated once per distinct
combination of the facts its conditions read (a cache keyed on those facts only), and
durations go into ``array('d')`` buffers sorted once. The result is independent of row
order and has no randomness: the same inputs give the same numbers.
"""

from __future__ import annotations

import json
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, case, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from respondr.domain import metrics, policy
from respondr.domain.errors import NotFound, ValidationError
from respondr.domain.organisation import get_organisation
from respondr.domain.policies import find_policy
from respondr.domain.presets import PRESETS
from respondr.models import Channel, Draft, Fan, Message, Submission

STREAM_ROWS = 10_000
HELD = ("needs_approval", "blocked")
_QUARTER_HOUR_MS = 900_000
_HOUR_MS = 3_600_000
PoolKey = tuple[tuple[str, Any, Any], ...]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Side:
    """One column of the comparison: what happened, or the estimate. Times in seconds."""

    replies: int
    """Messages with a submitted reply (each replayed once: its first submission)."""
    needs_approval: int
    """Of those, how many needed (would need) approval; blocked ones included."""
    blocked: int
    answered: int
    ttfr_p50: float | None
    ttfr_p90: float | None
    sla_met: int

    @property
    def sla_attainment(self) -> float | None:
        return self.sla_met / self.answered if self.answered else None

    def as_dict(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        attainment = self.sla_attainment
        return {
            "replies": self.replies,
            "needs_approval": self.needs_approval,
            "blocked": self.blocked,
            "answered": self.answered,
            "ttfr_p50_s": rounded(self.ttfr_p50),
            "ttfr_p90_s": rounded(self.ttfr_p90),
            "sla_met": self.sla_met,
            "sla_attainment": None if attainment is None else round(attainment, 4),
        }


@dataclass(frozen=True)
class WhatIfResult:
    policy: str
    """The replayed policy as people read it ("Trusted staff free v1")."""
    start: datetime | None
    end: datetime | None
    tz: str
    received: int
    actual: Side
    estimated: Side
    no_longer_held: int
    newly_held: int
    median_approval_wait: float | None
    """The median of every approval wait observed in the period (seconds)."""
    assumptions: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON-able values: what the command line and the API print."""
        wait = self.median_approval_wait
        return {
            "policy": self.policy,
            "from": None if self.start is None else self.start.isoformat(),
            "to": None if self.end is None else self.end.isoformat(),
            "timezone": self.tz,
            "received": self.received,
            "actual": self.actual.as_dict(),
            "estimated": self.estimated.as_dict(),
            "no_longer_held": self.no_longer_held,
            "newly_held": self.newly_held,
            "median_approval_wait_s": None if wait is None else round(wait, 3),
            "assumptions": list(self.assumptions),
        }


COMPARED = (
    ("Replies replayed", "replies", "count"),
    ("Needed approval", "needs_approval", "count"),
    ("…of which blocked until edited", "blocked", "count"),
    ("Answered", "answered", "count"),
    ("Time to first response, p50", "ttfr_p50", "duration"),
    ("Time to first response, p90", "ttfr_p90", "duration"),
    ("SLA attainment", "sla_attainment", "share"),
)
"""The side-by-side rows: label, :class:`Side` attribute, and how to show the value."""


def comparison(result: WhatIfResult) -> list[tuple[str, str, Any, Any]]:
    """``(label, unit, actual, estimated)`` per row of :data:`COMPARED`; the unit is
    ``count``, ``duration`` (seconds, or None) or ``share`` (0–1, or None)."""
    return [
        (label, unit, getattr(result.actual, name), getattr(result.estimated, name))
        for label, name, unit in COMPARED
    ]


# --------------------------------------------------------------------------- arithmetic


def percentile(ordered: Sequence[float], p: float) -> float | None:
    """Linear interpolation between the two ranks around ``(n - 1) * p`` of sorted
    values, exactly as PostgreSQL's ``percentile_cont`` (None when there are none)."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * p
    below = int(position)
    low = ordered[below]
    high = ordered[below + 1] if below + 1 < len(ordered) else low
    return low + (high - low) * (position - below)


def _sorted(values: array) -> array:
    return array("d", sorted(values))


class _LocalHour:
    """The hour of day in ``tz`` of a time in epoch milliseconds. Every offset change
    falls on a quarter hour, so the offset is looked up once per quarter hour seen."""

    def __init__(self, tz: str) -> None:
        self.zone = ZoneInfo(tz)
        self.offsets: dict[int, int] = {}

    def __call__(self, at_ms: int) -> int:
        quarter = at_ms // _QUARTER_HOUR_MS
        offset = self.offsets.get(quarter)
        if offset is None:
            at = datetime.fromtimestamp(quarter * _QUARTER_HOUR_MS / 1000, UTC)
            delta = at.astimezone(self.zone).utcoffset() or timedelta()
            offset = self.offsets[quarter] = delta // timedelta(milliseconds=1)
        return int((at_ms + offset) // _HOUR_MS % 24)


# --------------------------------------------------------------------------- the policy


@dataclass(frozen=True)
class _Replayed:
    label: str
    rules: Any


def _replayed_policy(session: Session, ref: str) -> _Replayed:
    """A saved policy's current version, else a preset as shipped (by slug or name)."""
    try:
        found = find_policy(session, ref)
    except NotFound as error:
        wanted = ref.strip().casefold()
        preset = next((p for p in PRESETS if wanted in (p["slug"], p["name"].casefold())), None)
        if preset is None:
            raise ValidationError(error.message, "policy") from None
        return _Replayed(f"{preset['name']} (preset)", preset["rules"])
    version = found.current_version
    if version is None:
        raise ValidationError(f"The policy {found.name} has no version yet.", "policy")
    return _Replayed(version.label, version.rules)


def _conditions_read(rules: Any) -> set[str] | None:
    """The conditions the rules read; None when they cannot all be read (then the
    evaluation reads every fact, and the engine falls back to its safe default)."""
    try:
        checked = policy.validate_rules(rules)
    except ValidationError:
        return None
    return {name for rule in checked for name in rule["conditions"]}


def pool_key(steps: Any) -> PoolKey:
    """Approval steps as a comparable key: who (role or team) and how many, in order."""
    if not isinstance(steps, list | tuple) or not steps:
        steps = policy.SAFE_DEFAULT_STEPS
    key = []
    for step in steps:
        if not isinstance(step, dict):
            continue
        who = ("team", step["team_id"]) if "team_id" in step else ("role", step.get("role"))
        key.append((*who, step.get("count", 1)))
    return tuple(key)


# --------------------------------------------------------------------------- the query


def _query(dialect: str, scope: metrics.Scope, reads: set[str] | None) -> Any:
    """One row per message of the period: its stages (the latency report's), its first
    submission, and the facts the replayed policy reads."""
    every = reads is None
    reads = reads or set()
    stages = metrics.message_stages(dialect, scope).cte("stages")
    period = []
    if scope.start is not None:
        period.append(Message.received_at >= scope.start)
    if scope.end is not None:
        period.append(Message.received_at < scope.end)
    first_columns = [
        Draft.message_id,
        Submission.outcome,
        Submission.author_trusted,
        sql_cast(Submission.author_roles, String).label("roles"),
        sql_cast(Submission.steps, String).label("steps"),
        metrics.epoch_ms_sql(dialect, Submission.submitted_at).label("sub_ms"),
        func.row_number()
        .over(partition_by=Draft.message_id, order_by=(Submission.submitted_at, Submission.id))
        .label("nth"),
    ]
    if every or "watch_list_in" in reads:
        first_columns.append(Submission.text.label("draft_text"))
    if every or "unedited_stock" in reads:
        # The draft as it stands is unedited stock, and still the first submission's text.
        unedited = and_(Draft.unedited_stock.is_(True), Draft.text == Submission.text)
        first_columns.append(case((unedited, 1), else_=0).label("unedited"))
    if every or "author_approved_fewer_than" in reads:
        first_columns.append(Submission.author_id)
    firsts = (
        select(*first_columns)
        .join(Draft, Draft.id == Submission.draft_id)
        .join(Message, Message.id == Draft.message_id)
        .where(*period)
        .cte("first_submissions")
    )
    f = firsts.c
    columns = [
        stages.c.message_id,
        stages.c.approval_wait,
        stages.c.rework,
        stages.c.ttfr,
        stages.c.answered,
        stages.c.sla_ms,
        *(c for c in f if c.name not in ("message_id", "nth")),
        Message.channel_id,
        Message.category,
        Message.intent,
        Message.sentiment_score,
    ]
    if every or "watch_list_in" in reads:
        columns.append(Message.text.label("message_text"))
    if every or "followers_at_least" in reads:
        columns.append(
            select(Fan.followers)
            .where(Fan.id == Message.fan_id)
            .scalar_subquery()
            .label("followers")
        )
    return (
        select(*columns)
        .select_from(stages)
        .join(Message, Message.id == stages.c.message_id)
        .outerjoin(firsts, and_(f.message_id == stages.c.message_id, f.nth == 1))
    )


def _approved_rounds(session: Session, dialect: str) -> dict[int, array]:
    """Each author's approved rounds, as sorted decision times (epoch ms): how many were
    approved before a submission is what ``author_approved_fewer_than`` reads."""
    found: dict[int, array] = {}
    query = (
        select(Submission.author_id, metrics.epoch_ms_sql(dialect, Submission.decided_at))
        .where(Submission.decision == "approved", Submission.decided_at.is_not(None))
        .order_by(Submission.author_id, Submission.decided_at)
    )
    for author_id, decided_ms in session.execute(query):
        found.setdefault(author_id, array("d")).append(decided_ms)
    return found


# --------------------------------------------------------------------------- the replay


class _Judge:
    """The replayed policy's verdict on a row, evaluated once per distinct combination of
    the facts the policy reads."""

    def __init__(self, session: Session, replayed: _Replayed, reads: set[str] | None) -> None:
        org = get_organisation(session)
        self.replayed = replayed
        self.watch_list = tuple(org.watch_list or ())
        self.hours = {
            channel_id: hours
            for channel_id, hours in session.execute(select(Channel.id, Channel.business_hours))
        }
        self.reads = reads
        self.approved: dict[int, array] = {}
        if reads is None or "author_approved_fewer_than" in reads:
            self.approved = _approved_rounds(session, session.connection().dialect.name)
        self.parsed: dict[str | None, Any] = {}
        self.cache: dict[tuple[Any, ...], tuple[str, PoolKey]] = {}
        self.key: Callable[[Any], tuple[Any, ...]] = self._key_function()

    def json(self, text: str | None) -> Any:
        if text not in self.parsed:
            self.parsed[text] = json.loads(text) if text else None
        return self.parsed[text]

    def roles(self, row: Any) -> frozenset[str]:
        value = self.json(row.roles)
        return frozenset(value) if isinstance(value, list) else frozenset()

    def approved_before(self, row: Any) -> int:
        return bisect_left(self.approved.get(row.author_id, ()), row.sub_ms)

    def _key_function(self) -> Callable[[Any], tuple[Any, ...]]:
        readers: dict[str, Callable[[Any], Any]] = {
            "author_trusted": lambda row: bool(row.author_trusted),
            "author_roles": lambda row: row.roles,
            "channel_ids": lambda row: row.channel_id,
            "categories": lambda row: row.category,
            "intents": lambda row: row.intent,
            "sentiment_below": lambda row: row.sentiment_score,
            "watch_list_in": lambda row: (row.message_text, row.draft_text),
            "unedited_stock": lambda row: row.unedited,
            "followers_at_least": lambda row: row.followers,
            "outside_business_hours": lambda row: (row.channel_id, row.sub_ms),
            "author_approved_fewer_than": self.approved_before,
        }
        chosen = [
            readers[name] for name in sorted(readers) if self.reads is None or name in self.reads
        ]
        return lambda row: tuple(read(row) for read in chosen)

    def facts(self, row: Any) -> policy.Facts:
        every = self.reads is None
        reads = self.reads or set()

        def needs(name: str) -> bool:
            return every or name in reads

        return policy.Facts(
            author_roles=self.roles(row) if needs("author_roles") else frozenset(),
            author_trusted=bool(row.author_trusted),
            author_approved_count=self.approved_before(row)
            if needs("author_approved_fewer_than")
            else 0,
            channel_id=row.channel_id,
            category=row.category,
            intent=row.intent,
            sentiment=row.sentiment_score,
            message_text=row.message_text if needs("watch_list_in") else "",
            draft_text=row.draft_text if needs("watch_list_in") else "",
            unedited_stock=bool(row.unedited) if needs("unedited_stock") else False,
            followers=row.followers if needs("followers_at_least") else None,
            at=datetime.fromtimestamp(row.sub_ms / 1000, UTC),
            business_hours=self.hours.get(row.channel_id),
            watch_list=self.watch_list,
        )

    def __call__(self, row: Any) -> tuple[str, PoolKey]:
        key = self.key(row)
        verdict = self.cache.get(key)
        if verdict is None:
            found = policy.evaluate(
                self.replayed.rules, self.facts(row), policy_label=self.replayed.label
            )
            verdict = self.cache[key] = (found.outcome, pool_key(found.steps))
        return verdict


@dataclass
class _Tally:
    replies: int = 0
    held: int = 0
    blocked: int = 0
    met: int = 0

    def side(self, answered: int, ttfr: array) -> Side:
        ordered = _sorted(ttfr)
        p50, p90 = percentile(ordered, 0.5), percentile(ordered, 0.9)
        return Side(
            replies=self.replies,
            needs_approval=self.held,
            blocked=self.blocked,
            answered=answered,
            ttfr_p50=None if p50 is None else p50 / 1000,
            ttfr_p90=None if p90 is None else p90 / 1000,
            sla_met=self.met,
        )


class _Waits:
    """Observed approval waits by (hour, pool), and the estimate for a newly held reply."""

    def __init__(self) -> None:
        self.observed: dict[tuple[int, PoolKey], array] = {}
        self.medians: dict[Any, float | None] = {}

    def add(self, hour: int, pool: PoolKey, wait_ms: float) -> None:
        self.observed.setdefault((hour, pool), array("d")).append(wait_ms)

    def settle(self) -> None:
        """Sort once and keep only the medians: by hour and pool, by pool, overall."""
        by_pool: dict[PoolKey, array] = {}
        overall = array("d")
        for (hour, pool), waits in sorted(self.observed.items()):
            ordered = _sorted(waits)
            self.medians[(hour, pool)] = percentile(ordered, 0.5)
            by_pool.setdefault(pool, array("d")).extend(waits)
            overall.extend(waits)
        for pool, waits in by_pool.items():
            self.medians[pool] = percentile(_sorted(waits), 0.5)
        self.medians[None] = percentile(_sorted(overall), 0.5)
        self.observed = {}

    def estimate(self, hour: int, pool: PoolKey) -> float:
        for key in ((hour, pool), pool, None):
            found = self.medians.get(key)
            if found is not None:
                return found
        return 0.0


def _rows(session: Session, query: Any) -> Iterator[Any]:
    result = session.execute(query.execution_options(yield_per=STREAM_ROWS))
    try:
        yield from result
    finally:
        result.close()


def run_whatif(
    session: Session,
    *,
    policy_ref: str,
    start: date | datetime | None,
    end: date | datetime | None,
    tz: str,
    now: datetime,
) -> WhatIfResult:
    """Replay the messages received in ``[start, end)`` (a date is midnight in ``tz``,
    the organisation's timezone) through the policy ``policy_ref`` (a saved policy's
    name or slug, or a preset's) and estimate what would have changed.

    Raises :class:`ValidationError` naming ``policy``, ``from``, ``to`` or ``tz``.
    """
    metrics.parse_zone(tz)
    first, last = metrics.period_instant(start, tz), metrics.period_instant(end, tz)
    if first is not None and last is not None and last <= first:
        raise ValidationError("The period must end after it starts.", "to")
    replayed = _replayed_policy(session, policy_ref)
    reads = _conditions_read(replayed.rules)
    judge = _Judge(session, replayed, reads)
    local_hour = _LocalHour(tz)
    scope = metrics.Scope(first, last, tz, None, now)
    query = _query(session.connection().dialect.name, scope, reads)

    actual, estimated = _Tally(), _Tally()
    actual_ttfr, estimated_ttfr = array("d"), array("d")
    waits = _Waits()
    # Newly held answered replies, estimated once every wait has been seen.
    pending_ttfr, pending_sla, pending_hour = array("d"), array("d"), array("b")
    pending_pools: list[PoolKey] = []
    pools: dict[PoolKey, PoolKey] = {}  # one shared tuple per pool
    received = answered = no_longer = newly = 0

    for row in _rows(session, query):
        received += 1
        held_then = was_free = held_now = False
        hour, pool = 0, pool_key(None)
        if row.outcome is not None:
            held_then = row.outcome == "needs_approval"
            was_free = not held_then
            outcome, pool = judge(row)
            held_now = outcome in HELD
            hour = local_hour(row.sub_ms)
            for tally, held, blocked in (
                (actual, held_then, False),
                (estimated, held_now, outcome == "blocked"),
            ):
                tally.replies += 1
                tally.held += held
                tally.blocked += blocked
            if held_then and row.approval_wait is not None:
                observed = pool_key(judge.json(row.steps))
                waits.add(hour, pools.setdefault(observed, observed), row.approval_wait)
        if not row.answered:
            continue
        answered += 1
        ttfr = row.ttfr
        actual_ttfr.append(ttfr)
        actual.met += ttfr <= row.sla_ms
        if held_then and not held_now:
            no_longer += 1
            ttfr -= (row.approval_wait or 0) + (row.rework or 0)
        elif was_free and held_now:
            newly += 1
            pending_ttfr.append(ttfr)
            pending_sla.append(row.sla_ms)
            pending_hour.append(hour)
            pending_pools.append(pools.setdefault(pool, pool))
            continue
        estimated_ttfr.append(ttfr)
        estimated.met += ttfr <= row.sla_ms

    waits.settle()
    for ttfr, sla_ms, hour, pool in zip(
        pending_ttfr, pending_sla, pending_hour, pending_pools, strict=True
    ):
        ttfr += waits.estimate(hour, pool)
        estimated_ttfr.append(ttfr)
        estimated.met += ttfr <= sla_ms

    overall = waits.medians.get(None)
    return WhatIfResult(
        policy=replayed.label,
        start=first,
        end=last,
        tz=tz,
        received=received,
        actual=actual.side(answered, actual_ttfr),
        estimated=estimated.side(answered, estimated_ttfr),
        no_longer_held=no_longer,
        newly_held=newly,
        median_approval_wait=None if overall is None else overall / 1000,
        assumptions=_assumptions(replayed.label, tz, overall),
    )


def _assumptions(label: str, tz: str, overall_ms: float | None) -> tuple[str, ...]:
    if overall_ms is None:
        fallback = "no approval wait was observed in the period, so they are estimated to wait none"
    else:
        minutes = overall_ms / 60_000
        fallback = f"then the median of all observed waits ({minutes:,.0f} min)"
    return (
        f"Each message's first submitted reply is replayed through {label}, with its "
        "author's trust and roles as recorded when it was submitted, the message's "
        "channel, category, intent, sentiment and text as stored, and the fan's follower "
        "count as it is now.",
        "A reply that needed approval but would not loses its approval wait and rework; "
        "its queue wait, drafting and publish lag stay as they were.",
        "A reply that went out freely but would need approval (or would be blocked and need "
        "editing first) waits the median approval wait observed in this period for the "
        f"same hour of day of its submission ({tz}) and the same approver pool; without "
        f"one, the median for that pool at any hour; {fallback}. It is assumed to be "
        "cleared at the first try, with no rework.",
        "Every other answered message keeps its actual time to first response, even when "
        "the other policy would ask different approvers; unanswered messages stay "
        "unanswered.",
        "SLA attainment is the share of answered messages answered within their channel's "
        "SLA target.",
        "A reply counts as an unedited pre-approved stock response when the reply as it "
        "stands is one and still has the text first submitted.",
        "There is no randomness: the same period, policy and data give the same numbers.",
    )
