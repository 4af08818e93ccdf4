"""Stock responses, drafts with their versions, submissions (rounds), decisions, replies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from respondr.models.base import Base
from respondr.timeutil import utcnow

if TYPE_CHECKING:
    from respondr.models.messages import Message
    from respondr.models.policies import PolicyVersion
    from respondr.models.users import User

DRAFT_STATUSES = (
    "drafting",
    "awaiting_approval",
    "rejected",
    "approved",
    "published",
    "publish_failed",
    "discarded",
)


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


class StockResponse(Base):
    """A reusable reply with ``{placeholders}``."""

    __tablename__ = "stock_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(32))
    pre_approved: Mapped[bool] = mapped_column(default=False)
    usage_count: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Draft(Base):
    """A proposed reply to one message. ``version`` guards against silent overwrites."""

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)
    stock_response_id: Mapped[int | None] = mapped_column(ForeignKey("stock_responses.id"))
    unedited_stock: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default="drafting", index=True)
    # Sent with every publish attempt, so a retried post is recognised, never doubled.
    idempotency_key: Mapped[str] = mapped_column(
        String(36), unique=True, default=new_idempotency_key
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship(back_populates="drafts")
    author: Mapped[User] = relationship()
    stock_response: Mapped[StockResponse | None] = relationship()
    versions: Mapped[list[DraftVersion]] = relationship(
        back_populates="draft", order_by="DraftVersion.number", cascade="all, delete-orphan"
    )
    submissions: Mapped[list[Submission]] = relationship(
        back_populates="draft", order_by="Submission.number", cascade="all, delete-orphan"
    )
    published_reply: Mapped[PublishedReply | None] = relationship(back_populates="draft")


class DraftVersion(Base):
    """The text of a draft as saved by its author or edited by an approver."""

    __tablename__ = "draft_versions"
    __table_args__ = (UniqueConstraint("draft_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"))
    number: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    editor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    by_approver: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    draft: Mapped[Draft] = relationship(back_populates="versions")
    editor: Mapped[User] = relationship()


class Submission(Base):
    """One round: a submission, the policy's verdict on it, and the round's decision.

    The author's trust and roles are copied at submission time: policies read them as
    they were then, and what-if replays use them.
    """

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("draft_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"))
    number: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author_trusted: Mapped[bool]
    author_roles: Mapped[list[Any]] = mapped_column(default=list)
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_versions.id"))
    # 1-based position of the deciding rule; None when the safe default decided.
    rule_number: Mapped[int | None]
    outcome: Mapped[str] = mapped_column(String(20))  # publish | needs_approval
    reason: Mapped[str] = mapped_column(Text, default="")
    # [{"role": "approver", "count": 1}, {"team_id": 3, "count": "all"}] in order.
    steps: Mapped[list[Any]] = mapped_column(default=list)
    asked_by_author: Mapped[bool] = mapped_column(default=False)
    decision: Mapped[str | None] = mapped_column(String(20))  # approved | rejected
    decided_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]

    draft: Mapped[Draft] = relationship(back_populates="submissions")
    policy_version: Mapped[PolicyVersion | None] = relationship()
    decisions: Mapped[list[ApprovalDecision]] = relationship(
        back_populates="submission", order_by="ApprovalDecision.decided_at"
    )


class ApprovalDecision(Base):
    """One approver's verdict on one step of a round."""

    __tablename__ = "approval_decisions"
    __table_args__ = (UniqueConstraint("submission_id", "step", "approver_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(default=1)
    approver_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(20))  # approved | rejected
    note: Mapped[str] = mapped_column(Text, default="")
    edited: Mapped[bool] = mapped_column(default=False)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="decisions")
    approver: Mapped[User] = relationship()


class PublishedReply(Base):
    """The reply as it went out: one per draft, which makes a double post impossible."""

    __tablename__ = "published_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"), unique=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime]
    connector: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(2000))
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    draft: Mapped[Draft] = relationship(back_populates="published_reply")


class PublishJob(Base):
    """The outbox row for publishing one approved draft.

    Written in the same transaction as the approval, so a decision that rolls back leaves
    no job and one that commits always has one; workers pick rows up (after the commit, or
    from the minute sweep) and move them to ``done`` or ``failed``.
    """

    __tablename__ = "publish_jobs"
    __table_args__ = (Index("ix_publish_jobs_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(
        String(20), default="pending"
    )  # pending|sending|done|failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set while an attempt is in flight: found set later, the attempt's outcome is unknown.
    sending_since: Mapped[datetime | None]
    outcome_unknown: Mapped[bool] = mapped_column(default=False)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    draft: Mapped[Draft] = relationship()
