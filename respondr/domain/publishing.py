"""Getting a cleared reply to the fan exactly once, and saying so loudly when it fails.

An approved draft gets a :class:`~respondr.models.PublishJob` in the same transaction
(the outbox): a decision that rolls back leaves none, one that commits always has one.
Workers take a job with a conditional UPDATE (pending → sending), so two never send the
same attempt; they call the connector outside any transaction, then record the outcome.
A job found still "sending" long after it started belonged to a worker that died: its
outcome is unknown, and the next attempt goes with the same idempotency key (and, for
Facebook, after looking for our reply first). ``PublishedReply.draft_id`` is unique, so
a draft can be recorded as published once only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from respondr import signals
from respondr.domain.errors import Conflict, Forbidden, ValidationError
from respondr.models import Draft, PublishedReply, PublishJob, User

MAX_ATTEMPTS = 6
BASE_DELAY = timedelta(seconds=10)
MAX_DELAY = timedelta(minutes=30)
STALE_SENDING = timedelta(minutes=5)
# Jobs committed in this session, for the task queue once the commit is done.
AFTER_COMMIT_KEY = "respondr.publish_jobs"


@dataclass(frozen=True)
class Outcome:
    """What one connector attempt came to.

    ``published`` (with the platform's id and URL), ``retry`` (timeouts, connection
    errors, 408, 429, 5xx; ``retry_after`` when the platform asked), or ``failed`` (other
    4xx: retrying cannot help). ``maybe_sent`` marks a timeout after the request went out.
    """

    outcome: str
    external_id: str | None = None
    url: str | None = None
    error: str = ""
    retry_after: float | None = None
    maybe_sent: bool = False


def backoff(attempts: int, retry_after: float | None, rng: random.Random) -> timedelta:
    """Exponential backoff with jitter, or the platform's ``Retry-After`` when it gave one."""
    if retry_after is not None:
        return min(timedelta(seconds=retry_after), MAX_DELAY)
    delay = min(BASE_DELAY * 2 ** max(0, attempts - 1), MAX_DELAY)
    return delay * rng.uniform(0.5, 1.5)


def schedule(session: Session, draft: Draft, *, now: datetime) -> PublishJob | None:
    """Queue an approved draft for its channel's connector; manual channels wait for a
    person to post it and mark it posted."""
    if draft.message.channel.connector == "manual":
        return None
    job = PublishJob(draft_id=draft.id, status="pending", next_attempt_at=now, created_at=now)
    session.add(job)
    session.flush()
    session.info.setdefault(AFTER_COMMIT_KEY, []).append(job.id)
    return job


def start_attempt(session: Session, job_id: int, *, now: datetime) -> PublishJob | None:
    """Take a due job for one attempt; None if another worker has it or it is not due."""
    result = cast(
        CursorResult[Any],
        session.execute(
            update(PublishJob)
            .where(
                PublishJob.id == job_id,
                PublishJob.status == "pending",
                PublishJob.next_attempt_at <= now,
            )
            .values(status="sending", sending_since=now, attempts=PublishJob.attempts + 1)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        return None
    job = session.get(PublishJob, job_id)
    assert job is not None
    session.refresh(job)
    return job


def record(
    session: Session,
    job: PublishJob,
    outcome: Outcome,
    *,
    now: datetime,
    rng: random.Random | None = None,
) -> None:
    """Write an attempt's outcome: published, a retry later, or a loud failure."""
    draft = job.draft
    message = draft.message
    signals.publish_attempted.send(
        draft,
        session=session,
        actor=None,
        at=now,
        data={
            "attempt": job.attempts,
            "outcome": outcome.outcome,
            "error": outcome.error[:500],
            "outcome_was_unknown": job.outcome_unknown,
        },
    )
    job.sending_since = None
    if outcome.outcome == "published":
        mark_published(
            session,
            draft,
            external_id=outcome.external_id,
            url=outcome.url,
            actor=None,
            now=now,
            connector=message.channel.connector,
        )
        job.status = "done"
        job.outcome_unknown = False
        return
    job.last_error = outcome.error[:2000]
    if outcome.outcome == "retry" and job.attempts < MAX_ATTEMPTS:
        job.status = "pending"
        jitter = rng or random.Random()  # noqa: S311 - jitter, not a secret  # nosec B311
        job.next_attempt_at = now + backoff(job.attempts, outcome.retry_after, jitter)
        # A timeout may have reached the platform: the next attempt must check first.
        job.outcome_unknown = job.outcome_unknown or outcome.maybe_sent
        return
    job.status = "failed"
    draft.status = "publish_failed"
    message.status = "publish_failed"
    signals.publish_failed.send(
        draft,
        session=session,
        actor=None,
        at=now,
        data={"error": outcome.error[:500], "attempts": job.attempts},
    )


def mark_published(
    session: Session,
    draft: Draft,
    *,
    external_id: str | None,
    url: str | None,
    actor: User | None,
    now: datetime,
    connector: str,
) -> PublishedReply:
    """Record the reply as published (once: a second call is a Conflict)."""
    if session.scalar(select(PublishedReply).where(PublishedReply.draft_id == draft.id)):
        raise Conflict("This reply is already published.", "status")
    reply = PublishedReply(
        draft_id=draft.id,
        message_id=draft.message_id,
        text=draft.text,
        published_at=now,
        connector=connector,
        external_id=external_id,
        url=url,
        published_by_id=actor.id if actor else None,
    )
    session.add(reply)
    draft.status = "published"
    draft.message.status = "published"
    signals.reply_published.send(
        reply, session=session, actor=actor, at=now, data={"connector": connector}
    )
    return reply


def mark_posted(
    session: Session, draft: Draft, *, url: str, actor: User, now: datetime
) -> PublishedReply:
    """The manual connector: a person posted the text by hand; now is the publish time."""
    if draft.status != "approved":
        raise Conflict("Only an approved reply can be marked as posted.", "status")
    url = url.strip()
    if url and not url.startswith(("https://", "http://")):
        raise ValidationError("Give the link where the reply was posted (http or https).", "url")
    return mark_published(
        session, draft, external_id=None, url=url or None, actor=actor, now=now, connector="manual"
    )


def due_jobs(session: Session, *, now: datetime) -> list[int]:
    """Jobs to attempt now; jobs stuck "sending" (their worker died) become due again,
    with their outcome unknown."""
    session.execute(
        update(PublishJob)
        .where(PublishJob.status == "sending", PublishJob.sending_since < now - STALE_SENDING)
        .values(status="pending", outcome_unknown=True, sending_since=None)
        .execution_options(synchronize_session=False)
    )
    return list(
        session.scalars(
            select(PublishJob.id)
            .where(PublishJob.status == "pending", PublishJob.next_attempt_at <= now)
            .order_by(PublishJob.next_attempt_at)
            .limit(500)
        )
    )


def retry(session: Session, draft: Draft, *, actor: User, now: datetime) -> PublishJob:
    """Try a failed reply again (approvers, managers and admins)."""
    if not actor.has_role("approver", "manager", "admin"):
        raise Forbidden("Only an approver, a manager or an admin can retry publishing.")
    job = session.scalar(select(PublishJob).where(PublishJob.draft_id == draft.id))
    if job is None or job.status != "failed":
        raise Conflict("Only a reply whose publishing failed can be retried.", "status")
    job.status = "pending"
    job.attempts = 0
    job.next_attempt_at = now
    draft.status = "approved"
    draft.message.status = "approved"
    session.flush()
    session.info.setdefault(AFTER_COMMIT_KEY, []).append(job.id)
    return job
