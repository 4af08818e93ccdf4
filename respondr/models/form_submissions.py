"""One-time submission keys spent by forms that changed something."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from respondr.models.base import Base


class FormSubmission(Base):
    """A form's submission key, stored in the same transaction as the form's effect.

    The primary key makes a second use of the key impossible, across any number of app
    servers; rows older than a week are pruned (``respondr.tasks.prune_submission_keys``).
    """

    __tablename__ = "form_submissions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    submitted_at: Mapped[datetime] = mapped_column(index=True)
