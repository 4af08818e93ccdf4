"""GET /api/v1/reports/latency: the report's tables as JSON for token callers, with the
same numbers as the page's CSV downloads, and field errors for bad input."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from respondr.domain import business_hours, metrics
from tests.conftest import sign_in
from tests.test_drafting_api import bearer
from tests.test_metrics import FREE, HELD, write

MONDAY = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # 09:00 in New York, 14:00 UTC
QUERY = "from=2026-03-02&to=2026-03-09"
AGES = {"oldest_open_s", "since_last_reply_s"}  # taken at each request's own "now"


@pytest.fixture
def history(db, make_user, make_channel):
    """Two answered messages (one held for approval for two hours, one free), one open."""
    agent = make_user(name="Agnes Agent")
    approver = make_user(name="Carl Approver", roles="approver")
    channel = make_channel(name="Facebook", sla_minutes=60)
    t = MONDAY
    write(
        db,
        channel,
        received_at=t,
        steps=[
            (t + timedelta(minutes=10), "claimed", agent.id, {}),
            (t + timedelta(minutes=15), "draft_started", agent.id, {}),
            (t + timedelta(minutes=20), "submitted", agent.id, HELD),
            (t + timedelta(minutes=140), "approved", approver.id, {"final": True}),
            (t + timedelta(minutes=141), "published", None, {}),
        ],
    )
    write(
        db,
        channel,
        received_at=t + timedelta(hours=1),
        steps=[
            (t + timedelta(minutes=65), "claimed", agent.id, {}),
            (t + timedelta(minutes=70), "draft_started", agent.id, {}),
            (t + timedelta(minutes=75), "submitted", agent.id, FREE),
            (t + timedelta(minutes=76), "published", None, {}),
        ],
    )
    write(db, channel, received_at=t + timedelta(days=1))
    db.commit()
    return agent, approver


def test_a_manager_token_gets_every_table_and_the_bottleneck(client, db, make_user, history):
    manager = make_user(roles="manager")
    response = client.get(
        f"/api/v1/reports/latency?{QUERY}&group_by=agent", headers=bearer(db, manager)
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["from"], body["to"], body["group_by"]) == ("2026-03-02", "2026-03-09", "agent")
    # 120 of the 141 + 16 minutes of time to first response were spent waiting for approval.
    assert body["bottleneck"]["stage"] == "approval_wait"
    assert body["bottleneck"]["sentence"] == "Approval wait is 76% of time to first response"
    summary = body["tables"]["summary"]["rows"][0]
    assert (summary["received"], summary["answered"], summary["open"]) == (3, 2, 1)
    assert summary["response_rate"] == round(2 / 3, 4)
    assert summary["sla_breached"] == 1 and summary["sla_met"] == 1
    stages = body["tables"]["stages"]["rows"]
    assert [row["group"] for row in stages] == ["Agnes Agent", "nobody"]
    assert stages[0]["approval_wait_mean_s"] == 3600.0  # 2 h over two answered replies
    approvers = body["tables"]["approvers"]["rows"]
    assert [(row["approver"], row["decisions"]) for row in approvers] == [("Carl Approver", 1)]
    columns = [column["key"] for column in body["tables"]["groups"]["columns"]]
    assert {f"{series}_p90_s" for series in metrics.SERIES} <= set(columns)


def test_the_api_and_the_csv_give_the_same_numbers(client, db, make_user, history):
    manager = make_user(roles="manager", email="m@example.com")
    headers = bearer(db, manager)
    body = client.get(f"/api/v1/reports/latency?{QUERY}", headers=headers).get_json()
    sign_in(client, "m@example.com")
    for name, table in body["tables"].items():
        text = client.get(f"/reports/latency.csv?table={name}&{QUERY}").text
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == [column["key"] for column in table["columns"]], name
        keep = [i for i, key in enumerate(rows[0]) if key not in AGES]
        expected = [
            ["" if row[key] is None else str(row[key]) for key in rows[0]] for row in table["rows"]
        ]
        assert [[row[i] for i in keep] for row in rows[1:]] == [
            [row[i] for i in keep] for row in expected
        ], name


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-02-30", "from"),
        ("to=tomorrow", "to"),
        ("from=2026-03-09&to=2026-03-02", "to"),
        ("group_by=mood", "group_by"),
        ("from=2020-01-01&to=5000-08-06", "from"),  # centuries: too long a period
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, db, make_user, query, field):
    manager = make_user(roles="manager")
    response = client.get(f"/api/v1/reports/latency?{query}", headers=bearer(db, manager))
    assert response.status_code == 400
    assert response.get_json()["field"] == field


def test_a_year_long_ago_is_an_empty_report(client, db, make_user):
    manager = make_user(roles="manager")
    query = "from=0775-05-15&to=0776-05-15"
    response = client.get(f"/api/v1/reports/latency?{query}", headers=bearer(db, manager))
    assert response.status_code == 200
    assert response.get_json()["tables"]["summary"]["rows"][0]["received"] == 0


def test_only_managers_and_admins_may_read_it(client, db, make_user):
    assert client.get("/api/v1/reports/latency").status_code == 401
    agent = make_user(roles="agent")
    response = client.get("/api/v1/reports/latency", headers=bearer(db, agent))
    assert response.status_code == 403
    admin = make_user(roles="admin")
    assert client.get("/api/v1/reports/latency", headers=bearer(db, admin)).status_code == 200


def test_business_hours_time_sits_beside_calendar_time(client, db, make_user, make_channel):
    agent = make_user()
    channel = make_channel(name="Shop desk")
    channel.business_hours = business_hours.validate_spec(
        {
            "timezone": "Europe/London",
            "hours": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
            "holidays": [],
        }
    )
    friday = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)  # 16:00 in London, an hour before closing
    monday = friday + timedelta(days=3, hours=-6)  # 10:00 on Monday
    write(
        db,
        channel,
        received_at=friday,
        steps=[
            (monday - timedelta(minutes=30), "claimed", agent.id, {}),
            (monday - timedelta(minutes=20), "draft_started", agent.id, {}),
            (monday - timedelta(minutes=10), "submitted", agent.id, FREE),
            (monday, "published", None, {}),
        ],
    )
    db.commit()
    manager = make_user(roles="manager")
    query = "from=2026-03-02&to=2026-03-09&group_by=channel"
    body = client.get(f"/api/v1/reports/latency?{query}", headers=bearer(db, manager)).get_json()
    calendar = body["tables"]["summary"]["rows"][0]["ttfr_p50_s"]
    assert calendar == 66 * 3600
    [row] = body["tables"]["business"]["rows"]
    assert row["group"] == "Shop desk"
    assert row["ttfr_p50_s"] == 2 * 3600  # Friday 16–17 and Monday 09–10
    assert row["queue_wait_p50_s"] == 3600 + 30 * 60
