"""The task queue for real: a `respondr worker` process runs jobs enqueued elsewhere,
with huey's embedded SQLite storage and with Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from respondr.domain import claims
from respondr.extensions import db as flask_db
from respondr.models import Message
from respondr.timeutil import utcnow
from tests import factories

# What a web server does: an app (which binds the task store), then a task call.
ENQUEUE = "import respondr, respondr.tasks as t; respondr.create_app(); t.lapse_idle_claims()"
RESPONDR = os.path.join(os.path.dirname(sys.executable), "respondr")


def redis_url() -> str:
    url = os.environ.get("RESPONDR_TEST_REDIS_URL")
    if not url:
        if os.environ.get("RESPONDR_REQUIRE_REDIS") == "1":
            pytest.fail("RESPONDR_TEST_REDIS_URL is not set but Redis is required")
        pytest.skip("Redis run skipped: set RESPONDR_TEST_REDIS_URL")
    return url


@pytest.fixture(params=["sqlite-storage", "redis-storage"])
def worker_env(request, committed_app, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": committed_app.config["SQLALCHEMY_DATABASE_URI"],
        "RESPONDR_INSTANCE": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret-key",
    }
    env.pop("REDIS_URL", None)
    if request.param == "redis-storage":
        env["REDIS_URL"] = redis_url()
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    return env


def test_a_worker_process_lapses_an_idle_claim(committed_app, worker_env):
    with committed_app.app_context():
        session = flask_db.session
        agent = factories.create_user(session)
        message = factories.create_message(session, factories.create_channel(session))
        claims.claim(session, message, actor=agent, now=utcnow() - timedelta(minutes=20))
        session.commit()
        message_id = message.id
        flask_db.session.remove()

    worker = subprocess.Popen(
        [RESPONDR, "worker", "--workers", "1"],
        env=worker_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        subprocess.run(  # enqueue from another process, as a web server would
            [sys.executable, "-c", ENQUEUE],
            env=worker_env,
            check=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with committed_app.app_context():
                lapsed = flask_db.session.get(Message, message_id).claimed_by_id is None
                flask_db.session.remove()
            if lapsed:
                break
            time.sleep(0.2)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=20)[0]
    assert lapsed, f"the worker did not lapse the claim; its output:\n{output}"


def test_nightly_planner_statistics_cover_the_messages_table(committed_app):
    from respondr.db_setup import refresh_planner_statistics

    with committed_app.app_context():
        session = flask_db.session
        factories.create_message(session, factories.create_channel(session))
        session.commit()
        flask_db.session.remove()
        engine = flask_db.engine
        refreshed = refresh_planner_statistics(engine)
        if engine.dialect.name != "sqlite":
            assert refreshed is False  # autovacuum's job on PostgreSQL
            return
        assert refreshed is True
        with engine.connect() as connection:
            tables = connection.exec_driver_sql("SELECT DISTINCT tbl FROM sqlite_stat1").scalars()
            assert "messages" in set(tables)
