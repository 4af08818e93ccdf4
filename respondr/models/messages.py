"""Fans and the messages they send, with the staff's internal notes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from respondr.models.base import Base
from respondr.timeutil import utcnow

if TYPE_CHECKING:
    from respondr.models.channels import Channel
    from respondr.models.drafts import Draft
    from respondr.models.users import Team, User

CATEGORIES = ("to_brand", "about_brand", "industry", "product_features")
INTENTS = ("praise", "complaint", "question")
MESSAGE_STATUSES = (
    "new",
    "claimed",
    "drafting",
    "awaiting_approval",
    "rejected",
    "approved",
    "published",
    "publish_failed",
    "closed",
)
CLOSE_REASONS = ("spam", "no_reply_needed", "handled_elsewhere")
# Work left to do: everything but the two ends of a message's life.
OPEN_STATUSES = tuple(s for s in MESSAGE_STATUSES if s not in ("published", "closed"))
# The partial index's predicate: the inbox writes its "open" filter in exactly these words.
OPEN_SQL = "status IN ({})".format(", ".join(f"'{s}'" for s in OPEN_STATUSES))


class Fan(Base):
    """An author on one channel."""

    __tablename__ = "fans"
    __table_args__ = (UniqueConstraint("channel_id", "handle"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    handle: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(255), default="")
    followers: Mapped[int | None]
    erased_at: Mapped[datetime | None]

    channel: Mapped[Channel] = relationship()


class Message(Base):
    """One incoming fan item. ``posted_at`` is the platform's time, ``received_at`` ours."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel_id", "external_id"),
        # Inbox: sorted by SLA time left, keyset-paginated on (sla_due_at, id): every page
        # read in that order from one of these three (see domain/inbox.py).
        Index("ix_messages_status_sla", "status", "sla_due_at", "id"),
        Index(
            "ix_messages_open_sla",
            "sla_due_at",
            "id",
            postgresql_where=text(OPEN_SQL),
            sqlite_where=text(OPEN_SQL),
        ),
        Index("ix_messages_sla", "sla_due_at", "id"),
        Index("ix_messages_channel_status_received", "channel_id", "status", "received_at"),
        Index("ix_messages_assignee_status", "assignee_id", "status"),
        Index("ix_messages_received", "received_at"),
        Index("ix_messages_thread", "channel_id", "thread_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    external_id: Mapped[str] = mapped_column(String(255))
    fan_id: Mapped[int] = mapped_column(ForeignKey("fans.id"))
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))
    posted_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    thread_key: Mapped[str | None] = mapped_column(String(255))
    in_reply_to: Mapped[str | None] = mapped_column(String(255))
    category: Mapped[str | None] = mapped_column(String(32))
    category_corrected: Mapped[bool] = mapped_column(default=False)
    intent: Mapped[str | None] = mapped_column(String(32))
    intent_corrected: Mapped[bool] = mapped_column(default=False)
    sentiment_score: Mapped[float | None]
    sentiment_label: Mapped[str | None] = mapped_column(String(10))
    priority: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20), default="new")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None]
    # Last draft save or note by the claim holder: a claim idle past the lapse time ends.
    last_activity_at: Mapped[datetime | None]
    sla_due_at: Mapped[datetime]
    closed_reason: Mapped[str | None] = mapped_column(String(32))
    closed_at: Mapped[datetime | None]

    channel: Mapped[Channel] = relationship()
    fan: Mapped[Fan] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    assigned_team: Mapped[Team | None] = relationship()
    claimed_by: Mapped[User | None] = relationship(foreign_keys=[claimed_by_id])
    notes: Mapped[list[Note]] = relationship(
        back_populates="message", order_by="Note.created_at", cascade="all, delete-orphan"
    )
    drafts: Mapped[list[Draft]] = relationship(
        back_populates="message", order_by="Draft.created_at", cascade="all, delete-orphan"
    )


class MessageViewer(Base):
    """Who has a message open right now: a heartbeat row per person, refreshed by the page."""

    __tablename__ = "message_viewers"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class Note(Base):
    """An internal note on a message, for staff only."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship(back_populates="notes")
    author: Mapped[User] = relationship()
