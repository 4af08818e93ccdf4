"""The stack's own limit for one-at-a-time writes: a bare Flask endpoint that reads the
same JSON body and inserts one row with the same driver and engine settings as respondr
(SQLite in WAL mode with ``BEGIN IMMEDIATE``; psycopg 3 on PostgreSQL), served by the same
gunicorn settings. No validation, enrichment, routing or workflow event: what is left is
Flask, SQLAlchemy's pool and one INSERT + COMMIT.

    BENCH_DATABASE_URL=... gunicorn -w 2 'bench.bare_app:create_app()'
"""

from __future__ import annotations

import json
import os

from flask import Flask, jsonify, request
from sqlalchemy import text

from bench.generate import engine_for

TABLE = "bench_bare_inserts"
CREATE = {
    "sqlite": f"CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY, "
    "external_id VARCHAR(255) NOT NULL UNIQUE, body TEXT NOT NULL)",
    "postgresql": f"CREATE TABLE IF NOT EXISTS {TABLE} (id SERIAL PRIMARY KEY, "
    "external_id VARCHAR(255) NOT NULL UNIQUE, body TEXT NOT NULL)",
}
INSERT = text(f"INSERT INTO {TABLE} (external_id, body) VALUES (:external_id, :body)")  # noqa: S608


def create_app() -> Flask:
    app = Flask(__name__)
    engine = engine_for(os.environ["BENCH_DATABASE_URL"])

    @app.post("/api/v1/messages")
    def insert_one():  # type: ignore[no-untyped-def]
        body = json.loads(request.get_data())
        with engine.begin() as connection:
            connection.execute(INSERT, {"external_id": body["external_id"], "body": body["text"]})
        return jsonify(status="created"), 201

    return app
