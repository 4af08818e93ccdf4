"""Drafting, submitting and clearing replies.

A message has at most one live draft. Saving checks the version the editor started from
(a stale one is a Conflict, never a silent overwrite) and keeps every version. Submitting
asks the channel's approval policy, afresh each time, with the author's trust as it is at
that moment; the verdict, the policy version and the deciding rule are stored on the
:class:`~respondr.models.Submission` (one per round). Approvals follow the round's ordered
steps; nobody clears their own draft.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from respondr import signals
from respondr.domain import claims, policy, publishing, stock
from respondr.domain.errors import Conflict, DomainError, Forbidden, ValidationError
from respondr.domain.organisation import get_organisation
from respondr.domain.presets import ONE_APPROVER
from respondr.models import (
    ApprovalDecision,
    Draft,
    DraftVersion,
    Message,
    Notification,
    Submission,
    Team,
    User,
)

# Characters a platform accepts in one reply.
LENGTH_LIMITS = {
    "twitter": 280,
    "instagram": 2200,
    "facebook_page": 8000,
    "blog": 20000,
    "forum": 20000,
    "email": 50000,
    "other": 20000,
}
TWITTER_URL_LENGTH = 23  # X/Twitter counts every link as 23 characters
URL = re.compile(r"https?://\S+", re.IGNORECASE)
UNFILLED_PLACEHOLDER = re.compile(r"\{([^\W\d]\w*)\}")
LIVE_DRAFT_STATUSES = ("drafting", "rejected", "awaiting_approval", "approved", "publish_failed")
EDITABLE = ("drafting", "rejected")


class Blocked(DomainError):
    """The policy blocks this draft: it cannot be submitted until edited."""

    status = 422

    def __init__(self, verdict: policy.Verdict) -> None:
        super().__init__(verdict.reason, "text")
        self.verdict = verdict


def platform_length(kind: str, text: str) -> int:
    """The length as the platform counts it (NFC code points; links weigh 23 on Twitter,
    and there CJK characters and emoji count double, as twitter-text weighs them)."""
    text = unicodedata.normalize("NFC", text)
    if kind != "twitter":
        return len(text)
    links = URL.findall(text)
    rest = URL.sub("", text)
    weight = sum(1 if ord(c) <= 0x10FF or 0x2000 <= ord(c) <= 0x2FFF else 2 for c in rest)
    return weight + TWITTER_URL_LENGTH * len(links)


def live_draft(session: Session, message: Message) -> Draft | None:
    return session.scalar(
        select(Draft)
        .where(Draft.message_id == message.id, Draft.status.in_(LIVE_DRAFT_STATUSES))
        .order_by(Draft.id.desc())
        .limit(1)
    )


def _hold_claim(session: Session, message: Message, author: User, now: datetime) -> None:
    """Drafting needs the claim: take it if nobody holds it, refuse if someone else does."""
    if message.claimed_by_id != author.id:
        claims.claim(session, message, actor=author, now=now)


def save_draft(
    session: Session,
    message: Message,
    *,
    author: User,
    text: str,
    version: int | None,
    now: datetime,
    stock_response_id: int | None = None,
) -> Draft:
    """Create or update the message's draft. ``version`` is the one the editor loaded
    (None for a new draft); if the draft moved on since, raise Conflict."""
    if len(text) > 50000:
        raise ValidationError("A reply can be at most 50,000 characters.", "text")
    _hold_claim(session, message, author, now)
    draft = live_draft(session, message)
    if draft is not None and draft.status not in EDITABLE:
        raise Conflict(
            f"The reply is {draft.status.replace('_', ' ')} and can no longer be edited.",
            "status",
        )
    if draft is not None and version is not None and version != draft.version:
        editor = draft.versions[-1].editor.name if draft.versions else "someone"
        raise Conflict(
            f"{editor} changed this draft meanwhile (now version {draft.version}, you edited "
            f"version {version}). Reload it to see their changes.",
            "version",
        )
    stock_response = (
        stock.get(session, stock_response_id) if stock_response_id is not None else None
    )
    created = draft is None
    if draft is None:
        draft = Draft(
            message_id=message.id,
            author_id=author.id,
            text=text,
            version=1,
            created_at=now,
            updated_at=now,
        )
        session.add(draft)
    else:
        if text == draft.text and stock_response is None:
            return draft  # nothing changed: no new version
        draft.version += 1
        draft.text = text
        draft.updated_at = now
        draft.author_id = author.id
    if stock_response is not None:
        draft.stock_response = stock_response
        stock_response.usage_count += 1
    draft.unedited_stock = _is_unedited_stock(draft, message, author)
    draft.versions.append(
        DraftVersion(number=draft.version, text=text, editor_id=author.id, created_at=now)
    )
    message.last_activity_at = now
    if message.status in ("new", "claimed", "rejected"):
        message.status = "drafting"
    draft.status = "drafting"
    if created:
        signals.draft_started.send(draft, session=session, actor=author, at=now)
    return draft


def insert_stock_response(
    session: Session,
    message: Message,
    *,
    author: User,
    stock_response_id: int,
    version: int | None,
    now: datetime,
) -> Draft:
    """Replace the draft's text with a stock response, known placeholders filled."""
    response = stock.get(session, stock_response_id)
    text = policy.fill_placeholders(response.text, stock.placeholder_values(message, author))
    return save_draft(
        session,
        message,
        author=author,
        text=text,
        version=version,
        now=now,
        stock_response_id=response.id,
    )


