"""A manager reads the latency report on the demo data in a real browser: the bottleneck in
words, every chart drawn (a screenshot of each kept in test-artifacts/screenshots), a
change of range and grouping, a CSV download, and the live view refreshing itself."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from respondr.domain import demo
from respondr.domain.policies import find_policy, set_channel_policy
from respondr.extensions import db as flask_db
from respondr.models import Channel
from respondr.timeutil import utcnow
from tests import factories
from tests.browser.conftest import PHONE, LiveUser, screenshot_path
from tests.browser.test_inbox import fill_sign_in, signed_in

CHARTS = ("stages", "distribution", "trend", "queue_depth")
BOTTLENECK = re.compile(r"Approval wait is \d+% of time to first response\.")


@pytest.fixture(scope="module")
def demo_loaded(live_server):
    """The demo, and this week Jerry's blog moved to "Trusted staff free"."""
    with live_server.app.app_context():
        session = flask_db.session
        demo.load(session, now=utcnow(), only_if_empty=False)
        blog = session.scalars(select(Channel).where(Channel.name == "Jerry's blog")).one()
        set_channel_policy(
            session, blog, find_policy(session, "trusted-staff-free"), actor=None, now=utcnow()
        )
        session.commit()
        if session.get_bind().dialect.name == "postgresql":
            # Statistics, as autovacuum would gather them: without any, PostgreSQL plans the
            # report's joins for empty tables and takes seconds instead of a fraction of one.
            session.connection().exec_driver_sql("ANALYZE")
            session.commit()
    return LiveUser(id=0, email="jerry@example.com", name="Jerry", password=demo.DEMO_PASSWORD)


def charts_drawn(page: Page) -> None:
    for name in CHARTS:
        canvas = page.locator(f'canvas[data-chart="{name}"]')
        expect(canvas).to_have_attribute("data-rendered", "true")
        # Something was painted: the canvas is not one flat colour.
        painted = page.evaluate(
            """(name) => {
                const c = document.querySelector(`canvas[data-chart="${name}"]`);
                const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
                const seen = new Set();
                for (let i = 0; i < data.length; i += 4 * 97) {
                    seen.add(data.slice(i, i + 4).join());
                }
                return seen.size;
            }""",
            name,
        )
        assert painted > 3, f"chart {name} looks empty"


def test_manager_walks_through_the_latency_report(
    new_page, live_server, demo_loaded, console_errors, tmp_path
):
    page = signed_in(new_page, live_server, demo_loaded)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Time to first response", level=1)).to_be_visible()
    expect(page.locator("#bottleneck")).to_have_text(BOTTLENECK)
    charts_drawn(page)
    for name in CHARTS:
        page.locator(f'canvas[data-chart="{name}"]').scroll_into_view_if_needed()
        page.locator(f'figure:has(canvas[data-chart="{name}"])').screenshot(
            path=screenshot_path(f"report-chart-{name}")
        )
    page.locator("#heatmap").screenshot(path=screenshot_path("report-chart-heatmap"))
    page.locator("#approver-hours").screenshot(path=screenshot_path("report-chart-approver-hours"))
    page.screenshot(path=screenshot_path("report-latency-page"), full_page=True)
    # This week's policy change is marked on the trend and listed under it.
    expect(page.locator("#table-trend tbody tr").last).to_contain_text(
        "Jerry's blog: Corporate clears all → Trusted staff free"
    )
    expect(page.locator("#table-policy_changes")).to_contain_text("Trusted staff free")

    # Two weeks, by approver.
    today = utcnow().date()
    start, end = today - timedelta(days=14), today + timedelta(days=1)
    page.get_by_label("From").fill(start.isoformat())
    page.get_by_label("To (not included)").fill(end.isoformat())
    page.get_by_label("Group by").select_option("approver")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(rf"from={start}&to={end}&group_by=approver"))
    expect(page.get_by_role("heading", name="Where the time goes, by approver")).to_be_visible()
    expect(page.locator("#table-stages tbody")).to_contain_text("Carol Whitfield")
    expect(page.locator("#bottleneck")).to_have_text(BOTTLENECK)
    charts_drawn(page)
    page.locator('figure:has(canvas[data-chart="stages"])').screenshot(
        path=screenshot_path("report-chart-stages-by-approver")
    )

    # The distribution's CSV, as a download.
    with page.expect_download() as download_info:
        page.locator("#table-distribution caption").get_by_role("link", name="CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"respondr-distribution-{start}-to-{end}.csv"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert [row["bucket"] for row in rows] == list(
        ("under 1 h", "1–4 h", "4–8 h", "8–24 h", "over 24 h")
    )
    on_page = page.locator("#table-distribution tbody tr").all_inner_texts()
    assert [int(row["replies"]) for row in rows] == [int(text.split("\t")[1]) for text in on_page]
    assert console_errors == []


def test_the_live_view_refreshes_itself(new_page, live_server, demo_loaded, console_errors):
    page = signed_in(new_page, live_server, demo_loaded)
    page.goto(live_server.url + "/reports/live")
    expect(page.get_by_role("heading", name="Oldest waiting message")).to_be_visible()
    depth = page.locator('[data-figure="queue_depth"]')
    before = int(depth.inner_text())
    with live_server.app.app_context():
        channel = flask_db.session.query(Channel).order_by(Channel.id).first()
        factories.create_message(flask_db.session, channel, text="<b>Are you open?</b>")
    expect(depth).to_have_text(str(before + 1), timeout=25_000)
    page.screenshot(path=screenshot_path("report-live"), full_page=True)
    assert console_errors == []


def test_the_report_fits_a_phone(new_page, live_server, demo_loaded, console_errors):
    page = new_page(viewport=PHONE)
    page.goto(live_server.url + "/login")
    fill_sign_in(page, demo_loaded.email, demo_loaded.password)
    page.goto(live_server.url + "/reports/latency")
    expect(page.locator("#bottleneck")).to_have_text(BOTTLENECK)
    charts_drawn(page)
    # Wide tables scroll inside their own box; the page itself never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=screenshot_path("report-latency-phone"), full_page=False)
    assert console_errors == []
