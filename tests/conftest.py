"""Fixtures: the app on the chosen backend, a rollback-per-test session, clients, the CLI.

The backend comes from ``--db`` (``sqlite``, the default, or ``postgres``, which needs
``RESPONDR_TEST_POSTGRES_URL``). Every test session migrates its own fresh database
with Alembic, so the suite always runs against the schema the migrations make.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import scoped_session, sessionmaker
from werkzeug.serving import make_server

from respondr import create_app
from respondr.extensions import db as flask_db
from respondr.migrate import upgrade
from tests import factories

settings.register_profile("respondr", deadline=None, max_examples=60)
settings.load_profile("respondr")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        default="sqlite",
        choices=("sqlite", "postgres"),
        help="Database backend for the suite (postgres needs RESPONDR_TEST_POSTGRES_URL).",
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"respondr backend: {config.getoption('--db')}"


class Databases:
    """Makes throwaway databases on the chosen backend and drops them afterwards."""

    def __init__(self, backend: str, tmp: Path) -> None:
        self.backend = backend
        self.tmp = tmp
        self.created: list[str] = []
        if backend == "postgres":
            admin_url = os.environ.get("RESPONDR_TEST_POSTGRES_URL")
            if not admin_url:
                raise pytest.UsageError("--db=postgres needs RESPONDR_TEST_POSTGRES_URL")
            self.admin_url = make_url(admin_url).set(drivername="postgresql+psycopg")
            self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")

    def new(self) -> str:
        """The URL of a new, empty database."""
        name = f"respondr_test_{uuid.uuid4().hex[:12]}"
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp / (name + '.db')}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self.backend != "postgres":
            return
        with self.admin.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def databases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    dbs = Databases(request.config.getoption("--db"), tmp_path_factory.mktemp("databases"))
    yield dbs
    dbs.drop_all()


def make_app(url: str, instance: Path, **config: object) -> Flask:
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "test-secret-key",
            "TESTING": True,
            "SERVER_NAME": "respondr.test",
            **config,
        }
    )


@pytest.fixture(scope="session")
def database_url(databases: Databases) -> str:
    url = databases.new()
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = make_app(database_url, tmp_path_factory.mktemp("instance"))
    yield app
    with app.app_context():
        flask_db.engine.dispose()


class _TestScopedSession(scoped_session):
    """Keeps one session for the whole test; "removing" it only expires what it holds.

    Requests end by removing the session; here that would detach the test's objects,
    so the test instead sees the state each request left, freshly loaded.
    """

    def remove(self) -> None:
        if self.registry.has():
            self.registry().expire_all()


@pytest.fixture
def db(app: Flask):
    """A session whose work is rolled back after the test; commits become savepoints.

    No app context stays pushed during the test: each request pushes its own, as in
    production, so nothing cached on ``g`` leaks from one request to the next.
    """
    with app.app_context():
        engine = flask_db.engine
    connection = engine.connect()
    outer = connection.begin()
    session = _TestScopedSession(
        sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
    )
    original = flask_db.session
    flask_db.session = session
    try:
        yield session
    finally:
        flask_db.session = original
        session.registry().close()
        outer.rollback()
        connection.close()


@pytest.fixture
def client(app: Flask, db) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask, db):
    return app.test_cli_runner()


CSRF_PATTERN = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'type="hidden" name="csrf_token" value="([^"]+)"'
)


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token from a form on ``path``, as a browser would have it."""
    page = client.get(path)
    match = CSRF_PATTERN.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} (status {page.status_code})"
    return match.group(1) or match.group(2)


def sign_in(client: FlaskClient, email: str, password: str = factories.PASSWORD):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def make_user(db):
    def make(**kwargs):
        return factories.create_user(db, **kwargs)

    return make


@pytest.fixture
def make_channel(db):
    def make(**kwargs):
        return factories.create_channel(db, **kwargs)

    return make


@pytest.fixture
def make_message(db):
    def make(channel, **kwargs):
        return factories.create_message(db, channel, **kwargs)

    return make


@pytest.fixture(scope="module")
def committed_app(databases: Databases, tmp_path_factory: pytest.TempPathFactory):
    """An app on its own fresh database, for tests that need real commits (threads,
    processes, a live server)."""
    url = databases.new()
    upgrade(url)
    app = make_app(url, tmp_path_factory.mktemp("instance"))
    yield app
    with app.app_context():
        flask_db.session.remove()
        flask_db.engine.dispose()


@dataclass(frozen=True)
class LiveServer:
    url: str
    app: Flask


@pytest.fixture(scope="module")
def live_server(
    databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The app on its own fresh, migrated database, served over real HTTP on a free port.

    Like ``committed_app`` but without ``SERVER_NAME``: the browser reaches the server as
    127.0.0.1, and URLs and cookies must follow the host it asked for.
    """
    url = databases.new()
    upgrade(url)
    app = make_app(url, tmp_path_factory.mktemp("live-instance"), SERVER_NAME=None)
    with serving(app) as base:
        yield LiveServer(url=base, app=app)


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """``app`` served over real HTTP on a free local port, in a thread: its base URL.
    Afterwards the server is stopped and the app's database connections are closed."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
            flask_db.session.remove()
            flask_db.engine.dispose()
