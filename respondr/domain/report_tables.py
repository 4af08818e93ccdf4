"""The latency report as named tables: one source for the report page, its charts, the
CSV downloads, the JSON API, the weekly summary mail and ``respondr report latency``.

Every table is a list of plain records (numbers in seconds, shares as fractions, text),
so each way out shows the same numbers; the page's charts are drawn from these tables
and the tables are printed beside them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from respondr.domain import approval_analytics, metrics
from respondr.domain.errors import ValidationError
from respondr.models import ApprovalPolicy, AuditEntry, Channel, PolicyVersion, User

DEFAULT_DAYS = 28
# The longest period a report covers (its day-by-day series must fit one SQL statement).
MAX_DAYS = 3 * 366
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | None
Record = dict[str, Cell]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"
    """How to show it: text, count, seconds (a duration), share (a fraction), date."""


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Record, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in self.columns],
            "rows": list(self.rows),
        }


@dataclass(frozen=True)
class Period:
    """Dates in the organisation's timezone: ``start`` included, ``end`` excluded."""

    start: date
    end: date
    tz: str

    def instants(self) -> tuple[datetime, datetime]:
        zone = ZoneInfo(self.tz)
        return tuple(  # type: ignore[return-value]
            datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
            for day in (self.start, self.end)
        )


@dataclass(frozen=True)
class PolicyChange:
    at: datetime
    week: date
    what: str


@dataclass(frozen=True)
class LatencyTables:
    period: Period
    group_by: str | None
    overall: metrics.ReportRow
    bottleneck: metrics.Bottleneck | None
    policy_changes: tuple[PolicyChange, ...]
    tables: Mapping[str, Table] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        found = self.bottleneck
        return {
            "from": self.period.start.isoformat(),
            "to": self.period.end.isoformat(),
            "timezone": self.period.tz,
            "group_by": self.group_by,
            "bottleneck": (
                {"stage": found.stage, "share": round(found.share, 4), "sentence": found.sentence}
                if found
                else None
            ),
            "tables": {name: table.as_json() for name, table in self.tables.items()},
        }


# --------------------------------------------------------------------------- input


def parse_period(start: str | None, end: str | None, *, tz: str, today: date) -> Period:
    """The report's dates from ``YYYY-MM-DD`` text; by default the last four weeks up to
    and including ``today``. Errors name the field (``from`` or ``to``)."""

    def day(text: str | None, name: str) -> date | None:
        if not text:
            return None
        try:
            return date.fromisoformat(text.strip())
        except ValueError:
            raise ValidationError(f"{name} must be a date as YYYY-MM-DD.", name) from None

    first, after = day(start, "from"), day(end, "to")
    after = after or (today + timedelta(days=1))
    first = first or (after - timedelta(days=DEFAULT_DAYS))
    if first >= after:
        raise ValidationError("to must be after from (it is the day after the last one).", "to")
    if (after - first).days > MAX_DAYS:
        raise ValidationError(
            f"A report covers at most {MAX_DAYS:,} days; choose a later from.", "from"
        )
    return Period(first, after, tz)


def check_grouping(group_by: str | None) -> str | None:
    if not group_by:
        return None
    if group_by not in metrics.GROUPINGS:
        raise ValidationError(
            f"group_by must be one of {', '.join(metrics.GROUPINGS)}.", "group_by"
        )
    return group_by


# --------------------------------------------------------------------------- records


def _round(value: float | None, places: int = 1) -> float | None:
    return None if value is None else round(value, places)


def latency_record(row: metrics.ReportRow) -> Record:
    """One flat record per group: every stage's count, mean and percentiles in seconds."""
    record: Record = {
        "group": row.label,
        "received": row.received,
        "answered": row.answered,
        "open": row.open,
        "closed": row.closed,
        "response_rate": _round(row.response_rate, 4),
        "sla_attainment": _round(row.sla.attainment, 4),
    }
    for series in metrics.SERIES:
        stats = row.stages[series]
        record[f"{series}_count"] = stats.count
        for name in ("mean", "p50", "p90", "p95", "max"):
            record[f"{series}_{name}_s"] = _round(getattr(stats, name))
    found = metrics.bottleneck(row)
    record["bottleneck"] = found.sentence if found else None
    return record


