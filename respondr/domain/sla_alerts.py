"""SLA alerts: open messages about to breach their channel's target, and breaches.

A message is *about to breach* when it is open (not answered, not closed) and its
``sla_due_at`` is less than the organisation's warning time (``sla_warning_minutes``,
30 by default) away. The inbox flags those; :func:`check_slas`, run every minute by the
task queue, tells the people who should act, once per message, and records each breach,
once per message, as an ``sla_breached`` workflow event (at the moment it fell due).

Who is told: the person the message is with (the claim holder, else the assignee);
when it is with nobody, the available members of the team it was routed to; when it was
routed to no team either, every available agent. The warning itself is recorded as an
``sla_warned`` workflow event naming who was told: that record is what makes it once.
The warning time is set on the admin's Organisation page or with ``respondr sla-warning
MINUTES`` (:func:`respondr.domain.organisation.update_settings`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Exists, Select, exists, select
from sqlalchemy.orm import Session, joinedload

from respondr import signals
from respondr.domain.inbox import OPEN_STATUSES
from respondr.domain.notifications import Notice, notify
from respondr.domain.organisation import get_organisation
from respondr.models import Message, Team, User, WorkflowEvent

WARNED = "sla_warned"
BREACHED = "sla_breached"


def warning_time(session: Session) -> timedelta:
    """How long before its SLA runs out a message counts as about to breach."""
    return timedelta(minutes=get_organisation(session).sla_warning_minutes)


def about_to_breach(session: Session, *, now: datetime) -> Select[Message]:
    """Open messages whose SLA runs out within the warning time (not yet past it), the
    soonest due first."""
    warning = warning_time(session)
    return (
        select(Message)
        .where(
            Message.status.in_(OPEN_STATUSES),
            Message.sla_due_at > now,
            Message.sla_due_at <= now + warning,
        )
        .order_by(Message.sla_due_at, Message.id)
    )


def _recorded(kind: str) -> Exists:
    return exists().where(WorkflowEvent.message_id == Message.id, WorkflowEvent.kind == kind)


def recipients(session: Session, message: Message) -> list[User]:
    """Who is told that ``message`` is about to breach (see the module's docstring)."""
    holder = message.claimed_by or message.assignee
    if holder is not None:
        return [holder] if holder.is_active_account else []
    if message.assigned_team_id is not None:
        team = session.get(Team, message.assigned_team_id)
        people = list(team.members) if team is not None else []
    else:
        people = [
            user
            for user in session.scalars(
                select(User).where(User.is_active_account.is_(True), User.available.is_(True))
            )
            if user.has_role("agent")
        ]
    return sorted(
        (u for u in people if u.is_active_account and u.available), key=lambda user: user.id
    )


@dataclass(frozen=True)
class SlaCheck:
    """What one check did: the messages warned about, those recorded as breached, and the
    mail to send once it is committed."""

    warned: tuple[int, ...]
    breached: tuple[int, ...]
    mail: tuple[Notice, ...]


def check_slas(session: Session, *, now: datetime) -> SlaCheck:
    """Warn about every message newly about to breach and record every new breach; a
    second run at the same moment does nothing (the events written are the record)."""
    warned: list[int] = []
    breached: list[int] = []
    mail: list[Notice] = []
    due_soon = session.scalars(
        about_to_breach(session, now=now)
        .where(~_recorded(WARNED))
        .options(joinedload(Message.fan), joinedload(Message.channel))
    ).all()
    for message in due_soon:
        left = math.ceil((message.sla_due_at - now).total_seconds() / 60)
        fan = message.fan.display_name or message.fan.handle
        text = (
            f"About to breach SLA: {fan}'s message on {message.channel.name} is due in {left} min"
        )
        notice = notify(
            session,
            recipients(session, message),
            kind="sla_warning",
            text=text,
            link=f"/messages/{message.id}",
            now=now,
            signal=signals.sla_warning,
            about=message,
            data={"due_at": message.sla_due_at.isoformat()},
            subject=f"[respondr] A message is due in {left} min",
            body=f"{text}.\n\nOpen it: /messages/{message.id}\n",
        )
        warned.append(message.id)
        if notice is not None:
            mail.append(notice)
    overdue = session.scalars(
        select(Message)
        .where(
            Message.status.in_(OPEN_STATUSES),
            Message.sla_due_at <= now,
            ~_recorded(BREACHED),
        )
        .options(joinedload(Message.channel))
        .order_by(Message.sla_due_at, Message.id)
    ).all()
    for message in overdue:
        signals.sla_breached.send(
            message,
            session=session,
            actor=None,
            at=message.sla_due_at,
            data={"sla_minutes": message.channel.sla_minutes},
        )
        breached.append(message.id)
    return SlaCheck(tuple(warned), tuple(breached), tuple(mail))
