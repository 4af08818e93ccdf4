"""Approval analytics: how approvers treat the replies the policy holds, from the events.

Everything is read from the workflow events, in the database (see
:mod:`respondr.domain.metrics` for how times are cut to milliseconds and how percentiles
agree on both backends):

- a *round* is one ``submitted`` event and the events sharing its ``submission_id``;
  only rounds whose submission needed approval count here;
- a round's *decision* is its first ``rejected`` or its ``approved`` event with
  ``final`` true, whichever came first (as in the latency report);
- a *decision* by an approver is one ``approved`` or ``rejected`` event; it *waited*
  from the round's previous decision (an earlier step's approval) or, for the first, the
  submission: the time the round sat waiting for that approver's step;
- an approval was *edited* when its ``approved`` event says ``edited`` (the approver
  changed the text before clearing it; see :func:`respondr.domain.drafting.approve`).

The period selects rounds by their message's ``received_at``, half-open, as the latency
report does. The queue depth is the whole queue (every held round, whatever message it
belongs to) at regular points across the period: each hour for periods up to 7 days, else
each midnight in ``tz``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    and_,
    case,
    column,
    func,
    literal_column,
    or_,
    select,
    values,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from respondr.domain import drafting
from respondr.domain.metrics import (
    epoch_ms,
    epoch_ms_sql,
    local_parts,
    parse_zone,
    period_instant,
    prepare,
    series_statistics,
    stats_from_row,
)
from respondr.models import Message, Submission, User, WorkflowEvent

HOURLY_UP_TO = timedelta(days=7)
WAIT = "wait"


@dataclass(frozen=True)
class ApproverRow:
    """One approver: rounds they may decide now, and their decisions in the period."""

    approver_id: int
    name: str
    pending_now: int
    decisions: int
    approved: int
    rejected: int
    edited: int
    p50_wait: float | None
    """Seconds; None without decisions."""
    p90_wait: float | None


@dataclass(frozen=True)
class ApproverHourCell:
    """One approver's decisions on rounds submitted at ``hour`` (0–23, in ``tz``)."""

    approver_id: int
    name: str
    hour: int
    count: int
    p90_wait: float | None


@dataclass(frozen=True)
class ApprovalAnalytics:
    submissions: int
    """Rounds (submissions) that needed approval."""
    decisions: int
    """Of those, rounds decided (cleared or sent back)."""
    rejection_rate: float | None
    """Rounds sent back ÷ rounds decided."""
    edited_by_approver_share: float | None
    """Cleared rounds in which an approver edited the reply ÷ cleared rounds."""
    approvers: tuple[ApproverRow, ...]
    queue_depth: tuple[tuple[datetime, int], ...]
    """(UTC instant, rounds waiting for a decision then)."""
    p90_wait_by_approver_hour: tuple[ApproverHourCell, ...]


def _rounds(dialect: str) -> Any:
    """Every held round: message, submission time (ms and exact), decision time, whether
    it was sent back, and whether an approver edited it."""
    e = WorkflowEvent
    at_ms = epoch_ms_sql(dialect, e.at)
    submitted, rejected = e.kind == "submitted", e.kind == "rejected"
    approved = e.kind == "approved"
    cleared = and_(approved, e.data["final"].as_boolean())
    edited = and_(approved, e.data["edited"].as_boolean())
    per_round = (
        select(
            e.submission_id,
            func.max(e.message_id).label("message_id"),
            func.min(case((submitted, e.at))).label("sub_at"),
            func.min(case((submitted, at_ms))).label("sub_ms"),
            func.max(case((submitted, e.data["outcome"].as_string()))).label("outcome"),
            func.min(case((rejected, at_ms))).label("rejected_ms"),
            func.min(case((cleared, at_ms))).label("cleared_ms"),
            func.max(case((edited, 1), else_=0)).label("edited"),
        )
        .where(e.submission_id.is_not(None), e.kind.in_(("submitted", "approved", "rejected")))
        .group_by(e.submission_id)
        .cte("per_round")
    )
    p = per_round.c
    rejected_first = and_(
        p.rejected_ms.is_not(None), or_(p.cleared_ms.is_(None), p.rejected_ms <= p.cleared_ms)
    )
    return (
        select(
            p.submission_id,
            p.message_id,
            p.sub_at,
            p.sub_ms,
            case((rejected_first, p.rejected_ms), else_=p.cleared_ms).label("dec_ms"),
            case((rejected_first, 1), else_=0).label("rejected"),
            case((rejected_first, 0), else_=p.edited).label("edited"),
        )
        .where(p.outcome == "needs_approval", p.sub_ms.is_not(None))
        .cte("rounds")
    )