def latency_columns() -> tuple[Column, ...]:
    columns = [
        Column("group", "Group"),
        Column("received", "Received", "count"),
        Column("answered", "Answered", "count"),
        Column("open", "Open", "count"),
        Column("closed", "Closed", "count"),
        Column("response_rate", "Response rate", "share"),
        Column("sla_attainment", "SLA met", "share"),
    ]
    for series in metrics.SERIES:
        label = metrics.STAGE_LABELS[series]
        columns.append(Column(f"{series}_count", f"{label}: n", "count"))
        for name in ("mean", "p50", "p90", "p95", "max"):
            columns.append(Column(f"{series}_{name}_s", f"{label}: {name}", "seconds"))
    columns.append(Column("bottleneck", "Bottleneck"))
    return tuple(columns)


def stage_columns() -> tuple[Column, ...]:
    columns = [Column("group", "Group"), Column("answered", "Answered", "count")]
    for stage in metrics.TTFR_STAGES:
        label = metrics.STAGE_LABELS[stage]
        columns.append(Column(f"{stage}_mean_s", f"{label} (mean per reply)", "seconds"))
        columns.append(Column(f"{stage}_share", f"{label} share", "share"))
    columns.append(Column("ttfr_mean_s", "Time to first response (mean)", "seconds"))
    return tuple(columns)


def stage_record(row: metrics.ReportRow) -> Record:
    """Where the time of the answered replies goes: each TTFR stage's sum spread over the
    answered replies (so the stages add up to the mean TTFR) and its share of the total."""
    totals = row.answered_totals_ms
    total = totals.get("ttfr", 0)
    record: Record = {"group": row.label, "answered": row.answered}
    for stage in (*metrics.TTFR_STAGES, "ttfr"):
        mean = totals.get(stage, 0) / 1000 / row.answered if row.answered else None
        record[f"{stage}_mean_s"] = _round(mean)
        if stage != "ttfr":
            record[f"{stage}_share"] = round(totals.get(stage, 0) / total, 4) if total else None
    return record


# --------------------------------------------------------------------------- tables


def _table(name: str, title: str, columns: Sequence[Column], rows: Iterable[Record]) -> Table:
    return Table(name, title, tuple(columns), tuple(rows))


def _summary(row: metrics.ReportRow, found: metrics.Bottleneck | None) -> Table:
    columns = (
        Column("received", "Received", "count"),
        Column("answered", "Answered", "count"),
        Column("open", "Open (unanswered)", "count"),
        Column("closed", "Closed without reply", "count"),
        Column("response_rate", "Response rate", "share"),
        Column("ttfr_p50_s", "Time to first response, median", "seconds"),
        Column("ttfr_p90_s", "Time to first response, p90", "seconds"),
        Column("next_reply_p50_s", "Next reply time (to a follow-up), median", "seconds"),
        Column("sla_met", "Within SLA", "count"),
        Column("sla_breached", "SLA breaches", "count"),
        Column("sla_attainment", "SLA attainment", "share"),
        Column("open_overdue", "Open past SLA", "count"),
        Column("oldest_open_s", "Oldest open message's age", "seconds"),
        Column("bottleneck", "Bottleneck"),
    )
    ttfr = row.stages["ttfr"]
    record: Record = {
        "received": row.received,
        "answered": row.answered,
        "open": row.open,
        "closed": row.closed,
        "response_rate": _round(row.response_rate, 4),
        "ttfr_p50_s": _round(ttfr.p50),
        "ttfr_p90_s": _round(ttfr.p90),
        "next_reply_p50_s": _round(row.stages["next_reply"].p50),
        "sla_met": row.sla.met,
        "sla_breached": row.sla.breached,
        "sla_attainment": _round(row.sla.attainment, 4),
        "open_overdue": row.sla.open_overdue,
        "oldest_open_s": _round(row.open_age.max),
        "bottleneck": found.sentence if found else None,
    }
    return _table("summary", "Summary", columns, [record])