def _is_unedited_stock(draft: Draft, message: Message, author: User) -> bool:
    response = draft.stock_response
    if response is None or not response.pre_approved:
        return False
    return policy.is_unedited_stock(
        response.text, draft.text, stock.placeholder_values(message, author)
    )


def approved_count(session: Session, author: User) -> int:
    """How many of the author's rounds were approved: policies can hold new staff."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Submission)
            .where(Submission.author_id == author.id, Submission.decision == "approved")
        )
        or 0
    )


def check_submittable(draft: Draft, message: Message) -> None:
    """What must hold before any policy is asked: text, length, no unfilled placeholder."""
    text = draft.text.strip()
    if not text:
        raise ValidationError("Write a reply before submitting it.", "text")
    left = set(UNFILLED_PLACEHOLDER.findall(text))
    if left:
        names = ", ".join("{" + name + "}" for name in sorted(left))
        raise ValidationError(f"Fill in the placeholder {names} before submitting.", "text")
    limit = LENGTH_LIMITS.get(message.channel.kind, 20000)
    length = platform_length(message.channel.kind, text)
    if length > limit:
        raise ValidationError(
            f"{message.channel.kind.replace('_', ' ').title()} takes {limit:,} characters; "
            f"this reply counts {length:,}.",
            "text",
        )


def facts_for(
    session: Session, draft: Draft, message: Message, author: User, now: datetime
) -> policy.Facts:
    org = get_organisation(session)
    return policy.Facts(
        author_roles=frozenset(author.roles),
        author_trusted=author.trusted,
        author_approved_count=approved_count(session, author),
        channel_id=message.channel_id,
        category=message.category,
        intent=message.intent,
        sentiment=message.sentiment_score,
        message_text=message.text,
        draft_text=draft.text,
        unedited_stock=draft.unedited_stock,
        followers=message.fan.followers,
        at=now,
        business_hours=message.channel.business_hours,
        watch_list=tuple(org.watch_list or ()),
    )


def verdict_for(
    session: Session, draft: Draft, author: User, now: datetime
) -> tuple[policy.Verdict, Any]:
    """The channel's current policy version's verdict on the draft, and that version."""
    message = draft.message
    channel_policy = message.channel.policy
    version = channel_policy.current_version if channel_policy is not None else None
    rules = version.rules if version is not None else []
    label = version.label if version is not None else "no policy set"
    facts = facts_for(session, draft, message, author, now)
    return policy.evaluate(rules, facts, policy_label=label), version


def submit(
    session: Session, draft: Draft, *, actor: User, now: datetime, ask_for_approval: bool = False
) -> Submission:
    """Submit a draft: the policy decides, afresh, whether it needs approval."""
    message = draft.message
    if draft.status not in EDITABLE:
        raise Conflict(
            f"This reply is {draft.status.replace('_', ' ')}; it cannot be submitted.", "status"
        )
    if message.claimed_by_id != actor.id:
        holder = message.claimed_by.name if message.claimed_by else "Nobody"
        raise Conflict(f"{holder} holds this message; only the holder can submit its reply.")
    check_submittable(draft, message)
    verdict, version = verdict_for(session, draft, actor, now)
    if verdict.outcome == "blocked":
        raise Blocked(verdict)
    needs_approval = verdict.outcome == "needs_approval" or ask_for_approval
    steps = [dict(step) for step in verdict.steps] or [dict(s) for s in ONE_APPROVER]
    reason = verdict.reason
    if ask_for_approval and verdict.outcome == "publish":
        reason = (
            f"needs approval: {actor.name} asked for it (the policy would let it out: "
            f"{verdict.reason})"
        )
    submission = Submission(
        draft=draft,
        number=len(draft.submissions) + 1,
        text=draft.text,
        submitted_at=now,
        author_id=actor.id,
        author_trusted=actor.trusted,
        author_roles=sorted(actor.roles),
        policy_version_id=version.id if version is not None else None,
        rule_number=verdict.rule_number,
        outcome="needs_approval" if needs_approval else "publish",
        reason=reason,
        steps=steps if needs_approval else [],
        asked_by_author=ask_for_approval,
    )
    session.add(submission)
    signals.draft_submitted.send(
        submission,
        session=session,
        actor=actor,
        at=now,
        data={
            "outcome": submission.outcome,
            "policy_version_id": submission.policy_version_id,
            "rule_number": submission.rule_number,
            "author_trusted": actor.trusted,
        },
    )
    if needs_approval:
        draft.status = "awaiting_approval"
        message.status = "awaiting_approval"
        signals.approval_required.send(
            submission, session=session, actor=None, at=now, data={"steps": steps}
        )
    else:
        draft.status = "approved"
        message.status = "approved"
        publishing.schedule(session, draft, now=now)
    return submission


def current_step(session: Session, submission: Submission) -> int:
    """The 1-based step now waiting for approvals (steps clear in order)."""
    for number in range(1, len(submission.steps) + 1):
        if not _step_done(session, submission, number):
            return number
    return len(submission.steps)


def _step_pool(session: Session, step: dict[str, Any], author_id: int) -> list[User]:
    """Who may clear a step: holders of its role, or members of its team; never the author."""
    if "team_id" in step:
        team = session.get(Team, step["team_id"])
        people = list(team.members) if team is not None else []
    else:
        people = [
            u
            for u in session.scalars(select(User).where(User.is_active_account.is_(True)))
            if step.get("role", "approver") in u.roles
        ]
    return [u for u in people if u.is_active_account and u.id != author_id]


def _step_done(session: Session, submission: Submission, number: int) -> bool:
    """Whether step ``number`` has its approvals ("all" means everyone in its pool now)."""
    step = submission.steps[number - 1]
    approvals = sum(1 for d in submission.decisions if d.step == number and d.outcome == "approved")
    pool = len(_step_pool(session, step, submission.author_id))
    return policy.step_satisfied(step, approvals, pool)


def pending_submission(draft: Draft) -> Submission:
    submission = draft.submissions[-1] if draft.submissions else None
    if (
        submission is None
        or submission.decision is not None
        or submission.outcome != "needs_approval"
    ):
        raise Conflict("This reply is not waiting for approval.", "status")
    return submission


def _lock(session: Session, submission: Submission) -> Submission:
    """Serialise decisions on one round (a row lock on PostgreSQL; SQLite's writers
    already queue behind BEGIN IMMEDIATE), then re-read it."""
    session.execute(select(Submission.id).where(Submission.id == submission.id).with_for_update())
    session.refresh(submission)
    return submission


def _refuse_own(draft: Draft, approver: User) -> None:
    """Nobody clears their own reply: said first, before the round is locked or read, so
    the author hears it even when another approver's decision lands at the same moment."""
    latest = draft.submissions[-1] if draft.submissions else None
    if latest is not None and latest.author_id == approver.id:
        raise Forbidden("You cannot approve your own reply: someone else must clear it.")


