"""The drills: several real processes on PostgreSQL. Skipped, saying why, on ``--db sqlite``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from flask import Flask

from respondr.extensions import db as flask_db
from respondr.migrate import upgrade
from tests.drills.harness import AppServer, Process, Stack, inspection_app
from tests.test_tasks import redis_url


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
    the test Redis, sharing SECRET_KEY and the instance folder."""
    url = databases.new()
    upgrade(url)
    queue = redis_url()
    redis.Redis.from_url(queue).flushdb()  # no jobs of other runs for this worker
    stack = Stack(database_url=url, redis_url=queue, folder=tmp_path_factory.mktemp("cluster"))
    app = inspection_app(stack)
    try:
        a = stack.start_server("server-a")
        b = stack.start_server("server-b")
        yield Cluster(stack, app, a, b, stack.start_worker())
    finally:
        stack.stop_all()
        with app.app_context():
            flask_db.session.remove()
            flask_db.engine.dispose()
