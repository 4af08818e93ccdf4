"""Routing: the first matching rule hands a new message to a person or a team.

Rules are read in ``position`` order (then by id); inactive rules are skipped. A rule's
conditions are all optional and must all hold: the channel, the category, the intent,
and a keyword (one word or phrase, or several separated by commas, any of which may
appear in the text as a whole word or phrase, case-insensitively).

Routing *assigns* (``assignee_id``, ``assigned_team_id``): the message shows in that
person's or team's list. It never claims: work starts at the claim.

- A rule naming a person assigns to them if their account is active and they are
  available; otherwise the message stays in the shared pool, unassigned (routing only
  hands work to available people).
- A rule naming a team assigns the team and hands the message round-robin to the next
  member, by user id after the one who had the last, who is active and available. With
  nobody available, the message stays in the pool but keeps the team, so the team sees
  it. The team row is locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises
  writers anyway) so that concurrent ingests never give two messages the same turn.
- No matching rule: the message stays in the pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from respondr import signals
from respondr.domain.enrich import contains_term
from respondr.models import Message, RoutingRule, Team, User


@dataclass(frozen=True)
class Routed:
    """What routing did: the rule that matched and whom it assigned (either may be None)."""

    rule_id: int
    assignee_id: int | None
    team_id: int | None


def keyword_terms(keyword: str | None) -> list[str]:
    """The words or phrases of a rule's keyword condition (comma-separated)."""
    return [term.strip() for term in (keyword or "").split(",") if term.strip()]


def rule_matches(rule: RoutingRule, message: Message) -> bool:
    """Whether every condition ``rule`` sets holds for ``message``."""
    if not rule.active:
        return False
    if rule.channel_id is not None and rule.channel_id != message.channel_id:
        return False
    if rule.category is not None and rule.category != message.category:
        return False
    if rule.intent is not None and rule.intent != message.intent:
        return False
    terms = keyword_terms(rule.keyword)
    return not terms or contains_term(message.text, terms)


def can_take_work(user: User | None) -> bool:
    return user is not None and user.is_active_account and user.available


def next_in_turn(members: list[User], last_assigned_user_id: int | None) -> User | None:
    """The member after ``last_assigned_user_id`` in user-id order (wrapping round) who
    can take work, or None when nobody can."""
    ready = sorted((m for m in members if can_take_work(m)), key=lambda m: m.id)
    if not ready:
        return None
    if last_assigned_user_id is not None:
        for member in ready:
            if member.id > last_assigned_user_id:
                return member
    return ready[0]


def _take_turn(session: Session, team_id: int) -> tuple[int, int | None]:
    """Lock the team, pick whose turn it is and record it: (team id, assignee id)."""
    team = session.scalars(
        select(Team)
        .where(Team.id == team_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    chosen = next_in_turn(list(team.members), team.last_assigned_user_id)
    if chosen is None:
        return team.id, None
    team.last_assigned_user_id = chosen.id
    return team.id, chosen.id


def route(session: Session, message: Message, *, now: datetime) -> Routed | None:
    """Assign ``message`` by the first matching rule; None when no rule matches.

    Sends :data:`respondr.signals.message_routed` when someone or some team was assigned.
    """
    rules = session.scalars(
        select(RoutingRule)
        .where(RoutingRule.active.is_(True))
        .order_by(RoutingRule.position, RoutingRule.id)
    ).all()
    rule = next((r for r in rules if rule_matches(r, message)), None)
    if rule is None:
        return None
    assignee_id: int | None = None
    team_id: int | None = None
    if rule.team_id is not None:
        team_id, assignee_id = _take_turn(session, rule.team_id)
    elif can_take_work(rule.user):
        assignee_id = rule.user_id
    message.assignee_id = assignee_id
    message.assigned_team_id = team_id
    if assignee_id is not None or team_id is not None:
        signals.message_routed.send(
            message,
            session=session,
            actor=None,
            at=now,
            data={"assignee_id": assignee_id, "team_id": team_id, "rule_id": rule.id},
        )
    return Routed(rule_id=rule.id, assignee_id=assignee_id, team_id=team_id)
