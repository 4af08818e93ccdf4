"""Short ways to make the objects tests need, through the same domain functions the app uses."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from respondr.domain import accounts, channels
from respondr.domain.organisation import get_organisation
from respondr.domain.policies import find_policy, set_channel_policy
from respondr.domain.presets import ensure_presets
from respondr.models import Channel, Fan, Message, Organisation, RoutingRule, Team, User

__all__ = ["PASSWORD", "User", "create_channel", "create_message", "create_user"]
from respondr.timeutil import utcnow

PASSWORD = "correct-horse-battery"
_numbers = itertools.count(1)


def create_user(
    session, *, roles="agent", name=None, email=None, trusted=False, password=PASSWORD
) -> User:
    n = next(_numbers)
    user = accounts.create_user(
        session,
        email=email or f"user{n}@example.com",
        name=name or f"User {n}",
        password=password,
        roles=roles,
        trusted=trusted,
        actor=None,
        now=utcnow(),
    )
    session.commit()  # the test setup is the edge: later rollbacks keep it
    return user


def create_channel(session, *, name=None, kind="facebook_page", sla_minutes=60) -> Channel:
    channel = channels.create_channel(
        session,
        name=name or f"Channel {next(_numbers)}",
        kind=kind,
        sla_minutes=sla_minutes,
        actor=None,
        now=utcnow(),
    )
    session.commit()  # the test setup is the edge: later rollbacks keep it
    return channel


def create_held_channel(session, **kwargs) -> Channel:
    """A channel (``kwargs`` as for :func:`create_channel`) under the corporate-clears-all
    preset: every reply on it waits for an approver."""
    ensure_presets(session, now=utcnow())
    channel = create_channel(session, **kwargs)
    set_channel_policy(
        session, channel, find_policy(session, "corporate-clears-all"), actor=None, now=utcnow()
    )
    session.commit()  # the test setup is the edge: later rollbacks keep it
    return channel


def create_message(
    session,
    channel: Channel,
    *,
    text="Do you have the new Murakami in stock?",
    handle="reader",
    received_at: datetime | None = None,
    status="new",
) -> Message:
    received_at = received_at or utcnow()
    fan = session.query(Fan).filter_by(channel_id=channel.id, handle=handle).one_or_none()
    if fan is None:
        fan = Fan(channel_id=channel.id, handle=handle, display_name=handle.title())
        session.add(fan)
    message = Message(
        channel=channel,
        external_id=f"ext-{next(_numbers)}",
        fan=fan,
        text=text,
        posted_at=received_at - timedelta(seconds=30),
        received_at=received_at,
        sla_due_at=received_at + timedelta(minutes=channel.sla_minutes),
        status=status,
    )
    session.add(message)
    session.commit()  # the test setup is the edge: later rollbacks keep it
    return message


def create_team(session, *, name=None, members=()) -> Team:
    team = Team(name=name or f"Team {next(_numbers)}", members=list(members))
    session.add(team)
    session.commit()  # the test setup is the edge: later rollbacks keep it
    return team


def create_routing_rule(session, **fields) -> RoutingRule:
    """A rule: ``user=`` or ``team=`` as target; ``position``, ``channel``, ``category``,
    ``intent``, ``keyword`` and ``active`` as the model has them."""
    rule = RoutingRule(**{"position": 0, "active": True, **fields})
    session.add(rule)
    session.commit()  # the test setup is the edge: later rollbacks keep it
    return rule


def create_api_token(session, user: User) -> str:
    """A bearer token for ``user``, as ``respondr tokens create`` makes one."""
    token = accounts.create_api_token(session, user, actor=None, now=utcnow())
    session.commit()  # the test setup is the edge: later rollbacks keep it
    return token


def set_organisation(session, *, handles=(), keyword_lists=None) -> Organisation:
    """The organisation's handles and keyword lists, which drive category and intent."""
    org = get_organisation(session)
    org.handles = list(handles)
    org.keyword_lists = dict(keyword_lists or {})
    session.commit()  # the test setup is the edge: later rollbacks keep it
    return org
