"""Stored stage rows: after any workflow, each message's stored row is exactly what the
latency report's per-message query computes afresh, committed with the events."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import create_engine, delete, select
from sqlalchemy.orm import Session

from respondr.domain import claims, drafting, metrics, publishing, triage
from respondr.domain.policies import find_policy, set_channel_policy
from respondr.domain.presets import ensure_presets
from respondr.migrate import upgrade
from respondr.models import Message, MessageStageTotals, WorkflowEvent
from respondr.timeutil import utcnow
from tests import factories
from tests.test_history_import import SAMPLE, cast  # noqa: F401  (the sample's people)
from tests.test_ingest_batching import statements

NOTHING_YET = (None, None, None, False)
"""A message with no stored row: no stage event yet."""
BEFORE = "5e8d2a7c91f4"  # the revision before the stored rows


def stored(session) -> dict[int, tuple]:
    rows = session.execute(select(MessageStageTotals))
    return {
        row.message_id: (row.approval_wait, row.rework, row.ttfr, row.answered)
        for row in rows.scalars()
    }


def fresh(session) -> dict[int, tuple]:
    """Every message's figures as :func:`metrics.message_stages` computes them now."""
    connection = session.connection()
    metrics.prepare(connection)
    scope = metrics.Scope(None, None, "UTC", None, utcnow())
    query = metrics.message_stages(connection.dialect.name, scope, next_reply=False)
    return {
        row.message_id: (row.approval_wait, row.rework, row.ttfr, row.answered == 1)
        for row in session.execute(query)
    }


def assert_rows_are_fresh(session) -> dict[int, tuple]:
    kept, computed = stored(session), fresh(session)
    assert set(kept) <= set(computed)
    assert {m: kept.get(m, NOTHING_YET) for m in computed} == computed
    return kept


def test_every_step_of_a_live_workflow_commits_fresh_rows(db, make_user, make_channel):
    ensure_presets(db, now=utcnow())
    channel = make_channel(name="Bernie the Bookworm")
    set_channel_policy(
        db, channel, find_policy(db, "corporate-clears-all"), actor=None, now=utcnow()
    )
    db.commit()
    bernie = make_user(name="Bernie Adler")
    carol = make_user(name="Carol Whitfield", roles="approver")
    start = utcnow() - timedelta(hours=2)
    answered = factories.create_message(db, channel, received_at=start)
    closed = factories.create_message(db, channel, received_at=start, handle="lena")
    minute = (start + timedelta(minutes=n) for n in range(1, 100))

    claims.claim(db, answered, actor=bernie, now=next(minute))
    db.commit()
    assert_rows_are_fresh(db)
    draft = drafting.save_draft(
        db, answered, author=bernie, text="It is in!", version=None, now=next(minute)
    )
    submitted = next(minute)
    drafting.submit(db, draft, actor=bernie, now=submitted)
    db.commit()
    assert_rows_are_fresh(db)
    rejected = next(minute)
    drafting.reject(db, draft, approver=carol, note="Say which store.", now=rejected)
    db.commit()
    assert_rows_are_fresh(db)
    drafting.save_draft(
        db, answered, author=bernie, text="It is in at Elm Street!", version=1, now=next(minute)
    )
    resubmitted = next(minute)
    drafting.submit(db, draft, actor=bernie, now=resubmitted)
    approved = next(minute)
    drafting.approve(db, draft, approver=carol, now=approved)
    db.commit()
    assert_rows_are_fresh(db)
    published = next(minute)
    publishing.mark_published(
        db, draft, external_id="p-1", url=None, actor=None, now=published, connector="manual"
    )
    triage.close(db, [closed], reason="spam", actor=bernie, now=next(minute))
    db.commit()
    rows = assert_rows_are_fresh(db)

    ms = timedelta(milliseconds=1)
    assert rows[answered.id] == (
        ((rejected - submitted) + (approved - resubmitted)) // ms,  # both rounds' waits
        (resubmitted - rejected) // ms,
        (published - start) // ms,
        True,
    )
    assert rows[closed.id] == NOTHING_YET  # closed without a reply: no stage counts

    triage.reopen(db, closed, actor=bernie, now=next(minute))
    db.commit()
    assert_rows_are_fresh(db)


def test_a_rolled_back_event_leaves_the_row_as_it_was(db, make_user, make_channel, make_message):
    agent = make_user()
    message = make_message(make_channel())
    claims.claim(db, message, actor=agent, now=utcnow())
    db.rollback()
    assert stored(db) == {} and db.get(Message, message.id).claimed_by_id is None


def test_an_imported_history_carries_fresh_rows(db, runner, cast):  # noqa: F811
    result = runner.invoke(args=["import-history", str(SAMPLE)])
    assert "6 created" in result.output, result.output  # and its bad lines rejected
    rows = assert_rows_are_fresh(db)
    assert sum(1 for row in rows.values() if row[3]) >= 2  # answered ones among them


def test_a_claim_commits_without_touching_the_stored_rows(
    db, make_user, make_channel, make_message
):
    message = make_message(make_channel())
    with statements(db) as seen:
        claims.claim(db, message, actor=make_user(), now=utcnow())
        db.commit()
    assert not [s for s in seen if "message_stage_totals" in s]
    assert_rows_are_fresh(db)


def test_deleting_a_message_deletes_its_row(db, make_user, make_channel, make_message):
    message = make_message(make_channel())
    triage.close(db, [message], reason="spam", actor=make_user(), now=utcnow())
    db.commit()
    assert message.id in stored(db)
    db.execute(delete(Message).where(Message.id == message.id))
    db.commit()
    assert message.id not in stored(db)


def test_the_migration_fills_rows_for_the_existing_history(databases):
    url = databases.new()
    upgrade(url, BEFORE)
    engine = create_engine(url)
    with Session(engine) as session:
        channel = factories.create_channel(session)
        message = factories.create_message(session, channel)
        untouched = factories.create_message(session, channel)
        # Written as an older version would have: no stored row kept with them.
        for kind, minutes in (("claimed", 1), ("published", 5)):
            at = message.received_at + timedelta(minutes=minutes)
            session.add(WorkflowEvent(kind=kind, message_id=message.id, at=at, data={}))
        session.commit()
        ids = {message.id, untouched.id}
    engine.dispose()
    upgrade(url)
    engine = create_engine(url)
    with Session(engine) as session:
        rows = assert_rows_are_fresh(session)
        assert set(rows) == ids
        assert rows[min(ids)] == (None, None, 5 * 60_000, True)
    engine.dispose()
