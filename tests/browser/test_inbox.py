"""Two agents work the inbox in real browsers: filter, claim, and see each other."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from respondr.extensions import db as flask_db
from tests import factories
from tests.browser.conftest import screenshot_path
from tests.browser.test_sign_in import fill_sign_in


def seed_messages(live_server) -> None:
    with live_server.app.app_context():
        session = flask_db.session
        facebook = factories.create_channel(session, name="Bernie the Bookworm")
        blog = factories.create_channel(session, name="Jerry's blog", kind="blog")
        factories.create_message(
            session, facebook, text="Why was the Marian Holt signing cancelled?", handle="wes"
        )
        factories.create_message(session, blog, text="Lovely post about summer reads", handle="amy")
        session.commit()


def signed_in(new_page, live_server, user) -> Page:
    page = new_page()
    page.goto(live_server.url + "/login")
    fill_sign_in(page, user.email, user.password)
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    return page


def test_agent_filters_claims_and_a_colleague_sees_it_taken(
    new_page, live_server, make_live_user, console_errors
):
    seed_messages(live_server)
    bernie = make_live_user(name="Bernie Adler")
    maya = make_live_user(name="Maya Okafor")
    bernie_page = signed_in(new_page, live_server, bernie)
    maya_page = signed_in(new_page, live_server, maya)

    bernie_page.get_by_label("Channel").select_option(label="Bernie the Bookworm")
    bernie_page.get_by_role("button", name="Filter").click()
    rows = bernie_page.locator("table.inbox tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Marian Holt signing")
    bernie_page.get_by_role("link", name="Wes").click()
    bernie_page.get_by_role("button", name="Claim").click()
    expect(bernie_page.get_by_text("You have claimed this message.")).to_be_visible()
    bernie_page.screenshot(path=screenshot_path("message-claimed"), full_page=True)

    maya_page.reload()
    wes_row = maya_page.locator("table.inbox tbody tr", has_text="Marian Holt")
    expect(wes_row).to_contain_text("claimed by Bernie Adler")
    wes_row.get_by_role("link", name="Wes").click()
    expect(maya_page.get_by_text("Bernie Adler is working on this message")).to_be_visible()
    expect(maya_page.get_by_role("button", name="Claim")).to_have_count(0)
    # Bernie still has the page open: the heartbeat tells Maya he is there too.
    expect(maya_page.locator("#presence")).to_contain_text("Also viewing: Bernie Adler")
    maya_page.screenshot(path=screenshot_path("message-taken"), full_page=True)
    assert console_errors == []
