"""Background jobs on huey: SQLite-backed by default, Redis when ``REDIS_URL`` is set.

huey was chosen because it runs with no server at all (its SQLite storage lives in the
instance folder, so ``make run`` needs nothing), switches to Redis by configuration for
several workers on several hosts, and has periodic tasks, retries with delays and task
locks built in. Each task builds its own app context.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from functools import cache
from pathlib import Path

from flask import Flask
from huey import Huey, crontab
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage
from sqlalchemy import event
from sqlalchemy.orm import Session

# Storage is bound by ``bind_storage`` when an app is created (``create_app``), so the
# web process, the CLI and workers all use the store the configuration names.
huey = Huey("respondr", storage_class=MemoryStorage)


def bind_storage(app: Flask) -> None:
    """Use Redis when ``REDIS_URL`` is set, else ``tasks.db`` in the instance folder."""
    redis_url = app.config.get("REDIS_URL")
    if redis_url:
        huey.storage = RedisStorage("respondr", url=redis_url)
    else:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        huey.storage = SqliteStorage("respondr", filename=str(Path(app.instance_path) / "tasks.db"))


def _enqueue_committed_publish_jobs(session: Session) -> None:
    """After a commit, hand the publish jobs it created to the queue (outbox → queue).
    A job whose enqueue is lost here is still picked up by the minute sweep, so a queue
    that cannot be reached (Redis down) is logged and does not fail what was committed."""
    import logging
    import sqlite3

    from redis.exceptions import RedisError

    from respondr.domain.publishing import AFTER_COMMIT_KEY

    for job_id in session.info.pop(AFTER_COMMIT_KEY, []):
        try:
            publish_reply(job_id)
        except (RedisError, sqlite3.Error) as error:
            logging.getLogger(__name__).warning(
                "publish job %s not queued (%s); the minute sweep will send it",
                job_id,
                type(error).__name__,
            )


def _forget_rolled_back_publish_jobs(session: Session) -> None:
    from respondr.domain.publishing import AFTER_COMMIT_KEY

    session.info.pop(AFTER_COMMIT_KEY, None)


event.listen(Session, "after_commit", _enqueue_committed_publish_jobs)
event.listen(
    Session, "after_soft_rollback", lambda session, _tx: _forget_rolled_back_publish_jobs(session)
)


_task_app_lock = threading.Lock()


@cache
def _build_task_app() -> Flask:
    from respondr import create_app

    return create_app()


def task_app() -> Flask:
    """One app per worker process, built on first use — by one thread only: the worker's
    threads start their first tasks at the same moment."""
    with _task_app_lock:
        return _build_task_app()


@huey.periodic_task(crontab(minute="*"))
@huey.lock_task("lapse-idle-claims")
def lapse_idle_claims() -> int:
    """Every minute: claims idle past the organisation's lapse time go back to the pool."""
    from respondr.domain.claims import lapse_idle_claims as lapse
    from respondr.domain.organisation import get_organisation
    from respondr.extensions import db
    from respondr.timeutil import utcnow

    with task_app().app_context():
        org = get_organisation(db.session)
        lapsed = lapse(
            db.session, now=utcnow(), idle_for=timedelta(minutes=org.claim_lapse_minutes)
        )
        db.session.commit()
        return len(lapsed)


@huey.periodic_task(crontab(minute="*"))
@huey.lock_task("escalate-approvals")
def escalate_approvals() -> int:
    """Every minute: approvals waiting past their policy's limit escalate (once each)."""
    from respondr import mail
    from respondr.domain.escalation import escalate_overdue
    from respondr.extensions import db
    from respondr.timeutil import utcnow

    app = task_app()
    with app.app_context():
        notices = escalate_overdue(db.session, now=utcnow())
        db.session.commit()
    for notice in notices:  # outside effects only after the commit
        mail.send(
            app.config.get("SMTP_URL"), to=notice.to, subject=notice.subject, body=notice.body
        )
    return len(notices)


@huey.periodic_task(crontab(minute="*"))
@huey.lock_task("check-slas")
def check_slas() -> int:
    """Every minute: warn the people concerned about messages about to breach their SLA
    (once each), and record each breach as an ``sla_breached`` event (once each)."""
    from respondr import mail
    from respondr.domain import sla_alerts
    from respondr.extensions import db
    from respondr.timeutil import utcnow

    app = task_app()
    with app.app_context():
        done = sla_alerts.check_slas(db.session, now=utcnow())
        db.session.commit()
    for notice in done.mail:  # outside effects only after the commit
        mail.send(
            app.config.get("SMTP_URL"), to=notice.to, subject=notice.subject, body=notice.body
        )
    return len(done.warned) + len(done.breached)


