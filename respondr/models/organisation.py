"""The organisation: one installation serves one brand."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from respondr.models.base import Base


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), default="My brand")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # {"industry": [...], "product_features": [...], "praise": [...],
    #  "complaint": [...], "question": [...]}: drives category and intent.
    keyword_lists: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The brand's own handles and names: a message naming one talks *to* the brand.
    handles: Mapped[list[Any]] = mapped_column(default=list)
    # Words and phrases that approval policies can hold replies for.
    watch_list: Mapped[list[Any]] = mapped_column(default=list)
    claim_lapse_minutes: Mapped[int] = mapped_column(default=15)
    sla_warning_minutes: Mapped[int] = mapped_column(default=30)
