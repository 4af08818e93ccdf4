"""Who else is looking at a message, and whether someone is drafting a reply to it.

Pages send a heartbeat every 15 seconds; a viewer counts while their last heartbeat is
younger than :data:`VIEWER_WINDOW`. The rows live in the database, so presence works
whichever app server each person's requests land on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from respondr.models import Message, MessageViewer, User

VIEWER_WINDOW = timedelta(seconds=45)


def touch(session: Session, message: Message, user: User, *, now: datetime) -> None:
    """Record that ``user`` has ``message`` open now."""
    row = session.get(MessageViewer, (message.id, user.id))
    if row is None:
        session.add(MessageViewer(message_id=message.id, user_id=user.id, seen_at=now))
    else:
        row.seen_at = now
    # Forget heartbeats long gone, so the table stays the size of the team.
    session.execute(delete(MessageViewer).where(MessageViewer.seen_at < now - timedelta(hours=1)))


def other_viewers(session: Session, message: Message, user: User, *, now: datetime) -> list[str]:
    """Names of the other people who have ``message`` open now."""
    return list(
        session.scalars(
            select(User.name)
            .join(MessageViewer, MessageViewer.user_id == User.id)
            .where(
                MessageViewer.message_id == message.id,
                MessageViewer.user_id != user.id,
                MessageViewer.seen_at >= now - VIEWER_WINDOW,
            )
            .order_by(User.name)
        )
    )


def activity(message: Message, user: User) -> str | None:
    """A line such as "Bernie is drafting a reply", for everyone but Bernie."""
    holder = message.claimed_by
    if holder is None or holder.id == user.id:
        return None
    if message.status in ("drafting", "rejected"):
        return f"{holder.name} is drafting a reply"
    if message.status == "awaiting_approval":
        return f"{holder.name}'s reply is awaiting approval"
    return None  # a bare claim: the page's claim box already says who holds it
