"""Approval policies as settings: find one, put it in force on a channel, edit its rules,
try a version on a reply that is never sent.

Every edit makes a new immutable version; old submissions keep pointing at the version
that decided them. Each change is in the audit log.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from respondr.domain import audit, drafting, policy, stock
from respondr.domain.errors import NotFound, ValidationError
from respondr.models import (
    ApprovalPolicy,
    Channel,
    Draft,
    Message,
    PolicyVersion,
    StockResponse,
    Team,
    User,
)


def find_policy(session: Session, ref: str) -> ApprovalPolicy:
    """A policy by display name (any case) or slug."""
    found = session.scalar(
        select(ApprovalPolicy).where(
            or_(ApprovalPolicy.slug == ref.strip().lower(), ApprovalPolicy.name.ilike(ref.strip()))
        )
    )
    if found is None:
        names = ", ".join(
            session.scalars(select(ApprovalPolicy.slug).order_by(ApprovalPolicy.slug))
        )
        raise NotFound(f"There is no policy {ref!r}. Known: {names}.", "policy")
    return found


def set_channel_policy(
    session: Session,
    channel: Channel,
    chosen: ApprovalPolicy | None,
    *,
    actor: User | None,
    now: datetime,
) -> None:
    before = channel.policy.name if channel.policy else None
    after = chosen.name if chosen else None
    if before == after:
        return
    channel.policy = chosen
    audit.record(
        session,
        actor=actor,
        action="channel.policy",
        target=channel,
        details={"channel": channel.name, "policy": [before, after]},
        now=now,
    )


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def create_policy(
    session: Session,
    *,
    name: str,
    rules: Any,
    escalate_after_minutes: int | None,
    actor: User | None,
    now: datetime,
    description: str = "",
) -> ApprovalPolicy:
    name = name.strip()
    if not name:
        raise ValidationError("Give the policy a name.", "name")
    slug = slugify(name)
    clash = session.scalar(
        select(ApprovalPolicy).where(or_(ApprovalPolicy.slug == slug, ApprovalPolicy.name == name))
    )
    if clash is not None:
        raise ValidationError(f"A policy named {clash.name!r} already exists.", "name")
    created = ApprovalPolicy(name=name, slug=slug, description=description, created_at=now)
    session.add(created)
    new_version(
        session,
        created,
        rules=rules,
        escalate_after_minutes=escalate_after_minutes,
        note="created",
        actor=actor,
        now=now,
    )
    return created


def new_version(
    session: Session,
    edited: ApprovalPolicy,
    *,
    rules: Any,
    escalate_after_minutes: int | None,
    note: str,
    actor: User | None,
    now: datetime,
) -> PolicyVersion:
    """Save edited rules as the policy's next version (validated first)."""
    checked = policy.validate_rules(rules)
    _check_teams(session, checked)
    if escalate_after_minutes is not None and escalate_after_minutes < 1:
        raise ValidationError("Escalate after at least one minute.", "escalate_after_minutes")
    number = (edited.current_version.number if edited.current_version else 0) + 1
    version = PolicyVersion(
        number=number,
        rules=checked,
        escalate_after_minutes=escalate_after_minutes,
        note=note.strip(),
        created_by_id=actor.id if actor else None,
        created_at=now,
    )
    edited.versions.append(version)
    audit.record(
        session,
        actor=actor,
        action="policy.version",
        target=edited,
        details={"policy": edited.name, "version": number, "note": note.strip()},
        now=now,
    )
    return version


def _check_teams(session: Session, rules: list[dict[str, Any]]) -> None:
    """Every approval step's team exists (the rules themselves are already valid)."""
    for i, rule in enumerate(rules):
        for j, step in enumerate(rule.get("steps", ())):
            if "team_id" in step and session.get(Team, step["team_id"]) is None:
                raise ValidationError(
                    f"There is no team {step['team_id']}.", f"rules[{i}].steps[{j}].team_id"
                )


def try_version(
    session: Session,
    version: PolicyVersion,
    *,
    message: Message,
    author: User,
    text: str,
    stock_response: StockResponse | None = None,
    now: datetime,
) -> tuple[policy.Verdict, policy.Facts]:
    """What ``version`` would decide if ``author`` submitted ``text`` as the reply to
    ``message`` at ``now``, and the facts it read: those a real submission would give
    (the author's trust and record as they are now). The reply is never saved. It counts
    as an unedited stock response when ``stock_response`` is pre-approved and ``text``
    is it with only its placeholders filled."""
    unedited = (
        stock_response is not None
        and stock_response.pre_approved
        and policy.is_unedited_stock(
            stock_response.text, text, stock.placeholder_values(message, author)
        )
    )
    reply = Draft(text=text, unedited_stock=unedited)  # never added to the session
    facts = drafting.facts_for(session, reply, message, author, now)
    return policy.evaluate(version.rules, facts, policy_label=version.label), facts
