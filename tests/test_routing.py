"""Routing: the first matching rule assigns a new message to a person or a team's next turn."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from respondr.domain import ingest, routing
from respondr.extensions import db as flask_db
from respondr.models import Channel, Message, Team, WorkflowEvent
from respondr.timeutil import utcnow
from tests import factories


@pytest.fixture
def channel(make_channel):
    return make_channel(kind="facebook_page")


def routed_events(db, message):
    return db.scalars(
        select(WorkflowEvent).where(
            WorkflowEvent.message_id == message.id, WorkflowEvent.kind == "routed"
        )
    ).all()


def receive(db, channel, external_id, text="Where is my order?"):
    """A message through the real ingest path, which routes it."""
    incoming = ingest.parse_incoming(
        {
            "external_id": external_id,
            "author": {"handle": "dana"},
            "text": text,
            "posted_at": (utcnow() - timedelta(minutes=1)).isoformat(),
        },
        need_channel=False,
    )
    message, _ = ingest.ingest(db, channel, incoming, actor=None, now=utcnow())
    return message


def test_a_rule_naming_a_person_assigns_them_without_claiming(db, channel, make_user):
    maya = make_user(name="Maya")
    rule = factories.create_routing_rule(db, user=maya)
    message = receive(db, channel, "m-1")
    assert message.assignee_id == maya.id and message.assigned_team_id is None
    assert message.claimed_by_id is None and message.status == "new"
    [event] = routed_events(db, message)
    assert event.actor_id is None and event.at == message.received_at
    assert event.data == {"assignee_id": maya.id, "team_id": None, "rule_id": rule.id}


def test_a_team_gets_messages_round_robin_skipping_people_who_are_away(db, channel, make_user):
    ana, ben, cat = make_user(name="Ana"), make_user(name="Ben"), make_user(name="Cat")
    ben.available = False
    db.commit()
    team = factories.create_team(db, members=[cat, ben, ana])
    rule = factories.create_routing_rule(db, team=team)
    assignees = [receive(db, channel, f"m-{i}").assignee_id for i in range(4)]
    assert assignees == [ana.id, cat.id, ana.id, cat.id]
    assert team.last_assigned_user_id == cat.id
    last = receive(db, channel, "m-9")
    assert routed_events(db, last)[0].data == {
        "assignee_id": ana.id,
        "team_id": team.id,
        "rule_id": rule.id,
    }


def test_deactivated_members_get_no_work(db, channel, make_user):
    ana, ben = make_user(name="Ana"), make_user(name="Ben")
    ana.is_active_account = False
    db.commit()
    factories.create_routing_rule(db, team=factories.create_team(db, members=[ana, ben]))
    assert [receive(db, channel, f"m-{i}").assignee_id for i in range(2)] == [ben.id, ben.id]


def test_with_nobody_available_the_message_waits_in_the_pool_for_the_team(db, channel, make_user):
    away = make_user()
    away.available = False
    db.commit()
    team = factories.create_team(db, members=[away])
    factories.create_routing_rule(db, team=team)
    message = receive(db, channel, "m-1")
    assert message.assignee_id is None and message.assigned_team_id == team.id
    assert routed_events(db, message)[0].data["assignee_id"] is None


def test_a_person_who_is_away_gets_nothing_and_the_message_stays_in_the_pool(
    db, channel, make_user
):
    maya = make_user()
    maya.available = False
    db.commit()
    factories.create_routing_rule(db, user=maya)
    message = receive(db, channel, "m-1")
    assert message.assignee_id is None and message.assigned_team_id is None
    assert routed_events(db, message) == []


def test_without_a_matching_rule_the_message_stays_in_the_pool(db, channel, make_user):
    factories.create_routing_rule(db, user=make_user(), keyword="refund")
    message = receive(db, channel, "m-1", text="Lovely shop")
    assert message.assignee_id is None and message.assigned_team_id is None
    assert routed_events(db, message) == []


def test_the_first_matching_active_rule_decides_in_position_order(
    db, channel, make_user, make_channel
):
    first, second, third, fourth = (make_user() for _ in range(4))
    factories.create_routing_rule(db, user=fourth, position=40)
    factories.create_routing_rule(db, user=first, position=10, active=False)
    factories.create_routing_rule(db, user=second, position=20, channel=make_channel())
    factories.create_routing_rule(db, user=third, position=30, keyword="gift card, refund")
    assert receive(db, channel, "m-1", text="I want a REFUND").assignee_id == third.id
    assert receive(db, channel, "m-2", text="refunds are slow").assignee_id == fourth.id


def test_category_and_intent_conditions(db, channel, make_user):
    complaints, product = make_user(), make_user()
    factories.set_organisation(db, keyword_lists={"product_features": ["gift card"]})
    factories.create_routing_rule(db, user=complaints, intent="complaint", position=1)
    factories.create_routing_rule(db, user=product, category="product_features", position=2)
    angry = receive(db, channel, "m-1", text="Awful, terrible gift card, I hate it")
    asking = receive(db, channel, "m-2", text="Can I use a gift card online?")
    assert (angry.intent, angry.assignee_id) == ("complaint", complaints.id)
    assert (asking.category, asking.assignee_id) == ("product_features", product.id)


def test_next_in_turn_wraps_round_and_skips_those_who_cannot_take_work(make_user, db):
    ana, ben, cat = make_user(), make_user(), make_user()
    ben.available = False
    assert routing.next_in_turn([cat, ben, ana], None) is ana
    assert routing.next_in_turn([cat, ben, ana], ana.id) is cat
    assert routing.next_in_turn([cat, ben, ana], cat.id) is ana
    assert routing.next_in_turn([ben], None) is None


def test_concurrent_deliveries_share_the_team_turns_fairly_and_repeats_take_none(committed_app):
    """Nine deliveries at once, three of them repeats: six messages, two per member, and
    the next turn follows on as if they had arrived one by one."""
    with committed_app.app_context():
        session = flask_db.session
        members = [factories.create_user(session, name=f"Racer {n}") for n in range(3)]
        team = factories.create_team(session, members=members)
        factories.create_routing_rule(session, team=team)
        channel = factories.create_channel(session)
        channel_id, team_id = channel.id, team.id
        member_ids = sorted(m.id for m in members)
        flask_db.session.remove()
    external_ids = [f"race-{n}" for n in range(6)] + ["race-0", "race-1", "race-2"]
    barrier = threading.Barrier(len(external_ids))
    failures: list[BaseException] = []

    def deliver(external_id: str) -> None:
        try:
            with committed_app.app_context():
                session = flask_db.session
                barrier.wait(timeout=10)
                receive(session, session.get(Channel, channel_id), external_id)
                session.commit()
                flask_db.session.remove()
        except BaseException as error:  # reported below, with the thread's traceback
            failures.append(error)

    threads = [threading.Thread(target=deliver, args=(e,)) for e in external_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    with committed_app.app_context():
        session = flask_db.session
        assignees = session.scalars(
            select(Message.assignee_id).where(Message.channel_id == channel_id)
        ).all()
        assert sorted(assignees) == sorted(member_ids * 2)
        next_message = receive(session, session.get(Channel, channel_id), "race-next")
        assert next_message.assignee_id == member_ids[0]
        assert session.get(Team, team_id).last_assigned_user_id == member_ids[0]
        session.rollback()
        flask_db.session.remove()
