"""A manager sets a channel's policy and tries a complaint on Risk-based, in a browser."""

from __future__ import annotations

from functools import partial

from playwright.sync_api import Page, expect

from respondr.domain.presets import ensure_presets
from respondr.extensions import db as flask_db
from respondr.timeutil import utcnow
from tests import factories
from tests.browser.conftest import PHONE, screenshot_path
from tests.browser.test_inbox import signed_in

COMPLAINT_HELD = "needs approval: the message is a complaint — rule 2 of Risk-based v1"


def fits_the_width(page: Page) -> bool:
    """No horizontal scroll: nothing sticks out of the viewport."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_manager_sets_a_channel_policy_and_tries_a_complaint(
    new_page, live_server, make_live_user, console_errors
):
    with live_server.app.app_context():
        session = flask_db.session
        risk_based_id = ensure_presets(session, now=utcnow())["risk-based"].id
        channel = factories.create_channel(session, name="Bernie the Bookworm")
        message = factories.create_message(
            session, channel, text="Your Leeds shop lost my special order. Again.", handle="wes"
        )
        message.intent, message.sentiment_score = "complaint", 0.0
        session.commit()
        message_id = message.id
    mona = make_live_user(name="Mona Manager", roles="manager")

    page = signed_in(new_page, live_server, mona)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Policies").click()
    expect(page.get_by_role("heading", name="Approval policies", level=1)).to_be_visible()
    page.get_by_label("Policy for Bernie the Bookworm").select_option(label="Trusted staff free")
    page.get_by_role("row", name="Bernie the Bookworm").get_by_role("button", name="Set").click()
    expect(page.get_by_role("status")).to_have_text(
        "Bernie the Bookworm now follows Trusted staff free."
    )
    trusted_row = page.get_by_role("row").filter(
        has=page.get_by_role("link", name="Trusted staff free")
    )
    expect(trusted_row).to_contain_text("Bernie the Bookworm")
    page.screenshot(path=screenshot_path("policies-index"), full_page=True)

    page.get_by_role("link", name="Risk-based").click()
    expect(page.get_by_text("If the message is a complaint → needs approval")).to_be_visible()
    page.screenshot(path=screenshot_path("policy-risk-based"), full_page=True)
    page.get_by_role("button", name="Try it").click()  # a link styled as a button
    page.get_by_label("Message", exact=True).select_option(str(message_id))
    page.get_by_label("The reply").fill("We're so sorry, Wes. We'll find your order today.")
    page.get_by_role("button", name="Try it").click()
    expect(page.locator(".verdict")).to_have_text(COMPLAINT_HELD)
    page.screenshot(path=screenshot_path("policy-try-it"), full_page=True)

    phone = signed_in(partial(new_page, viewport=PHONE), live_server, mona)
    for path, name in [
        ("/policies", "index"),
        (f"/policies/{risk_based_id}", "risk-based"),
        (f"/policies/{risk_based_id}/edit", "edit"),
        (f"/policies/{risk_based_id}/try", "try-it"),
    ]:
        phone.goto(live_server.url + path)
        phone.screenshot(path=screenshot_path(f"policy-phone-{name}"), full_page=True)
        assert fits_the_width(phone), f"{path} scrolls sideways on a phone"
    phone.get_by_label("The reply").fill("So sorry, Wes.")
    phone.get_by_role("button", name="Try it").click()
    expect(phone.locator(".verdict")).to_have_text(COMPLAINT_HELD)
    expect(phone.locator(".verdict")).to_be_in_viewport()  # the answer comes first on a phone
    phone.screenshot(path=screenshot_path("policy-phone-try-it-verdict"), full_page=True)
    assert fits_the_width(phone)
    assert console_errors == []
