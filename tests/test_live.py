"""The live view's figures: what waits now, the oldest of it, approvals per approver and
the messages about to breach their SLA (by the organisation's warning time)."""

from __future__ import annotations

from datetime import timedelta

from respondr.domain import drafting
from respondr.domain.live import live_view
from respondr.domain.organisation import get_organisation
from respondr.timeutil import utcnow


def test_waiting_work_is_counted_and_the_oldest_named(db, make_channel, make_message):
    now = utcnow()
    channel = make_channel(name="Facebook", sla_minutes=240)
    oldest = make_message(channel, text="First!", received_at=now - timedelta(hours=3))
    make_message(channel, received_at=now - timedelta(hours=2), status="claimed")
    make_message(channel, received_at=now - timedelta(hours=1))
    make_message(channel, received_at=now - timedelta(hours=9), status="published")
    make_message(channel, received_at=now - timedelta(hours=8), status="closed")

    view = live_view(db, now=now)
    assert (view.queue_depth, view.open, view.awaiting_approval) == (2, 3, 0)
    assert view.oldest is not None
    assert (view.oldest.id, view.oldest.text, view.oldest.channel) == (
        oldest.id,
        "First!",
        "Facebook",
    )
    assert view.oldest.age_seconds == 3 * 3600
    assert view.oldest.sla_left_seconds == 3600


def test_about_to_breach_follows_the_organisations_warning_time(db, make_channel, make_message):
    now = utcnow()
    channel = make_channel(sla_minutes=60)
    overdue = make_message(channel, received_at=now - timedelta(minutes=70))
    soon = make_message(channel, received_at=now - timedelta(minutes=40))  # 20 min left
    later = make_message(channel, received_at=now - timedelta(minutes=10))  # 50 min left
    make_message(channel, received_at=now - timedelta(minutes=90), status="closed")

    view = live_view(db, now=now)
    assert view.warning_seconds == 30 * 60
    assert [m.id for m in view.about_to_breach] == [soon.id]
    assert view.about_to_breach[0].sla_left_seconds == 20 * 60
    assert view.past_sla == 1  # the overdue one; the closed one no longer counts

    get_organisation(db).sla_warning_minutes = 60
    db.flush()
    view = live_view(db, now=now)
    assert [m.id for m in view.about_to_breach] == [soon.id, later.id]
    assert overdue.id not in {m.id for m in view.about_to_breach}


def test_each_approver_sees_what_they_can_clear_now(db, make_user, make_channel, make_message):
    now = utcnow()
    agent = make_user(name="Agnes")
    carl = make_user(name="Carl", roles="approver")
    dora = make_user(name="Dora", roles="approver")
    channel = make_channel()
    drafts = []
    for text in ("Hello", "Thanks!"):
        draft = drafting.save_draft(
            db, make_message(channel), author=agent, text=text, version=None, now=now
        )
        drafting.submit(db, draft, actor=agent, now=now)
        drafts.append(draft)
    db.commit()

    view = live_view(db, now=now + timedelta(minutes=1))
    assert view.awaiting_approval == 2
    assert [(row.name, row.pending) for row in view.pending_by_approver] == [
        ("Carl", 2),
        ("Dora", 2),
    ]

    drafting.approve(db, drafts[0], approver=carl, now=now + timedelta(minutes=2))
    db.commit()
    view = live_view(db, now=now + timedelta(minutes=3))
    assert [(row.name, row.pending) for row in view.pending_by_approver] == [
        ("Carl", 1),
        ("Dora", 1),
    ]
    assert dora.id in {row.approver_id for row in view.pending_by_approver}
