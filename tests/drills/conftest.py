"""The drills: several real processes on PostgreSQL. Skipped, saying why, on ``--db sqlite``."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from flask import Flask

from respondr.extensions import db as flask_db
from respondr.migrate import upgrade
from tests.drills.harness import AppServer, Process, Stack, ThrowawayRedis, inspection_app
from tests.test_publishing import Platform


@pytest.fixture(scope="session", autouse=True)
def postgres_only(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--db") != "postgres":
        pytest.skip(
            "the drills run gunicorn app servers and workers against one PostgreSQL "
            "(SQLite is for a single server): run them with --db postgres"
        )


@dataclass(frozen=True)
class Cluster:
    stack: Stack
    app: Flask  # in this process, on the same database, to read what happened
    a: AppServer
    b: AppServer
    worker: Process


@pytest.fixture(scope="module")
def cluster(databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two gunicorn servers and one worker on a fresh, migrated PostgreSQL database and
    the test Redis (``RESPONDR_TEST_REDIS_URL``, else a redis-server of their own),
    sharing SECRET_KEY and the instance folder."""
    url = databases.new()
    upgrade(url)
    folder = tmp_path_factory.mktemp("cluster")
    own_redis = None
    if os.environ.get("RESPONDR_TEST_REDIS_URL"):
        queue = os.environ["RESPONDR_TEST_REDIS_URL"]
        redis.Redis.from_url(queue).flushdb()  # no jobs or counters of other runs
    else:
        own_redis = ThrowawayRedis(folder)
        own_redis.start()
        queue = own_redis.url
    stack = Stack(database_url=url, redis_url=queue, folder=folder)
    app = inspection_app(stack)
    try:
        a = stack.start_server("server-a")
        b = stack.start_server("server-b")
        yield Cluster(stack, app, a, b, stack.start_worker())
    finally:
        stack.stop_all()
        if own_redis is not None:
            own_redis.stop()
        with app.app_context():
            flask_db.session.remove()
            flask_db.engine.dispose()


@pytest.fixture
def platform() -> Iterator[Platform]:
    """A platform for replies that records every call and deduplicates posts by
    Idempotency-Key (the publishing tests' own)."""
    server = Platform([])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()
