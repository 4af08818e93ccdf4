"""What-if: a period replayed through another policy, beside what happened — the same
numbers from the domain, the command line, the API and the page, every time."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from respondr.domain import demo, metrics, policies, whatif
from respondr.domain.organisation import get_organisation
from respondr.models import User
from tests import factories
from tests.conftest import csrf_token, sign_in
from tests.test_history_import import SAMPLE, cast  # noqa: F401  (the sample's people)


@pytest.fixture
def people(request):
    """The sample history's people, channel and stock response."""
    return request.getfixturevalue("cast")


DAY = date(2026, 1, 5)
NEXT_DAY = date(2026, 1, 6)
NOW = datetime(2026, 1, 6, 12, 0, tzinfo=UTC)
MINUTE = 60.0
ONE = [{"role": "approver", "count": 1}]


def replay(db, policy: str, *, start=DAY, end=NEXT_DAY, tz="UTC", now=NOW):
    return whatif.run_whatif(db, policy_ref=policy, start=start, end=end, tz=tz, now=now)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, 5, hour, minute, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def story(
    external_id: str,
    submitted: datetime,
    *,
    wait: float | None,
    by="bernie@example.com",
    reply="Hello!",
):
    """A message received 10 minutes before its reply was submitted (claimed after 5);
    ``wait`` minutes for Carol's approval, or none (out freely); published a minute later."""
    received = submitted - timedelta(minutes=10)
    decisions = []
    if wait is not None:
        decided = submitted + timedelta(minutes=wait)
        decisions = [{"by": "carol@example.com", "outcome": "approved", "at": iso(decided)}]
    out = (decided if wait is not None else submitted) + timedelta(minutes=1)
    return {
        "channel": "Bernie the Bookworm",
        "external_id": external_id,
        "author": {"handle": f"fan-{external_id}"},
        "text": "Hello Bernie!",
        "posted_at": iso(received),
        "received_at": iso(received),
        "claimed": {"by": by, "at": iso(received + timedelta(minutes=5))},
        "submissions": [
            {
                "by": by,
                "at": iso(submitted),
                "text": reply,
                "needs_approval": wait is not None,
                "decisions": decisions,
            }
        ],
        "published": {"at": iso(out)},
    }


def imported(runner, tmp_path: Path, *lines: dict) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    result = runner.invoke(args=["import-history", str(path)])
    assert result.exit_code == 0, result.output


# --------------------------------------------------------------------------- the estimate


def test_replies_that_would_go_out_freely_lose_their_approval_wait_and_rework(db, runner, people):
    runner.invoke(args=["import-history", str(SAMPLE)])
    result = replay(db, "open")
    # fb-1: 142 min less 120 of approval; fb-2: 91 less 60 of approval and 15 of rework;
    # fb-3 went out freely in 7.
    assert (result.no_longer_held, result.newly_held) == (2, 0)
    assert result.estimated.ttfr_p50 == 16 * MINUTE
    assert result.estimated.ttfr_p90 == pytest.approx((16 + 0.8 * 6) * MINUTE)
    assert (result.estimated.sla_met, result.actual.sla_met) == (3, 1)
    # fb-1, fb-2 and the still-waiting fb-6 needed approval; fb-3 did not.
    assert (result.actual.replies, result.actual.needs_approval) == (4, 3)
    assert (result.estimated.replies, result.estimated.needs_approval) == (4, 0)


def test_the_actual_side_is_the_latency_reports(db, runner, people):
    runner.invoke(args=["import-history", str(SAMPLE)])
    result = replay(db, "open")
    report = metrics.latency_report(db, start=DAY, end=NEXT_DAY, tz="UTC", group_by=None, now=NOW)
    (row,) = report.rows
    assert result.received == row.received
    assert result.actual.answered == row.answered
    assert (result.actual.ttfr_p50, result.actual.ttfr_p90) == (
        row.stages["ttfr"].p50,
        row.stages["ttfr"].p90,
    )
    assert result.actual.sla_attainment == row.sla.attainment


