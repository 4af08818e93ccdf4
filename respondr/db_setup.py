"""Engine settings per backend: SQLite in WAL mode with real transactions."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import Engine, event


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
