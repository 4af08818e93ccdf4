"""``respondr backup`` and ``respondr restore`` for the embedded SQLite database: an online
backup taken during writes, restored into a new instance, compared row by row."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from respondr import create_app, tasks
from respondr.extensions import db as flask_db
from respondr.migrate import upgrade
from respondr.models import Message
from tests import factories


@pytest.fixture
def instances(tmp_path):
    """Makes respondr instances, each with its own folder and SQLite database."""
    previous = tasks.huey.storage  # create_app rebinds the queue; other tests keep theirs
    made = []

    def make(name: str, *, migrated: bool = True):
        folder = tmp_path / name
        url = f"sqlite:///{folder / 'respondr.db'}"
        folder.mkdir()
        if migrated:
            upgrade(url)
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(folder), "SECRET_KEY": "k"}
        )
        made.append(app)
        return app

    yield make
    tasks.huey.storage = previous
    for app in made:
        with app.app_context():
            flask_db.engine.dispose()


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def database_file(app) -> Path:
    return Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))


def rows(path: Path, query: str) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return connection.execute(query).fetchall()


def table_counts(path: Path) -> dict[str, int]:
    names = [
        name
        for (name,) in rows(
            path,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name NOT LIKE 'messages_fts%'",
        )
    ]
    return {name: rows(path, f'SELECT count(*) FROM "{name}"')[0][0] for name in names}


def seeded(app, messages: int = 5):
    with app.app_context():
        session = flask_db.session
        channel = factories.create_channel(session)
        factories.create_user(session, name="Bernie Backup")
        for n in range(messages):
            factories.create_message(session, channel, text=f"Question {n}", handle=f"fan{n}")
        channel_id = channel.id
        flask_db.session.remove()
    return channel_id


MESSAGES = "SELECT id, external_id, text, status FROM messages ORDER BY id"


def test_a_backup_taken_during_writes_restores_into_a_new_instance(instances, tmp_path):
    live = instances("live")
    channel_id = seeded(live)
    stop = threading.Event()
    written = []

    def keep_writing() -> None:
        with live.app_context():
            session = flask_db.session
            channel = session.get(factories.Channel, channel_id)
            n = 0
            while not stop.is_set():
                message = factories.create_message(session, channel, text=f"During {n}")
                written.append(message.id)
                n += 1
            flask_db.session.remove()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        while len(written) < 20:  # the backup starts in the middle of the writing
            threading.Event().wait(0.01)
        backup_file = tmp_path / "respondr-backup.db"
        result = run(live, "backup", str(backup_file))
        written_at_backup = len(written)
        while len(written) < written_at_backup + 20:  # and the writing goes on after it
            threading.Event().wait(0.01)
    finally:
        stop.set()
        writer.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert "Backed up to" in result.output

    backed_up = rows(backup_file, MESSAGES)
    now_live = rows(database_file(live), MESSAGES)
    assert 5 + 20 <= len(backed_up) < len(now_live)  # a snapshot from the middle
    assert backed_up == now_live[: len(backed_up)]  # exactly the rows committed by then
    assert rows(backup_file, "PRAGMA integrity_check") == [("ok",)]
    assert rows(backup_file, "PRAGMA journal_mode") == [("delete",)]  # one self-contained file

    fresh = instances("fresh", migrated=False)
    result = run(fresh, "restore", str(backup_file))
    assert result.exit_code == 0, result.output
    assert f"{len(backed_up)} messages" in result.output
    restored = database_file(fresh)
    assert rows(restored, MESSAGES) == backed_up
    assert table_counts(restored) == table_counts(backup_file)
    with fresh.app_context():  # the restored instance works: search, users, the lot
        assert flask_db.session.scalar(select(func.count()).select_from(Message)) == len(backed_up)
        flask_db.session.remove()
    assert fresh.test_client().get("/healthz").status_code == 200


def test_restore_replaces_an_existing_database_only_with_yes(instances, tmp_path):
    old = instances("old")
    seeded(old, messages=3)
    backup_file = tmp_path / "three.db"
    assert run(old, "backup", str(backup_file)).exit_code == 0
    current = instances("current")
    seeded(current, messages=7)
    before = rows(database_file(current), MESSAGES)

    refused = run(current, "restore", str(backup_file))
    assert refused.exit_code == 1
    assert "would replace the database" in refused.output and "--yes" in refused.output
    assert "(7 messages)" in refused.output and "(3 messages)" in refused.output
    assert rows(database_file(current), MESSAGES) == before

    replaced = run(current, "restore", str(backup_file), "--yes")
    assert replaced.exit_code == 0, replaced.output
    assert rows(database_file(current), MESSAGES) == rows(backup_file, MESSAGES)
    assert rows(database_file(current), "PRAGMA journal_mode") == [("wal",)]


def corrupted_copy(source: Path, target: Path) -> Path:
    """``source`` with the last bytes of a users index overwritten: SQLite still
    opens it, and ``PRAGMA integrity_check`` finds the damage."""
    (root,) = rows(
        source, "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_users_1'"
    )[0]
    (page,) = rows(source, "PRAGMA page_size")[0]
    data = bytearray(source.read_bytes())
    data[root * page - 12 : root * page] = b"z" * 12
    target.write_bytes(bytes(data))
    return target


def test_restore_refuses_files_that_are_not_a_sound_respondr_database(instances, tmp_path):
    app = instances("app")
    seeded(app, messages=2)
    before = rows(database_file(app), MESSAGES)
    good = tmp_path / "good.db"
    assert run(app, "backup", str(good)).exit_code == 0

    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database at all\n" * 200)
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as connection:
        connection.execute("CREATE TABLE things (id INTEGER PRIMARY KEY)")
    damaged = corrupted_copy(good, tmp_path / "damaged.db")

    for path, reason in (
        (text_file, "is not a readable SQLite database"),
        (other, "is not a respondr database (no alembic_version)"),
        (damaged, "failed its integrity check: row 1 missing from index"),
    ):
        refused = run(app, "restore", str(path), "--yes")
        assert refused.exit_code == 1, (path, refused.output)
        assert reason in refused.output
        assert rows(database_file(app), MESSAGES) == before  # nothing was touched


def test_a_backup_never_overwrites_a_file(instances, tmp_path):
    app = instances("app")
    existing = tmp_path / "precious.db"
    existing.write_text("keep me")
    refused = run(app, "backup", str(existing))
    assert refused.exit_code == 1 and "already exists" in refused.output
    assert existing.read_text() == "keep me"


def test_on_postgresql_both_commands_point_to_pg_dump_and_pg_restore(tmp_path):
    previous = tasks.huey.storage
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://respondr@db.internal/respondr",
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "k",
        }
    )
    tasks.huey.storage = previous
    backup_file = tmp_path / "x.db"
    backup_file.write_bytes(b"")
    for args in (["backup", str(tmp_path / "new.db")], ["restore", str(backup_file), "--yes"]):
        result = run(app, *args)
        assert result.exit_code == 1
        assert "DATABASE_URL points at PostgreSQL" in result.output
        assert "pg_dump -Fc" in result.output and "pg_restore" in result.output
    assert not (tmp_path / "new.db").exists()
