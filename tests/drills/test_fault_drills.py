"""Fault drills on a PostgreSQL and a Redis of their own: the database restarted under
traffic, a worker killed mid-publish, a connector timing out, Redis gone. Each drill shows
what a person sees meanwhile, and that nothing acknowledged is lost and nothing doubles.

The publishing sweep runs every minute in a worker; the drills enqueue it at once instead
of waiting for the top of the minute, and a job's "sending since" or "next attempt" time
is moved back instead of waiting out the real delay.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests
from flask import Flask
from huey.exceptions import TaskLockedException
from sqlalchemy import create_engine, func, select, text, update

from respondr import tasks
from respondr.domain import accounts
from respondr.domain.presets import ensure_presets
from respondr.extensions import db as flask_db
from respondr.migrate import upgrade
from respondr.models import Message, PublishedReply, PublishJob
from respondr.timeutil import utcnow
from tests import factories
from tests.drills import scenes
from tests.drills.harness import (
    AppServer,
    Stack,
    ThrowawayPostgres,
    ThrowawayRedis,
    inspection_app,
    wait_for,
)
from tests.drills.visitor import Visitor, deliver, delivery
from tests.test_publishing import Platform


@dataclass
class Drill:
    postgres: ThrowawayPostgres
    redis: ThrowawayRedis
    stack: Stack
    server: AppServer
    app: Flask
    approver_email: str
    approver_token: str


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    folder = tmp_path_factory.mktemp("drill")
    postgres = ThrowawayPostgres()
    redis_server = ThrowawayRedis(folder)
    stack = None
    app = None
    try:
        postgres.start()
        admin = create_engine(postgres.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text('CREATE DATABASE "respondr"'))
        admin.dispose()
        upgrade(postgres.url("respondr"))
        redis_server.start()
        stack = Stack(postgres.url("respondr"), redis_server.url, folder)
        app = inspection_app(stack)
        with app.app_context():
            session = flask_db.session
            ensure_presets(session, now=utcnow())
            approver = factories.create_user(session, name="Carol Drill", roles="approver")
            token = accounts.create_api_token(session, approver, actor=None, now=utcnow())
            session.commit()
            email = approver.email
            flask_db.session.remove()
        server = stack.start_server("drill-server")
        yield Drill(postgres, redis_server, stack, server, app, email, token)
    finally:
        if stack is not None:
            stack.stop_all()
        if app is not None:
            with app.app_context():
                flask_db.session.remove()
                flask_db.engine.dispose()
        redis_server.stop()
        postgres.destroy()


# -- PostgreSQL restarted under traffic ------------------------------------------------


@dataclass(frozen=True)
class Answer:
    kind: str
    status: int
    retry_after: str | None
    body: str
    external_id: str | None = None


def test_postgresql_restarted_under_traffic(drill):
    with drill.app.app_context():
        channel = factories.create_channel(flask_db.session, kind="twitter")
        channel_id, secret = channel.id, channel.inbound_secret
        flask_db.session.remove()
    carol = Visitor(drill.approver_email)
    carol.sign_in(drill.server.url)
    url = drill.server.url
    pid = drill.server.process.popen.pid
    numbers = itertools.count()
    answers: list[Answer] = []
    stop = threading.Event()

    def webhook_traffic() -> None:
        while not stop.is_set():
            external_id = f"drill-{next(numbers)}"
            try:
                r = deliver(url, channel_id, secret, delivery(external_id))
            except requests.RequestException as error:
                answers.append(Answer("webhook", 0, None, repr(error), external_id))
                continue
            answers.append(
                Answer("webhook", r.status_code, r.headers.get("Retry-After"), r.text, external_id)
            )
            time.sleep(0.02)

    def reading_traffic() -> None:
        api = {"Authorization": f"Bearer {drill.approver_token}"}
        while not stop.is_set():
            for kind, call in (
                ("page", lambda: carol.get(f"{url}/")),
                ("api", lambda: requests.get(f"{url}/api/v1/messages", headers=api, timeout=30)),
                ("healthz", lambda: requests.get(f"{url}/healthz", timeout=30)),
            ):
                r = call()
                answers.append(Answer(kind, r.status_code, r.headers.get("Retry-After"), r.text))
            time.sleep(0.05)

    threads = [threading.Thread(target=webhook_traffic) for _ in range(3)]
    threads.append(threading.Thread(target=reading_traffic))
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        drill.postgres.stop()  # connections cut in the middle of requests
        time.sleep(2.0)
        during = len(answers)
        drill.postgres.start()
        before_recovery = len(answers)

        def recovered() -> bool:
            after = answers[before_recovery:]
            return sum(a.status == 201 for a in after) >= 5 and any(
                a.kind == "page" and a.status == 200 for a in after
            )

        wait_for(recovered, timeout=30, what="the app to serve again after PostgreSQL returned")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    assert drill.server.process.popen.pid == pid and drill.server.process.popen.poll() is None
    statuses = {(a.kind, a.status) for a in answers}
    assert statuses <= {
        ("webhook", 201),
        ("webhook", 503),
        ("page", 200),
        ("page", 503),
        ("api", 200),
        ("api", 503),
        ("healthz", 200),
        ("healthz", 503),
    }, statuses
    outage = [a for a in answers if a.status == 503]
    assert {a.kind for a in outage} == {"webhook", "page", "api", "healthz"}
    assert during > 0
    for answer in outage:
        assert answer.retry_after == "5"
        assert "Traceback" not in answer.body and "psycopg" not in answer.body
        if answer.kind == "page":
            assert "Temporarily unavailable" in answer.body
        else:
            assert "error" in json.loads(answer.body) or answer.kind == "healthz"

    acknowledged = {a.external_id for a in answers if a.kind == "webhook" and a.status == 201}
    with drill.app.app_context():
        stored = set(
            flask_db.session.scalars(
                select(Message.external_id).where(Message.channel_id == channel_id)
            )
        )
        flask_db.session.remove()
    assert acknowledged <= stored, f"lost: {sorted(acknowledged - stored)}"


# -- Publishing: a worker killed, a connector timing out, Redis gone ---------------------


@pytest.fixture
def start_worker(drill):
    """Start ``respondr worker`` processes for one drill; all stopped when it ends."""
    started = []

    def start(name: str):
        started.append(drill.stack.start_worker(name))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


def reply_waiting_for_approval(drill: Drill, platform: Platform, *, timeout: float = 10) -> int:
    """A draft held for Carol's approval on a channel publishing to ``platform``."""
    draft_id, _message_id = scenes.reply_waiting_for_approval(
        drill.app, platform, secret_key=drill.stack.secret_key, timeout=timeout
    )
    return draft_id


