"""Approvals that wait too long escalate: other approvers and the managers are told.

The limit is the deciding policy version's ``escalate_after_minutes``, or
:data:`DEFAULT_ESCALATE_AFTER` when the version sets none. Each round escalates once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from respondr import signals
from respondr.domain.notifications import Notice, notify
from respondr.models import PolicyVersion, Submission, User

DEFAULT_ESCALATE_AFTER = timedelta(hours=2)


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
        notice = notify(
            session,
            [u for u in people if u.id != submission.author_id],
            kind="escalation",
            text=text,
            link="/approvals",
            now=now,
            signal=signals.approval_escalated,
            about=submission,
            data={"waited_minutes": minutes},
            subject=f"[respondr] A reply has waited {minutes} min for approval",
            body=f"{text}.\n\nWhy it was held: {submission.reason}\n\n"
            f"The reply:\n{draft.text}\n\nOpen the approval queue: /approvals\n",
        )
        if notice is not None:
            notices.append(notice)
    return notices
