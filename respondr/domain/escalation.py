"""Approvals that wait too long escalate: other approvers and the managers are told.

The limit is the deciding policy version's ``escalate_after_minutes``, or
:data:`DEFAULT_ESCALATE_AFTER` when the version sets none. Each round escalates once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from respondr import signals
from respondr.models import Notification, PolicyVersion, Submission, User

DEFAULT_ESCALATE_AFTER = timedelta(hours=2)


@dataclass(frozen=True)
class Notice:
    """Mail to send once the escalation is committed."""

    to: tuple[str, ...]
    subject: str
    body: str


def limit_for(version: PolicyVersion | None) -> timedelta:
    if version is not None and version.escalate_after_minutes:
        return timedelta(minutes=version.escalate_after_minutes)
    return DEFAULT_ESCALATE_AFTER


def escalate_overdue(session: Session, *, now: datetime) -> list[Notice]:
    """Mark every overdue pending round escalated, notify in-app; return the mail to send."""
    pending = session.scalars(
        select(Submission)
        .where(
            Submission.outcome == "needs_approval",
            Submission.decision.is_(None),
            Submission.escalated_at.is_(None),
            Submission.submitted_at < now - timedelta(minutes=1),
        )
        .with_for_update(skip_locked=True)
    ).all()
    people = [
        u
        for u in session.scalars(select(User).where(User.is_active_account.is_(True)))
        if u.has_role("approver", "manager")
    ]
    notices = []
    for submission in pending:
        waited = now - submission.submitted_at
        if waited < limit_for(submission.policy_version):
            continue
        submission.escalated_at = now
        draft = submission.draft
        fan = draft.message.fan
        minutes = int(waited.total_seconds() // 60)
        text = (
            f"Escalated: {draft.author.name}'s reply to {fan.display_name or fan.handle} "
            f"has waited {minutes} min for approval"
        )
        told = [u for u in people if u.id != submission.author_id]
        for person in told:
            session.add(
                Notification(
                    user_id=person.id,
                    kind="escalation",
                    text=text[:500],
                    link="/approvals",
                    created_at=now,
                )
            )
        signals.approval_escalated.send(
            submission,
            session=session,
            actor=None,
            at=now,
            data={"waited_minutes": minutes, "notified": [u.id for u in told]},
        )
        if told:
            notices.append(
                Notice(
                    to=tuple(u.email for u in told),
                    subject=f"[respondr] A reply has waited {minutes} min for approval",
                    body=f"{text}.\n\nWhy it was held: {submission.reason}\n\n"
                    f"The reply:\n{draft.text}\n\nOpen the approval queue: /approvals\n",
                )
            )
    return notices