def _check_approver(session: Session, submission: Submission, approver: User) -> tuple[int, dict]:
    number = current_step(session, submission)
    step = submission.steps[number - 1]
    pool = _step_pool(session, step, submission.author_id)
    if approver.id not in {u.id for u in pool}:
        who = f"the {step['role']} role" if "role" in step else "its team"
        raise Forbidden(f"Step {number} of this approval needs someone with {who}.")
    if any(d.step == number and d.approver_id == approver.id for d in submission.decisions):
        raise Conflict("You have already approved this step.", "status")
    return number, step


def approve(
    session: Session, draft: Draft, *, approver: User, now: datetime, text: str | None = None
) -> Submission:
    """Approve the current step; an edit (``text``) is kept as a version and not re-asked
    of the policy — clearing it is the approver's call."""
    _refuse_own(draft, approver)
    submission = _lock(session, pending_submission(draft))
    if submission.decision is not None:
        raise Conflict("Someone decided on this reply a moment ago.", "status")
    number, _ = _check_approver(session, submission, approver)
    edited = text is not None and text.strip() != "" and text != draft.text
    if edited:
        assert text is not None
        if len(text) > 50000:
            raise ValidationError("A reply can be at most 50,000 characters.", "text")
        draft.version += 1
        draft.text = text
        draft.unedited_stock = False
        draft.updated_at = now
        draft.versions.append(
            DraftVersion(
                number=draft.version,
                text=text,
                editor_id=approver.id,
                by_approver=True,
                created_at=now,
            )
        )
        check_submittable(draft, draft.message)
    decision = ApprovalDecision(
        submission=submission,
        step=number,
        approver_id=approver.id,
        outcome="approved",
        edited=edited,
        decided_at=now,
    )
    session.add(decision)
    session.flush()
    session.refresh(submission)
    final = all(_step_done(session, submission, n) for n in range(1, len(submission.steps) + 1))
    if final:
        submission.decision = "approved"
        submission.decided_at = now
        draft.status = "approved"
        draft.message.status = "approved"
        publishing.schedule(session, draft, now=now)
    if final:
        _tell_author(
            session,
            draft,
            f"{approver.name} approved your reply" + (" after editing it" if edited else ""),
            now,
        )
    signals.draft_approved.send(
        submission,
        session=session,
        actor=approver,
        at=now,
        data={"step": number, "final": final, "edited": edited},
    )
    return submission


