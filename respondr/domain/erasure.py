"""Erasing a fan's personal data, for data-protection requests (``respondr fans erase``).

What goes: the fan's handle, name and follower count; the text and link of every message
they sent on the channel (and so their words in the search index: SQLite's FTS5 table is
kept in step by trigger, PostgreSQL's GIN index is over the text itself); the text of
staff notes on those messages, which quote or describe the fan; the fan's name in
notifications about those messages (and in escalations of replies to them).

What stays, so reports still count the messages: the messages themselves with their
times, channel, status, category, intent, sentiment and priority, and every workflow
event (which hold ids and times, never text). The platform's message ids stay too, so a
redelivery of an erased message is recognised and not stored again. Our replies (drafts,
their versions, what was published) stay: they are the brand's own words and public
record; if one quotes the fan, edit it by hand.

A new message from the same handle later is new data: it creates a new fan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from respondr.domain import audit
from respondr.domain.channels import find_channel
from respondr.domain.errors import NotFound
from respondr.models import Fan, Message, Note, Notification, User

ERASED_NOTE = "(erased with the fan's personal data)"
ERASED_FAN = "an erased fan"


@dataclass(frozen=True)
class Erasure:
    channel: str
    fan_id: int
    messages: int
    notes: int
    notifications: int


def find_fan(session: Session, channel_ref: str, handle: str) -> Fan:
    """The fan with this handle on the channel (name or id); a leading @ is optional."""
    channel = find_channel(session, channel_ref)
    wanted = handle.strip()
    fan = session.scalar(
        select(Fan).where(
            Fan.channel_id == channel.id,
            Fan.handle.in_({wanted, wanted.removeprefix("@")}),
            Fan.erased_at.is_(None),
        )
    )
    if fan is None:
        raise NotFound(f"Channel {channel.name} has no fan with the handle {wanted}.", "handle")
    return fan


def messages_of(session: Session, fan: Fan) -> int:
    return len(session.scalars(select(Message.id).where(Message.fan_id == fan.id)).all())


def erase_fan(session: Session, fan: Fan, *, actor: User | None, now: datetime) -> Erasure:
    """Erase ``fan``'s personal data and message text; see the module docstring."""
    names = sorted({fan.display_name, fan.handle, f"@{fan.handle}"} - {""}, key=len, reverse=True)
    # Whole names only ("@handle" tried before "handle"): another fan's longer name stays.
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(name)}(?!\w)" for name in names))
    message_ids = list(session.scalars(select(Message.id).where(Message.fan_id == fan.id)))
    session.execute(
        update(Message).where(Message.fan_id == fan.id).values(text="", url=None),
        execution_options={"synchronize_session": "fetch"},
    )
    notes = session.scalars(select(Note).where(Note.message_id.in_(message_ids))).all()
    for note in notes:
        note.text = ERASED_NOTE
    # Notices about their messages link to them; escalations link to the approval queue.
    links = [f"/messages/{message_id}" for message_id in message_ids]
    notices = []
    for notice in session.scalars(
        select(Notification).where(Notification.link.in_([*links, "/approvals"]))
    ):
        scrubbed = pattern.sub(ERASED_FAN, notice.text)
        if scrubbed != notice.text:
            notice.text = scrubbed
            notices.append(notice)
    fan.handle = f"erased-{fan.id}"
    fan.display_name = ""
    fan.followers = None
    fan.erased_at = now
    erasure = Erasure(
        channel=fan.channel.name,
        fan_id=fan.id,
        messages=len(message_ids),
        notes=len(notes),
        notifications=len(notices),
    )
    audit.record(
        session,
        actor=actor,
        action="fan.erase",
        target=fan,
        details={  # counts only: the log must not keep what was erased
            "channel": erasure.channel,
            "messages": erasure.messages,
            "notes": erasure.notes,
            "notifications": erasure.notifications,
        },
        now=now,
    )
    session.flush()
    return erasure