def approve(drill: Drill, draft_id: int) -> requests.Response:
    """Carol approves through the app server, as the approvals page does."""
    return requests.post(
        f"{drill.server.url}/api/v1/drafts/{draft_id}/approve",
        headers={"Authorization": f"Bearer {drill.approver_token}"},
        json={},
        timeout=30,
    )


def job_of(drill: Drill, draft_id: int) -> dict[str, object]:
    with drill.app.app_context():
        session = flask_db.session
        job = session.scalar(select(PublishJob).where(PublishJob.draft_id == draft_id))
        found = {
            "status": job.status if job else None,
            "attempts": job.attempts if job else 0,
            "published": session.scalar(
                select(func.count())
                .select_from(PublishedReply)
                .where(PublishedReply.draft_id == draft_id)
            ),
            "message": job.draft.message.status if job else None,
            "message_id": job.draft.message_id if job else None,
        }
        flask_db.session.remove()
    return found


def as_if_later(drill: Drill, draft_id: int) -> None:
    """Move the job's clock back: its worker "died" over five minutes ago, its next
    attempt is due now — what the real sweep sees after waiting that long."""
    with drill.app.app_context():
        long_ago = utcnow() - timedelta(minutes=6)
        flask_db.session.execute(
            update(PublishJob)
            .where(PublishJob.draft_id == draft_id)
            .values(next_attempt_at=long_ago)
        )
        flask_db.session.execute(
            update(PublishJob)
            .where(PublishJob.draft_id == draft_id, PublishJob.status == "sending")
            .values(sending_since=long_ago)
        )
        flask_db.session.commit()
        flask_db.session.remove()


def sweep_now(drill: Drill) -> None:
    """Enqueue the minute's publishing sweep into the stack's Redis, for its workers."""
    with drill.stack.queue():
        tasks.sweep_publish_jobs()


def message_page(drill: Drill, draft_id: int) -> str:
    carol = Visitor(drill.approver_email)
    carol.sign_in(drill.server.url)
    message_id = job_of(drill, draft_id)["message_id"]
    return carol.get(f"{drill.server.url}/messages/{message_id}").text


