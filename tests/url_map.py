"""The app's routes with values for their URL arguments, for tests generated from the URL map.

``seed`` makes one of each object a route can name (a message, a draft waiting for
approval, a stock response, a policy…) so every route builds to a URL that exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

from werkzeug.routing import Rule

from respondr.domain import claims, drafting, stock
from respondr.domain.presets import ensure_presets
from respondr.timeutil import utcnow
from tests import factories

SKIP_ENDPOINTS = {"static"}


def routes(app) -> Iterator[tuple[Rule, str]]:
    """Every (rule, method) the app answers, but static files and HEAD/OPTIONS."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIP_ENDPOINTS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def url_for_rule(rule: Rule, values: dict[str, Any]) -> str:
    """The rule's path; an argument the seed does not know gets 1."""
    return rule.build({k: values.get(k, 1) for k in rule.arguments}, append_unknown=False)[1]


def seed(db) -> dict[str, Any]:
    """One of everything, committed; returns the URL values and the objects."""
    author = factories.create_user(db, roles="agent")
    channel = factories.create_channel(db)
    message = factories.create_message(db, channel)
    drafted = factories.create_message(db, channel)
    now = utcnow()
    claims.claim(db, drafted, actor=author, now=now)
    draft = drafting.save_draft(db, drafted, author=author, text="Hello", version=None, now=now)
    drafting.submit(db, draft, actor=author, now=now, ask_for_approval=True)
    response = stock.create(
        db, title="Thanks", text="Thank you!", category=None, pre_approved=True, actor=None, now=now
    )
    policy = ensure_presets(db, now=now)["risk-based"]
    db.commit()
    return {
        "draft_id": draft.id,
        "response_id": response.id,
        "user_id": author.id,
        "channel_id": channel.id,
        "message_id": message.id,
        "token": "not-a-token",
        "policy_id": policy.id,
        "number": 1,
        "drafted_message_id": drafted.id,
    }


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "form":
            self._open = {
                "method": (named.get("method") or "get").lower(),
                "action": named.get("action") or "",
                "inputs": {},
            }
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and named.get("name"):
            self._open["inputs"].setdefault(named["name"], named.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def forms_on(html: str) -> list[dict[str, Any]]:
    """Each form on a page: method, action and its inputs' first values by name."""
    parser = _Forms()
    parser.feed(html)
    return parser.forms
