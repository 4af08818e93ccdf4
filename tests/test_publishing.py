"""Publishing through real local HTTP servers: success, retries, failures, no double post."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import redis
from sqlalchemy import func, select

from respondr import tasks
from respondr.domain import channels as channel_ops
from respondr.domain import drafting, publishing
from respondr.domain.policies import find_policy, set_channel_policy
from respondr.domain.presets import ensure_presets
from respondr.extensions import db as flask_db
from respondr.models import Message, PublishedReply, PublishJob, WorkflowEvent
from respondr.tasks import run_publish_job
from respondr.timeutil import utcnow
from tests import factories
from tests.test_tasks import redis_url


class Platform(ThreadingHTTPServer):
    """A scripted platform: answers each request with the next scripted step.

    A step is (status, body, headers, delay seconds). Posts are deduplicated by
    Idempotency-Key, as a well-behaved receiver does; ``posts`` counts the replies that
    would really have appeared.
    """

    daemon_threads = True

    def __init__(self, script):
        super().__init__(("127.0.0.1", 0), PlatformHandler)
        self.script = list(script)
        self.requests: list[dict] = []
        self.posts: dict[str, str] = {}  # key (or comment text) -> reply id
        self.comments: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class PlatformHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):  # Facebook: read a comment's replies
        server = self.server
        server.requests.append({"method": "GET", "path": self.path})
        self._answer(200, {"data": server.comments}, {}, 0)

    def do_POST(self):
        server = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server.requests.append(
            {"method": "POST", "path": self.path, "body": body, "headers": dict(self.headers)}
        )
        status, answer, headers, delay = (
            server.script.pop(0) if server.script else (200, None, {}, 0)
        )
        if status == 200 and answer is None:
            key = self.headers.get("Idempotency-Key") or body.decode()
            reply_id = server.posts.setdefault(key, f"reply-{len(server.posts) + 1}")
            if self.headers.get("Content-Type", "").startswith("application/x-www-form"):
                form = parse_qs(body.decode())
                server.comments.append(
                    {"id": reply_id, "message": form["message"][0], "from": {"id": "page-1"}}
                )
            answer = {"id": reply_id, "url": f"https://platform.example/{reply_id}"}
        self._answer(status, answer, headers, delay)

    def _answer(self, status, answer, headers, delay):
        time.sleep(delay)
        data = json.dumps(answer).encode()
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def platform_factory():
    servers = []

    def start(*script):
        server = Platform(script)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def approved_reply(
    app,
    *,
    connector: str,
    url: str,
    token: str = "s3cret-signing-key",
    timeout: float = 1.0,
    text: str = "Thanks for asking!",
) -> int:
    """An approved reply on a channel with the given connector; returns its job id."""
    with app.app_context():
        session = flask_db.session
        ensure_presets(session, now=utcnow())
        channel = factories.create_channel(session)
        set_channel_policy(session, channel, find_policy(session, "open"), actor=None, now=utcnow())
        channel_ops.set_connector(
            session,
            channel,
            connector=connector,
            url=url,
            token=token,
            page_id="page-1",
            secret_key=app.config["SECRET_KEY"],
            actor=None,
            now=utcnow(),
        )
        channel.connector_config = {**channel.connector_config, "timeout_seconds": timeout}
        agent = factories.create_user(session)
        message = factories.create_message(session, channel)
        message.external_id = "comment-42"
        draft = drafting.save_draft(
            session, message, author=agent, text=text, version=None, now=utcnow()
        )
        drafting.submit(session, draft, actor=agent, now=utcnow())
        session.commit()
        job_id = session.scalar(select(PublishJob.id).where(PublishJob.draft_id == draft.id))
        flask_db.session.remove()
    return job_id


def make_due(app, job_id: int) -> None:
    with app.app_context():
        job = flask_db.session.get(PublishJob, job_id)
        job.next_attempt_at = utcnow() - timedelta(seconds=1)
        flask_db.session.commit()
        flask_db.session.remove()


def state(app, job_id: int):
    with app.app_context():
        session = flask_db.session
        job = session.get(PublishJob, job_id)
        message = job.draft.message
        result = {
            "job": job.status,
            "attempts": job.attempts,
            "error": job.last_error,
            "message": message.status,
            "draft": job.draft.status,
            "next": job.next_attempt_at,
            "published": session.scalar(
                select(func.count())
                .select_from(PublishedReply)
                .where(PublishedReply.draft_id == job.draft_id)
            ),
            "events": list(
                session.scalars(
                    select(WorkflowEvent.kind)
                    .where(
                        WorkflowEvent.draft_id == job.draft_id,
                        WorkflowEvent.kind.in_(
                            ("publish_attempted", "published", "publish_failed")
                        ),
                    )
                    .order_by(WorkflowEvent.id)
                )
            ),
        }
        flask_db.session.remove()
    return result


def test_webhook_success_posts_once_signed_with_the_idempotency_key(
    committed_app, platform_factory
):
    platform = platform_factory()
    job_id = approved_reply(committed_app, connector="webhook", url=platform.url + "/replies")
    assert run_publish_job(committed_app, job_id) == "done"
    after = state(committed_app, job_id)
    assert after["published"] == 1 and after["message"] == "published"
    assert after["events"] == ["publish_attempted", "published"]
    sent = platform.requests[0]
    body = sent["body"]
    assert json.loads(body)["text"] == "Thanks for asking!"
    assert json.loads(body)["in_reply_to"] == "comment-42"
    t, v1 = (part.split("=", 1)[1] for part in sent["headers"]["X-Respondr-Signature"].split(","))
    expected = hmac.new(b"s3cret-signing-key", f"{t}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(v1, expected.hexdigest())
    assert sent["headers"]["Idempotency-Key"]
    with committed_app.app_context():
        reply = flask_db.session.scalar(
            select(PublishedReply).where(PublishedReply.external_id == "reply-1")
        )
        assert reply.url == "https://platform.example/reply-1"
        flask_db.session.remove()


CONNECTORS = pytest.mark.parametrize("connector", ["webhook", "facebook"])


@CONNECTORS
def test_500_then_success_retries_with_backoff(committed_app, platform_factory, connector):
    platform = platform_factory((500, {"error": "oops"}, {}, 0))
    job_id = approved_reply(committed_app, connector=connector, url=platform.url)
    started = utcnow()
    assert run_publish_job(committed_app, job_id) == "pending"
    first = state(committed_app, job_id)
    assert "500" in first["error"] and first["message"] == "approved"
    assert timedelta(seconds=4) <= first["next"] - started <= timedelta(seconds=16)
    assert run_publish_job(committed_app, job_id) is None  # not due yet
    make_due(committed_app, job_id)
    assert run_publish_job(committed_app, job_id) == "done"
    assert state(committed_app, job_id)["published"] == 1


def test_timeout_then_success_posts_once(committed_app, platform_factory):
    platform = platform_factory((200, None, {}, 2.0))  # answers after the 1 s timeout
    job_id = approved_reply(committed_app, connector="webhook", url=platform.url)
    assert run_publish_job(committed_app, job_id) == "pending"
    make_due(committed_app, job_id)
    assert run_publish_job(committed_app, job_id) == "done"
    keys = {r["headers"]["Idempotency-Key"] for r in platform.requests}
    assert len(platform.requests) == 2 and len(keys) == 1  # the same key both times
    assert len(platform.posts) == 1  # the receiver saw one reply
    assert state(committed_app, job_id)["published"] == 1


@CONNECTORS
def test_429_honours_retry_after(committed_app, platform_factory, connector):
    platform = platform_factory((429, {"error": "slow down"}, {"Retry-After": "120"}, 0))
    job_id = approved_reply(committed_app, connector=connector, url=platform.url)
    started = utcnow()
    run_publish_job(committed_app, job_id)
    wait = state(committed_app, job_id)["next"] - started
    assert timedelta(seconds=119) <= wait <= timedelta(seconds=125)


def test_400_fails_at_once_and_shows_in_the_inbox(committed_app, platform_factory):
    platform = platform_factory((400, {"error": "text too long"}, {}, 0))
    job_id = approved_reply(committed_app, connector="webhook", url=platform.url)
    assert run_publish_job(committed_app, job_id) == "failed"
    after = state(committed_app, job_id)
    assert after["attempts"] == 1 and after["message"] == "publish_failed"
    assert "text too long" in after["error"]
    assert after["events"] == ["publish_attempted", "publish_failed"]
    with committed_app.app_context():
        job = flask_db.session.get(PublishJob, job_id)
        carol = factories.create_user(flask_db.session, roles="approver")
        publishing.retry(flask_db.session, job.draft, actor=carol, now=utcnow())
        flask_db.session.commit()
        flask_db.session.remove()
    assert state(committed_app, job_id)["message"] == "approved"


def test_facebook_replies_to_the_comment_with_the_page_token(committed_app, platform_factory):
    platform = platform_factory()
    job_id = approved_reply(
        committed_app, connector="facebook", url=platform.url, token="EAAB-page-token"
    )
    assert run_publish_job(committed_app, job_id) == "done"
    sent = platform.requests[0]
    assert sent["path"] == "/v21.0/comment-42/comments"
    form = parse_qs(sent["body"].decode())
    assert form == {"message": ["Thanks for asking!"], "access_token": ["EAAB-page-token"]}


def test_facebook_graph_error_shape_is_reported(committed_app, platform_factory):
    error = {
        "error": {
            "message": "(#100) Invalid parameter",
            "type": "OAuthException",
            "code": 100,
            "fbtrace_id": "Abc",
        }
    }
    platform = platform_factory((400, error, {}, 0))
    job_id = approved_reply(committed_app, connector="facebook", url=platform.url, token="t")
    assert run_publish_job(committed_app, job_id) == "failed"
    assert (
        "(#100) Invalid parameter (OAuthException, code 100)"
        in state(committed_app, job_id)["error"]
    )


def test_facebook_after_a_timeout_finds_its_own_reply_instead_of_posting_again(
    committed_app, platform_factory
):
    platform = platform_factory((200, None, {}, 2.0))  # posted, but answered too late
    job_id = approved_reply(committed_app, connector="facebook", url=platform.url, token="t")
    assert run_publish_job(committed_app, job_id) == "pending"
    make_due(committed_app, job_id)
    assert run_publish_job(committed_app, job_id) == "done"
    methods = [r["method"] for r in platform.requests]
    assert methods == ["POST", "GET"]  # looked, found ours, did not post again
    assert len(platform.comments) == 1


@pytest.fixture(params=["sqlite-storage", "redis-storage"])
def task_store(request, committed_app):
    """The task queue's store for this test: the embedded SQLite file, or Redis."""
    if request.param == "redis-storage":
        url = redis_url()
        redis.Redis.from_url(url).flushdb()
        committed_app.config["REDIS_URL"] = url
    tasks.bind_storage(committed_app)  # the approval's commit enqueues into this store
    yield committed_app.config.get("REDIS_URL")
    committed_app.config["REDIS_URL"] = None
    tasks.bind_storage(committed_app)


