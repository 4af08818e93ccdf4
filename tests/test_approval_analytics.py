"""Approval analytics on a small, known history: every figure checked by hand.

Times below are minutes after T0 (Monday 2 March 2026, 14:00 UTC, 09:00 in New York).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from respondr.domain.approval_analytics import (
    ApproverHourCell,
    ApproverRow,
    approval_analytics,
)
from respondr.models import ApprovalDecision, Submission
from tests.factories import create_team
from tests.test_metrics import FREE, HELD, T0, final, minutes, not_final, write

TZ = "America/New_York"
NOW = T0 + timedelta(days=3)
ONE_STEP = [{"role": "approver", "count": 1}]


def edited() -> dict[str, Any]:
    return {"step": 1, "final": True, "edited": True}


@pytest.fixture
def history(db, make_user, make_channel) -> dict[str, Any]:
    channel = make_channel(name="Bernie the Bookworm")
    agent = make_user(name="Bernie Adler")
    carol = make_user(name="Carol Whitfield", roles="approver")
    lee = make_user(name="Lee Legal", roles="approver")
    legal = create_team(db, name="Legal", members=[lee])
    db.commit()

    def message(received: float, steps: list[tuple[Any, ...]]) -> Any:
        return write(
            db,
            channel,
            received_at=minutes(received),
            steps=[
                (minutes(at), kind, who.id if who else None, data) for at, kind, who, data in steps
            ],
        )

    # Cleared by Carol after she edited it: waited 60 min.
    message(0, [(10, "submitted", agent, HELD), (70, "approved", carol, edited())])
    # Sent back by Carol (30 min), then two steps: Carol (20 min), then Lee (60 min more).
    message(
        60,
        [
            (65, "submitted", agent, HELD),
            (95, "rejected", carol, {"step": 1, "note": "Warmer, please."}),
            (100, "submitted", agent, HELD),
            (120, "approved", carol, not_final(1)),
            (180, "approved", lee, final(2)),
            (181, "published", agent, {}),
        ],
    )
    # Needed no approval: not counted.
    message(120, [(130, "submitted", agent, FREE), (131, "published", agent, {})])
    # Waiting for anyone with the approver role.
    fourth = message(180, [(185, "submitted", agent, HELD)])
    # Two steps; Carol cleared the first (10 min); waiting for Legal (Lee).
    fifth = message(240, [(250, "submitted", agent, HELD), (260, "approved", carol, not_final(1))])
    # Before the period (1 March in New York): left out of every figure but the queue.
    message(
        -24 * 60,
        [
            (-24 * 60 + 5, "submitted", agent, HELD),
            (-24 * 60 + 9, "rejected", lee, {"step": 1, "note": "No."}),
        ],
    )

    def submission(of: Any) -> Submission:
        (found,) = [s for d in of.drafts for s in d.submissions]
        return found

    submission(fourth).steps = ONE_STEP
    second_of_two = submission(fifth)
    second_of_two.steps = [*ONE_STEP, {"team_id": legal.id, "count": 1}]
    db.add(
        ApprovalDecision(
            submission=second_of_two,
            step=1,
            approver_id=carol.id,
            outcome="approved",
            decided_at=minutes(260),
        )
    )
    db.flush()
    return {"carol": carol, "lee": lee}


def test_every_figure_of_a_known_day(db, history):
    found = approval_analytics(db, start=date(2026, 3, 2), end=date(2026, 3, 3), tz=TZ, now=NOW)
    carol, lee = history["carol"], history["lee"]
    assert found.submissions == 5
    assert found.decisions == 3  # cleared, sent back, cleared; two still waiting
    assert found.rejection_rate == pytest.approx(1 / 3)
    assert found.edited_by_approver_share == 0.5  # one of the two cleared was edited
    assert found.approvers == (
        ApproverRow(
            approver_id=carol.id,
            name="Carol Whitfield",
            pending_now=1,  # the fourth; the fifth waits for Legal now
            decisions=4,
            approved=3,
            rejected=1,
            edited=1,
            # waits 10, 20, 30, 60 min: p50 between 20 and 30, p90 at 2.7 of 3 ranks
            p50_wait=1500.0,
            p90_wait=1800 + 0.7 * 1800,
        ),
        ApproverRow(
            approver_id=lee.id,
            name="Lee Legal",
            pending_now=2,
            decisions=1,
            approved=1,
            rejected=0,
            edited=0,
            p50_wait=3600.0,  # from Carol's step, not from the submission
            p90_wait=3600.0,
        ),
    )
    assert found.p90_wait_by_approver_hour == (
        ApproverHourCell(carol.id, "Carol Whitfield", 9, 1, 3600.0),
        ApproverHourCell(carol.id, "Carol Whitfield", 10, 2, 1200 + 0.9 * 600),
        ApproverHourCell(carol.id, "Carol Whitfield", 13, 1, 600.0),
        ApproverHourCell(lee.id, "Lee Legal", 10, 1, 3600.0),
    )


def test_the_queue_depth_is_sampled_each_hour_of_a_short_period(db, history):
    found = approval_analytics(db, start=date(2026, 3, 2), end=date(2026, 3, 3), tz=TZ, now=NOW)
    midnight = datetime(2026, 3, 2, 5, tzinfo=UTC)  # in New York
    assert [at for at, _ in found.queue_depth] == [midnight + timedelta(hours=n) for n in range(24)]
    by_utc_hour = {at.hour: depth for at, depth in found.queue_depth}
    # 14:10–15:10 first round; 15:05–15:35 sent back; 15:40–17:00 second try;
    # from 17:05 and 18:10 the two still waiting.
    assert by_utc_hour == {
        **{hour: 0 for hour in range(5, 15)},
        15: 1,
        16: 1,
        17: 0,  # decided on the stroke of 17:00; the next arrives at 17:05
        18: 1,
        **{hour: 2 for hour in (*range(19, 24), *range(0, 5))},
    }


def test_a_long_period_is_sampled_each_local_midnight_across_a_clock_change(db, history):
    found = approval_analytics(db, start=date(2026, 3, 1), end=date(2026, 3, 11), tz=TZ, now=NOW)
    assert [at for at, _ in found.queue_depth] == [
        datetime(2026, 3, day, 5 if day <= 8 else 4, tzinfo=UTC) for day in range(1, 11)
    ]
    # 1 March: the earlier round (sent back) was not submitted yet; 2 March at midnight it
    # had been decided; from 3 March two rounds wait.
    assert [depth for _, depth in found.queue_depth] == [0, 0, *([2] * 8)]
    assert found.submissions == 6


def test_an_open_period_runs_from_the_first_round_to_now(db, history):
    found = approval_analytics(db, start=None, end=None, tz="UTC", now=NOW)
    assert found.submissions == 6
    assert found.rejection_rate == pytest.approx(2 / 4)
    points = [at for at, _ in found.queue_depth]
    # Hourly (under 7 days) from the midnight before the first round to the hour before now.
    assert points[0] == datetime(2026, 3, 1, tzinfo=UTC)
    assert points[-1] == datetime(2026, 3, 5, 13, tzinfo=UTC)
    assert len(points) == 4 * 24 + 14
    assert found.queue_depth[0][1] == 0


def test_nothing_held_gives_empty_figures_and_the_approvers_still_listed(db, make_user):
    carol = make_user(name="Carol Whitfield", roles="approver")
    found = approval_analytics(db, start=date(2026, 3, 2), end=date(2026, 3, 3), tz="UTC", now=NOW)
    assert (found.submissions, found.decisions) == (0, 0)
    assert (found.rejection_rate, found.edited_by_approver_share) == (None, None)
    assert found.approvers == (ApproverRow(carol.id, "Carol Whitfield", 0, 0, 0, 0, 0, None, None),)
    assert found.p90_wait_by_approver_hour == ()
    assert [depth for _, depth in found.queue_depth] == [0] * 24
