"""Run Alembic programmatically against a given database URL."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config

from respondr import PROJECT_ROOT

ALEMBIC_INI = PROJECT_ROOT / "migrations" / "alembic.ini"

# Search structures made by hand in migrations, unknown to the models' metadata.
HAND_MADE = ("messages_fts", "ix_messages_text_fts")


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Autogenerate and the schema test leave the hand-made search structures alone."""
    return not (reflected and name is not None and name.startswith(HAND_MADE))


def alembic_config(url: str) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