@CONNECTORS
def test_a_worker_killed_mid_publish_does_not_post_twice(
    committed_app, platform_factory, task_store, connector
):
    platform = platform_factory((200, None, {}, 3.0))  # slow: the worker dies while waiting
    job_id = approved_reply(committed_app, connector=connector, url=platform.url, timeout=10)
    env = {
        **os.environ,
        "DATABASE_URL": committed_app.config["SQLALCHEMY_DATABASE_URI"],
        "RESPONDR_INSTANCE": committed_app.instance_path,
        "SECRET_KEY": committed_app.config["SECRET_KEY"],
    }
    env.pop("REDIS_URL", None)
    if task_store:
        env["REDIS_URL"] = task_store
    worker = subprocess.Popen(  # a real `respondr worker`, picking the job off the queue
        [os.path.join(os.path.dirname(sys.executable), "respondr"), "worker", "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not platform.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert platform.requests, "the worker never sent the reply"
    worker.send_signal(signal.SIGKILL)  # after sending, before recording
    worker.wait(timeout=10)
    assert state(committed_app, job_id)["job"] == "sending"

    with committed_app.app_context():  # the sweep, minutes later, finds the orphan
        due = publishing.due_jobs(flask_db.session, now=utcnow() + timedelta(minutes=6))
        flask_db.session.commit()
        flask_db.session.remove()
    assert job_id in due
    platform.script = [(200, None, {}, 0)]
    make_due(committed_app, job_id)
    assert run_publish_job(committed_app, job_id) == "done"
    if connector == "webhook":  # posted again with the same key; the receiver saw one reply
        assert [r["method"] for r in platform.requests] == ["POST", "POST"]
        assert len({r["headers"]["Idempotency-Key"] for r in platform.requests}) == 1
    else:  # Facebook: looked for our reply, found it, did not post again
        assert [r["method"] for r in platform.requests] == ["POST", "GET"]
    assert len(platform.posts) == 1 and state(committed_app, job_id)["published"] == 1
    with committed_app.app_context():
        message = flask_db.session.scalar(
            select(Message).where(
                Message.external_id == "comment-42", Message.status == "published"
            )
        )
        assert message is not None
        flask_db.session.remove()
