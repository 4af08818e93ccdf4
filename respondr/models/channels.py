"""Channels where fans talk to the brand, and the rules that route their messages."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from respondr.models.base import Base
from respondr.timeutil import utcnow

if TYPE_CHECKING:
    from respondr.models.policies import ApprovalPolicy
    from respondr.models.users import Team, User

CHANNEL_KINDS = ("facebook_page", "twitter", "instagram", "blog", "forum", "email", "other")
CONNECTORS = ("manual", "webhook", "facebook")


def new_inbound_secret() -> str:
    return secrets.token_hex(32)


class Channel(Base):
    __tablename__ = "channels"
    __table_args__ = (CheckConstraint("sla_minutes > 0", name="sla_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    inbound_secret: Mapped[str] = mapped_column(String(128), default=new_inbound_secret)
    sla_minutes: Mapped[int] = mapped_column(default=60)
    # {"timezone": "Europe/London", "hours": {"mon": [["09:00", "17:30"]], ...},
    #  "holidays": ["2026-12-25"]}; None means the channel is staffed around the clock.
    business_hours: Mapped[dict[str, Any] | None]
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("approval_policies.id"))
    connector: Mapped[str] = mapped_column(String(20), default="manual")
    # Connector settings (URL, page id, tokens); secret parts are encrypted at rest.
    connector_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    feed_url: Mapped[str | None] = mapped_column(String(2000))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    policy: Mapped[ApprovalPolicy | None] = relationship()

    def __repr__(self) -> str:
        return f"<Channel {self.name} ({self.kind})>"


class RoutingRule(Base):
    """First matching rule (by position) assigns a new message to a person or a team."""

    __tablename__ = "routing_rules"
    __table_args__ = (CheckConstraint("(user_id IS NULL) <> (team_id IS NULL)", name="one_target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(default=0)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    category: Mapped[str | None] = mapped_column(String(32))
    intent: Mapped[str | None] = mapped_column(String(32))
    keyword: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    channel: Mapped[Channel | None] = relationship()
    user: Mapped[User | None] = relationship()
    team: Mapped[Team | None] = relationship()