def test_a_newly_held_reply_waits_the_median_of_its_hour_then_of_all(db, runner, people, tmp_path):
    imported(
        runner,
        tmp_path,
        story("held-9a", at(9, 10), wait=60),
        story("held-9b", at(9, 20), wait=120),
        story("held-14", at(14), wait=30),
        story("free-9", at(9, 30), wait=None, by="maya@example.com"),
        story("free-20", at(20), wait=None, by="maya@example.com"),
    )
    result = replay(db, "corporate-clears-all")
    assert (result.newly_held, result.no_longer_held) == (2, 0)
    assert result.median_approval_wait == 60 * MINUTE
    # Held ones keep 5 + 5 + wait + 1 minutes; free-9 gains the 09:00 median (90 min),
    # free-20 (nothing observed at 20:00 for that pool) the median of all waits (60).
    estimated = sorted([71, 131, 41, 11 + 90, 11 + 60])
    assert result.estimated.ttfr_p50 == estimated[2] * MINUTE
    assert result.estimated.ttfr_p90 == pytest.approx(
        (estimated[3] + 0.6 * (estimated[4] - estimated[3])) * MINUTE
    )
    assert result.actual.sla_met == 3 and result.estimated.sla_met == 1
    assert any("same hour of day of its submission (UTC)" in s for s in result.assumptions)
    assert any("(60 min)" in s for s in result.assumptions)


def test_hours_are_read_in_the_organisations_timezone(db, runner, people, tmp_path):
    imported(
        runner,
        tmp_path,
        story("held-early", at(14, 10), wait=20),  # 09:10 in New York
        story("held-late", at(20), wait=200),  # 15:00 in New York
        story("free", at(14, 30), wait=None, by="maya@example.com"),  # 09:30 in New York
    )
    result = replay(db, "corporate-clears-all", tz="America/New_York")
    # The free reply gains the 09:00 (New York) median, 20 minutes (11 + 20), not the
    # 200 of 15:00 nor the overall 110: the TTFRs are 31, 211 and 31.
    assert result.estimated.ttfr_p50 == 31 * MINUTE


def test_the_policy_reads_the_authors_trust_as_recorded_then(db, runner, people):
    runner.invoke(args=["import-history", str(SAMPLE)])
    maya = db.query(User).filter_by(email="maya@example.com").one()
    maya.trusted = False  # since demoted: her reply in the sample was a trusted one
    db.commit()
    result = replay(db, "trusted-staff-free")
    assert result.newly_held == 0
    assert result.estimated.needs_approval == 3


def test_the_same_inputs_give_the_same_numbers(db, runner, people, tmp_path):
    imported(
        runner,
        tmp_path,
        *(story(f"h{n}", at(8 + n % 9, n), wait=17 * n % 200) for n in range(1, 30)),
        *(story(f"f{n}", at(8 + n % 11, n), wait=None) for n in range(1, 20)),
    )
    first = replay(db, "risk-based")
    assert replay(db, "risk-based") == first
    assert replay(db, "corporate-clears-all") == replay(db, "corporate-clears-all")


def test_unknown_policies_and_backwards_periods_name_the_field(db, people):
    with pytest.raises(whatif.ValidationError) as unknown:
        replay(db, "bernies-rules")
    assert unknown.value.field == "policy"
    with pytest.raises(whatif.ValidationError) as backwards:
        replay(db, "open", start=NEXT_DAY, end=DAY)
    assert backwards.value.field == "to"


def test_a_day_before_the_calendar_starts_is_out_of_range(db):
    with pytest.raises(whatif.ValidationError) as early:
        replay(db, "open", start=date(1, 1, 1), end=date(1, 1, 2), tz="Asia/Tokyo")
    assert (early.value.field, early.value.message) == ("from", "from is out of range.")


