"""The reply box saves the draft as the agent types, with every version kept."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from respondr.extensions import db as flask_db
from respondr.models import Draft, DraftVersion
from tests import factories
from tests.browser.conftest import FAILED_TO_LOAD, screenshot_path
from tests.browser.test_inbox import signed_in


def birthday_message(live_server, handle: str) -> int:
    """A fan's message on a channel of its own (the module's tests share one database)."""
    with live_server.app.app_context():
        session = flask_db.session
        channel = factories.create_channel(session)
        message = factories.create_message(session, channel, text="Birthday today!", handle=handle)
        return message.id


def versions(live_server, message_id: int) -> list[str]:
    with live_server.app.app_context():
        session = flask_db.session
        texts = session.scalars(
            select(DraftVersion.text)
            .join(DraftVersion.draft)
            .where(Draft.message_id == message_id)
            .order_by(DraftVersion.number)
        ).all()
        flask_db.session.remove()
    return list(texts)


def test_typing_saves_the_draft_without_pressing_a_button(
    new_page, live_server, make_live_user, console_errors
):
    message_id = birthday_message(live_server, "lena")
    bernie = make_live_user(name="Bernie Adler")
    agent = signed_in(new_page, live_server, bernie)
    agent.get_by_role("link", name="Lena").click()
    reply = agent.get_by_label("Your reply to Lena")
    saved = agent.locator("#autosave-status")

    reply.press_sequentially("Happy birthday")
    expect(saved).to_have_text("Saved · version 1")
    expect(agent.get_by_text("You have claimed this message.")).to_be_visible()
    expect(agent.get_by_role("button", name="Claim")).to_have_count(0)
    reply.press_sequentially(", Lena!")
    expect(saved).to_have_text("Saved · version 2")
    agent.screenshot(path=screenshot_path("reply-autosaved"), full_page=True)
    # Typing and taking it back changes nothing: no version for unchanged text.
    reply.press_sequentially("x")
    reply.press("Backspace")
    reply.blur()
    agent.wait_for_timeout(2000)
    assert versions(live_server, message_id) == ["Happy birthday", "Happy birthday, Lena!"]

    agent.reload()
    expect(reply).to_have_value("Happy birthday, Lena!")
    expect(agent.get_by_text("You have claimed this message.")).to_be_visible()
    # The buttons still work, even pressed while a save is in flight.
    reply.press("Control+End")
    reply.press_sequentially(" Enjoy!")
    agent.get_by_role("button", name="Save draft").click()
    expect(agent.locator(".flash")).to_have_text("Draft saved.")
    expect(reply).to_have_value("Happy birthday, Lena! Enjoy!")
    assert versions(live_server, message_id)[-1] == "Happy birthday, Lena! Enjoy!"
    assert console_errors == []


def test_a_second_tab_is_told_the_draft_moved_on(
    new_page, live_server, make_live_user, console_errors
):
    birthday_message(live_server, "maud")
    bernie = make_live_user(name="Bernie Adler")
    first = signed_in(new_page, live_server, bernie)
    first.get_by_role("link", name="Maud").click()
    first.get_by_label("Your reply to Maud").press_sequentially("Happy birthday!")
    expect(first.locator("#autosave-status")).to_have_text("Saved · version 1")

    second = signed_in(new_page, live_server, bernie)
    second.get_by_role("link", name="Maud").click()
    first.get_by_label("Your reply to Maud").press_sequentially(" From all of us.")
    expect(first.locator("#autosave-status")).to_have_text("Saved · version 2")
    second.get_by_label("Your reply to Maud").press_sequentially(" See you soon.")
    expect(second.locator("#autosave-status")).to_have_text(
        "Someone else changed this draft — reload to see their version"
    )
    second.reload()
    expect(second.get_by_label("Your reply to Maud")).to_have_value(
        "Happy birthday! From all of us."
    )
    assert [e.rsplit(" (", 1)[0] for e in console_errors] == [f"{FAILED_TO_LOAD} 409 (CONFLICT)"]


def test_a_draft_too_long_to_save_says_why(new_page, live_server, make_live_user, console_errors):
    birthday_message(live_server, "otto")
    bernie = make_live_user(name="Bernie Adler")
    agent = signed_in(new_page, live_server, bernie)
    agent.get_by_role("link", name="Otto").click()
    reply = agent.get_by_label("Your reply to Otto")
    # The textarea stops typing at 50,000 characters; a script could still go past it.
    reply.evaluate("box => { box.removeAttribute('maxlength'); box.value = 'x'.repeat(50001); }")
    reply.press_sequentially("!")
    expect(agent.locator("#autosave-status")).to_have_text(
        "Not saved: A reply can be at most 50,000 characters."
    )
    assert [e.rsplit(" (", 1)[0] for e in console_errors] == [f"{FAILED_TO_LOAD} 400 (BAD REQUEST)"]
