"""The latency report and live view in the browser's terms: what a manager sees, downloads
and may not see; every number from the same tables as the API and the CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from respondr.domain import demo, drafting, policies
from respondr.domain.presets import ensure_presets
from respondr.timeutil import utcnow
from tests.conftest import sign_in

pytestmark = pytest.mark.filterwarnings("error")


def rows_of(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def manager(client, make_user):
    user = make_user(roles="manager", email="manager@example.com")
    assert sign_in(client, "manager@example.com").status_code == 302
    return user


def test_on_the_demo_the_report_names_approval_wait_as_the_bottleneck(client, db):
    now = utcnow()
    demo.load(db, now=now, only_if_empty=False)
    db.commit()
    assert sign_in(client, "jerry@example.com", demo.DEMO_PASSWORD).status_code == 302

    page = client.get("/reports/latency")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    sentence = re.search(r'id="bottleneck">([^<]+)<', html).group(1)
    assert re.fullmatch(r"Approval wait is \d+% of time to first response\.", sentence)
    for name in ("stages", "distribution", "trend"):
        assert f'data-chart="{name}"' in html
    agents = re.search(r'id="table-agents">(.*?)</table>', html, re.S).group(1)
    assert "Maya Okafor" in agents and "Bernie Adler" in agents
    approvers = re.search(r'id="table-approvers">(.*?)</table>', html, re.S).group(1)
    assert "Carol Whitfield" in approvers
    heat = re.search(r'id="heatmap">(.*?)</table>', html, re.S).group(1)
    assert heat.count("<tr>") == 8 and "Monday" in heat  # a header and seven days
    assert re.search(r'class="shade-[1-5]">\d+\.\d<', heat)  # shaded cells print hours
    neglected = re.search(r'id="table-neglected">(.*?)</table>', html, re.S).group(1)
    assert "Bernie" in neglected or "Facebook" in neglected

    # The same bottleneck through the CSV and the JSON API.
    start = (now - timedelta(days=28)).date().isoformat()
    end = (now + timedelta(days=1)).date().isoformat()
    query = f"from={start}&to={end}&group_by=channel"
    summary = rows_of(client.get(f"/reports/latency.csv?table=summary&{query}").text)
    assert summary[0]["bottleneck"].startswith("Approval wait is ")
    api = client.get(f"/api/v1/reports/latency?{query}").get_json()
    assert api["bottleneck"]["stage"] == "approval_wait"
    assert api["tables"]["summary"]["rows"][0]["answered"] == int(summary[0]["answered"])


def test_manager_changes_range_and_grouping(client, db, manager, make_channel, make_message):
    channel = make_channel(name="Twitter")
    make_message(channel, received_at=datetime(2026, 3, 3, 12, tzinfo=UTC))
    page = client.get("/reports/latency?from=2026-03-01&to=2026-03-08&group_by=category")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'value="2026-03-01"' in html and 'value="2026-03-08"' in html
    assert '<option value="category" selected>' in html
    assert "No replies were published in this period" in html
    # One open message: counted, never silently dropped.
    figures = re.search(r'id="figures">(.*?)</dl>', html, re.S).group(1)
    assert "Open (unanswered)</dt><dd>1" in figures


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("from=2026-13-01", "from", "from must be a date"),
        ("from=2026-03-08&to=2026-03-01", "to", "to must be after from"),
        ("group_by=colour", "group_by", "group_by must be one of"),
    ],
)
def test_bad_input_is_explained_on_the_page(client, manager, query, field, words):
    page = client.get(f"/reports/latency?{query}")
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert words in html
    assert 'aria-invalid="true"' in html
    assert client.get(f"/reports/latency.csv?{query}").status_code == 400


def test_csv_download_names_the_table_and_defuses_formulas(
    client, manager, make_channel, make_message
):
    at = datetime(2026, 3, 3, 12, tzinfo=UTC)
    make_message(make_channel(name='=HYPERLINK("http://evil")'), received_at=at)
    make_message(make_channel(name="@Plain"), received_at=at)
    response = client.get(
        "/reports/latency.csv?table=sla&from=2026-03-01&to=2026-03-08&group_by=channel"
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="respondr-sla-2026-03-01-to-2026-03-08.csv"'
    )
    channels = sorted(row["channel"] for row in rows_of(response.text))
    assert channels == ['\'=HYPERLINK("http://evil")', "'@Plain"]
    unknown = client.get("/reports/latency.csv?table=nope")
    assert unknown.status_code == 400 and "summary" in unknown.text


def test_every_table_on_the_page_has_a_csv(client, manager):
    html = client.get("/reports/latency?from=2026-03-01&to=2026-03-08").get_data(as_text=True)
    links = re.findall(r'href="(/reports/latency\.csv\?[^"]+)"', html)
    tables = {re.search(r"table=(\w+)", link).group(1) for link in links}
    assert {"summary", "stages", "distribution", "trend", "agents", "sla", "groups"} <= tables
    for link in links:
        response = client.get(link.replace("&amp;", "&"))
        assert response.status_code == 200, link
        assert "attachment" in response.headers["Content-Disposition"]


def test_a_policy_change_is_marked_in_the_weekly_trend(client, db, manager, make_channel):
    channel = make_channel(name="Facebook")
    risk_based = ensure_presets(db, now=utcnow())["risk-based"]
    db.commit()
    policies.set_channel_policy(db, channel, risk_based, actor=manager, now=utcnow())
    db.commit()
    today = utcnow().date()
    start, end = today - timedelta(days=14), today + timedelta(days=1)
    query = f"from={start}&to={end}&group_by="
    changes = rows_of(client.get(f"/reports/latency.csv?table=policy_changes&{query}").text)
    assert [row["change"] for row in changes] == ["Facebook: no policy → Risk-based"]
    html = client.get(f"/reports/latency?{query}").get_data(as_text=True)
    assert "Facebook: no policy → Risk-based" in html


def test_reports_are_for_managers_and_admins_only(app, db, make_user):
    for role in ("agent", "approver"):
        make_user(roles=role, email=f"{role}@example.com")
        client = app.test_client()
        sign_in(client, f"{role}@example.com")
        for path in (
            "/reports/latency",
            "/reports/latency.csv?table=summary",
            "/reports/live",
            "/reports/live/panel",
            "/api/v1/reports/latency",
        ):
            assert client.get(path).status_code == 403, (role, path)
        assert ">Reports<" not in client.get("/").get_data(as_text=True)
    make_user(roles="admin", email="admin@example.com")
    client = app.test_client()
    sign_in(client, "admin@example.com")
    assert client.get("/reports/latency").status_code == 200
    assert ">Reports<" in client.get("/").get_data(as_text=True)


# --------------------------------------------------------------------------- live view


def test_live_view_shows_what_waits_now_with_fan_text_escaped(
    client, db, manager, make_user, make_channel, make_message
):
    now = utcnow()
    channel = make_channel(name="Facebook", sla_minutes=60)
    oldest = make_message(
        channel,
        text="<script>alert('x')</script> where is my order?",
        handle="mallory",
        received_at=now - timedelta(minutes=50),
    )
    make_message(channel, text="Fine thanks", received_at=now - timedelta(minutes=5))
    agent = make_user(roles="agent", name="Agnes Agent")
    make_user(roles="approver", name="Carl Approver")
    draft = drafting.save_draft(
        db, make_message(channel), author=agent, text="Hello", version=None, now=now
    )
    drafting.submit(db, draft, actor=agent, now=now)
    db.commit()

    for path in ("/reports/live", "/reports/live/panel"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; where is my order?" in html
        assert f"/messages/{oldest.id}" in html
        about = re.search(r'id="about-to-breach">(.*?)</table>', html, re.S).group(1)
        assert "Mallory" in about and "Fine thanks" not in about  # due in 10 min, not 55
        approvers = re.search(r'id="pending-approvers">(.*?)</table>', html, re.S).group(1)
        assert re.search(r"Carl Approver</th><td>1<", approvers)
        assert 'data-figure="awaiting_approval">1<' in html
    assert 'data-panel-url="/reports/live/panel"' in client.get("/reports/live").text


def test_an_unknown_date_format_in_the_api_is_a_field_error(client, manager):
    response = client.get("/api/v1/reports/latency?from=yesterday")
    assert response.status_code == 400
    assert response.get_json() == {"error": "from must be a date as YYYY-MM-DD.", "field": "from"}