def test_a_preset_not_saved_yet_can_still_be_replayed(db):
    result = replay(db, "Trusted staff free")
    assert result.policy == "Trusted staff free (preset)"
    assert result.actual.answered == 0
    assert result.estimated.ttfr_p50 is None


@pytest.mark.parametrize(
    ("tz", "moment", "hour"),
    [
        ("America/New_York", datetime(2026, 3, 8, 6, 59, tzinfo=UTC), 1),  # EST, before DST
        ("America/New_York", datetime(2026, 3, 8, 7, 0, tzinfo=UTC), 3),  # EDT from here
        ("Asia/Kolkata", datetime(2026, 1, 5, 10, 29, tzinfo=UTC), 15),
        ("Asia/Kolkata", datetime(2026, 1, 5, 10, 30, tzinfo=UTC), 16),
    ],
)
def test_the_local_hour_follows_offsets_and_daylight_saving(tz, moment, hour):
    assert whatif._LocalHour(tz)(metrics.epoch_ms(moment)) == hour


# --------------------------------------------------------------------------- the ways in


def manager_token(db) -> str:
    manager = factories.create_user(db, roles="manager")
    return factories.create_api_token(db, manager)


def test_the_command_line_the_api_and_the_domain_give_identical_numbers(
    db, runner, client, tmp_path, people
):
    imported(
        runner,
        tmp_path,
        story("held", at(9, 10), wait=75),
        story("free", at(10), wait=None, by="maya@example.com"),
    )
    runner.invoke(args=["import-history", str(SAMPLE)])
    domain = replay(db, "risk-based").as_dict()
    period = ["--from", "2026-01-05", "--to", "2026-01-06"]
    cli = runner.invoke(args=["whatif", "--policy", "risk-based", *period, "--format", "json"])
    assert cli.exit_code == 0, cli.output
    api = client.post(
        "/api/v1/whatif",
        json={"policy": "risk-based", "from": "2026-01-05", "to": "2026-01-06"},
        headers={"Authorization": f"Bearer {manager_token(db)}"},
    )
    assert api.status_code == 200, api.get_json()
    assert json.loads(cli.output) == domain == api.get_json()
    assert domain["estimated"]["ttfr_p50_s"] < domain["actual"]["ttfr_p50_s"]


def test_the_command_line_prints_the_comparison_and_its_assumptions(db, runner, people):
    runner.invoke(args=["import-history", str(SAMPLE)])
    result = runner.invoke(args=["whatif", "--policy", "Open"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "What if Open v1 had been in force (6 messages received)"
    p50 = next(line for line in lines if line.startswith("Time to first response, p50"))
    assert "1 h 31 min" in p50 and p50.endswith(" 16 min")
    assert "Assumptions:" in lines
    unknown = runner.invoke(args=["whatif", "--policy", "bernies-rules"])
    assert unknown.exit_code == 1
    assert "There is no policy 'bernies-rules'" in unknown.output


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"policy": "bernies-rules"}, "policy"),
        ({}, "policy"),
        ({"policy": "open", "from": "5 January"}, "from"),
        ({"policy": "open", "from": "2026-01-06", "to": "2026-01-05"}, "to"),
        ({"policy": "open", "to": 20260105}, "to"),
        ({"policy": "open", "from": "1900-01-01", "to": "2026-01-01"}, "from"),
        ({"policy": "op\u0000en"}, "policy"),
    ],
)
def test_the_api_answers_bad_input_with_a_field_error(db, client, body, field):
    response = client.post(
        "/api/v1/whatif", json=body, headers={"Authorization": f"Bearer {manager_token(db)}"}
    )
    assert response.status_code == 400
    assert response.get_json()["field"] == field


def test_the_api_is_for_managers(db, client):
    agent = factories.create_user(db, roles="agent")
    response = client.post(
        "/api/v1/whatif",
        json={"policy": "open"},
        headers={"Authorization": f"Bearer {factories.create_api_token(db, agent)}"},
    )
    assert response.status_code == 403