def _distribution(row: metrics.ReportRow) -> Table:
    buckets = row.stages["ttfr"].buckets
    total = sum(buckets)
    rows: list[Record] = [
        {"bucket": label, "replies": count, "share": round(count / total, 4) if total else None}
        for label, count in zip(metrics.BUCKET_LABELS, buckets, strict=True)
    ]
    columns = (
        Column("bucket", "Time to first response"),
        Column("replies", "Replies", "count"),
        Column("share", "Share", "share"),
    )
    return _table("distribution", "Time to first response: distribution", columns, rows)


def _trend(report: metrics.Report, changes: Sequence[PolicyChange]) -> Table:
    by_week: dict[date, list[str]] = {}
    for change in changes:
        by_week.setdefault(change.week, []).append(change.what)
    rows: list[Record] = []
    for row in report.rows:
        week = row.key if isinstance(row.key, date) else None
        ttfr = row.stages["ttfr"]
        totals = row.answered_totals_ms
        rows.append(
            {
                "week": week.isoformat() if week else row.label,
                "received": row.received,
                "answered": row.answered,
                "response_rate": _round(row.response_rate, 4),
                "ttfr_p50_s": _round(ttfr.p50),
                "ttfr_p90_s": _round(ttfr.p90),
                "approval_wait_share": (
                    round(totals["approval_wait"] / totals["ttfr"], 4) if totals["ttfr"] else None
                ),
                "policy_changes": "; ".join(by_week.get(week, [])) if week else "",
            }
        )
    columns = (
        Column("week", "Week of (Monday)", "date"),
        Column("received", "Received", "count"),
        Column("answered", "Answered", "count"),
        Column("response_rate", "Response rate", "share"),
        Column("ttfr_p50_s", "TTFR median", "seconds"),
        Column("ttfr_p90_s", "TTFR p90", "seconds"),
        Column("approval_wait_share", "Approval wait share of TTFR", "share"),
        Column("policy_changes", "Policy changes that week"),
    )
    return _table("trend", "Weekly trend", columns, rows)


def _agents(report: metrics.Report) -> Table:
    rows: list[Record] = []
    for row in report.rows:
        stages = row.stages
        rows.append(
            {
                "agent": row.label,
                "received": row.received,
                "answered": row.answered,
                "open": row.open,
                "response_rate": _round(row.response_rate, 4),
                "queue_wait_p50_s": _round(stages["queue_wait"].p50),
                "drafting_p50_s": _round(stages["drafting"].p50),
                "ttfr_p50_s": _round(stages["ttfr"].p50),
                "ttfr_p90_s": _round(stages["ttfr"].p90),
                "sla_attainment": _round(row.sla.attainment, 4),
            }
        )
    columns = (
        Column("agent", "Agent (who picked it up)"),
        Column("received", "Messages", "count"),
        Column("answered", "Answered", "count"),
        Column("open", "Open", "count"),
        Column("response_rate", "Response rate", "share"),
        Column("queue_wait_p50_s", "Queue wait median", "seconds"),
        Column("drafting_p50_s", "Drafting median", "seconds"),
        Column("ttfr_p50_s", "TTFR median", "seconds"),
        Column("ttfr_p90_s", "TTFR p90", "seconds"),
        Column("sla_attainment", "SLA attainment", "share"),
    )
    return _table("agents", "Per agent", columns, rows)


