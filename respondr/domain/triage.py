"""Working a message without replying: close, reopen, correct, note, reassign."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from respondr import signals
from respondr.domain.errors import Conflict, Forbidden, ValidationError
from respondr.models import (
    CATEGORIES,
    CLOSE_REASONS,
    INTENTS,
    Message,
    Note,
    Notification,
    User,
)

MENTION = re.compile(r"(?<![\w@])@([\w][\w.-]*)")
NOT_CLOSABLE = ("awaiting_approval", "approved", "published", "closed")


def _check_not_held_by_another(message: Message, actor: User) -> None:
    holder = message.claimed_by
    if holder is not None and holder.id != actor.id and not actor.has_role("manager", "admin"):
        raise Conflict(f"{holder.name} has claimed this message.")


def close(
    session: Session, messages: Iterable[Message], *, reason: str, actor: User, now: datetime
) -> list[Message]:
    """Close messages that need no reply. All or nothing: one refusal closes none."""
    if reason not in CLOSE_REASONS:
        raise ValidationError(f"Choose a reason: {', '.join(CLOSE_REASONS)}.", "reason")
    targets = list(messages)
    for message in targets:
        if message.status in NOT_CLOSABLE:
            raise Conflict(
                f"Message {message.id} is {message.status.replace('_', ' ')} and cannot be closed.",
                "status",
            )
        _check_not_held_by_another(message, actor)
    for message in targets:
        message.status = "closed"
        message.closed_reason = reason
        message.closed_at = now
        message.claimed_by_id = None
        message.claimed_at = None
        message.last_activity_at = None
        signals.message_closed.send(
            message, session=session, actor=actor, at=now, data={"reason": reason}
        )
    return targets


def reopen(session: Session, message: Message, *, actor: User, now: datetime) -> None:
    if message.status != "closed":
        raise Conflict("Only a closed message can be reopened.", "status")
    message.status = "new"
    message.closed_reason = None
    message.closed_at = None
    signals.message_reopened.send(message, session=session, actor=actor, at=now)


def recategorise(
    session: Session,
    message: Message,
    *,
    category: str | None,
    intent: str | None,
    actor: User,
    now: datetime,
) -> None:
    """A person's correction of category or intent; kept, and never re-guessed."""
    if category is not None and category not in CATEGORIES:
        raise ValidationError(f"Category must be one of {', '.join(CATEGORIES)}.", "category")
    if intent is not None and intent not in INTENTS:
        raise ValidationError(f"Intent must be one of {', '.join(INTENTS)}.", "intent")
    changes: dict[str, list[str | None]] = {}
    if category != message.category:
        changes["category"] = [message.category, category]
        message.category = category
        message.category_corrected = True
    if intent != message.intent:
        changes["intent"] = [message.intent, intent]
        message.intent = intent
        message.intent_corrected = True
    if changes:
        signals.message_recategorised.send(
            message, session=session, actor=actor, at=now, data=changes
        )


def mentioned_users(session: Session, text: str) -> list[User]:
    """Active users named as ``@first-name`` or ``@email-name`` in ``text``."""
    names = {m.lower() for m in MENTION.findall(text)}
    if not names:
        return []
    people = session.scalars(select(User).where(User.is_active_account.is_(True))).all()
    found = []
    for person in people:
        handles = {person.email.split("@")[0].lower(), person.name.split()[0].lower()}
        if handles & names:
            found.append(person)
    return found


def add_note(session: Session, message: Message, *, text: str, actor: User, now: datetime) -> Note:
    """A staff-only note; each @mentioned colleague gets a notification."""
    text = text.strip()
    if not text:
        raise ValidationError("Write something in the note.", "text")
    if len(text) > 5000:
        raise ValidationError("Keep notes under 5,000 characters.", "text")
    note = Note(message_id=message.id, author_id=actor.id, text=text, created_at=now)
    session.add(note)
    if message.claimed_by_id == actor.id:
        message.last_activity_at = now
    session.flush()
    for person in mentioned_users(session, text):
        if person.id != actor.id:
            session.add(
                Notification(
                    user_id=person.id,
                    kind="mention",
                    text=f"{actor.name} mentioned you on a message from "
                    f"{message.fan.display_name or message.fan.handle}",
                    link=f"/messages/{message.id}",
                    created_at=now,
                )
            )
    signals.note_added.send(
        message, session=session, actor=actor, at=now, data={"note_id": note.id}
    )
    return note


def reassign(session: Session, message: Message, *, to: User, actor: User, now: datetime) -> None:
    """A manager hands a message to someone else, taking over any claim on it."""
    if not actor.has_role("manager", "admin"):
        raise Forbidden("Only a manager can reassign a message.")
    if not to.is_active_account:
        raise ValidationError(f"{to.name} is deactivated.", "assignee")
    if message.status in ("published", "closed"):
        raise Conflict("This message is finished; reopen it first.", "status")
    from_id = message.claimed_by_id or message.assignee_id
    message.assignee_id = to.id
    if message.claimed_by_id is not None and message.status != "awaiting_approval":
        message.claimed_by_id = to.id
        message.claimed_at = now
        message.last_activity_at = now
    signals.message_reassigned.send(
        message, session=session, actor=actor, at=now, data={"from_id": from_id, "to_id": to.id}
    )


def unread_notifications(session: Session, user: User) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )
