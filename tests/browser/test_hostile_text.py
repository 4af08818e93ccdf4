"""Hostile fan text in Chromium: ingested over real HTTP, shown as text, and no script runs."""

from __future__ import annotations

import requests
from playwright.sync_api import expect

from respondr.domain import accounts, claims, drafting
from respondr.extensions import db as flask_db
from respondr.models import Message, User
from respondr.timeutil import utcnow
from tests import factories
from tests.browser.conftest import screenshot_path
from tests.browser.test_inbox import signed_in
from tests.test_hostile_text import HOSTILE, HOSTILE_HANDLES, HOSTILE_NAMES

DANGEROUS = ("script", "img-onerror", "attribute-breakout", "javascript-link", "svg-onload")


def test_hostile_text_is_shown_as_text_and_runs_nothing(
    new_page, live_server, make_live_user, console_errors
):
    viewer = make_live_user(name="Vera Viewer", roles="agent,approver,manager,admin")
    with live_server.app.app_context():
        session = flask_db.session
        channel_id = factories.create_channel(session).id
        token = accounts.create_api_token(
            session, session.get(User, viewer.id), actor=None, now=utcnow()
        )
        session.commit()
    items = [
        {
            "channel": channel_id,
            "external_id": f"browser-{key}",
            "author": {
                "handle": HOSTILE_HANDLES.get(key, f"browser_{key}"),
                **({"name": HOSTILE_NAMES[key]} if key in HOSTILE_NAMES else {}),
            },
            "text": HOSTILE[key],
            "posted_at": "2026-11-01T09:00:00+00:00",
        }
        for key in (*DANGEROUS, "direction-overrides", "right-to-left", "emoji")
    ]
    answer = requests.post(
        live_server.url + "/api/v1/messages",
        json={"messages": items},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code in (200, 201), answer.text
    ids = {
        item["external_id"]: result["id"]
        for item, result in zip(items, answer.json()["results"], strict=True)
    }
    with live_server.app.app_context():  # one of them waits for approval, quoting the fan
        session = flask_db.session
        message = session.get(Message, ids["browser-script"])
        agent = factories.create_user(session, roles="agent")
        claims.claim(session, message, actor=agent, now=utcnow())
        draft = drafting.save_draft(
            session,
            message,
            author=agent,
            text="You wrote: " + message.text,
            version=None,
            now=utcnow(),
        )
        drafting.submit(session, draft, actor=agent, now=utcnow(), ask_for_approval=True)
        session.commit()

    page = signed_in(new_page, live_server, viewer)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    paths = ["/", "/approvals", *(f"/messages/{ids[f'browser-{key}']}" for key in DANGEROUS)]
    paths.append(f"/messages/{ids['browser-direction-overrides']}")
    for path in paths:
        page.goto(live_server.url + path)
        page.wait_for_load_state("load")
        if path.startswith("/messages/"):
            message_id = int(path.rsplit("/", 1)[1])
            key = next(i["external_id"] for i in items if ids[i["external_id"]] == message_id)
            expected = HOSTILE[key.removeprefix("browser-")]
            expect(page.locator("p.fan-text").first).to_have_text(expected, use_inner_text=False)
        for element in ("img", "svg", "iframe", "a[href^='javascript']", "[onerror]", "h1 + h1"):
            assert page.locator(element).count() == 0, f"{element} on {path}"
        assert page.evaluate("typeof window.h4pwned") == "undefined", path
        # Hovering and focusing every fan text triggers nothing either.
        for text in page.locator(".fan-text").all()[:20]:
            text.hover()
        assert page.evaluate("typeof window.h4pwned") == "undefined", path
    page.goto(live_server.url + "/")
    page.screenshot(path=screenshot_path("hostile-text-inbox"), full_page=True)
    assert dialogs == []
    assert console_errors == []
