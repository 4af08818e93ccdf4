"""Comment feeds: a channel (a blog, typically) that names an RSS or Atom comments feed
in ``feed_url`` has it polled, and each new comment becomes a message, once.

Each comment is mapped to the API's message shape (:func:`entries_to_incoming`) and
goes through :func:`respondr.domain.ingest.ingest_batch`, the one way messages get in:
a comment seen on an earlier poll is ``existing``, never a second copy, and a comment
that fails validation is reported and skipped while the others are kept.

The mapping, entry by entry:

- ``external_id``: the entry's id (Atom ``id``, RSS ``guid``), else its link, else a
  digest of its author, own time and text; an id longer than the column takes is replaced
  by its digest, so that it stays stable from poll to poll;
- ``author``: the author's name (handle and display name alike: blogs show names),
  else their email address, else ``anonymous``;
- ``text``: the content (``content:encoded``, Atom ``content``), else the summary, with
  HTML reduced to its plain text (entities decoded, paragraphs kept apart); plain-text
  content is taken verbatim;
- ``posted_at``: the published time, else the updated time, else the time of the fetch;
- ``url``: the entry's link, when it is an http(s) address;
- threading: an entry that names what it replies to (Atom threading,
  ``thr:in-reply-to``) is sent with that as ``in_reply_to``, so a reply to a comment
  joins that comment's thread and a reply to a post starts the post's thread; else the
  post's comments feed (``wfw:commentRss``), the page the comment sits on (its link
  without the ``#comment-…`` fragment), or the feed's own link is the ``thread_id``.

Entries are ingested oldest first, so a parent comment is stored before its replies.
Nothing here commits: the task commits once per channel.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from time import struct_time
from typing import Any
from urllib.parse import urldefrag, urlsplit

import feedparser
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from respondr.domain.errors import DomainError
from respondr.domain.ingest import MAX_ID, ingest_batch
from respondr.models import Channel

FETCH_TIMEOUT = 10  # seconds, to connect and between bytes
MAX_FEED_BYTES = 5 * 1024 * 1024
USER_AGENT = "respondr-feed-poller/0.1"

ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8"

Fetch = Callable[[str], bytes]


class FeedError(DomainError):
    """A feed that cannot be fetched or read; the message names the feed and the cause."""


@dataclass(frozen=True)
class Rejection:
    """A feed entry that was not stored: which entry, the field at fault and why."""

    entry: str
    field: str | None
    reason: str


@dataclass(frozen=True)
class PollResult:
    """What one poll of a channel's feed did."""

    created: int = 0
    existing: int = 0
    rejected: list[Rejection] = field(default_factory=list)


# --------------------------------------------------------------------------- fetching


def http_fetch(url: str) -> bytes:
    """GET ``url`` and return its body (at most 5 MiB); raises :class:`FeedError` on a
    network error, an HTTP status other than 200, or a body that is too large."""
    try:
        with requests.get(
            url,
            timeout=FETCH_TIMEOUT,
            headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
            stream=True,
        ) as response:
            if response.status_code != 200:
                raise FeedError(
                    f"The feed {url} answered HTTP {response.status_code} {response.reason}."
                )
            body = bytearray()
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_FEED_BYTES:
                    raise FeedError(f"The feed {url} is larger than {MAX_FEED_BYTES:,} bytes.")
            return bytes(body)
    except requests.RequestException as error:
        raise FeedError(f"The feed {url} could not be fetched: {error}") from None


def parse_feed(data: bytes, *, url: str) -> Any:
    """The parsed feed (relative links resolved against ``url``); :class:`FeedError`
    when ``data`` is not RSS or Atom at all."""
    parsed = feedparser.parse(data, response_headers={"content-location": url})
    if not parsed.get("version"):
        cause = parsed.get("bozo_exception")
        detail = f" ({cause})" if cause else ""
        raise FeedError(f"The feed {url} is not an RSS or Atom feed{detail}.")
    return parsed


# --------------------------------------------------------------------------- mapping


# Elements that stand apart from their neighbours: the text of each is a paragraph.
_BLOCKS = re.compile(
    r"p|div|blockquote|pre|li|[ou]l|d[ldt]|h[1-6]|hr|table|tr|t[dh]|article|section|header"
    r"|footer|aside|figure|figcaption|address"
)
_SKIPPED = frozenset({"script", "style", "template"})