def test_the_page_shows_both_sides_and_states_its_assumptions(db, runner, client, people):
    runner.invoke(args=["import-history", str(SAMPLE)])
    factories.create_user(db, roles="manager", email="mona@example.com")
    sign_in(client, "mona@example.com")
    form = {
        "csrf_token": csrf_token(client, "/reports/whatif"),
        "start": "2026-01-05",
        "end": "2026-01-06",
        "policy": "open",
    }
    page = client.post("/reports/whatif", data=form)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Open v1 against what happened" in html
    assert "<td>16 min</td>" in html  # the estimated median
    assert "loses its approval wait and rework" in html
    bad = client.post("/reports/whatif", data=form | {"end": "2026-01-01"})
    assert bad.status_code == 400
    assert "to must be after from" in bad.get_data(as_text=True)
    no_token = client.post(
        "/reports/whatif", data={k: v for k, v in form.items() if k != "csrf_token"}
    )
    assert no_token.status_code == 400
    assert "against what happened" not in no_token.get_data(as_text=True)


# --------------------------------------------------------------------------- the demo

DEMO_NOW = datetime(2026, 3, 11, 19, 30, tzinfo=UTC)


def test_on_the_demo_trusted_staff_free_answers_faster(db):
    demo.load(db, now=DEMO_NOW, only_if_empty=False)
    tz = get_organisation(db).timezone
    result = whatif.run_whatif(
        db, policy_ref="Trusted staff free", start=None, end=None, tz=tz, now=DEMO_NOW
    )
    assert result.estimated.ttfr_p50 < result.actual.ttfr_p50 / 2
    assert result.estimated.ttfr_p90 < result.actual.ttfr_p90
    assert result.estimated.sla_attainment > result.actual.sla_attainment
    assert 0 < result.estimated.needs_approval < result.actual.needs_approval
    assert result.no_longer_held > 0 and result.newly_held == 0
    again = whatif.run_whatif(
        db, policy_ref="trusted-staff-free", start=None, end=None, tz=tz, now=DEMO_NOW
    )
    assert again == result


def test_the_verdict_cache_never_changes_a_verdict(db, runner, people, tmp_path, monkeypatch):
    """Keying verdicts on the facts the policy reads gives what evaluating every reply
    on its own gives, for a policy that reads nearly every fact."""
    runner.invoke(args=["import-history", str(SAMPLE)])
    imported(
        runner,
        tmp_path,
        *(
            story(
                f"s{n}",
                at(8 + n % 12, n),
                wait=(n * 37) % 150 or None,
                reply="Hello!" if n % 3 else "Sorry it was late.",
            )
            for n in range(1, 40)
        ),
    )
    org = get_organisation(db)
    org.watch_list = ["late"]
    db.commit()
    rules = [
        {"conditions": {"sentiment_below": -0.05}, "outcome": "blocked"},
        {"conditions": {"watch_list_in": "draft"}, "outcome": "needs_approval", "steps": ONE},
        {
            "conditions": {"followers_at_least": 100, "categories": ["to_brand"]},
            "outcome": "needs_approval",
            "steps": ONE,
        },
        {
            "conditions": {"author_approved_fewer_than": 3},
            "outcome": "needs_approval",
            "steps": ONE,
        },
        {"conditions": {"author_roles": ["agent"], "unedited_stock": True}, "outcome": "publish"},
        {"conditions": {"author_trusted": True, "intents": ["question"]}, "outcome": "publish"},
        {"conditions": {"outside_business_hours": True}, "outcome": "needs_approval", "steps": ONE},
        {"conditions": {}, "outcome": "publish"},
    ]
    policies.create_policy(
        db, name="Everything", rules=rules, escalate_after_minutes=None, actor=None, now=NOW
    )
    db.commit()
    cached = replay(db, "Everything")
    assert 0 < cached.estimated.blocked < cached.estimated.needs_approval < cached.estimated.replies
    monkeypatch.setattr(whatif._Judge, "_key_function", lambda self: lambda row: row[0])
    assert replay(db, "Everything") == cached