def _sla(session: Session, report: metrics.Report) -> Table:
    query = select(Channel.id, Channel.sla_minutes)
    targets = {ident: minutes for ident, minutes in session.execute(query)}
    rows: list[Record] = []
    for row in report.rows:
        minutes = targets.get(row.key) if isinstance(row.key, int) else None
        rows.append(
            {
                "channel": row.label,
                "sla_target_s": minutes * 60 if minutes is not None else None,
                "answered": row.answered,
                "sla_met": row.sla.met,
                "sla_breached": row.sla.breached,
                "sla_attainment": _round(row.sla.attainment, 4),
                "response_rate": _round(row.response_rate, 4),
                "open": row.open,
                "open_overdue": row.sla.open_overdue,
                "oldest_open_s": _round(row.open_age.max),
            }
        )
    columns = (
        Column("channel", "Channel"),
        Column("sla_target_s", "SLA target", "seconds"),
        Column("answered", "Answered", "count"),
        Column("sla_met", "Within SLA", "count"),
        Column("sla_breached", "Breaches", "count"),
        Column("sla_attainment", "Attainment", "share"),
        Column("response_rate", "Response rate", "share"),
        Column("open", "Open", "count"),
        Column("open_overdue", "Open past SLA", "count"),
        Column("oldest_open_s", "Oldest open", "seconds"),
    )
    return _table("sla", "Response rate and SLA per channel", columns, rows)


def _changes_table(changes: Sequence[PolicyChange], tz: str) -> Table:
    rows: list[Record] = [
        {"at": _local(change.at, tz), "change": change.what} for change in changes
    ]
    columns = (Column("at", f"When ({tz})"), Column("change", "Change"))
    return _table("policy_changes", "Policy changes", columns, rows)


def policy_changes(session: Session, period: Period) -> tuple[PolicyChange, ...]:
    """New versions of existing policies and changes of the policy a channel follows, in
    the period, oldest first (from the policy versions and the audit log)."""
    start, end = period.instants()
    zone = ZoneInfo(period.tz)
    found: list[tuple[datetime, str]] = []
    versions = session.execute(
        select(PolicyVersion.created_at, PolicyVersion.number, ApprovalPolicy.name, User.name)
        .join(ApprovalPolicy, ApprovalPolicy.id == PolicyVersion.policy_id)
        .outerjoin(User, User.id == PolicyVersion.created_by_id)
        .where(
            PolicyVersion.number > 1,
            PolicyVersion.created_at >= start,
            PolicyVersion.created_at < end,
        )
    )
    for at, number, policy, author in versions:
        found.append((at, f"{policy} v{number}" + (f" saved by {author}" if author else "")))
    assignments = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "channel.policy", AuditEntry.at >= start, AuditEntry.at < end
        )
    )
    for entry in assignments:
        channel = entry.details.get("channel", "a channel")
        before, after = (entry.details.get("policy") or [None, None])[:2]
        found.append((entry.at, f"{channel}: {before or 'no policy'} → {after or 'no policy'}"))
    found.sort(key=lambda item: item[0])
    changes = []
    for at, what in found:
        local = at.astimezone(zone).date()
        changes.append(PolicyChange(at, local - timedelta(days=local.weekday()), what))
    return tuple(changes)


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _local(at: datetime | None, tz: str) -> str | None:
    return None if at is None else at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def _heatmap(cells: Sequence[metrics.HeatCell]) -> Table:
    rows: list[Record] = [
        {
            "weekday": WEEKDAYS[cell.weekday],
            "hour": cell.hour,
            "answered": cell.count,
            "ttfr_p50_s": _round(cell.p50),
            "ttfr_p90_s": _round(cell.p90),
        }
        for cell in cells
    ]
    columns = (
        Column("weekday", "Day received"),
        Column("hour", "Hour received", "count"),
        Column("answered", "Answered", "count"),
        Column("ttfr_p50_s", "TTFR median", "seconds"),
        Column("ttfr_p90_s", "TTFR p90", "seconds"),
    )
    return _table("heatmap", "Waiting by day and hour received", columns, rows)


