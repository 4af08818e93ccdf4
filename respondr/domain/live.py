"""The live view: what is waiting right now (queue depth, the oldest waiting message,
approvals pending per approver, messages about to breach their SLA)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.sql import Select

from respondr.domain import sla_alerts
from respondr.domain.approval_analytics import approval_analytics
from respondr.domain.inbox import OPEN_STATUSES
from respondr.domain.organisation import get_organisation
from respondr.models import Message

ABOUT_TO_BREACH_LIMIT = 20


@dataclass(frozen=True)
class WaitingMessage:
    id: int
    channel: str
    fan: str
    text: str
    """The fan's words, verbatim: escape them wherever they are shown."""
    received_at: datetime
    sla_due_at: datetime
    age_seconds: float
    sla_left_seconds: float
    assignee: str | None


@dataclass(frozen=True)
class ApproverLoad:
    approver_id: int
    name: str
    pending: int


@dataclass(frozen=True)
class LiveView:
    now: datetime
    queue_depth: int
    """Open messages nobody has claimed yet."""
    open: int
    """Every open (unanswered, not closed) message."""
    awaiting_approval: int
    oldest: WaitingMessage | None
    """The open message that has waited longest."""
    pending_by_approver: tuple[ApproverLoad, ...]
    about_to_breach: tuple[WaitingMessage, ...]
    """Open, due within the warning time and not past it yet, soonest first."""
    past_sla: int
    """Open messages already past their SLA."""
    warning_seconds: float


def _waiting(message: Message, now: datetime) -> WaitingMessage:
    return WaitingMessage(
        id=message.id,
        channel=message.channel.name,
        fan=message.fan.display_name or message.fan.handle,
        text=message.text,
        received_at=message.received_at,
        sla_due_at=message.sla_due_at,
        age_seconds=(now - message.received_at).total_seconds(),
        sla_left_seconds=(message.sla_due_at - now).total_seconds(),
        assignee=message.assignee.name if message.assignee else None,
    )


_SHOWN = (joinedload(Message.channel), joinedload(Message.fan), joinedload(Message.assignee))


def _open_messages() -> Select[Message]:
    return select(Message).options(*_SHOWN).where(Message.status.in_(OPEN_STATUSES))


def pending_by_approver(session: Session, *, now: datetime, tz: str) -> tuple[ApproverLoad, ...]:
    """Every approver and how many waiting rounds they may decide now, the busiest first
    (approval analytics over an empty period: only its "pending now" is read)."""
    found = approval_analytics(session, start=now, end=now, tz=tz, now=now)
    rows = [ApproverLoad(row.approver_id, row.name, row.pending_now) for row in found.approvers]
    rows.sort(key=lambda row: (-row.pending, row.name.casefold()))
    return tuple(rows)


def live_view(session: Session, *, now: datetime) -> LiveView:
    org = get_organisation(session)
    by_status = (
        select(Message.status, func.count())
        .where(Message.status.in_(OPEN_STATUSES))
        .group_by(Message.status)
    )
    counts: dict[str, int] = {status: count for status, count in session.execute(by_status)}
    oldest = session.scalars(
        _open_messages().order_by(Message.received_at, Message.id).limit(1)
    ).first()
    breaching = sla_alerts.about_to_breach(session, now=now).options(*_SHOWN)
    past_due = select(func.count()).where(
        Message.status.in_(OPEN_STATUSES), Message.sla_due_at <= now
    )
    return LiveView(
        now=now,
        queue_depth=counts.get("new", 0),
        open=sum(counts.values()),
        awaiting_approval=counts.get("awaiting_approval", 0),
        oldest=_waiting(oldest, now) if oldest else None,
        pending_by_approver=pending_by_approver(session, now=now, tz=org.timezone),
        about_to_breach=tuple(
            _waiting(message, now)
            for message in session.scalars(breaching.limit(ABOUT_TO_BREACH_LIMIT))
        ),
        past_sla=session.scalar(past_due) or 0,
        warning_seconds=sla_alerts.warning_time(session).total_seconds(),
    )
