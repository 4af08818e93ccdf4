"""Engine settings per backend: SQLite in WAL mode with real transactions; on PostgreSQL,
connections tested before use and sessions that end cleanly even when the server has gone."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import Engine, event
from sqlalchemy.exc import SQLAlchemyError


def configure_engine_options(app: Flask) -> None:
    url: str = app.config["SQLALCHEMY_DATABASE_URI"]
    options: dict[str, Any] = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {}).update({"timeout": 30, "check_same_thread": False})
    else:
        # Recover by itself after a database restart: test connections before use.
        options.setdefault("pool_pre_ping", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def install_connection_hooks(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: a transaction never fails half-way
        # when it upgrades from reading to writing, and writers queue on busy_timeout.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def install_session_teardown(app: Flask) -> None:
    """End each app context's session without letting a dead connection fail the request.

    A request that only read can have its answer ready when the database goes away;
    Flask-SQLAlchemy's own teardown then rolls back on the closed connection and the
    error turns a finished answer into a 500. Registered after ``db.init_app`` it runs
    first (teardowns run in reverse): the session is closed here, and on a lost
    connection invalidated instead, so the pool replaces the connection."""
    from respondr.extensions import db

    @app.teardown_appcontext
    def _end_session(_error: BaseException | None) -> None:
        try:
            db.session.remove()
        except SQLAlchemyError:
            app.logger.warning("database connection lost while ending a request's session")
            db.session.registry().invalidate()
            db.session.registry.clear()


def refresh_planner_statistics(engine: Engine) -> bool:
    """On SQLite, refresh the query planner's statistics (sampled: moments, even on a
    large database); without them it stops choosing the inbox's indexes as the tables
    grow. PostgreSQL's autovacuum does this by itself. True when statistics were read."""
    if engine.dialect.name != "sqlite":
        return False
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA analysis_limit = 1000")
        connection.exec_driver_sql("ANALYZE")
    return True