def _approvals(found: approval_analytics.ApprovalAnalytics) -> Table:
    record: Record = {
        "held": found.submissions,
        "decided": found.decisions,
        "rejection_rate": _round(found.rejection_rate, 4),
        "edited_share": _round(found.edited_by_approver_share, 4),
        "pending_now": sum(row.pending_now for row in found.approvers),
    }
    columns = (
        Column("held", "Replies held for approval", "count"),
        Column("decided", "Decided", "count"),
        Column("rejection_rate", "Sent back (rejection rate)", "share"),
        Column("edited_share", "Cleared after the approver edited", "share"),
        Column("pending_now", "Approvals pending now (per approver, summed)", "count"),
    )
    return _table("approvals", "Approvals", columns, [record])


def _approvers(found: approval_analytics.ApprovalAnalytics) -> Table:
    rows: list[Record] = [
        {
            "approver": row.name,
            "pending_now": row.pending_now,
            "decisions": row.decisions,
            "approved": row.approved,
            "rejected": row.rejected,
            "edited": row.edited,
            "wait_p50_s": _round(row.p50_wait),
            "wait_p90_s": _round(row.p90_wait),
        }
        for row in found.approvers
    ]
    columns = (
        Column("approver", "Approver"),
        Column("pending_now", "Pending now", "count"),
        Column("decisions", "Decisions", "count"),
        Column("approved", "Cleared", "count"),
        Column("rejected", "Sent back", "count"),
        Column("edited", "Edited before clearing", "count"),
        Column("wait_p50_s", "Wait median", "seconds"),
        Column("wait_p90_s", "Wait p90", "seconds"),
    )
    return _table("approvers", "Per approver", columns, rows)


def _approver_hours(found: approval_analytics.ApprovalAnalytics) -> Table:
    rows: list[Record] = [
        {
            "approver": cell.name,
            "hour": cell.hour,
            "decisions": cell.count,
            "wait_p90_s": _round(cell.p90_wait),
        }
        for cell in found.p90_wait_by_approver_hour
    ]
    columns = (
        Column("approver", "Approver"),
        Column("hour", "Hour submitted", "count"),
        Column("decisions", "Decisions", "count"),
        Column("wait_p90_s", "Wait p90", "seconds"),
    )
    return _table("approver_hours", "Approval wait p90 by approver and hour", columns, rows)


def _queue_depth(found: approval_analytics.ApprovalAnalytics, tz: str) -> Table:
    rows: list[Record] = [
        {"at": _local(at, tz), "waiting": waiting} for at, waiting in found.queue_depth
    ]
    columns = (Column("at", f"When ({tz})"), Column("waiting", "Replies waiting", "count"))
    return _table("queue_depth", "Approval queue depth", columns, rows)


def _neglected(channels: Sequence[metrics.NeglectedChannel], tz: str, now: datetime) -> Table:
    rows: list[Record] = [
        {
            "channel": channel.name,
            "last_reply_at": _local(channel.last_reply_at, tz),
            "since_last_reply_s": _round(channel.since_seconds),
            "open": channel.open_count,
            "oldest_open_s": (
                _round((now - channel.oldest_open_at).total_seconds())
                if channel.oldest_open_at
                else None
            ),
        }
        for channel in channels
    ]
    columns = (
        Column("channel", "Channel"),
        Column("last_reply_at", f"Our last reply ({tz})"),
        Column("since_last_reply_s", "Since our last reply", "seconds"),
        Column("open", "Open", "count"),
        Column("oldest_open_s", "Oldest open waiting", "seconds"),
    )
    return _table("neglected", "Neglected channels (longest since our last reply)", columns, rows)