def _in_period(column_: Any, start: datetime | None, end: datetime | None) -> list[Any]:
    bounds = []
    if start is not None:
        bounds.append(column_ >= start)
    if end is not None:
        bounds.append(column_ < end)
    return bounds


def _sample_points(start: datetime, end: datetime, tz: str) -> list[datetime]:
    """Each hour from ``start`` for up to 7 days; else each local midnight in ``tz``."""
    if end <= start:
        return []
    if end - start <= HOURLY_UP_TO:
        count = -(-(end - start) // timedelta(hours=1))
        return [start + timedelta(hours=n) for n in range(count)]
    zone = parse_zone(tz)
    day = start.astimezone(zone).date()
    points: list[datetime] = []
    while True:
        point = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
        if point >= end:
            return points
        if point >= start:
            points.append(point)
        day += timedelta(days=1)


def approval_analytics(
    session: Session,
    *,
    start: date | datetime | None,
    end: date | datetime | None,
    tz: str,
    now: datetime,
) -> ApprovalAnalytics:
    """Approval figures for the rounds of the messages received in ``[start, end)`` (a date
    is midnight in ``tz``); the queue depth is sampled across the period (from the first
    held round when there is no ``start``, to ``now`` when there is no ``end``)."""
    parse_zone(tz)
    low, high = period_instant(start, tz), period_instant(end, tz)
    connection = session.connection()
    prepare(connection)
    dialect = connection.dialect.name
    rounds = _rounds(dialect)
    r = rounds.c
    period = (
        select(r)
        .join(Message, Message.id == r.message_id)
        .where(*_in_period(Message.received_at, low, high))
        .cte("period_rounds")
    )
    pr = period.c

    def count_if(condition: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    decided = pr.dec_ms.is_not(None)
    totals = session.execute(
        select(
            func.count().label("submissions"),
            count_if(decided).label("decisions"),
            count_if(and_(decided, pr.rejected == 1)).label("rejected"),
            count_if(and_(decided, pr.rejected == 0)).label("cleared"),
            count_if(and_(decided, pr.rejected == 0, pr.edited == 1)).label("edited"),
        ).select_from(period)
    ).one()

    # Each decision of a period round, with what it waited for.
    e = WorkflowEvent
    at_ms = epoch_ms_sql(dialect, e.at)
    decisions = (
        select(
            e.actor_id.label("approver_id"),
            e.kind,
            case((and_(e.kind == "approved", e.data["edited"].as_boolean()), 1), else_=0).label(
                "edited"
            ),
            (
                at_ms
                - func.coalesce(
                    func.lag(at_ms).over(partition_by=e.submission_id, order_by=(e.at, e.id)),
                    pr.sub_ms,
                )
            ).label("wait_ms"),
            local_parts(dialect, pr.sub_at, tz)["hour"].label("hour"),
        )
        .join(period, pr.submission_id == e.submission_id)
        .where(e.kind.in_(("approved", "rejected")), e.actor_id.is_not(None))
        .cte("decisions")
    )
    d = decisions.c
    per_approver = {
        row.approver_id: row
        for row in session.execute(
            select(
                d.approver_id,
                func.count().label("n"),
                count_if(d.kind == "approved").label("approved"),
                count_if(d.kind == "rejected").label("rejected"),
                func.sum(d.edited).label("edited"),
            ).group_by(d.approver_id)
        )
    }
    # Waits as series: per approver overall ("wait"), and per approver and hour ("0"…"23").
    waits = series_statistics(
        dialect,
        select(
            d.approver_id.label("grp"),
            sql_cast(literal_column(f"'{WAIT}'"), String).label("series"),
            d.wait_ms.label("x"),
            literal_column("0").label("answered"),
        )
        .union_all(select(d.approver_id, sql_cast(d.hour, String), d.wait_ms, literal_column("0")))
        .cte("waits"),
    )
    overall: dict[int, Any] = {}
    by_hour: dict[tuple[int, int], Any] = {}
    for row in session.execute(waits):
        stats = stats_from_row(row)
        if row.series == WAIT:
            overall[int(row.grp)] = stats
        else:
            by_hour[(int(row.grp), int(row.series))] = stats

    pending = _pending_now(session, rounds, now)
    approver_ids = set(per_approver) | set(pending) | _approver_role_holders(session)
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(approver_ids))).all())
    approvers = tuple(
        sorted(
            (
                ApproverRow(
                    approver_id=ident,
                    name=names.get(ident, f"user #{ident}"),
                    pending_now=pending.get(ident, 0),
                    decisions=int(per_approver[ident].n) if ident in per_approver else 0,
                    approved=int(per_approver[ident].approved) if ident in per_approver else 0,
                    rejected=int(per_approver[ident].rejected) if ident in per_approver else 0,
                    edited=int(per_approver[ident].edited or 0) if ident in per_approver else 0,
                    p50_wait=overall[ident].p50 if ident in overall else None,
                    p90_wait=overall[ident].p90 if ident in overall else None,
                )
                for ident in approver_ids
            ),
            key=lambda row: (row.name.casefold(), row.approver_id),
        )
    )
    cells = tuple(
        sorted(
            (
                ApproverHourCell(
                    approver_id=ident,
                    name=names.get(ident, f"user #{ident}"),
                    hour=hour,
                    count=stats.count,
                    p90_wait=stats.p90,
                )
                for (ident, hour), stats in by_hour.items()
            ),
            key=lambda cell: (cell.name.casefold(), cell.approver_id, cell.hour),
        )
    )

    first = low
    if first is None:  # from the local midnight before the first held round
        earliest = session.scalar(select(func.min(r.sub_at)))
        if earliest is not None:
            day = earliest.replace(tzinfo=UTC).astimezone(parse_zone(tz)).date()
            first = period_instant(day, tz)
    last = high if high is not None else now
    points = _sample_points(first, last, tz) if first is not None else []
    depth = _queue_depth(session, rounds, points)

    decisions_count = int(totals.decisions)
    cleared = int(totals.cleared)
    return ApprovalAnalytics(
        submissions=int(totals.submissions),
        decisions=decisions_count,
        rejection_rate=int(totals.rejected) / decisions_count if decisions_count else None,
        edited_by_approver_share=int(totals.edited) / cleared if cleared else None,
        approvers=approvers,
        queue_depth=depth,
        p90_wait_by_approver_hour=cells,
    )