class _PlainText(HTMLParser):
    """Collects the text of an HTML fragment: entities decoded, tags dropped, ``<br>`` a
    line break, block elements (paragraphs, list items, …) separated by a blank line."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[list[str]] = [[]]
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag == "br":
            self.blocks[-1].append("\n")
        elif _BLOCKS.fullmatch(tag):
            self.blocks.append([])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIPPED:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif _BLOCKS.fullmatch(tag):
            self.blocks.append([])

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.blocks[-1].append(data)

    def text(self) -> str:
        paragraphs = ("".join(block).strip() for block in self.blocks)
        return "\n\n".join(p for p in paragraphs if p)


def html_to_text(html: str) -> str:
    """The plain text of an HTML fragment (see :class:`_PlainText`)."""
    parser = _PlainText()
    parser.feed(html)
    parser.close()
    return parser.text()


def _digest(*parts: str) -> str:
    return "sha256:" + hashlib.sha256("\x1f".join(parts).encode("utf-8", "replace")).hexdigest()


def _fitting(value: str) -> str:
    """``value``, or its digest when it is longer than an id column takes."""
    return value if len(value) <= MAX_ID else _digest(value)


def _content_id(entry: Mapping[str, Any], text: str) -> str:
    """An id for an entry that has neither id nor link: a digest of what it says, which
    stays the same from poll to poll (the fetch time is no part of it)."""
    when = entry.get("published") or entry.get("updated") or ""
    return _digest(str(entry.get("author") or ""), str(when), text)


def _web_address(value: Any) -> str | None:
    if isinstance(value, str) and urlsplit(value).scheme.lower() in ("http", "https"):
        return value
    return None


def _text(entry: Mapping[str, Any]) -> str:
    content = entry.get("content") or []
    detail = content[0] if content else entry.get("summary_detail")
    if detail is None:
        return str(entry.get("summary") or "")
    value = str(detail.get("value") or "")
    if detail.get("type") in ("text/html", "application/xhtml+xml"):
        return html_to_text(value)
    return value


def _posted_at(entry: Mapping[str, Any], now: datetime) -> str:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if isinstance(parsed, struct_time):
        return datetime(*parsed[:6], tzinfo=UTC).isoformat()
    return now.astimezone(UTC).isoformat()


def _author(entry: Mapping[str, Any]) -> dict[str, str]:
    detail = entry.get("author_detail") or {}
    name = str(detail.get("name") or "").strip()
    handle = name or str(detail.get("email") or entry.get("author") or "").strip()
    return {"handle": handle or "anonymous", "name": name}


def _threading(entry: Mapping[str, Any], feed_link: str | None) -> dict[str, str]:
    parent = entry.get("thr_in-reply-to") or {}
    reply_to = parent.get("ref") or parent.get("href")
    if reply_to:
        return {"in_reply_to": _fitting(str(reply_to))}
    link = _web_address(entry.get("link"))
    page, fragment = urldefrag(link) if link else ("", "")
    thread = entry.get("wfw_commentrss") or (page if fragment else None) or feed_link
    return {"thread_id": _fitting(str(thread))} if thread else {}


def entries_to_incoming(parsed_feed: Any, *, now: datetime) -> list[dict[str, Any]]:
    """The feed's entries as messages in the API's shape (without a channel), oldest
    first; ``now`` (the time of the fetch) stands in for an entry without a time."""
    feed_link = _web_address(parsed_feed.get("feed", {}).get("link"))
    items: list[dict[str, Any]] = []
    for entry in parsed_feed.get("entries", []):
        text = _text(entry)
        author = _author(entry)
        posted_at = _posted_at(entry, now)
        identity = entry.get("id") or entry.get("link")
        item: dict[str, Any] = {
            "external_id": _fitting(str(identity)) if identity else _content_id(entry, text),
            "author": author,
            "text": text,
            "posted_at": posted_at,
            **_threading(entry, feed_link),
        }
        if url := _web_address(entry.get("link")):
            item["url"] = url
        items.append(item)
    items.sort(key=lambda item: datetime.fromisoformat(item["posted_at"]))
    return items


# --------------------------------------------------------------------------- polling


def feed_channels(session: Session) -> list[Channel]:
    """The channels to poll: active ones that name a feed, by id."""
    return list(
        session.scalars(
            select(Channel)
            .where(Channel.active.is_(True), Channel.feed_url.is_not(None), Channel.feed_url != "")
            .order_by(Channel.id)
        )
    )


def _unprefixed(field_name: str | None, label: str) -> str | None:
    return field_name.removeprefix(f"{label}.") if field_name else None


def poll_feed(session: Session, channel: Channel, *, fetch: Fetch, now: datetime) -> PollResult:
    """Fetch ``channel``'s feed and ingest its comments; those already stored count as
    ``existing``. A feed that cannot be fetched or is not RSS or Atom raises
    :class:`FeedError` before anything is stored."""
    url = (channel.feed_url or "").strip()
    if not channel.active or not url:
        raise FeedError(f"The channel {channel.name!r} has no feed to poll.", "feed_url")
    items = entries_to_incoming(parse_feed(fetch(url), url=url), now=now)
    labels = [f"entry {item['external_id']}" for item in items]
    results = ingest_batch(session, items, channel=channel, actor=None, now=now, labels=labels)
    rejected = [
        Rejection(label, _unprefixed(result.field, label), result.error or "")
        for label, result in zip(labels, results, strict=True)
        if result.status == "rejected"
    ]
    return PollResult(
        created=sum(result.status == "created" for result in results),
        existing=sum(result.status == "existing" for result in results),
        rejected=rejected,
    )