def _business(report: metrics.Report) -> Table:
    """The same durations counted in business hours only, for the groups with messages on
    channels that have business hours."""
    series = ("ttfr", *metrics.TTFR_STAGES)
    rows: list[Record] = []
    for row in report.rows:
        business = row.business
        if business["ttfr"].count == 0 and all(business[name].count == 0 for name in series):
            continue
        record: Record = {"group": row.label, "answered": business["ttfr"].count}
        for name in series:
            record[f"{name}_p50_s"] = _round(business[name].p50)
            record[f"{name}_p90_s"] = _round(business[name].p90)
        rows.append(record)
    columns = [Column("group", "Group"), Column("answered", "Answered", "count")]
    for name in series:
        label = metrics.STAGE_LABELS[name]
        columns.append(Column(f"{name}_p50_s", f"{label} median", "seconds"))
        columns.append(Column(f"{name}_p90_s", f"{label} p90", "seconds"))
    return _table("business", "In business hours", columns, rows)


TABLE_NAMES = (
    "summary",
    "stages",
    "distribution",
    "trend",
    "policy_changes",
    "heatmap",
    "approvals",
    "approvers",
    "approver_hours",
    "queue_depth",
    "agents",
    "sla",
    "neglected",
    "groups",
    "business",
)
"""Every table of the latency report, in the page's order."""


def latency_tables(
    session: Session,
    period: Period,
    *,
    group_by: str | None,
    now: datetime,
    only: str | None = None,
) -> LatencyTables:
    """The tables of the latency report for ``period``, the chosen grouping's included:
    every one, or with ``only`` just that one (none when it names no table), so a CSV of
    one table does not compute the others."""
    group_by = check_grouping(group_by)
    reports: dict[str | None, metrics.Report] = {}

    def report(by: str | None) -> metrics.Report:
        if by not in reports:
            reports[by] = metrics.latency_report(
                session, start=period.start, end=period.end, tz=period.tz, group_by=by, now=now
            )
        return reports[by]

    @cache
    def approvals() -> approval_analytics.ApprovalAnalytics:
        return approval_analytics.approval_analytics(
            session, start=period.start, end=period.end, tz=period.tz, now=now
        )

    overall = report(None).rows[0]
    found = metrics.bottleneck(overall)
    changes = policy_changes(session, period)
    builders: dict[str, Callable[[], Table]] = {
        "summary": lambda: _summary(overall, found),
        "stages": lambda: _table(
            "stages",
            "Where the time goes",
            stage_columns(),
            map(stage_record, report(group_by).rows),
        ),
        "distribution": lambda: _distribution(overall),
        "trend": lambda: _trend(report("week"), changes),
        "policy_changes": lambda: _changes_table(changes, period.tz),
        "heatmap": lambda: _heatmap(
            metrics.waiting_heatmap(session, start=period.start, end=period.end, tz=period.tz)
        ),
        "approvals": lambda: _approvals(approvals()),
        "approvers": lambda: _approvers(approvals()),
        "approver_hours": lambda: _approver_hours(approvals()),
        "queue_depth": lambda: _queue_depth(approvals(), period.tz),
        "agents": lambda: _agents(report("agent")),
        "sla": lambda: _sla(session, report("channel")),
        "neglected": lambda: _neglected(
            metrics.neglected_channels(session, now=now), period.tz, now
        ),
        "groups": lambda: _table(
            "groups", "Every stage", latency_columns(), map(latency_record, report(group_by).rows)
        ),
        "business": lambda: _business(report(group_by)),
    }
    wanted = TABLE_NAMES if only is None else [name for name in TABLE_NAMES if name == only]
    return LatencyTables(
        period=period,
        group_by=group_by,
        overall=overall,
        bottleneck=found,
        policy_changes=changes,
        tables={name: builders[name]() for name in wanted},
    )


# --------------------------------------------------------------------------- CSV


def safe_cell(value: Cell) -> Cell:
    """A cell a spreadsheet will not run: text starting with ``= + - @`` (or a tab or
    carriage return) gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(CSV_FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Cell]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(name) for name in columns])
    for row in rows:
        writer.writerow([safe_cell(row.get(name)) for name in columns])
    return out.getvalue()


def table_csv(table: Table) -> str:
    return to_csv([column.key for column in table.columns], table.rows)