def _queue_depth(
    session: Session, rounds: Any, points: list[datetime]
) -> tuple[tuple[datetime, int], ...]:
    """Held rounds submitted by each point and not decided before it, in one query."""
    if not points:
        return ()
    r = rounds.c
    table = (
        values(column("t", BigInteger), name="points")
        .data([(epoch_ms(point),) for point in points])
        .cte("points")
    )
    waiting = and_(r.sub_ms <= table.c.t, or_(r.dec_ms.is_(None), r.dec_ms > table.c.t))
    query = (
        select(table.c.t.label("point_ms"), func.count(r.submission_id).label("waiting"))
        .select_from(table.outerjoin(rounds, waiting))
        .group_by(table.c.t)
    )
    found = {int(row.point_ms): int(row.waiting) for row in session.execute(query)}
    return tuple((point, found.get(epoch_ms(point), 0)) for point in points)


def _pending_now(session: Session, rounds: Any, now: datetime) -> dict[int, int]:
    """How many rounds waiting at ``now`` (by the events) each person may decide: those
    whose current step's pool holds them and whose step they have not approved yet."""
    r = rounds.c
    waiting = select(r.submission_id).where(
        r.sub_ms <= epoch_ms(now), or_(r.dec_ms.is_(None), r.dec_ms > epoch_ms(now))
    )
    counts: dict[int, int] = {}
    for submission in session.scalars(select(Submission).where(Submission.id.in_(waiting))):
        if not submission.steps:
            continue
        number = drafting.current_step(session, submission)
        done = {d.approver_id for d in submission.decisions if d.step == number}
        step = submission.steps[number - 1]
        # The one definition of who may clear a step lives in drafting.
        for person in drafting._step_pool(session, step, submission.author_id):
            if person.id not in done:
                counts[person.id] = counts.get(person.id, 0) + 1
    return counts


def _approver_role_holders(session: Session) -> set[int]:
    return {
        user.id
        for user in session.scalars(select(User).where(User.is_active_account.is_(True)))
        if user.has_role("approver")
    }
