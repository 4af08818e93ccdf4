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
  it. The turn is taken by one ``UPDATE teams … RETURNING``, which locks the team row
  (on PostgreSQL a concurrent update is waited for and the turn computed again from its
  result; SQLite serialises writers anyway), so that concurrent ingests never give two
  messages the same turn.
- No matching rule: the message stays in the pool.

Routing happens before the message is written (:class:`Router` sets its assignee and
team), and is announced once it has an id (:func:`announce`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, Update, bindparam, cast, func, select, update
from sqlalchemy.orm import Session, aliased

from respondr import signals
from respondr.domain.enrich import contains_term
from respondr.models import Message, RoutingRule, Team, User
from respondr.models.users import team_members


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


def next_id_in_turn(ready_ids: Sequence[int], last_assigned_user_id: int | None) -> int | None:
    """The id after ``last_assigned_user_id`` among ``ready_ids`` (wrapping round), or
    None when nobody is ready."""
    ordered = sorted(ready_ids)
    if not ordered:
        return None
    if last_assigned_user_id is not None:
        for user_id in ordered:
            if user_id > last_assigned_user_id:
                return user_id
    return ordered[0]


def next_in_turn(members: list[User], last_assigned_user_id: int | None) -> User | None:
    """The member after ``last_assigned_user_id`` in user-id order (wrapping round) who
    can take work, or None when nobody can."""
    ready = {m.id: m for m in members if can_take_work(m)}
    chosen = next_id_in_turn(list(ready), last_assigned_user_id)
    return None if chosen is None else ready[chosen]


def previous_id_in_turn(ready_ids: Sequence[int], user_id: int) -> int:
    """The id before ``user_id`` among ``ready_ids`` (wrapping round): a last turn from
    which :func:`next_id_in_turn` gives ``user_id`` again."""
    ordered = sorted(ready_ids)
    return next((i for i in reversed(ordered) if i < user_id), ordered[-1])


@dataclass
class _Turn:
    """A locked team's round robin: who is ready, who had the last message, and the
    last turn as written to the team row."""

    ready_ids: list[int]
    last_assigned_user_id: int | None
    written: int | None


@functools.cache
def _turn_update(dialect: str) -> Update:
    """The statement taking a team's next turn: the first ready member after the last one
    (else the first ready member; with nobody ready the last turn stays), returning it
    with the ready members' ids. Built once per dialect: building it per message cost
    more than running it."""
    team_id = bindparam("team_id", type_=Integer)
    member = aliased(User, name="member")
    ready = (
        select(member.id)
        .join(team_members, team_members.c.user_id == member.id)
        .where(
            team_members.c.team_id == team_id,
            member.is_active_account.is_(True),
            member.available.is_(True),
        )
    )
    after = ready.where(member.id > Team.last_assigned_user_id)
    if dialect == "postgresql":
        listed = func.string_agg(cast(member.id, String), ",")
    else:
        listed = func.group_concat(member.id, ",")
    return (
        update(Team)
        .where(Team.id == team_id)
        .values(
            last_assigned_user_id=func.coalesce(
                after.with_only_columns(func.min(member.id)).scalar_subquery(),
                ready.with_only_columns(func.min(member.id)).scalar_subquery(),
                Team.last_assigned_user_id,
            )
        )
        .returning(Team.last_assigned_user_id, ready.with_only_columns(listed).scalar_subquery())
    )


class Router:
    """Routes the new messages of one transaction by the first matching rule.

    The rules are read once. A team's first turn is taken by one statement, which locks
    the team row, writes the turn and reads its ready members; further turns (a batch)
    are counted here and the last one written back by :meth:`save`. The lock is held to
    the end of the transaction, so routing a batch here gives the same turns as routing
    its messages one by one.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._rules: Sequence[RoutingRule] | None = None
        self._turns: dict[int, _Turn] = {}

    def assign(self, message: Message) -> Routed | None:
        """Set ``message``'s assignee and team by the first matching rule (None when no
        rule matches). Nothing is announced: see :func:`announce`."""
        if self._rules is None:
            self._rules = self.session.scalars(
                select(RoutingRule)
                .where(RoutingRule.active.is_(True))
                .order_by(RoutingRule.position, RoutingRule.id)
            ).all()
        rule = next((r for r in self._rules if rule_matches(r, message)), None)
        if rule is None:
            return None
        assignee_id: int | None = None
        team_id: int | None = None
        if rule.team_id is not None:
            team_id = rule.team_id
            assignee_id = self._take_turn(team_id)
        elif can_take_work(rule.user):
            assignee_id = rule.user_id
        message.assignee_id = assignee_id
        message.assigned_team_id = team_id
        return Routed(rule_id=rule.id, assignee_id=assignee_id, team_id=team_id)

    def _take_turn(self, team_id: int) -> int | None:
        turn = self._turns.get(team_id)
        if turn is None:
            turn = self._turns[team_id] = self._first_turn(team_id)
            return turn.last_assigned_user_id if turn.ready_ids else None
        chosen = next_id_in_turn(turn.ready_ids, turn.last_assigned_user_id)
        if chosen is not None:
            turn.last_assigned_user_id = chosen
        return chosen

    def _first_turn(self, team_id: int) -> _Turn:
        """Take the team's next turn in one ``UPDATE … RETURNING`` (:func:`_turn_update`)."""
        dialect = self.session.get_bind().dialect.name
        row = self.session.execute(_turn_update(dialect), {"team_id": team_id}).first()
        if row is None:
            raise LookupError(f"routing names team {team_id}, which does not exist")
        last, listed_ids = row
        ready_ids = [int(i) for i in listed_ids.split(",")] if listed_ids else []
        return _Turn(ready_ids, last, written=last)

    def save(self) -> None:
        """Write each team's last turn, when a batch took more turns than its first."""
        for team_id, turn in self._turns.items():
            if turn.last_assigned_user_id != turn.written:
                self._write_turn(team_id, turn.last_assigned_user_id)

    def give_back(self) -> None:
        """Undo the turns taken (the message was a repeat and is not stored): each team's
        last turn goes back to the ready member before, from whom the same member is next."""
        for team_id, turn in self._turns.items():
            if turn.ready_ids and turn.written is not None:
                self._write_turn(team_id, previous_id_in_turn(turn.ready_ids, turn.written))

    def _write_turn(self, team_id: int, user_id: int | None) -> None:
        self.session.execute(
            update(Team).where(Team.id == team_id).values(last_assigned_user_id=user_id)
        )


def announce(session: Session, message: Message, routed: Routed | None, *, now: datetime) -> None:
    """Send :data:`respondr.signals.message_routed` when routing assigned someone or some
    team (a stored message: the event needs its id)."""
    if routed is None or (routed.assignee_id is None and routed.team_id is None):
        return
    signals.message_routed.send(
        message,
        session=session,
        actor=None,
        at=now,
        data={
            "assignee_id": routed.assignee_id,
            "team_id": routed.team_id,
            "rule_id": routed.rule_id,
        },
    )
