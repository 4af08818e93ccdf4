"""Inbox: full-text search on message text, and every message has an SLA due time.

PostgreSQL gets a GIN index on to_tsvector('simple', text); SQLite gets an FTS5 table
kept in step with messages by triggers. Neither is in the models' metadata: the
migration test ignores them by name (see env.py ``include_object``).

Revision ID: b7e1c2d3f4a5
Revises: 954b3c53f750
Create Date: 2026-11-26 07:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e1c2d3f4a5"
down_revision: str | None = "954b3c53f750"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='id')",
    "INSERT INTO messages_fts(rowid, text) SELECT id, text FROM messages",
    """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
         INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
       END""",
    """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
         INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
       END""",
    """CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
         INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
         INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
       END""",
]


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("sla_due_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_messages_text_fts ON messages USING gin (to_tsvector('simple', text))"
        )
    else:
        for statement in SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_messages_text_fts")
    else:
        for name in ("messages_fts_insert", "messages_fts_delete", "messages_fts_update"):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE messages_fts")
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("sla_due_at", existing_type=sa.DateTime(timezone=True), nullable=True)
