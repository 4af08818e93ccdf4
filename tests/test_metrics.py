"""Latency metrics: each stage as the product defines it, the period and the timezone,
the statistics, the bottleneck, and agreement between the database (SQLite or
PostgreSQL, per ``--db``) and the pure-Python reference on generated histories and on
the demo's eight weeks.

Histories are written straight into the workflow event table (as the receivers would
write them), so every shape the definitions speak of can be set up to the microsecond.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from respondr.domain import business_hours, demo, metrics
from respondr.domain.errors import ValidationError
from respondr.domain.metrics import (
    GROUPINGS,
    SERIES,
    TTFR_STAGES,
    Report,
    ReportRow,
    Scope,
    SlaStats,
    Stats,
    bottleneck,
    latency_report,
)
from respondr.domain.presets import ensure_presets
from respondr.models import Channel, Draft, Fan, Message, Submission, WorkflowEvent
from tests import metrics_reference as reference

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # a Monday, 09:00 in New York
NOW = T0 + timedelta(days=3)
HELD = {"outcome": "needs_approval", "policy_version_id": None, "rule_number": 1}
FREE = {"outcome": "publish", "policy_version_id": None, "rule_number": 2}
TOLERANCE = 0.001  # seconds: both sides cut times to the millisecond, so they agree exactly
_numbers = itertools.count(1)

Step = tuple[datetime, str, int | None, dict[str, Any]]
ROUND_KINDS = ("submitted", "approval_required", "approved", "rejected")
DRAFT_KINDS = (*ROUND_KINDS, "draft_started", "publish_attempted", "publish_failed", "published")


def write(
    db,
    channel: Channel,
    *,
    received_at: datetime,
    posted_at: datetime | None = None,
    steps: Sequence[Step] = (),
    category: str | None = None,
    intent: str | None = None,
    thread_key: str | None = None,
) -> Message:
    """A message and its events (``received`` first). Decisions belong to the latest
    submission; drafts and submissions get their rows so the events can point at them."""
    n = next(_numbers)
    fan = Fan(channel_id=channel.id, handle=f"fan{n}", display_name=f"Fan {n}")
    message = Message(
        channel_id=channel.id,
        external_id=f"metrics-{n}",
        fan=fan,
        text="Is the signing still on?",
        posted_at=posted_at or received_at - timedelta(seconds=30),
        received_at=received_at,
        category=category,
        intent=intent,
        thread_key=thread_key,
        sla_due_at=received_at + timedelta(minutes=channel.sla_minutes),
    )
    db.add(message)
    db.flush()
    events = [WorkflowEvent(kind="received", message_id=message.id, at=received_at, data={})]
    draft: Draft | None = None
    submission: Submission | None = None
    for at, kind, actor_id, data in steps:
        if kind in ("draft_started", "submitted") and draft is None:
            draft = Draft(message_id=message.id, author_id=actor_id, created_at=at, updated_at=at)
            db.add(draft)
            db.flush()
        if kind == "submitted":
            assert draft is not None
            submission = Submission(
                draft_id=draft.id,
                number=sum(1 for e in events if e.kind == "submitted") + 1,
                text="Reply",
                submitted_at=at,
                author_id=actor_id,
                author_trusted=False,
                outcome=data["outcome"],
            )
            db.add(submission)
            db.flush()
        in_round = kind in ROUND_KINDS
        events.append(
            WorkflowEvent(
                kind=kind,
                message_id=message.id,
                draft_id=draft.id if draft is not None and kind in DRAFT_KINDS else None,
                submission_id=submission.id if in_round and submission is not None else None,
                actor_id=actor_id,
                at=at,
                data=dict(data),
            )
        )
    db.add_all(events)
    db.flush()
    return message


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


@dataclass
class Cast:
    channel: Channel
    agent: Any
    other_agent: Any
    approver: Any
    legal: Any


@pytest.fixture
def cast(make_user, make_channel) -> Cast:
    return Cast(
        channel=make_channel(name="Bernie the Bookworm", sla_minutes=60),
        agent=make_user(name="Bernie Adler"),
        other_agent=make_user(name="Maya Okafor"),
        approver=make_user(name="Carol Whitfield", roles="approver"),
        legal=make_user(name="Lee Legal", roles="approver"),
    )


def story(db, cast: Cast, steps: Sequence[tuple[Any, ...]], **fields: Any) -> Message:
    """A message received at T0 (posted two minutes before) with steps given in minutes."""
    fields.setdefault("received_at", T0)
    fields.setdefault("posted_at", T0 - timedelta(minutes=2))
    return write(
        db,
        cast.channel,
        steps=[
            (minutes(at), kind, who.id if who is not None else None, dict(data[0]) if data else {})
            for at, kind, who, *data in steps
        ],
        **fields,
    )


def picked_up(who: Any, at: float = 5) -> list[tuple[Any, ...]]:
    """Claimed at ``at`` minutes, and a draft saved a minute later."""
    return [(at, "claimed", who), (at + 1, "draft_started", who)]


def report(db, *, start=None, end=None, tz="UTC", group_by=None, now=NOW) -> Report:
    return latency_report(db, start=start, end=end, tz=tz, group_by=group_by, now=now)


def overall(db, **options: Any) -> ReportRow:
    (row,) = report(db, **options).rows
    return row


def seconds(row: ReportRow) -> dict[str, float | None]:
    """Each stage of a one-message report, in seconds (None where it does not count)."""
    return {name: row.stages[name].max for name in SERIES}


def final(step: int = 1) -> dict[str, Any]:
    return {"step": step, "final": True, "edited": False}


def not_final(step: int = 1) -> dict[str, Any]:
    return {"step": step, "final": False, "edited": False}


# --------------------------------------------------------------------------- stages


def test_a_held_reply_splits_into_every_stage(db, cast):
    story(
        db,
        cast,
        [
            (10, "claimed", cast.agent),
            (12, "draft_started", cast.agent),
            (20, "submitted", cast.agent, HELD),
            (20, "approval_required", None, {"steps": [{"role": "approver", "count": 1}]}),
            (80, "approved", cast.approver, final()),
            (81, "published", cast.agent),
        ],
    )
    assert seconds(overall(db)) == {
        "detection": 120,
        "queue_wait": 600,
        "drafting": 600,
        "approval_wait": 3600,
        "rework": None,
        "publish_lag": 60,
        "ttfr": 81 * 60,
        "fan_seen": 83 * 60,
        "next_reply": None,  # not a follow-up
    }


def test_a_rework_loop_sums_every_rounds_wait_and_every_rework(db, cast):
    story(
        db,
        cast,
        [
            *picked_up(cast.agent),
            (10, "submitted", cast.agent, HELD),
            (40, "rejected", cast.approver, {"step": 1, "note": "Sign as the team."}),
            (55, "submitted", cast.agent, HELD),
            (95, "rejected", cast.approver, {"step": 1, "note": "Too long."}),
            (100, "submitted", cast.agent, HELD),
            (200, "approved", cast.approver, final()),
            (203, "published", cast.agent),
        ],
    )
    stages = seconds(overall(db))
    assert stages["approval_wait"] == (30 + 40 + 100) * 60
    assert stages["rework"] == (15 + 5) * 60
    assert stages["publish_lag"] == 3 * 60
    assert stages["ttfr"] == 203 * 60


def test_a_two_step_round_is_decided_when_the_last_step_approves(db, cast):
    story(
        db,
        cast,
        [
            *picked_up(cast.agent),
            (10, "submitted", cast.agent, HELD),
            (30, "approved", cast.approver, not_final(1)),
            (90, "approved", cast.legal, final(2)),
            (92, "published", cast.agent),
        ],
    )
    row = overall(db, group_by="approver")
    assert seconds(row)["approval_wait"] == 80 * 60
    assert seconds(row)["publish_lag"] == 2 * 60
    assert row.label == "Lee Legal"  # who cleared the last step


def test_a_rejection_at_step_one_of_two_ends_the_round(db, cast):
    story(
        db,
        cast,
        [
            *picked_up(cast.agent),
            (10, "submitted", cast.agent, HELD),
            (25, "rejected", cast.approver, {"step": 1, "note": "No."}),
            (45, "submitted", cast.agent, HELD),
            (50, "approved", cast.approver, not_final(1)),
            (70, "approved", cast.legal, final(2)),
            (71, "published", cast.agent),
        ],
    )
    stages = seconds(overall(db))
    assert stages["approval_wait"] == (15 + 25) * 60
    assert stages["rework"] == 20 * 60


def test_queue_wait_ends_at_the_first_draft_when_nobody_claimed(db, cast):
    story(
        db,
        cast,
        [
            (7, "draft_started", cast.agent),
            (9, "submitted", cast.agent, FREE),
            (10, "published", cast.agent),
        ],
    )
    row = overall(db, group_by="agent")
    assert seconds(row) == {
        "detection": 120,
        "queue_wait": 7 * 60,
        "drafting": 2 * 60,
        "approval_wait": None,
        "rework": None,
        "publish_lag": 60,  # from the submission: it needed no approval
        "ttfr": 10 * 60,
        "fan_seen": 12 * 60,
        "next_reply": None,
    }
    assert row.label == "Bernie Adler"  # the first drafter


def test_closed_without_reply_counts_in_queue_wait_and_no_later_stage(db, cast):
    story(
        db,
        cast,
        [
            *picked_up(cast.agent),
            (10, "submitted", cast.agent, HELD),
            (20, "rejected", cast.approver, {"step": 1, "note": "Leave it."}),
            (21, "closed", cast.agent, {"reason": "no_reply_needed"}),
        ],
    )
    story(db, cast, [(3, "closed", cast.agent, {"reason": "spam"})])  # never claimed
    row = overall(db)
    assert (row.received, row.answered, row.open, row.closed) == (2, 0, 0, 2)
    assert {name: row.stages[name].count for name in SERIES} == {
        "detection": 2,
        "queue_wait": 1,
        "drafting": 0,
        "approval_wait": 0,
        "rework": 0,
        "publish_lag": 0,
        "ttfr": 0,
        "fan_seen": 0,
        "next_reply": 0,
    }
    assert row.stages["queue_wait"].max == 5 * 60
    assert row.response_rate is None  # nothing needed a reply


def test_publish_lag_runs_to_the_eventual_publication_after_a_failure(db, cast):
    story(
        db,
        cast,
        [
            *picked_up(cast.agent),
            (10, "submitted", cast.agent, HELD),
            (20, "approved", cast.approver, final()),
            (21, "publish_attempted", None, {"attempt": 1, "outcome": "error"}),
            (30, "publish_failed", None, {"error": "Page token expired"}),
            (75, "published", cast.approver),
        ],
    )
    stages = seconds(overall(db))
    assert stages["publish_lag"] == 55 * 60
    assert stages["ttfr"] == 75 * 60


def test_only_the_first_reply_counts(db, cast):
    story(
        db,
        cast,
        [
            *picked_up(cast.agent),
            (10, "submitted", cast.agent, FREE),
            (11, "published", cast.agent),
            (500, "submitted", cast.agent, HELD),
            (600, "approved", cast.approver, final()),
            (601, "published", cast.agent),
        ],
    )
    row = overall(db, group_by="approver")
    assert seconds(row)["ttfr"] == 11 * 60
    assert seconds(row)["approval_wait"] is None
    assert row.label == "no approval"


def test_next_reply_runs_from_a_follow_up_to_our_next_reply_anywhere_in_its_thread(
    db, cast, make_channel
):
    def reply_at(at: float) -> list[tuple[Any, ...]]:
        return [
            (at - 2, "claimed", cast.agent),
            (at - 1, "submitted", cast.agent, FREE),
            (at, "published", cast.agent),
        ]

    # The thread starts with a question answered at 10 min (not a follow-up itself).
    story(db, cast, reply_at(10), thread_key="post-1")
    # A follow-up at 30 min; nobody replies to it, but we reply to the next one at 95.
    story(db, cast, [], thread_key="post-1", received_at=minutes(30), posted_at=minutes(30))
    story(
        db, cast, reply_at(95), thread_key="post-1", received_at=minutes(60), posted_at=minutes(60)
    )
    # A later follow-up with no reply since: no next reply yet.
    story(db, cast, [], thread_key="post-1", received_at=minutes(100), posted_at=minutes(100))
    # The same thread key on another channel is another thread: a first message there.
    other = make_channel(name="Jerry's blog", kind="blog")
    write(db, other, received_at=minutes(40), thread_key="post-1")
    # A first message of another thread, answered: not a follow-up either.
    story(db, cast, reply_at(20), thread_key="post-2", received_at=minutes(15))
    stats = overall(db).stages["next_reply"]
    assert stats.count == 2
    assert (stats.p50, stats.max) == ((65 + 35) / 2 * 60, 65 * 60)
    assert metrics.STAGE_LABELS["next_reply"] == "Next reply time"
    # A follow-up in the period whose thread began before it still counts.
    late = overall(db, start=T0 + timedelta(minutes=50), end=None)
    assert late.stages["next_reply"].count == 1
    assert late.stages["next_reply"].max == 35 * 60


def test_a_message_never_answered_is_open_with_its_age_and_lowers_the_response_rate(db, cast):
    story(
        db,
        cast,
        [
            *picked_up(cast.agent),
            (8, "submitted", cast.agent, FREE),
            (9, "published", cast.agent),
        ],
    )
    story(
        db,
        cast,
        picked_up(cast.agent),
        received_at=minutes(60),
        posted_at=minutes(59),
    )
    story(
        db,
        cast,
        [(1, "closed", cast.agent, {"reason": "spam"}), (2, "reopened", cast.agent)],
        received_at=minutes(120),
        posted_at=minutes(119),
    )
    row = overall(db, now=minutes(180))
    assert (row.received, row.answered, row.open, row.closed) == (3, 1, 2, 0)
    assert row.response_rate == pytest.approx(1 / 3)
    assert row.open_age.count == 2
    assert row.open_age.max == 120 * 60
    assert row.open_age.p50 == 90 * 60
    assert row.stages["queue_wait"].count == 2  # the open one was picked up
    assert row.stages["ttfr"].count == 1


def test_the_five_stages_add_up_exactly_to_time_to_first_response(db, cast):
    # Times with odd microseconds: every stage is cut from the same milliseconds.
    odd = timedelta(microseconds=123_457)
    story(
        db,
        cast,
        [
            (4.333, "claimed", cast.agent),
            (5.777, "draft_started", cast.agent),
            (9.111, "submitted", cast.agent, HELD),
            (19.999, "rejected", cast.approver, {"step": 1, "note": "Shorter."}),
            (23.456, "submitted", cast.agent, HELD),
            (64.321, "approved", cast.approver, final()),
            (65.001, "published", cast.agent),
        ],
        received_at=T0 + odd,
    )
    row = overall(db)
    totals = row.answered_totals_ms
    assert sum(totals[name] for name in TTFR_STAGES) == totals["ttfr"]
    assert totals["ttfr"] == metrics.epoch_ms(minutes(65.001)) - metrics.epoch_ms(T0 + odd)


# --------------------------------------------------------------------------- period, zone


def test_the_period_is_half_open_and_read_in_the_organisations_timezone(db, cast):
    # New York midnight on 2 March is 05:00 UTC.
    midnight = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
    for received in (
        midnight - timedelta(microseconds=1),  # 1 March, 23:59:59.999999 local
        midnight,  # included
        midnight + timedelta(days=1) - timedelta(microseconds=1),  # included
        midnight + timedelta(days=1),  # 3 March: excluded
    ):
        write(db, cast.channel, received_at=received)
    row = overall(db, start=date(2026, 3, 2), end=date(2026, 3, 3), tz="America/New_York")
    assert row.received == 2
    row = overall(db, start=date(2026, 3, 1), end=date(2026, 3, 2), tz="America/New_York")
    assert row.received == 1
    row = overall(db, start=date(2026, 3, 3), end=None, tz="America/New_York")
    assert row.received == 1
    row = overall(db, start=date(2026, 3, 3), end=date(2026, 3, 4), tz="UTC")
    assert row.received == 2  # 04:59:59.999999 and 05:00 UTC on 3 March


def test_hour_weekday_and_week_are_read_in_the_organisations_timezone(db, cast):
    # 22:30 EST on Monday 2 March; the last instant of Sunday 8 March in EDT, after the
    # clocks went forward (a tenth of a millisecond before Monday).
    write(db, cast.channel, received_at=datetime(2026, 3, 3, 3, 30, tzinfo=UTC))
    write(db, cast.channel, received_at=datetime(2026, 3, 9, 3, 59, 59, 999_900, tzinfo=UTC))
    tz = "America/New_York"
    hours = report(db, tz=tz, group_by="hour").rows
    assert [(r.key, r.label, r.received) for r in hours] == [(22, "22:00", 1), (23, "23:00", 1)]
    days = report(db, tz=tz, group_by="weekday").rows
    assert [(r.key, r.label) for r in days] == [(1, "Monday"), (7, "Sunday")]
    weeks = report(db, tz=tz, group_by="week").rows
    assert [(r.key, r.received) for r in weeks] == [(date(2026, 3, 2), 2)]
    assert weeks[0].label == "week of 2026-03-02"
    utc_weeks = report(db, tz="UTC", group_by="week").rows
    assert [(r.key, r.received) for r in utc_weeks] == [
        (date(2026, 3, 2), 1),
        (date(2026, 3, 9), 1),
    ]


def test_a_period_needs_dates_or_aware_times_and_a_real_timezone(db, cast):
    with pytest.raises(ValueError, match="naive"):
        report(db, start=datetime(2026, 3, 2))
    with pytest.raises(ValidationError, match="not a timezone"):
        report(db, tz="Mars/Olympus_Mons")
    with pytest.raises(ValidationError, match="Group by"):
        report(db, group_by="mood")


def test_sqlite_connections_can_get_the_local_time_function_when_they_open():
    engine = create_engine("sqlite://")
    metrics.install_sqlite_functions(engine)
    with engine.connect() as connection:
        local = connection.scalar(
            text("SELECT respondr_local('2026-03-09 03:59:59.999900', 'America/New_York')")
        )
    engine.dispose()
    assert local == "2026-03-08 23:59:59"


# --------------------------------------------------------------------------- statistics


def test_percentiles_interpolate_linearly_like_percentile_cont(db, cast):
    waits = [60, 120, 180, 240, 1200]  # seconds of queue wait
    for i, wait in enumerate(waits):
        story(
            db,
            cast,
            [(i + wait / 60, "claimed", cast.agent)],
            received_at=minutes(i),
            posted_at=minutes(i),
        )
    stats = overall(db).stages["queue_wait"]
    # (n - 1) * p = 2, 3.6, 3.8: 180; 240 + 0.6 * 960; 240 + 0.8 * 960.
    expected = [360, 180, 240 + 0.6 * 960, 240 + 0.8 * 960, 1200]
    for found in (stats, reference.statistics(w * 1000 for w in waits)):
        assert (found.count, found.buckets) == (5, (5, 0, 0, 0, 0))
        assert [found.mean, found.p50, found.p90, found.p95, found.max] == pytest.approx(expected)


def test_buckets_start_at_their_lower_bound(db, cast):
    for hours in (0.5, 1, 3.99, 4, 8, 24, 30):
        story(
            db,
            cast,
            [(hours * 60, "claimed", cast.agent)],
            received_at=T0,
            posted_at=T0,
        )
    stats = overall(db).stages["queue_wait"]
    assert stats.buckets == (1, 2, 1, 1, 2)
    assert dict(zip(metrics.BUCKET_LABELS, stats.buckets, strict=True)) == {
        "under 1 h": 1,
        "1–4 h": 2,
        "4–8 h": 1,
        "8–24 h": 1,
        "over 24 h": 2,
    }


def test_sla_attainment_counts_answers_within_the_channels_target(db, cast):
    for taken in (60, 61):  # the channel's target is 60 minutes: exactly on it, then past
        steps = [*picked_up(cast.agent, 1), (3, "submitted", cast.agent, FREE)]
        story(db, cast, [*steps, (taken, "published", cast.agent)])
    write(db, cast.channel, received_at=NOW - timedelta(minutes=90))  # open, overdue
    write(db, cast.channel, received_at=NOW - timedelta(minutes=30))  # open, in time
    row = overall(db)
    assert row.sla == SlaStats(answered=2, met=1, breached=1, open_overdue=1)
    assert row.sla.attainment == 0.5
    assert row.response_rate == 0.5


# --------------------------------------------------------------------------- bottleneck


def answered_row(answered: int = 3, **totals_ms: int) -> ReportRow:
    """A report row whose answered messages spent these milliseconds in each stage."""
    stages = {name: Stats.empty() for name in SERIES}
    totals = {name: totals_ms.get(name, 0) for name in TTFR_STAGES}
    totals["ttfr"] = sum(totals.values())
    sla = SlaStats(answered, answered, 0, 0)
    return ReportRow(None, "", answered, answered, 0, 0, stages, totals, Stats.empty(), sla, stages)


def test_the_bottleneck_is_the_stage_with_the_largest_share_named_in_words():
    row = answered_row(queue_wait=90, drafting=60, approval_wait=810, publish_lag=40)
    found = bottleneck(row)
    assert found == ("approval_wait", 0.81, "Approval wait is 81% of time to first response")


def test_there_is_no_bottleneck_before_anything_is_answered():
    assert bottleneck(answered_row(answered=0)) is None
    assert bottleneck(answered_row(answered=2)) is None  # answered in no time at all


def test_an_empty_period_still_has_its_overall_row(db, cast):
    row = overall(db, start=date(2030, 1, 1), end=date(2030, 2, 1))
    assert (row.key, row.label, row.received, row.response_rate) == (None, "All messages", 0, None)
    assert row.stages["ttfr"] == Stats.empty()


def test_groups_are_labelled_by_name(db, cast, make_channel):
    blog = make_channel(name="Jerry's blog", kind="blog", sla_minutes=240)
    write(db, cast.channel, received_at=T0, category="to_brand", intent="complaint")
    write(db, blog, received_at=T0, category=None, intent="praise")
    channels = report(db, group_by="channel").rows
    assert [(r.label, r.received) for r in channels] == [
        ("Bernie the Bookworm", 1),
        ("Jerry's blog", 1),
    ]
    categories = report(db, group_by="category").rows
    assert [(r.key, r.label) for r in categories] == [
        ("to_brand", "to brand"),
        (None, "uncategorised"),
    ]
    agents = report(db, group_by="agent").rows
    assert [(r.key, r.label, r.received) for r in agents] == [(None, "nobody", 2)]


def test_the_agent_is_the_first_claimer_and_the_policy_version_the_first_rounds(db, cast):
    version = ensure_presets(db, now=T0)["corporate-clears-all"].current_version
    assert version is not None
    first_round = {**HELD, "policy_version_id": version.id}
    story(
        db,
        cast,
        [
            (2, "claimed", cast.agent),
            (3, "released", cast.agent),
            *picked_up(cast.other_agent, 4),
            (8, "submitted", cast.other_agent, first_round),
            (9, "rejected", cast.approver, {"step": 1, "note": "No."}),
            (10, "submitted", cast.other_agent, {**HELD, "policy_version_id": 999}),
        ],
    )
    (agent,) = report(db, group_by="agent").rows
    assert (agent.key, agent.label) == (cast.agent.id, "Bernie Adler")
    (policy,) = report(db, group_by="policy_version").rows
    assert (policy.key, policy.label) == (version.id, version.label)


# --------------------------------------------------------------------------- business hours

LONDON_WEEKDAYS = {
    "timezone": "Europe/London",
    "hours": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-03-30"],  # the Monday after the clocks go forward (29 March)
}


def test_business_hours_count_only_open_time_across_a_clock_change_and_a_holiday(
    db, cast, make_channel
):
    cast.channel.business_hours = business_hours.validate_spec(LONDON_WEEKDAYS)
    around_the_clock = make_channel(name="Jerry's blog", kind="blog")
    friday = datetime(2026, 3, 27, tzinfo=UTC)  # GMT: UTC+0
    tuesday = datetime(2026, 3, 31, tzinfo=UTC)  # BST: opens at 08:00 UTC

    def at(day: datetime, hours: int, minutes: int = 0) -> datetime:
        return day + timedelta(hours=hours, minutes=minutes)

    steps = [
        (at(friday, 16, 30), "claimed", cast.agent.id, {}),
        (at(friday, 16, 40), "draft_started", cast.agent.id, {}),
        (at(friday, 16, 50), "submitted", cast.agent.id, HELD),
        (at(tuesday, 9), "approved", cast.approver.id, final()),
        (at(tuesday, 9, 5), "published", cast.agent.id, {}),
    ]
    for channel in (cast.channel, around_the_clock):
        write(
            db,
            channel,
            received_at=at(friday, 16),
            posted_at=at(friday, 15, 50),
            steps=steps,
        )
    staffed, always = report(db, group_by="channel", now=tuesday + timedelta(days=1)).rows
    assert staffed.label == "Bernie the Bookworm"

    def business_minutes(row: ReportRow) -> dict[str, float | None]:
        return {
            name: None if row.business[name].max is None else row.business[name].max / 60
            for name in SERIES
        }

    expected = {
        "detection": 10,
        "queue_wait": 30,
        "drafting": 20,
        # Friday 16:50–17:00, nothing on the holiday, Tuesday 09:00–10:00 BST.
        "approval_wait": 10 + 60,
        "rework": None,
        "publish_lag": 5,
        "ttfr": 60 + 65,
        "fan_seen": 10 + 60 + 65,
        "next_reply": None,
    }
    assert business_minutes(staffed) == expected
    assert staffed.stages["approval_wait"].max == (3 * 24 * 60 + 16 * 60 + 10) * 60  # calendar
    assert {name: stats.count for name, stats in always.business.items()} == dict.fromkeys(
        SERIES, 0
    )
    assert always.stages["ttfr"].count == 1

    # Hours are read when the report runs: without the holiday, Monday's 8 hours count.
    cast.channel.business_hours = business_hours.validate_spec({**LONDON_WEEKDAYS, "holidays": []})
    db.flush()
    (row,) = [r for r in report(db, group_by="channel").rows if r.key == cast.channel.id]
    assert business_minutes(row)["approval_wait"] == 10 + 8 * 60 + 60
    assert business_minutes(row)["ttfr"] == 60 + 8 * 60 + 65


# --------------------------------------------------------------------------- heat map, neglect


def answered_after(db, cast: Cast, received_at: datetime, taken: float) -> Message:
    """A message answered ``taken`` minutes after it was received (freely, no approval)."""
    return write(
        db,
        cast.channel,
        received_at=received_at,
        steps=[
            (received_at + timedelta(minutes=taken / 3), "claimed", cast.agent.id, {}),
            (received_at + timedelta(minutes=taken / 2), "submitted", cast.agent.id, FREE),
            (received_at + timedelta(minutes=taken), "published", cast.agent.id, {}),
        ],
    )


def test_the_heat_map_reads_weekday_and_hour_in_the_organisations_timezone(db, cast):
    # T0 is Monday 09:00 in New York; 03:30 UTC on Tuesday is Monday 22:30 there.
    for taken in (10, 20, 60):
        answered_after(db, cast, T0 + timedelta(minutes=taken / 10), taken)
    answered_after(db, cast, datetime(2026, 3, 3, 3, 30, tzinfo=UTC), 90)
    write(db, cast.channel, received_at=T0 + timedelta(minutes=5))  # open: no TTFR
    cells = metrics.waiting_heatmap(db, start=None, end=None, tz="America/New_York")
    assert len(cells) == 7 * 24
    assert (cells[0].weekday, cells[0].hour, cells[-1].weekday, cells[-1].hour) == (0, 0, 6, 23)
    filled = {(c.weekday, c.hour): (c.count, c.p50, c.p90) for c in cells if c.count}
    assert filled == {
        (0, 9): (3, 20 * 60.0, (20 + 0.8 * 40) * 60),
        (0, 22): (1, 90 * 60.0, 90 * 60.0),
    }
    in_utc = metrics.waiting_heatmap(db, start=None, end=None, tz="UTC")
    assert {(c.weekday, c.hour) for c in in_utc if c.count} == {(0, 14), (1, 3)}
    # The period is half-open, by the day it was received in the timezone.
    tuesday = metrics.waiting_heatmap(db, start=date(2026, 3, 3), end=None, tz="UTC")
    assert [(c.weekday, c.hour, c.count) for c in tuesday if c.count] == [(1, 3, 1)]


def test_neglected_channels_put_the_longest_silence_first_and_never_answered_before_all(
    db, cast, make_channel
):
    now = T0 + timedelta(days=1)
    blog = make_channel(name="Jerry's blog", kind="blog")
    forum = make_channel(name="Readers' forum", kind="forum")
    retired = make_channel(name="Old page")
    retired.active = False
    quiet = Cast(blog, cast.agent, cast.other_agent, cast.approver, cast.legal)
    answered_after(db, cast, T0, 30)  # Bernie: last reply at T0 + 30 min ...
    answered_after(db, cast, T0 - timedelta(days=2), 10)
    write(db, cast.channel, received_at=T0 + timedelta(hours=2))  # ... one open
    answered_after(db, quiet, now - timedelta(hours=1), 50)  # the blog: 10 minutes ago
    write(db, forum, received_at=T0 + timedelta(hours=5))  # the forum: two open, no reply
    write(db, forum, received_at=T0 + timedelta(hours=3))
    closed = write(db, forum, received_at=T0, steps=[(T0, "closed", cast.agent.id, {})])
    assert closed.id
    write(db, retired, received_at=T0)
    db.flush()
    found = metrics.neglected_channels(db, now=now)
    assert [
        (c.name, c.last_reply_at, c.since_seconds, c.open_count, c.oldest_open_at) for c in found
    ] == [
        ("Readers' forum", None, None, 2, T0 + timedelta(hours=3)),
        ("Bernie the Bookworm", minutes(30), (24 * 60 - 30) * 60.0, 1, T0 + timedelta(hours=2)),
        ("Jerry's blog", now - timedelta(minutes=10), 600.0, 0, None),
    ]


# --------------------------------------------------------------------------- agreement

AGENTS = 3
APPROVERS = 2
POLICY_VERSIONS = (None, 7, 8)
ZONES = ("UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")
BASE = datetime(2026, 3, 4, tzinfo=UTC)
GENERATED_NOW = BASE + timedelta(days=12)
SECOND = 1_000_000  # microseconds
PERIODS = (
    (None, None),
    (date(2026, 3, 6), date(2026, 3, 11)),  # across the US change to summer time
    (date(2026, 3, 9), None),
    (BASE + timedelta(days=2, hours=7, microseconds=5), BASE + timedelta(days=6)),
)


@dataclass(frozen=True)
class Plan:
    """One generated message: where, what, when, and its steps (actors by role and index)."""

    channel: int
    category: str | None
    intent: str | None
    posted_at: datetime
    received_at: datetime
    steps: tuple[tuple[datetime, str, tuple[str, int] | None, dict[str, Any]], ...]
    thread_key: str | None = None


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    """A valid history: optional claim (maybe released and re-taken), a draft, one to
    three rounds (held ones over one or two steps, sent back or cleared, non-final
    approvals on the way), publish failures, then published, closed or nothing; in one
    of a few threads, or none."""
    received = BASE + timedelta(microseconds=draw(st.integers(0, 10 * 86400 * SECOND)))
    posted = received - timedelta(microseconds=draw(st.integers(0, 3 * 3600 * SECOND)))
    ending = draw(st.sampled_from(("published", "closed", "open")))
    clock = [received]
    steps: list[tuple[datetime, str, tuple[str, int] | None, dict[str, Any]]] = []

    def add(kind: str, actor: tuple[str, int] | None, most: int = 6 * 3600, **data: Any) -> None:
        clock[0] += timedelta(microseconds=draw(st.integers(1, most * SECOND)))
        steps.append((clock[0], kind, actor, data))

    agent = ("agent", draw(st.integers(0, AGENTS - 1)))

    def approver() -> tuple[str, int]:
        return ("approver", draw(st.integers(0, APPROVERS - 1)))

    if draw(st.integers(0, 5)) == 0:
        add("closed", agent, reason="spam")
        add("reopened", agent)
    if draw(st.booleans()):
        add("claimed", agent, most=30 * 3600)
        if draw(st.integers(0, 3)) == 0:
            add(draw(st.sampled_from(("released", "lapsed"))), agent)
            agent = ("agent", draw(st.integers(0, AGENTS - 1)))
            add("claimed", agent)
    if ending == "published" or draw(st.booleans()):
        add("draft_started", agent, most=3600)
        rounds = draw(st.integers(1, 3)) if ending == "published" else draw(st.integers(0, 3))
        for number in range(1, rounds + 1):
            last = number == rounds
            held = not last or draw(st.booleans())
            outcome = "needs_approval" if held else "publish"
            version = draw(st.sampled_from(POLICY_VERSIONS))
            add("submitted", agent, most=2 * 3600, outcome=outcome, policy_version_id=version)
            if not held:
                break
            step_count = draw(st.integers(1, 2))
            add("approval_required", None, most=1, steps=[{"role": "approver"}] * step_count)
            if not last:
                decision = "rejected"
            elif ending == "published":
                decision = "approved"
            else:
                decision = draw(st.sampled_from(("approved", "rejected", "pending")))
            stop = draw(st.integers(1, step_count)) if decision != "approved" else step_count
            for step in range(1, stop + 1):
                approvals = draw(st.integers(1, 2))
                for k in range(1, approvals + 1):
                    if decision == "rejected" and step == stop and k == approvals:
                        add("rejected", approver(), most=30 * 3600, step=step, note="Redo.")
                    elif decision == "pending" and step == stop and k == approvals:
                        pass
                    else:
                        done = decision == "approved" and step == stop and k == approvals
                        add("approved", approver(), most=30 * 3600, step=step, final=done)
        if ending == "published" and draw(st.booleans()):
            add("publish_attempted", None, most=120, attempt=1, outcome="error")
            add("publish_failed", None, most=3600, error="timeout")
    if ending == "published":
        add("published", agent, most=3600)
        if draw(st.integers(0, 4)) == 0:  # a later reply: not the first
            add("submitted", agent, outcome="needs_approval", policy_version_id=8)
            add("approved", approver(), step=1, final=True)
            add("published", agent)
    elif ending == "closed":
        add("closed", agent, reason="no_reply_needed")
    return Plan(
        channel=draw(st.integers(0, 1)),
        category=draw(st.sampled_from((None, "to_brand", "industry"))),
        intent=draw(st.sampled_from((None, "question", "complaint"))),
        posted_at=posted,
        received_at=received,
        steps=tuple(steps),
        # Few threads, so that follow-ups (and replies elsewhere in a thread) are common.
        thread_key=draw(st.sampled_from((None, "t0", "t1"))),
    )


# Staffed in New York, with a split Wednesday, a Sunday shift across the night the clocks
# go forward (8 March 2026: 02:00 does not happen) and a holiday on Tuesday 10 March.
GENERATED_HOURS = {
    "timezone": "America/New_York",
    "hours": {
        "mon": [["09:00", "17:30"]],
        "tue": [["09:00", "17:30"]],
        "wed": [["09:00", "12:00"], ["13:00", "17:00"]],
        "thu": [["09:00", "17:30"]],
        "fri": [["09:00", "24:00"]],
        "sat": [["00:00", "02:00"]],
        "sun": [["01:00", "03:30"]],
    },
    "holidays": ["2026-03-10"],
}


@pytest.fixture
def crowd(db, make_user, make_channel) -> dict[str, Any]:
    staffed = make_channel(sla_minutes=240)
    staffed.business_hours = business_hours.validate_spec(GENERATED_HOURS)
    db.commit()
    return {
        "channels": [make_channel(sla_minutes=60), staffed],
        "agent": [make_user() for _ in range(AGENTS)],
        "approver": [make_user(roles="approver") for _ in range(APPROVERS)],
    }


def assert_stats_agree(have: Stats, want: Stats, where: Any) -> None:
    assert (have.count, have.buckets) == (want.count, want.buckets), where
    for name in ("mean", "p50", "p90", "p95", "max"):
        got, expected = getattr(have, name), getattr(want, name)
        assert (got is None) == (expected is None), (where, name)
        if got is not None:
            assert abs(got - expected) <= TOLERANCE, (where, name, got, expected)


def assert_agrees(actual: Report, expected: dict[Any, ReportRow]) -> None:
    rows = {row.key: row for row in actual.rows}
    assert set(rows) == set(expected), actual.scope.group_by
    for key, want in expected.items():
        have = rows[key]
        where = (actual.scope.group_by, key)
        counts = ("received", "answered", "open", "closed", "sla", "answered_totals_ms")
        for name in counts:
            assert getattr(have, name) == getattr(want, name), (where, name)
        for name in SERIES:
            assert_stats_agree(have.stages[name], want.stages[name], (where, name))
            business = have.business[name], want.business[name]
            assert_stats_agree(*business, (where, "business", name))
        assert_stats_agree(have.open_age, want.open_age, (where, "open_age"))


def assert_stages_add_up(db) -> None:
    """Per message, in the database: the five stages add up exactly to TTFR, in calendar
    time and in business hours alike (the stages' spans cut TTFR's span into pieces)."""
    dialect = db.connection().dialect.name
    scope = Scope(None, None, "UTC", None, GENERATED_NOW)
    scope = replace(scope, hours=metrics.business_intervals(db, scope))
    assert scope.hours
    for row in db.execute(metrics.message_stages(dialect, scope)):
        if row.answered:
            assert sum(getattr(row, name) or 0 for name in TTFR_STAGES) == row.ttfr
            if row.business_ttfr is not None:
                business = sum(getattr(row, f"business_{name}") or 0 for name in TTFR_STAGES)
                assert business == row.business_ttfr


def check_against_reference(db, *, start, end, tz, now, groupings=(None, *GROUPINGS)) -> None:
    histories = reference.load_histories(db)
    for group_by in groupings:
        actual = latency_report(db, start=start, end=end, tz=tz, group_by=group_by, now=now)
        expected = reference.report(histories, actual.scope)
        assert_agrees(actual, expected)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    generated=st.lists(plans(), min_size=1, max_size=8),
    tz=st.sampled_from(ZONES),
    period=st.sampled_from(PERIODS),
)
def test_the_database_and_the_reference_agree_on_generated_histories(
    db, crowd, generated, tz, period
):
    savepoint = db.begin_nested()
    try:
        for plan in generated:
            write(
                db,
                crowd["channels"][plan.channel],
                received_at=plan.received_at,
                posted_at=plan.posted_at,
                category=plan.category,
                intent=plan.intent,
                thread_key=plan.thread_key,
                steps=[
                    (at, kind, crowd[who[0]][who[1]].id if who else None, data)
                    for at, kind, who, data in plan.steps
                ],
            )
        start, end = period
        check_against_reference(db, start=start, end=end, tz=tz, now=GENERATED_NOW)
        assert_stages_add_up(db)
    finally:
        savepoint.rollback()


# --------------------------------------------------------------------------- the demo

DEMO_NOW = datetime(2026, 3, 11, 19, 30, tzinfo=UTC)


def test_the_demo_shows_approval_wait_as_the_bottleneck_and_agrees_with_the_reference(db):
    demo.load(db, now=DEMO_NOW, only_if_empty=False)
    found = bottleneck(overall(db, tz=demo.TIMEZONE, now=DEMO_NOW))
    assert found is not None
    assert found.stage == "approval_wait"
    assert found.sentence.startswith("Approval wait is ")
    assert found.share > 0.5
    check_against_reference(
        db,
        start=date(2026, 2, 9),
        end=date(2026, 3, 9),
        tz=demo.TIMEZONE,
        now=DEMO_NOW,
        groupings=(None, "channel", "approver", "hour", "week"),
    )
