"""Stored stage rows: each message's first-reply stages, kept as its events arrive

The what-if reads one narrow row per message instead of deriving the stages from every
workflow event (see respondr/domain/stage_totals.py). Existing messages get their rows
from the same query, in one statement.

Revision ID: a3d6f0b8c2e1
Revises: 5e8d2a7c91f4
Create Date: 2026-11-26 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision: str = "a3d6f0b8c2e1"
down_revision: str | None = "5e8d2a7c91f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "message_stage_totals",
        sa.Column("message_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("approval_wait", sa.BigInteger(), nullable=True),
        sa.Column("rework", sa.BigInteger(), nullable=True),
        sa.Column("ttfr", sa.BigInteger(), nullable=True),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_stage_totals_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_stage_totals")),
    )
    # The backfill uses the application's own definition of the stages.
    from respondr.domain.stage_totals import refresh_stage_totals

    refresh_stage_totals(Session(bind=op.get_bind()))


def downgrade() -> None:
    op.drop_table("message_stage_totals")