def test_a_worker_killed_mid_publish_publishes_once_after_a_new_worker_starts(
    drill, platform, start_worker
):
    platform.script = [(200, None, {}, 3.0)]  # slow: the worker dies while it waits
    draft_id = reply_waiting_for_approval(drill, platform)
    worker = start_worker("worker-doomed")
    assert approve(drill, draft_id).status_code == 200
    wait_for(lambda: platform.requests, timeout=30, what="the worker to send the reply")
    worker.kill()
    assert job_of(drill, draft_id)["status"] == "sending"
    page = message_page(drill, draft_id)
    assert "Publishing through the webhook connector (attempt 1)" in page
    assert "Published" not in page

    # A worker that dies inside the minute's sweep leaves huey's lock on the sweep behind
    # (huey locks do not expire): take it here as huey does, and never give it back.
    with drill.stack.queue(), contextlib.suppress(TaskLockedException):
        tasks.huey.lock_task("sweep-publish-jobs").acquire()  # held already if it died so

    as_if_later(drill, draft_id)
    start_worker("worker-new")
    sweep_now(drill)
    wait_for(
        lambda: job_of(drill, draft_id)["published"], timeout=30, what="the reply to be published"
    )
    time.sleep(1)  # room for a double post, if anything were to send one
    after = job_of(drill, draft_id)
    assert (after["status"], after["attempts"], after["published"]) == ("done", 2, 1)
    keys = {r["headers"]["Idempotency-Key"] for r in platform.requests}
    assert len(platform.requests) == 2 and len(keys) == 1  # sent again with the same key
    assert len(platform.posts) == 1  # the receiver shows the fan one reply
    assert "Published" in message_page(drill, draft_id)


def test_a_connector_timing_out_shows_a_retry_and_posts_once(drill, platform, start_worker):
    platform.script = [(200, None, {}, 2.5)]  # it posts, but answers after our 1 s timeout
    draft_id = reply_waiting_for_approval(drill, platform, timeout=1)
    start_worker("worker-timeout")
    assert approve(drill, draft_id).status_code == 200

    def retrying() -> bool:
        job = job_of(drill, draft_id)
        return job["status"] == "pending" and job["attempts"] == 1

    wait_for(retrying, timeout=30, what="the first attempt to time out")
    page = message_page(drill, draft_id)
    assert (
        "Publishing through the webhook connector (attempt 1; "
        "last error: the webhook did not answer in time)"
    ) in page
    assert "Publishing failed" not in page and "Published" not in page

    as_if_later(drill, draft_id)
    sweep_now(drill)
    wait_for(
        lambda: job_of(drill, draft_id)["published"], timeout=30, what="the reply to be published"
    )
    time.sleep(1)
    assert job_of(drill, draft_id)["published"] == 1
    keys = {r["headers"]["Idempotency-Key"] for r in platform.requests}
    assert len(platform.requests) == 2 and len(keys) == 1
    assert len(platform.posts) == 1  # the platform recognised the repeat: one reply
    assert "Published" in message_page(drill, draft_id)


def test_redis_gone_people_keep_working_and_the_outbox_keeps_every_publish(
    drill, platform, start_worker
):
    queued_then_lost = reply_waiting_for_approval(drill, platform)
    approved_in_outage = reply_waiting_for_approval(drill, platform)
    # Approved while no worker runs: its job waits in Redis, and goes when Redis goes.
    assert approve(drill, queued_then_lost).status_code == 200
    drill.redis.stop()
    worker = start_worker("worker-redis")  # starts, and waits, without Redis
    try:
        carol = Visitor(drill.approver_email)
        carol.sign_in(drill.server.url)  # sign-in throttling goes on unthrottled
        assert carol.get(f"{drill.server.url}/approvals").status_code == 200
        approved = approve(drill, approved_in_outage)
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"
        held = job_of(drill, approved_in_outage)
        assert (held["status"], held["published"]) == ("pending", 0)
        page = carol.get(f"{drill.server.url}/messages/{held['message_id']}").text
        assert "Publishing through the webhook connector" in page
        time.sleep(2)
        assert worker.popen.poll() is None, "the worker died without Redis"
    finally:
        drill.redis.start()  # empty: the job queued before the outage is gone

    sweep_now(drill)
    for draft_id in (queued_then_lost, approved_in_outage):
        wait_for(
            lambda d=draft_id: job_of(drill, d)["published"],
            timeout=30,
            what="both replies to be published",
        )
    time.sleep(1)
    published = [job_of(drill, d)["published"] for d in (queued_then_lost, approved_in_outage)]
    assert published == [1, 1]
    assert len(platform.requests) == 2 and len(platform.posts) == 2  # one post each
