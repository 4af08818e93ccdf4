"""Each message's first-reply stage figures, stored as its workflow events arrive."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from respondr.models.base import Base


class MessageStageTotals(Base):
    """A copy of :func:`respondr.domain.metrics.message_stages`' row for one message (the
    stages in whole milliseconds, None where a stage does not count), written only by
    :func:`respondr.domain.stage_totals.refresh_stage_totals`. A message with no row has
    had no stage event yet: every stage None, not answered (readers join from
    :class:`~respondr.models.Message`, whose ``received_at`` index serves the period)."""

    __tablename__ = "message_stage_totals"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    approval_wait: Mapped[int | None] = mapped_column(BigInteger)
    rework: Mapped[int | None] = mapped_column(BigInteger)
    ttfr: Mapped[int | None] = mapped_column(BigInteger)
    answered: Mapped[bool] = mapped_column(Boolean)
