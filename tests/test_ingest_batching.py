"""A batch is stored together: the same results as one message at a time, in a fixed
number of look-ups whatever its size."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from respondr.domain import ingest as ingest_ops
from respondr.models import Fan, Message, Team, WorkflowEvent
from respondr.timeutil import utcnow
from tests import factories


@pytest.fixture
def channel(make_channel):
    return make_channel(name="Bernie's page", kind="facebook_page", sla_minutes=30)


@pytest.fixture
def team(db, make_user):
    ana, ben, cat = make_user(name="Ana"), make_user(name="Ben"), make_user(name="Cat")
    ben.available = False
    db.commit()
    team = factories.create_team(db, members=[cat, ben, ana])
    factories.create_routing_rule(db, team=team, intent="complaint", position=1)
    factories.create_routing_rule(db, user=make_user(name="Maya"), keyword="gift card")
    return team


def item(external_id, handle="dana", text="Where is my order?", followers=120, **extra):
    body = {
        "external_id": external_id,
        "author": {"handle": handle, "name": handle.title(), "followers": followers},
        "text": text,
        "posted_at": (utcnow() - timedelta(minutes=2)).isoformat(),
    }
    body.update(extra)
    return body


def batch(db, channel, items, now=None, labels=None):
    now = now or utcnow()
    return ingest_ops.ingest_batch(db, items, channel=channel, actor=None, now=now, labels=labels)


def snapshot(db, results, team):
    """What a person would notice: each item's answer, and each stored message with its
    fan, enrichment, thread, assignment and workflow events (ids aside: PostgreSQL's
    sequences do not roll back)."""
    db.flush()
    items = []
    for result in results:
        message = result.message
        if message is None:
            items.append((result.status, result.field, result.error))
            continue
        events = db.execute(
            select(WorkflowEvent.kind, WorkflowEvent.actor_id, WorkflowEvent.data)
            .where(WorkflowEvent.message_id == message.id)
            .order_by(WorkflowEvent.id)
        ).all()
        items.append(
            (
                result.status,
                message.external_id,
                db.get(Fan, message.fan_id).handle,
                message.thread_key,
                (message.category, message.intent, message.sentiment_label, message.priority),
                (message.assignee_id, message.assigned_team_id, message.sla_due_at),
                [tuple(e) for e in events],
            )
        )
    fans = db.execute(
        select(Fan.handle, Fan.display_name, Fan.followers).order_by(Fan.handle)
    ).all()
    turn = db.scalar(select(Team.last_assigned_user_id).where(Team.id == team.id))
    return items, [tuple(f) for f in fans], turn


def test_a_batch_stores_what_one_at_a_time_would(db, channel, team):
    stored = batch(db, channel, [item("old-1", thread_id="t-old"), item("old-2", handle="erin")])
    assert [r.status for r in stored] == ["created", "created"]
    items = [
        item("b-1", handle="ann", text="This is awful, I want a refund"),
        item("b-2", handle="ann", text="Still waiting!!", followers=None),
        {**item("b-3", handle="ann"), "author": {"handle": "ann", "name": "Ann B", "followers": 9}},
        item("b-1", handle="ann", text="a repeat of b-1 in the same batch"),
        item("b-4", handle="bo", text="I hate this, terrible service", in_reply_to="b-1"),
        item("b-5", handle="erin", text="My gift card does not work", in_reply_to="old-1"),
        item("old-2", handle="erin", text="a repeat of a stored message"),
        item("b-6", handle="cy", in_reply_to="not-here"),
        {"external_id": "bad", "author": {"handle": "x"}},
        item("b-7", handle="bo", text="Worst experience ever, disgusting"),
    ]
    now = utcnow()
    savepoint = db.begin_nested()
    one_by_one = [
        batch(db, channel, [one], now, labels=[f"messages[{n}]"])[0] for n, one in enumerate(items)
    ]
    expected = snapshot(db, one_by_one, team)
    savepoint.rollback()
    db.expire_all()

    together = batch(db, channel, items, now)

    assert snapshot(db, together, team) == expected
    statuses = [r.status for r in together]
    assert statuses == ["created"] * 3 + ["existing"] + ["created"] * 2 + ["existing"] + [
        "created",
        "rejected",
        "created",
    ]
    assert together[3].message is together[0].message
    assert together[4].message.thread_key == "b-1" and together[5].message.thread_key == "t-old"
    assert together[8].field == "messages[8].text"


@contextmanager
def statements(db):
    """The SQL statements run on ``db``'s connection meanwhile (INSERTs aside)."""
    seen = []
    engine = db.get_bind().engine

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith("INSERT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def mixed_batch(prefix, size):
    """New and known fans, repeats, replies and routed complaints, ``size`` items."""
    kinds = [
        lambda n: item(f"{prefix}-{n}", handle=f"fan{n}"),
        lambda n: item(f"{prefix}-{n}", handle="known", text="Awful, I want a refund"),
        lambda n: item(f"{prefix}-{n}", handle="known2", in_reply_to=f"{prefix}-{n - 1}"),
        lambda n: item("seen-0", handle="known"),
    ]
    return [kinds[n % len(kinds)](n) for n in range(size)]


def test_a_batch_reads_its_fans_and_stored_messages_in_a_fixed_number_of_statements(
    db, channel, team
):
    batch(db, channel, [item("seen-0", handle="known"), item("seen-1", handle="known2")])
    db.flush()
    counts = {}
    for size in (40, 400):
        with statements(db) as seen:
            results = batch(db, channel, mixed_batch(f"n{size}", size))
            db.flush()
        assert {r.status for r in results} == {"created", "existing"}
        counts[size] = len(seen)
    assert counts[40] == counts[400]
    # Look-ups, rules, the team's lock and turn, fan updates; on PostgreSQL the ids of
    # the new fans, messages and events, one query per table.
    assert counts[400] <= 15


def test_a_large_batch_numbers_its_rows_in_order(db, channel, team):
    """Ids taken up front (PostgreSQL) follow the items, a message's events keep their
    order, and what is stored afterwards gets ids of its own."""
    results = batch(db, channel, [item(f"big-{n}", handle=f"fan{n % 7}") for n in range(60)])
    db.flush()
    ids = [r.message.id for r in results]
    assert ids == sorted(ids) and len(set(ids)) == 60
    kinds = db.execute(
        select(WorkflowEvent.message_id, WorkflowEvent.kind)
        .where(WorkflowEvent.message_id.in_(ids))
        .order_by(WorkflowEvent.id)
    ).all()
    assert [kind for message_id, kind in kinds if message_id == ids[0]] == ["received"]
    assert [message_id for message_id, kind in kinds if kind == "received"] == ids
    [later] = batch(db, channel, [item("big-later", handle="fan1")])
    assert later.status == "created" and later.message.id > ids[-1]
    assert db.scalar(select(func.count()).select_from(Fan).where(Fan.handle.like("fan%"))) == 7


def test_a_batch_that_loses_a_race_stores_each_message_once(db, channel, team, monkeypatch):
    [first] = batch(db, channel, [item("race-1")])
    real = ingest_ops.stored_messages
    stale = [True]

    def look(session, keys):
        """The other delivery's look-up ran before it committed: it misses race-1."""
        return {} if stale and stale.pop() else real(session, keys)

    monkeypatch.setattr(ingest_ops, "stored_messages", look)
    results = batch(db, channel, [item("race-1"), item("race-2"), item("race-3")])

    assert [r.status for r in results] == ["existing", "created", "created"]
    assert results[0].message.id == first.message.id
    for external_id in ("race-1", "race-2", "race-3"):
        count = select(func.count()).select_from(Message).where(Message.external_id == external_id)
        assert db.scalar(count) == 1
        received = (
            select(func.count())
            .select_from(WorkflowEvent)
            .join(Message, Message.id == WorkflowEvent.message_id)
            .where(Message.external_id == external_id, WorkflowEvent.kind == "received")
        )
        assert db.scalar(received) == 1
