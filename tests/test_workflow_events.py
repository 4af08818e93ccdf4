"""Workflow signals write their events in the same transaction as the change."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from respondr.domain import claims
from respondr.domain.errors import Conflict
from respondr.extensions import db as flask_db
from respondr.models import Message, WorkflowEvent
from respondr.timeutil import utcnow
from tests import factories


def events(db, message):
    return db.scalars(
        select(WorkflowEvent.kind)
        .where(WorkflowEvent.message_id == message.id)
        .order_by(WorkflowEvent.id)
    ).all()


def test_claiming_writes_a_claimed_event_with_actor_and_time(
    db, make_user, make_channel, make_message
):
    agent = make_user()
    message = make_message(make_channel())
    now = utcnow()
    claims.claim(db, message, actor=agent, now=now)
    event = db.scalar(select(WorkflowEvent).where(WorkflowEvent.message_id == message.id))
    assert (event.kind, event.actor_id, event.at) == ("claimed", agent.id, now)
    assert message.status == "claimed" and message.claimed_by_id == agent.id


def test_a_rolled_back_change_leaves_no_event(db, make_user, make_channel, make_message):
    agent = make_user()
    message = make_message(make_channel())
    claims.claim(db, message, actor=agent, now=utcnow())
    db.rollback()
    assert events(db, message) == []
    assert db.get(Message, message.id).claimed_by_id is None


def test_a_second_claim_is_refused_naming_the_holder(db, make_user, make_channel, make_message):
    bernie, maya = make_user(name="Bernie"), make_user(name="Maya")
    message = make_message(make_channel())
    claims.claim(db, message, actor=bernie, now=utcnow())
    with pytest.raises(Conflict, match="Bernie has already claimed"):
        claims.claim(db, message, actor=maya, now=utcnow())
    assert events(db, message) == ["claimed"]


def test_an_idle_claim_lapses_back_to_the_pool(db, make_user, make_channel, make_message):
    agent = make_user()
    message = make_message(make_channel())
    start = utcnow()
    claims.claim(db, message, actor=agent, now=start)
    assert (
        claims.lapse_idle_claims(
            db, now=start + timedelta(minutes=14), idle_for=timedelta(minutes=15)
        )
        == []
    )
    lapsed = claims.lapse_idle_claims(
        db, now=start + timedelta(minutes=16), idle_for=timedelta(minutes=15)
    )
    assert lapsed == [message] and message.claimed_by_id is None and message.status == "new"
    assert events(db, message) == ["claimed", "lapsed"]


def test_a_message_awaiting_approval_never_lapses(db, make_user, make_channel, make_message):
    agent = make_user()
    message = make_message(make_channel())
    start = utcnow()
    claims.claim(db, message, actor=agent, now=start)
    message.status = "awaiting_approval"
    assert (
        claims.lapse_idle_claims(db, now=start + timedelta(days=2), idle_for=timedelta(minutes=15))
        == []
    )
    assert message.claimed_by_id == agent.id


def test_concurrent_claims_have_exactly_one_winner(committed_app):
    with committed_app.app_context():
        session = flask_db.session
        agents = [factories.create_user(session, name=f"Agent {i}") for i in range(8)]
        channel = factories.create_channel(session)
        messages = [factories.create_message(session, channel) for _ in range(5)]
        agent_ids = [a.id for a in agents]
        message_ids = [m.id for m in messages]
        flask_db.session.remove()

    barrier = threading.Barrier(len(agent_ids))
    wins: list[tuple[int, int]] = []
    conflicts: list[int] = []

    def work(agent_id: int) -> None:
        with committed_app.app_context():
            session = flask_db.session
            agent = session.get(factories.User, agent_id)
            session.commit()  # hold no transaction while waiting for the others
            barrier.wait(timeout=30)
            for message_id in message_ids:
                message = session.get(Message, message_id)
                try:
                    claims.claim(session, message, actor=agent, now=utcnow())
                    session.commit()
                    wins.append((message_id, agent_id))
                except Conflict:
                    session.rollback()
                    conflicts.append(message_id)
            flask_db.session.remove()

    threads = [threading.Thread(target=work, args=(a,)) for a in agent_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(m for m, _ in wins) == sorted(message_ids)  # one winner per message
    assert len(conflicts) == len(message_ids) * (len(agent_ids) - 1)
    with committed_app.app_context():
        for message_id, agent_id in wins:
            assert flask_db.session.get(Message, message_id).claimed_by_id == agent_id
            claimed = flask_db.session.scalars(
                select(WorkflowEvent).where(
                    WorkflowEvent.message_id == message_id, WorkflowEvent.kind == "claimed"
                )
            ).all()
            assert [e.actor_id for e in claimed] == [agent_id]
