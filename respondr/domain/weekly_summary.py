"""The weekly latency summary mailed to managers: Mondays from 08:00 in the organisation's
timezone, about the week (Monday to Sunday) before.

Once per week: a summary that went out is recorded in the audit log (action
:data:`ACTION`, the week's Monday as target id), and a week already recorded is never
sent again. The task asks every hour, so a worker that was down at 08:00, or an SMTP
server that refused the mail, only delays it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from respondr.domain import audit
from respondr.domain.notifications import Notice
from respondr.domain.organisation import get_organisation
from respondr.domain.report_tables import LatencyTables, Period, Record, latency_tables
from respondr.models import AuditEntry, User

ACTION = "report.weekly_summary"
SEND_FROM = time(8, 0)
GROUP_BY = "channel"


@dataclass(frozen=True)
class WeeklySummary:
    """The audit log's target: one week, named by its Monday."""

    id: str


def week_due(now: datetime, tz: str) -> date:
    """The Monday that starts the latest week whose summary is due at ``now``: last week's
    once this week's Monday 08:00 has passed, else the week before."""
    local = now.astimezone(ZoneInfo(tz))
    monday = local.date() - timedelta(days=local.weekday())
    if local.time() < SEND_FROM and local.weekday() == 0:
        monday -= timedelta(days=7)
    return monday - timedelta(days=7)


def already_sent(session: Session, week: date) -> bool:
    query = select(AuditEntry.id).where(
        AuditEntry.action == ACTION, AuditEntry.target_id == week.isoformat()
    )
    return session.scalar(query.limit(1)) is not None


def managers(session: Session) -> tuple[str, ...]:
    people = session.scalars(select(User).where(User.is_active_account.is_(True)).order_by(User.id))
    return tuple(user.email for user in people if user.has_role("manager"))


def _hours(seconds: object) -> str:
    return "—" if not isinstance(seconds, int | float) else f"{seconds / 3600:.1f} h"


def _share(value: object) -> str:
    return "—" if not isinstance(value, int | float) else f"{value:.0%}"


def compose(report: LatencyTables, *, organisation: str, to: tuple[str, ...]) -> Notice:
    """The mail: the bottleneck sentence first, then the key numbers."""
    period = report.period
    last_day = period.end - timedelta(days=1)
    tables = report.tables
    summary: Record = tables["summary"].rows[0]
    approvals: Record = tables["approvals"].rows[0]
    headline = (
        f"{report.bottleneck.sentence}."
        if report.bottleneck
        else "No replies were published this week, so there is no bottleneck to name."
    )
    lines = [
        f"Response times for {organisation}, {period.start.isoformat()} to "
        f"{last_day.isoformat()} ({period.tz} time).",
        "",
        headline,
        "",
        f"Received: {summary['received']}   Answered: {summary['answered']}   "
        f"Open: {summary['open']}   Closed without reply: {summary['closed']}",
        f"Response rate: {_share(summary['response_rate'])}",
        f"Time to first response: median {_hours(summary['ttfr_p50_s'])}, "
        f"p90 {_hours(summary['ttfr_p90_s'])}",
        f"SLA attainment: {_share(summary['sla_attainment'])} "
        f"({summary['sla_breached']} breaches; {summary['open_overdue']} open past SLA)",
        f"Approvals: {approvals['held']} replies held, rejection rate "
        f"{_share(approvals['rejection_rate'])}, pending now {approvals['pending_now']}",
        "",
        "By channel:",
    ]
    for row in tables["sla"].rows:
        lines.append(
            f"  {row['channel']}: {row['answered']} answered, response rate "
            f"{_share(row['response_rate'])}, SLA {_share(row['sla_attainment'])}, "
            f"{row['open']} open"
        )
    neglected = [row for row in tables["neglected"].rows if row["open"]]
    if neglected:
        lines += ["", "Longest since our last reply (with messages waiting):"]
        for row in neglected[:3]:
            since = _hours(row["since_last_reply_s"]) if row["last_reply_at"] else "never"
            lines.append(f"  {row['channel']}: last reply {since} ago, {row['open']} open")
    lines += [
        "",
        "The full report: /reports/latency"
        f"?from={period.start.isoformat()}&to={period.end.isoformat()}&group_by={GROUP_BY}",
    ]
    subject = f"[respondr] {headline.rstrip('.')}"  # short enough never to be folded
    return Notice(to=to, subject=subject, body="\n".join(lines) + "\n")


def due_summary(session: Session, *, now: datetime) -> tuple[date, Notice] | None:
    """The summary to send now, if one is due, not sent yet and someone is a manager.
    Writes nothing: call :func:`record_sent` once the mail went."""
    org = get_organisation(session)
    week = week_due(now, org.timezone)
    if already_sent(session, week):
        return None
    to = managers(session)
    if not to:
        return None
    period = Period(week, week + timedelta(days=7), org.timezone)
    report = latency_tables(session, period, group_by=GROUP_BY, now=now)
    return week, compose(report, organisation=org.name, to=to)


def record_sent(session: Session, week: date, notice: Notice, *, now: datetime) -> None:
    audit.record(
        session,
        actor=None,
        action=ACTION,
        target=WeeklySummary(week.isoformat()),
        details={"week": week.isoformat(), "recipients": len(notice.to)},
        now=now,
    )
