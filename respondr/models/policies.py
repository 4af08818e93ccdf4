"""Approval policies: named, each change a new immutable version."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from respondr.models.base import Base
from respondr.timeutil import utcnow

if TYPE_CHECKING:
    from respondr.models.users import User


class ApprovalPolicy(Base):
    __tablename__ = "approval_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    preset: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[PolicyVersion]] = relationship(
        back_populates="policy", order_by="PolicyVersion.number", cascade="all, delete-orphan"
    )

    @property
    def current_version(self) -> PolicyVersion | None:
        return self.versions[-1] if self.versions else None


class PolicyVersion(Base):
    """An ordered rule list as it stood from ``created_at`` until the next version."""

    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("policy_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("approval_policies.id", ondelete="CASCADE"))
    number: Mapped[int]
    # [{"conditions": {...}, "outcome": "publish" | "needs_approval" | "blocked",
    #   "steps": [...], "reason": "..."}], evaluated in order.
    rules: Mapped[list[Any]] = mapped_column(default=list)
    escalate_after_minutes: Mapped[int | None]
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    policy: Mapped[ApprovalPolicy] = relationship(back_populates="versions")
    created_by: Mapped[User | None] = relationship()

    @property
    def label(self) -> str:
        return f"{self.policy.name} v{self.number}"
