"""A manager asks what last week would have looked like under "Trusted staff free"."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from playwright.sync_api import expect

from respondr.domain import history_import
from respondr.domain.presets import ensure_presets
from respondr.extensions import db as flask_db
from respondr.timeutil import utcnow
from tests import factories
from tests.browser.conftest import PHONE, screenshot_path
from tests.browser.test_inbox import signed_in
from tests.browser.test_policies import fits_the_width
from tests.test_whatif import at, story


def seed_history(live_server) -> None:
    """Bernie's and Maya's replies all waited for Carol; Maya is trusted."""
    with live_server.app.app_context():
        session = flask_db.session
        ensure_presets(session, now=utcnow())
        factories.create_channel(session, name="Bernie the Bookworm", sla_minutes=60)
        factories.create_user(session, name="Bernie Adler", email="bernie@example.com")
        factories.create_user(session, name="Maya Okafor", email="maya@example.com", trusted=True)
        factories.create_user(
            session, name="Carol Whitfield", email="carol@example.com", roles="approver"
        )
        lines = [
            story(f"b{n}", at(9 + n, 5), wait=40 + 30 * n, by="bernie@example.com")
            for n in range(4)
        ] + [
            story(f"m{n}", at(9 + n, 35), wait=50 + 25 * n, by="maya@example.com") for n in range(4)
        ]
        rows = enumerate(lines, start=1)
        report = history_import.import_rows(session, rows, now=datetime(2026, 1, 6, tzinfo=UTC))
        assert (report.created, report.rejected) == (8, [])
        session.commit()


def test_manager_replays_a_day_under_trusted_staff_free(
    new_page, live_server, make_live_user, console_errors
):
    seed_history(live_server)
    mona = make_live_user(name="Mona Manager", roles="manager")

    page = signed_in(new_page, live_server, mona)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="What-if").click()
    expect(
        page.get_by_role("heading", name="What if another policy had been in force?")
    ).to_be_visible()
    page.get_by_label("From").fill("2026-01-05")
    page.get_by_label("To (not included)").fill("2026-01-06")
    page.get_by_label("Policy to replay").select_option(label="Trusted staff free")
    page.get_by_role("button", name="Replay the period").click()

    expect(
        page.get_by_role("heading", name="Trusted staff free v1 against what happened")
    ).to_be_visible()
    table = page.locator("#whatif-table")
    needed = table.get_by_role("row", name="Needed approval")
    expect(needed.get_by_role("cell")).to_have_text(["8", "4"])
    # Bernie's waits (40–130 min) stay; Maya's replies go out 11 minutes after arrival.
    median = table.get_by_role("row", name="Time to first response, p50")
    expect(median.get_by_role("cell")).to_have_text(["1 h 38 min", "31 min"])
    expect(page.locator("#assumptions li").first).to_contain_text(
        "replayed through Trusted staff free v1"
    )
    expect(page.get_by_text("4 replies would no longer have waited for approval")).to_be_visible()
    page.screenshot(path=screenshot_path("whatif-trusted-staff-free"), full_page=True)

    phone = signed_in(partial(new_page, viewport=PHONE), live_server, mona)
    phone.goto(live_server.url + "/reports/whatif")
    phone.get_by_label("From").fill("2026-01-05")
    phone.get_by_label("To (not included)").fill("2026-01-06")
    phone.get_by_label("Policy to replay").select_option(label="Trusted staff free")
    phone.get_by_role("button", name="Replay the period").click()
    expect(phone.locator("#whatif-table")).to_be_visible()
    phone.screenshot(path=screenshot_path("whatif-phone"), full_page=True)
    assert fits_the_width(phone)
    assert console_errors == []
