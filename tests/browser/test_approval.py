"""The heart of respondr in a real browser: a held reply, cleared by corporate."""

from __future__ import annotations

from playwright.sync_api import expect

from respondr.domain.policies import find_policy, set_channel_policy
from respondr.domain.presets import ensure_presets
from respondr.extensions import db as flask_db
from respondr.models import StockResponse
from respondr.timeutil import utcnow
from tests import factories
from tests.browser.conftest import screenshot_path
from tests.browser.test_inbox import signed_in


def test_agent_drafts_from_stock_is_held_and_the_approver_edits_and_approves(
    new_page, live_server, make_live_user, console_errors
):
    with live_server.app.app_context():
        session = flask_db.session
        ensure_presets(session, now=utcnow())
        channel = factories.create_channel(session, name="Bernie the Bookworm")
        set_channel_policy(
            session, channel, find_policy(session, "corporate-clears-all"), actor=None, now=utcnow()
        )
        factories.create_message(
            session, channel, text="It's my birthday! Love your shops.", handle="lena"
        )
        session.add(
            StockResponse(
                title="Happy birthday", text="Happy birthday, {fan_name}!", pre_approved=True
            )
        )
        session.commit()
    bernie = make_live_user(name="Bernie Adler")
    carol = make_live_user(name="Carol Whitfield", roles="approver")

    agent = signed_in(new_page, live_server, bernie)
    agent.get_by_role("link", name="Lena").click()
    agent.get_by_label("Start from a stock response").select_option(
        label="Happy birthday (pre-approved)"
    )
    agent.get_by_role("button", name="Insert").click()
    reply = agent.get_by_label("Your reply to Lena")
    expect(reply).to_have_value("Happy birthday, Lena!")
    agent.get_by_role("button", name="Submit reply").click()
    held = "Needs approval: every reply is cleared by corporate — rule 1 of Corporate clears all v1"
    expect(agent.locator(".verdict")).to_contain_text(held)
    agent.screenshot(path=screenshot_path("reply-held"), full_page=True)

    approver = signed_in(new_page, live_server, carol)
    approver.get_by_role("link", name="Approvals").click()
    expect(
        approver.get_by_text("Held because: needs approval: every reply is cleared")
    ).to_be_visible()
    approver.get_by_label("The reply (edit it to change what goes out)").fill(
        "Happy birthday, Lena! Enjoy a free bookmark at any store."
    )
    approver.screenshot(path=screenshot_path("approval-queue"), full_page=True)
    approver.get_by_role("button", name="Approve").click()
    expect(approver.get_by_text("Nothing is waiting for approval.")).to_be_visible()

    agent.reload()
    expect(agent.locator(".decision")).to_contain_text("Carol Whitfield approved after editing it")
    expect(agent.locator(".draft-text")).to_have_text(
        "Happy birthday, Lena! Enjoy a free bookmark at any store."
    )
    agent.get_by_role("link", name="History").click()
    expect(agent.get_by_role("heading", name="History of the reply to Lena")).to_be_visible()
    edit = agent.locator(".history .by-approver")
    expect(edit).to_contain_text("Carol Whitfield edited it while approving: version 2")
    expect(edit.locator("ins")).to_have_text(" Enjoy a free bookmark at any store.")
    agent.screenshot(path=screenshot_path("draft-history"), full_page=True)
    agent.get_by_role("link", name="Notifications").click()
    expect(
        agent.get_by_text("Carol Whitfield approved your reply after editing it")
    ).to_be_visible()
    assert console_errors == []
