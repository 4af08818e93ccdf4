"""Clients over real HTTP: a person at a browser (cookies, forms with every hidden field
they carry — the CSRF token and whatever else a form adds), a channel's webhook sender,
and requests fired all at once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from html.parser import HTMLParser
from typing import TypeVar

import requests

from respondr.domain import ingest
from respondr.timeutil import utcnow
from tests import factories

T = TypeVar("T")


class _Forms(HTMLParser):
    """Each form's action and the name → value of its hidden and text inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._fields: dict[str, str] | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._fields = {}
            self.forms.append((attr.get("action", ""), self._fields))
        elif tag == "input" and self._fields is not None and attr.get("name"):
            if attr.get("type", "text") in ("hidden", "text"):
                self._fields[attr["name"]] = attr.get("value", "")
        elif tag == "textarea" and self._fields is not None and attr.get("name"):
            self._textarea = attr["name"]
            self._fields[self._textarea] = ""
        elif tag == "meta" and attr.get("name") == "csrf-token":
            self.meta_csrf = attr.get("content", "")

    def handle_data(self, data: str) -> None:
        if self._textarea and self._fields is not None:
            self._fields[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._fields = None


def forms(html: str) -> _Forms:
    parser = _Forms()
    parser.feed(html)
    return parser


class Visitor:
    """One browser: a cookie jar used against whichever server it is pointed at."""

    def __init__(self, email: str) -> None:
        self.email = email
        self.http = requests.Session()

    def get(self, url: str) -> requests.Response:
        return self.http.get(url, timeout=30)

    def form(self, page_url: str, action: str) -> dict[str, str]:
        """The fields of the form posting to ``action`` on the page at ``page_url``."""
        page = self.get(page_url)
        assert page.status_code == 200, (page_url, page.status_code)
        for form_action, fields in forms(page.text).forms:
            if form_action == action:
                return dict(fields)
        raise AssertionError(f"no form posting to {action} on {page_url}")

    def post(self, url: str, data: dict[str, str]) -> requests.Response:
        return self.http.post(url, data=data, timeout=30)

    def try_sign_in(self, server_url: str, password: str) -> requests.Response:
        """Fill in and send the sign-in form (a fresh one each time)."""
        fields = self.form(f"{server_url}/login", "")
        fields.update(email=self.email, password=password)
        return self.post(f"{server_url}/login", fields)

    def sign_in(self, server_url: str, password: str = factories.PASSWORD) -> None:
        answer = self.try_sign_in(server_url, password)
        assert answer.status_code == 200 and not answer.url.endswith("/login"), (
            f"signing in {self.email} on {server_url}: {answer.status_code}",
            answer.text[-600:],
        )

    def csrf_header(self, page_url: str) -> dict[str, str]:
        """What live.js sends: the page's CSRF token in ``X-CSRFToken``."""
        return {"X-CSRFToken": forms(self.get(page_url).text).meta_csrf}


def at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run every call in its own thread, released together; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], T]) -> None:
        barrier.wait(timeout=30)
        try:
            results[index] = call()
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return [results[index] for index in range(len(calls))]


def delivery(external_id: str) -> bytes:
    """A fan's message as a channel's webhook sends it."""
    return json.dumps(
        {
            "external_id": external_id,
            "author": {"handle": "@dana", "name": "Dana Fields"},
            "text": "Is the Riverside store open late tonight?",
            "posted_at": (utcnow() - timedelta(seconds=30)).isoformat(),
        }
    ).encode()


def deliver(server: str, channel_id: int, secret: str, body: bytes) -> requests.Response:
    """POST ``body`` to the channel's webhook on ``server``, signed now."""
    signature = ingest.sign(secret, body, timestamp=int(time.time()))
    return requests.post(
        f"{server}/api/v1/channels/{channel_id}/webhook",
        data=body,
        headers={ingest.SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
        timeout=30,
    )