def run_publish_job(app: Flask, job_id: int) -> str | None:
    """One publishing attempt for a job: take it, call the connector outside any
    transaction, record the outcome. Returns the job's status, or None if not taken."""
    from respondr import connectors
    from respondr.crypto import UnreadableSecret
    from respondr.domain import publishing
    from respondr.extensions import db
    from respondr.models import PublishJob
    from respondr.timeutil import utcnow

    with app.app_context():
        job = publishing.start_attempt(db.session, job_id, now=utcnow())
        if job is None:
            db.session.rollback()
            return None
        draft = job.draft
        message = draft.message
        reply = connectors.Reply(
            draft_id=draft.id,
            idempotency_key=draft.idempotency_key,
            text=draft.text,
            message_id=message.id,
            message_external_id=message.external_id,
            thread_id=message.thread_key,
            channel_name=message.channel.name,
        )
        outcome_unknown = job.outcome_unknown
        try:
            connector = connectors.for_channel(message.channel, app.config["SECRET_KEY"])
        except (KeyError, UnreadableSecret) as error:
            connector, problem = None, f"the channel's connector is not set up: {error}"
        else:
            problem = "the channel has no automatic connector"
        db.session.commit()  # "sending" is recorded before anything leaves
        if connector is None:
            outcome = publishing.Outcome("failed", error=problem)
        else:
            outcome = connector.publish(reply, outcome_unknown=outcome_unknown)
        job = db.session.get(PublishJob, job_id)
        publishing.record(db.session, job, outcome, now=utcnow())
        db.session.commit()
        if job.status == "pending":
            publish_reply.schedule((job_id,), eta=job.next_attempt_at)
        return job.status


@huey.task()
def publish_reply(job_id: int) -> str | None:
    """Publish one approved reply through its channel's connector."""
    return run_publish_job(task_app(), job_id)


@huey.periodic_task(crontab(minute="*"))
@huey.lock_task("sweep-publish-jobs")
def sweep_publish_jobs() -> int:
    """Every minute: enqueue due publish jobs (retries, lost enqueues, dead workers)."""
    from respondr.domain.publishing import due_jobs
    from respondr.extensions import db
    from respondr.timeutil import utcnow

    with task_app().app_context():
        due = due_jobs(db.session, now=utcnow())
        db.session.commit()
    for job_id in due:
        publish_reply(job_id)
    return len(due)


def poll_all_feeds(app: Flask) -> int:
    """Poll every active channel that names a feed, over HTTP, committing once per
    channel. A feed that fails is logged and rolled back, and the next channel is polled
    all the same. Returns the number of messages created."""
    import logging

    from respondr.domain.errors import DomainError
    from respondr.domain.feeds import feed_channels, http_fetch, poll_feed
    from respondr.extensions import db
    from respondr.models import Channel
    from respondr.timeutil import utcnow

    log = logging.getLogger(__name__)
    created = 0
    with app.app_context():
        channel_ids = [channel.id for channel in feed_channels(db.session)]
        db.session.rollback()
        for channel_id in channel_ids:
            channel = db.session.get(Channel, channel_id)
            if channel is None:
                continue
            try:
                result = poll_feed(db.session, channel, fetch=http_fetch, now=utcnow())
                db.session.commit()
            except DomainError as error:
                db.session.rollback()
                log.warning("Feed of channel %s not polled: %s", channel_id, error.message)
                continue
            except Exception:
                db.session.rollback()
                log.exception("Feed of channel %s failed", channel_id)
                continue
            created += result.created
            for rejected in result.rejected:
                log.warning(
                    "Feed of channel %s: %s not stored: %s: %s",
                    channel_id,
                    rejected.entry,
                    rejected.field,
                    rejected.reason,
                )
    return created


@huey.periodic_task(crontab(minute="*/5"))
@huey.lock_task("poll-feeds")
def poll_feeds() -> int:
    """Every 5 minutes: ingest the new comments of each channel's RSS or Atom feed."""
    return poll_all_feeds(task_app())


@huey.periodic_task(crontab(minute="17"))
@huey.lock_task("prune-submission-keys")
def prune_submission_keys() -> int:
    """Hourly: forget one-time form submission keys spent more than a week ago."""
    from respondr.domain.form_submissions import prune
    from respondr.extensions import db
    from respondr.timeutil import utcnow

    with task_app().app_context():
        pruned = prune(db.session, now=utcnow())
        db.session.commit()
        return pruned


@huey.periodic_task(crontab(minute="41", hour="3"))
@huey.lock_task("refresh-planner-statistics")
def refresh_planner_statistics() -> bool:
    """Nightly: the query planner's statistics (SQLite; see db_setup)."""
    from respondr.db_setup import refresh_planner_statistics as refresh
    from respondr.extensions import db

    with task_app().app_context():
        return refresh(db.engine)


def send_weekly_summary(app: Flask) -> bool:
    """Mail the managers the weekly latency summary if one is due and not sent yet (only
    when SMTP is configured); record it once the mail went. True when a mail went."""
    from respondr import mail
    from respondr.domain import weekly_summary
    from respondr.extensions import db
    from respondr.timeutil import utcnow

    smtp_url = app.config.get("SMTP_URL")
    if not smtp_url:
        return False
    with app.app_context():
        due = weekly_summary.due_summary(db.session, now=utcnow())
        db.session.rollback()  # reading only: no transaction stays open while mailing
        if due is None:
            return False
        week, notice = due
        if not mail.send(smtp_url, to=notice.to, subject=notice.subject, body=notice.body):
            return False  # asked again next hour
        weekly_summary.record_sent(db.session, week, notice, now=utcnow())
        db.session.commit()
    return True


@huey.periodic_task(crontab(minute="7"))
@huey.lock_task("weekly-summary")
def weekly_summary_mail() -> bool:
    """Hourly: the weekly latency summary to managers, due Mondays from 08:00 in the
    organisation's timezone, once per week."""
    return send_weekly_summary(task_app())
