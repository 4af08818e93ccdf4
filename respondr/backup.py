"""Backup and restore of the embedded SQLite database.

Both go through SQLite's online backup API (``sqlite3.Connection.backup``): the copy is
one consistent snapshot, taken while the app keeps writing (in WAL mode readers do not
block writers), and a restore writes into the database through SQLite itself, so its
``-wal`` and ``-shm`` files stay consistent with the new contents. A restore first checks
that the file is a respondr database (an Alembic version this release knows) and that
``PRAGMA integrity_check`` finds nothing wrong. PostgreSQL has its own tools: see
:data:`POSTGRES_HINT`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import make_url

from respondr.migrate import alembic_config

POSTGRES_HINT = (
    "DATABASE_URL points at PostgreSQL; back it up with its own tools: "
    "pg_dump -Fc -f respondr.dump DATABASE, and restore into an empty database with "
    "pg_restore --no-owner -d DATABASE respondr.dump (see README, Operations)."
)


class BackupError(Exception):
    """A backup or restore that was refused or failed; nothing was changed."""


@dataclass(frozen=True)
class Summary:
    """What a database file holds: its schema revision and its rows, per table."""

    revision: str
    rows: dict[str, int]

    @property
    def messages(self) -> int:
        return self.rows.get("messages", 0)


def sqlite_file(url: str) -> Path:
    """The database file of a SQLite URL; a refusal naming pg_dump for PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupError(POSTGRES_HINT)
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("The database is in memory; there is no file to back up.")
    return Path(parsed.database)


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    if read_only:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    return sqlite3.connect(path, timeout=30)


def _quoted(name: str) -> str:
    """An SQL identifier, quoted (table names come from the file being checked)."""
    return '"' + name.replace('"', '""') + '"'


def check(path: Path) -> Summary:
    """Refuse a file that is not a sound respondr database; else say what it holds."""
    if not path.is_file():
        raise BackupError(f"{path} does not exist.")
    try:
        with contextlib.closing(_connect(path, read_only=True)) as connection:
            integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            tables = [
                row[0]
                for row in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            if "alembic_version" not in tables:
                raise BackupError(f"{path} is not a respondr database (no alembic_version).")
            found = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            counted = [
                t for t in tables if t != "alembic_version" and not t.startswith("messages_fts")
            ]
            rows = {
                table: connection.execute(
                    f"SELECT count(*) FROM {_quoted(table)}"  # noqa: S608 - a quoted identifier  # nosec B608
                ).fetchone()[0]
                for table in counted
            }
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a readable SQLite database: {error}") from None
    if integrity != ["ok"]:
        raise BackupError(f"{path} failed its integrity check: {'; '.join(integrity[:5])}")
    if found is None:
        raise BackupError(f"{path} is not a respondr database (no schema version recorded).")
    revision = str(found[0])
    try:
        ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision(revision)
    except CommandError:
        raise BackupError(
            f"{path} has schema version {revision}, which this release of respondr does "
            "not know (a backup from a newer release?)."
        ) from None
    return Summary(revision, rows)


def backup(url: str, target: Path) -> Summary:
    """Copy the live database to ``target`` (a new file), checked afterwards."""
    source = sqlite_file(url)
    if not source.is_file():
        raise BackupError(f"There is no database at {source} yet (run respondr init-db).")
    if target.exists():
        raise BackupError(f"{target} already exists; name a new file for the backup.")
    partial = target.with_name(f".{target.name}.partial")
    try:
        with (
            contextlib.closing(_connect(source, read_only=True)) as live,
            contextlib.closing(_connect(partial, read_only=False)) as copy,
        ):
            live.backup(copy)  # every page in one step: one consistent snapshot
            copy.execute("PRAGMA journal_mode=DELETE")  # the backup is one self-contained file
        summary = check(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return summary


def restore(url: str, source: Path, *, replace: bool) -> Summary:
    """Replace the database's contents with the backup at ``source``, once it checks out.

    An existing database is only replaced when ``replace`` is true (``--yes``)."""
    target = sqlite_file(url)
    summary = check(source)
    if target.exists() and not replace:
        try:
            current = f"{check(target).messages} messages"
        except BackupError:
            current = "not a sound respondr database"
        raise BackupError(
            f"This would replace the database at {target} ({current}) with "
            f"{source} ({summary.messages} messages). Stop the app servers and workers, "
            "then run again with --yes."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        contextlib.closing(_connect(source, read_only=True)) as backup_file,
        contextlib.closing(_connect(target, read_only=False)) as live,
    ):
        backup_file.backup(live)
        live.execute("PRAGMA journal_mode=WAL")
    return check(target)
