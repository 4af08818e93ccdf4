"""Inbox keyset indexes: open work, one channel, and every status, in (sla_due_at, id) order

Without them "all statuses" and "one channel" pages sorted every matching message (a
page's time grew with the history); see respondr/domain/inbox.py.

Revision ID: 5e8d2a7c91f4
Revises: c4f1a9e2d7b3
Create Date: 2026-11-26 11:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e8d2a7c91f4"
down_revision: str | None = "c4f1a9e2d7b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text(
    "status IN ('new', 'claimed', 'drafting', 'awaiting_approval', 'rejected', 'approved', "
    "'publish_failed')"
)


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.create_index(
            "ix_messages_open_sla",
            ["sla_due_at", "id"],
            postgresql_where=OPEN,
            sqlite_where=OPEN,
        )
        batch.create_index("ix_messages_sla", ["sla_due_at", "id"])


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_sla")
        batch.drop_index("ix_messages_open_sla")