def _tell_author(session: Session, draft: Draft, text: str, now: datetime) -> None:
    fan = draft.message.fan
    session.add(
        Notification(
            user_id=draft.author_id,
            kind="decision",
            text=f"{text} (to {fan.display_name or fan.handle})"[:500],
            link=f"/messages/{draft.message_id}",
            created_at=now,
        )
    )


def reject(
    session: Session, draft: Draft, *, approver: User, note: str, now: datetime
) -> Submission:
    """Send the draft back to its author with a note; the round ends."""
    note = note.strip()
    if not note:
        raise ValidationError("Tell the author what to change.", "note")
    _refuse_own(draft, approver)
    submission = _lock(session, pending_submission(draft))
    if submission.decision is not None:
        raise Conflict("Someone decided on this reply a moment ago.", "status")
    number, _ = _check_approver(session, submission, approver)
    session.add(
        ApprovalDecision(
            submission=submission,
            step=number,
            approver_id=approver.id,
            outcome="rejected",
            note=note,
            decided_at=now,
        )
    )
    submission.decision = "rejected"
    submission.decided_at = now
    draft.status = "rejected"
    draft.message.status = "rejected"
    draft.message.last_activity_at = now
    _tell_author(session, draft, f"{approver.name} sent your reply back: “{note[:200]}”", now)
    signals.draft_rejected.send(
        submission, session=session, actor=approver, at=now, data={"step": number, "note": note}
    )
    return submission


def waiting_for_approval(session: Session) -> int:
    """Rounds waiting for a decision now."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Submission)
            .where(Submission.outcome == "needs_approval", Submission.decision.is_(None))
        )
        or 0
    )
