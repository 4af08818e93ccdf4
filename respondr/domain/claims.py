"""Exclusive claims on messages: atomic on SQLite and PostgreSQL alike.

A claim is one conditional ``UPDATE … WHERE claimed_by_id IS NULL … RETURNING``: it
locks only that row, and only until the claim's transaction commits. Whoever gets a row
back won, so two agents never draft the same message unknowingly; the loser, whose
UPDATE waited for the winner's commit and then matched nothing, reads who holds it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from respondr import signals
from respondr.domain.errors import Conflict, Forbidden
from respondr.models import Message, User

# A message in these states has work left that a claim would start.
CLAIMABLE_STATUSES = ("new", "claimed", "drafting", "rejected")


def claim(session: Session, message: Message, *, actor: User, now: datetime) -> Message:
    """Take exclusive hold of ``message``; a lost race raises Conflict naming the holder."""
    status = session.execute(
        update(Message)
        .where(
            Message.id == message.id,
            Message.claimed_by_id.is_(None),
            Message.status.in_(CLAIMABLE_STATUSES),
        )
        .values(
            claimed_by_id=actor.id,
            claimed_at=now,
            last_activity_at=now,
            status=case((Message.status == "new", "claimed"), else_=Message.status),
        )
        .returning(Message.status)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if status is None:
        # The winner has committed: who holds it and the status, in one statement.
        holder_id, holder, current = session.execute(
            select(Message.claimed_by_id, User.name, Message.status)
            .outerjoin(User, User.id == Message.claimed_by_id)
            .where(Message.id == message.id)
        ).one()
        if holder_id == actor.id:
            session.refresh(message)
            return message  # already yours: claiming again changes nothing
        session.expire(message)  # what this session read of it is out of date
        if holder is not None:
            raise Conflict(f"{holder} has already claimed this message.")
        raise Conflict(f"This message is {current.replace('_', ' ')} and cannot be claimed.")
    # What the UPDATE wrote, without reading the row back or flushing it again.
    for name, value in (
        ("claimed_by_id", actor.id),
        ("claimed_by", actor),
        ("claimed_at", now),
        ("last_activity_at", now),
        ("status", status),
    ):
        set_committed_value(message, name, value)
    signals.message_claimed.send(message, session=session, actor=actor, at=now)
    return message


def _unclaim(message: Message) -> None:
    message.claimed_by_id = None
    message.claimed_at = None
    message.last_activity_at = None
    if message.status == "claimed":
        message.status = "new"


def release(session: Session, message: Message, *, actor: User, now: datetime) -> None:
    """The holder (or a manager) gives the message back to the pool."""
    if message.claimed_by_id is None:
        return
    if message.claimed_by_id != actor.id and not actor.has_role("manager", "admin"):
        raise Forbidden("Only the agent holding this message or a manager can release it.")
    if message.status == "awaiting_approval":
        raise Conflict("A reply to this message is awaiting approval; it cannot be released.")
    holder_id = message.claimed_by_id
    _unclaim(message)
    signals.message_released.send(
        message, session=session, actor=actor, at=now, data={"holder_id": holder_id}
    )


def lapse_idle_claims(session: Session, *, now: datetime, idle_for: timedelta) -> list[Message]:
    """Return to the pool every claim whose holder did nothing for ``idle_for``."""
    cutoff = now - idle_for
    idle = session.scalars(
        select(Message)
        .where(
            Message.claimed_by_id.is_not(None),
            Message.status.in_(CLAIMABLE_STATUSES),
            Message.last_activity_at < cutoff,
        )
        .with_for_update(skip_locked=True)
    ).all()
    for message in idle:
        holder_id = message.claimed_by_id
        _unclaim(message)
        signals.claim_lapsed.send(
            message, session=session, actor=None, at=now, data={"holder_id": holder_id}
        )
    return list(idle)


def return_claims_of(session: Session, user: User, *, now: datetime) -> None:
    """A departing user's claims go back to the pool, so their work is not stranded."""
    held = session.scalars(
        select(Message).where(
            Message.claimed_by_id == user.id, Message.status.in_(CLAIMABLE_STATUSES)
        )
    ).all()
    for message in held:
        _unclaim(message)
        signals.message_released.send(
            message,
            session=session,
            actor=None,
            at=now,
            data={"holder_id": user.id, "reason": "deactivated"},
        )
