"""Hostile fan text: ingested through the API, then shown escaped and verbatim on every page.

The pages come from the URL map (every GET route, once per hostile message and draft), so a
new page that shows fan text is checked the day it is added. On each page: nothing the fans
wrote became markup (no event handlers, no inline or foreign scripts, no ``javascript:``
links, no images or frames), the raw text never appears unescaped in the HTML source, and
every fan-text element holds a stored text exactly (or the start of one, where a list
shortens it). tests/browser/test_hostile_text.py shows the same pages in Chromium.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import select

from respondr.domain import accounts, claims, drafting, triage
from respondr.domain.ingest import MAX_TEXT
from respondr.models import ROLES, Draft, Fan, Message, Note, StockResponse
from respondr.timeutil import utcnow
from tests import factories
from tests.conftest import sign_in
from tests.url_map import routes, seed, url_for_rule

NEEDLE = "hforfoursearch"  # a word that search finds in two of the texts

HOSTILE = {
    "script": f'<script>window.h4pwned = "script"</script> {NEEDLE}',
    "img-onerror": "<img src=x onerror=\"window.h4pwned='img'\">",
    "attribute-breakout": '" autofocus onfocus="window.h4pwned=\'attr\'" x="',
    "single-quote-breakout": "' onmouseover='window.h4pwned=1' '",
    "javascript-link": "<a href=\"javascript:window.h4pwned='link'\">click me</a>",
    "bare-javascript": "javascript:window.h4pwned='bare'",
    "svg-onload": "<svg/onload=window.h4pwned='svg'>",
    "closing-tags": "</p></div></blockquote></td></textarea><h1>Take over</h1>",
    "comment-and-cdata": "<!-- hidden --><![CDATA[ x ]]> <style>body{display:none}</style>",
    "entities": "&lt;b&gt; is already escaped &amp; so is &#x3C;this&#x3E; &quot;",
    "template-syntax": "{{ 7 * 7 }} {% if true %}yes{% endif %} ${7*7}",
    "direction-overrides": "Refund of \u202e001 DSU\u202c please \u2066isolated\u2069 \u200f!",
    "emoji": "Love it 😍🔥👍🏽 family 👩‍👩‍👧‍👦 flag 🇳🇱",
    "right-to-left": f"שלום, האם הספר זמין? مرحبا، هل الكتاب متوفر؟ {NEEDLE}",
    "whitespace": "  line one\n\n\tline two with a tab  \n",
    "hundred-kb": ("A long letter <b>with tags</b> & ampersands. " * 2400)[:MAX_TEXT],
}
HOSTILE_NAMES = {
    "img-onerror": "\"><img src=x onerror=window.h4pwned='name'>",
    "script": "<script>window.h4pwned='name'</script>",
    "direction-overrides": "\u202eMallory\u202c",
}
HOSTILE_HANDLES = {"script": "<b>mallory</b>", "attribute-breakout": '"onclick="x'}


@dataclass
class Hostile:
    viewer_email: str
    message_ids: list[int]
    draft_ids: list[int]
    values: dict[str, Any]
    texts: set[str]  # every text a fan-text element may show: messages, drafts, notes, stock
    names: set[str]


def ingest(client, token: str, channel_id: int) -> dict[str, Any]:
    items = []
    for n, (key, text) in enumerate(HOSTILE.items()):
        author = {"handle": HOSTILE_HANDLES.get(key, f"fan_{n}")}
        if key in HOSTILE_NAMES:
            author["name"] = HOSTILE_NAMES[key]
        items.append(
            {
                "channel": channel_id,
                "external_id": f"hostile-{key}",
                "author": author,
                "text": text,
                "posted_at": datetime(2026, 11, 1, 9, n, tzinfo=UTC).isoformat(),
            }
        )
    response = client.post(
        "/api/v1/messages",
        json={"messages": items},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return response.get_json()


@pytest.fixture
def hostile(client, db) -> Hostile:
    values = seed(db)
    viewer = factories.create_user(db, roles=ROLES, email="viewer@example.com", name="Vera")
    agent = factories.create_user(db, roles="agent", name="Agent Quinn")
    channel = factories.create_channel(db)
    token = accounts.create_api_token(db, viewer, actor=None, now=utcnow())
    db.commit()
    answer = ingest(client, token, channel.id)
    message_ids = []
    for result in answer["results"]:
        assert result["status"] == "created", result
        message_ids.append(result["id"])
    draft_ids = []
    now = utcnow()
    for message_id in message_ids:
        message = db.get(Message, message_id)
        claims.claim(db, message, actor=agent, now=now)
        quoted = f"Thanks! You wrote: {message.text[:3000]}"
        draft = drafting.save_draft(db, message, author=agent, text=quoted, version=None, now=now)
        drafting.submit(db, draft, actor=agent, now=now, ask_for_approval=True)
        triage.add_note(db, message, text=f"Fan said: {message.text[:4000]}", actor=agent, now=now)
        draft_ids.append(draft.id)
    db.commit()
    texts = set(db.scalars(select(Message.text))) | set(db.scalars(select(Draft.text)))
    texts |= set(db.scalars(select(Note.text))) | set(db.scalars(select(StockResponse.text)))
    names = set(db.scalars(select(Fan.display_name))) | set(db.scalars(select(Fan.handle)))
    return Hostile("viewer@example.com", message_ids, draft_ids, values, texts, names)


def test_nul_characters_are_refused_at_ingest_with_a_field_error(client, db, make_channel):
    viewer = factories.create_user(db, roles="admin")
    token = accounts.create_api_token(db, viewer, actor=None, now=utcnow())
    channel = make_channel()
    db.commit()
    for field, item in [
        ("text", {"text": "before\x00after"}),
        ("author.name", {"text": "fine", "author": {"handle": "nul", "name": "Nu\x00ll"}}),
    ]:
        body = {
            "channel": channel.id,
            "external_id": f"nul-{field}",
            "author": {"handle": "nul"},
            "posted_at": "2026-11-01T09:00:00+00:00",
            **item,
        }
        response = client.post(
            "/api/v1/messages", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 400
        assert response.get_json()["field"] == field
        assert "NUL character" in response.get_json()["error"]
    assert db.scalar(select(Message).where(Message.external_id.like("nul-%"))) is None


def test_a_text_over_the_limit_is_refused_whole(client, db, make_channel):
    viewer = factories.create_user(db, roles="admin")
    token = accounts.create_api_token(db, viewer, actor=None, now=utcnow())
    channel = make_channel()
    db.commit()
    body = {
        "channel": channel.id,
        "external_id": "too-long",
        "author": {"handle": "wordy"},
        "posted_at": "2026-11-01T09:00:00+00:00",
        "text": "x" * (MAX_TEXT + 1),
    }
    response = client.post(
        "/api/v1/messages", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 400
    assert response.get_json()["field"] == "text"
    assert db.scalar(select(Message).where(Message.external_id == "too-long")) is None


def test_hostile_text_is_stored_verbatim(db, hostile):
    stored = {m.external_id: m.text for m in db.scalars(select(Message))}
    for key, text in HOSTILE.items():
        assert stored[f"hostile-{key}"] == text, key


VOID = {"input", "meta", "link", "br", "hr", "img", "source", "col", "wbr", "area", "embed"}


class Page(HTMLParser):
    """The parts of a page this test judges: every tag with its attributes, the text of
    each ``.fan-text`` element and of each ``.fan`` (a fan's name), inline script."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.collected: dict[str, list[str]] = {"fan-text": [], "fan": []}
        self.inline_script = ""
        self._data_island = False
        self._open: list[tuple[str, str | None]] = []  # (tag, what it collects)
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.tags.append((tag, named))
        if tag == "script":
            self._data_island = named.get("type") == "application/json"
        if tag in VOID:
            return
        classes = (named.get("class") or "").split()
        kind = next((k for k in ("fan-text", "fan") if k in classes), None)
        if kind:
            self.collected[kind].append("")
        self._open.append((tag, kind))

    def handle_endtag(self, tag: str) -> None:
        if any(open_tag == tag for open_tag, _ in self._open):
            while self._open.pop()[0] != tag:
                pass

    def handle_data(self, data: str) -> None:
        for _, kind in self._open:
            if kind:
                self.collected[kind][-1] += data
        if self._open and self._open[-1][0] == "script" and not self._data_island:
            self.inline_script += data


def shown_verbatim(shown: str, known: set[str]) -> bool:
    """Exactly a known text, or a list's shortening of one (its start, then "...")."""
    if shown in known:
        return True
    return shown.endswith("...") and any(t.startswith(shown[:-3]) for t in known)


def injected(page: Page) -> list[str]:
    """Markup that only a fan could have put there."""
    found = []
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            if name.startswith("on") or name == "autofocus":
                found.append(f"<{tag} {name}>")
            if name in {"href", "src", "action", "formaction"} and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                found.append(f"<{tag} {name}={value}>")
        if tag in {"img", "svg", "iframe", "object", "embed", "style", "base"}:
            found.append(f"<{tag}>")
        if tag == "script" and attrs.get("type") == "application/json":
            continue  # a data island (tojson escapes "<"): the browser never runs it
        if tag == "script" and not (attrs.get("src") or "").startswith("/static/"):
            found.append(f"<script src={attrs.get('src')}>")
    if page.inline_script.strip():
        found.append("inline script")
    return found


def pages(app, hostile: Hostile):
    """Every GET page of the app: once per hostile message and draft where the route names
    one, with a search for the needle on the inbox."""
    for rule, method in routes(app):
        if method != "GET" or rule.rule.startswith("/api/"):
            continue
        if "message_id" in rule.arguments:
            variants = [{"message_id": m} for m in hostile.message_ids]
        elif "draft_id" in rule.arguments:
            variants = [{"draft_id": d} for d in hostile.draft_ids]
        else:
            variants = [{}]
        for variant in variants:
            yield rule.endpoint, url_for_rule(rule, {**hostile.values, **variant})
    yield "inbox.index", f"/?q={NEEDLE}"


def test_every_page_shows_hostile_text_escaped_and_verbatim(app, client, db, hostile):
    assert sign_in(client, hostile.viewer_email).status_code == 302
    checked: dict[str, int] = {}
    shown: set[str] = set()
    problems: list[str] = []
    for endpoint, path in pages(app, hostile):
        response = client.get(path)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        html = response.get_data(as_text=True)
        page = Page(html)
        problems += [f"{path}: injected {what}" for what in injected(page)]
        for text in HOSTILE.values():
            if any(c in text for c in "<>&\"'") and text in html:
                problems.append(f"{path}: raw, unescaped text in the source: {text[:40]!r}")
        for text in page.collected["fan-text"]:
            if not shown_verbatim(text, hostile.texts):
                problems.append(f"{path}: fan text changed on the way: {text[:60]!r}")
            shown.add(text)
        for name in page.collected["fan"]:
            if name.strip() not in hostile.names and not name.strip().startswith("@"):
                problems.append(f"{path}: fan name changed on the way: {name[:60]!r}")
        checked[endpoint] = checked.get(endpoint, 0) + 1
    assert problems == []
    # The pages that show fan text were all among those checked, each hostile text in full.
    assert {"inbox.index", "inbox.message_page", "drafts.draft_history", "drafts.queue"} <= set(
        checked
    )
    for key, text in HOSTILE.items():
        assert text in shown, f"{key} was never shown in full"


def test_search_finds_hostile_text_and_shows_it_verbatim(client, db, hostile):
    sign_in(client, hostile.viewer_email)
    page = Page(client.get("/", query_string={"q": NEEDLE}).get_data(as_text=True))
    assert sorted(page.collected["fan-text"]) == sorted(
        [HOSTILE["script"], HOSTILE["right-to-left"]]
    )


def test_message_page_shows_the_text_exactly_where_the_fans_words_go(client, db, hostile):
    sign_in(client, hostile.viewer_email)
    for message_id, text in zip(hostile.message_ids, HOSTILE.values(), strict=True):
        page = Page(client.get(f"/messages/{message_id}").get_data(as_text=True))
        # At the top, and once more as the current message of its thread.
        assert page.collected["fan-text"][0] == text
        assert page.collected["fan-text"].count(text) == 2
