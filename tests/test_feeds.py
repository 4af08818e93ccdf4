"""Comment feeds: a blog channel's RSS or Atom comments feed, served over real HTTP,
is polled and each comment becomes a message, once."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import func, select

from respondr.domain import feeds
from respondr.domain.feeds import FeedError, http_fetch, poll_feed
from respondr.extensions import db as flask_db
from respondr.models import Channel, Message
from respondr.tasks import poll_all_feeds
from tests import factories

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Comments on: Our winter reading list</title>
  <link>https://blog.bernies.example/winter-reading/</link>
  <description>Comments</description>
  {items}
</channel>
</rss>"""


def item(n: int, author: str, date: str, html: str) -> str:
    """One comment of the RSS feed, as WordPress writes them."""
    return f"""<item>
  <title>By: {author}</title>
  <link>https://blog.bernies.example/winter-reading/#comment-{n}</link>
  <dc:creator><![CDATA[{author}]]></dc:creator>
  <pubDate>{date}</pubDate>
  <guid isPermaLink="false">https://blog.bernies.example/?p=41#comment-{n}</guid>
  <description><![CDATA[{html}]]></description>
  <content:encoded><![CDATA[{html}]]></content:encoded>
</item>"""


DANA = item(
    12,
    "Dana Fields",
    "Thu, 26 Nov 2026 09:30:00 +0000",
    "<p>Loved <em>Piranesi</em> &amp; the caf&eacute; tip!</p>\n<p>Is it signed?<br/>"
    "Asking for a friend &lt;3</p>",
)
OMAR = item(13, "Omar", "Thu, 26 Nov 2026 10:05:00 +0100", "Do you ship to Leeds?")
LENA = item(14, "Lena", "Thu, 26 Nov 2026 11:00:00 +0000", "<p>Add Klara, please.</p>")
# Comments from long ago, for the task, which polls at the real time.
KIM = item(31, "Kim", "Mon, 02 Jun 2025 09:00:00 +0000", "First!")
SAM = item(32, "Sam", "Mon, 02 Jun 2025 09:10:00 +0000", "<p>Second &amp; last</p>")

ATOM = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:thr="http://purl.org/syndication/thread/1.0">
  <title>Comments for Bernie's blog</title>
  <link rel="alternate" href="https://blog.bernies.example/"/>
  <id>tag:blog.bernies.example,2026:comments</id>
  <updated>2026-11-26T11:00:00Z</updated>
  <entry>
    <id>tag:blog.bernies.example,2026:comment-21</id>
    <author><name>Priya</name><email>priya@example.com</email></author>
    <link rel="alternate" href="/signings/#comment-21"/>
    <thr:in-reply-to ref="tag:blog.bernies.example,2026:post-7"
                     href="https://blog.bernies.example/signings/"/>
    <published>2026-11-26T10:15:00+01:00</published>
    <content type="html">&lt;p&gt;Will Susanna Clarke sign &amp;amp; dedicate?&lt;/p&gt;</content>
  </entry>
  <entry>
    <id>tag:blog.bernies.example,2026:comment-22</id>
    <author><name>Bernie</name></author>
    <link rel="alternate" href="/signings/#comment-22"/>
    <thr:in-reply-to ref="tag:blog.bernies.example,2026:comment-21"
                     href="https://blog.bernies.example/signings/#comment-21"/>
    <updated>2026-11-26T10:40:00Z</updated>
    <content type="text">Yes &lt;both&gt;!</content>
  </entry>
</feed>"""


class FeedServer:
    """A real HTTP server on 127.0.0.1 serving whatever ``pages`` holds:
    path -> (status, content type, body)."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[int, str, bytes]] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, content_type, body = pages.get(self.path, (404, "text/plain", b"no"))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def serve(self, path: str, body: str | bytes, *, status=200, content_type=None) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.pages[path] = (status, content_type or "application/rss+xml; charset=utf-8", data)
        return f"http://127.0.0.1:{self.server.server_port}{path}"


@pytest.fixture
def feed_server():
    server = FeedServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    server.thread.join(timeout=10)


@pytest.fixture
def blog(db, make_channel):
    def make(feed_url: str) -> Channel:
        channel = make_channel(kind="blog")
        channel.feed_url = feed_url
        db.commit()
        return channel

    return make


def messages(db, channel) -> list[Message]:
    return list(
        db.scalars(
            select(Message).where(Message.channel_id == channel.id).order_by(Message.posted_at)
        )
    )


def poll(db, channel, now=NOW):
    return poll_feed(db, channel, fetch=http_fetch, now=now)


def test_rss_comments_become_messages_with_plain_text(db, feed_server, blog):
    channel = blog(feed_server.serve("/comments/feed/", RSS.format(items=OMAR + DANA)))
    result = poll(db, channel)
    assert (result.created, result.existing, result.rejected) == (2, 0, [])
    omar, dana = messages(db, channel)  # oldest first: Omar wrote at 09:05 UTC
    assert dana.fan.handle == "Dana Fields" and dana.fan.display_name == "Dana Fields"
    assert dana.text == "Loved Piranesi & the café tip!\n\nIs it signed?\nAsking for a friend <3"
    assert dana.posted_at == datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    assert dana.url == "https://blog.bernies.example/winter-reading/#comment-12"
    assert dana.external_id == "https://blog.bernies.example/?p=41#comment-12"
    assert dana.thread_key == "https://blog.bernies.example/winter-reading/"
    assert (omar.text, omar.posted_at) == (
        "Do you ship to Leeds?",
        datetime(2026, 11, 26, 9, 5, tzinfo=UTC),
    )
    assert (dana.received_at, dana.status) == (NOW, "new")


def test_polling_again_creates_nothing_new(db, feed_server, blog):
    channel = blog(feed_server.serve("/comments/feed/", RSS.format(items=OMAR + DANA)))
    poll(db, channel)
    again = poll(db, channel)
    assert (again.created, again.existing) == (0, 2)
    assert len(messages(db, channel)) == 2


def test_a_new_comment_is_ingested_on_the_next_poll(db, feed_server, blog):
    channel = blog(feed_server.serve("/comments/feed/", RSS.format(items=OMAR + DANA)))
    poll(db, channel)
    feed_server.serve("/comments/feed/", RSS.format(items=LENA + OMAR + DANA))
    result = poll(db, channel)
    assert (result.created, result.existing) == (1, 2)
    assert [m.fan.handle for m in messages(db, channel)] == ["Omar", "Dana Fields", "Lena"]
    assert messages(db, channel)[-1].text == "Add Klara, please."


def test_atom_comments_thread_under_their_post(db, feed_server, blog):
    url = feed_server.serve("/atom", ATOM, content_type="application/atom+xml")
    channel = blog(url)
    site = url.removesuffix("/atom")
    assert poll(db, channel).created == 2
    question, answer = messages(db, channel)
    assert question.text == "Will Susanna Clarke sign & dedicate?"
    assert question.url == f"{site}/signings/#comment-21"  # relative to the feed's address
    assert question.posted_at == datetime(2026, 11, 26, 9, 15, tzinfo=UTC)
    assert question.thread_key == "tag:blog.bernies.example,2026:post-7"
    assert answer.text == "Yes <both>!"  # plain text is kept as it is
    assert answer.posted_at == datetime(2026, 11, 26, 10, 40, tzinfo=UTC)  # its updated time
    assert answer.in_reply_to == question.external_id
    assert answer.thread_key == question.thread_key


def test_a_comment_without_a_time_takes_the_fetch_time(db, feed_server, blog):
    undated = DANA.replace("<pubDate>Thu, 26 Nov 2026 09:30:00 +0000</pubDate>", "")
    channel = blog(feed_server.serve("/comments/feed/", RSS.format(items=undated)))
    poll(db, channel)
    assert messages(db, channel)[0].posted_at == NOW


def test_a_server_error_is_a_clear_error_and_stores_nothing(db, feed_server, blog):
    channel = blog(feed_server.serve("/comments/feed/", "oops", status=500))
    with pytest.raises(FeedError, match=r"answered HTTP 500 Internal Server Error"):
        poll(db, channel)
    assert messages(db, channel) == []


def test_a_page_that_is_not_a_feed_is_a_clear_error_and_stores_nothing(db, feed_server, blog):
    garbage = "<html><body><h1>Welcome to our shop</h1></body></html>"
    channel = blog(feed_server.serve("/comments/feed/", garbage, content_type="text/html"))
    with pytest.raises(FeedError, match=r"is not an RSS or Atom feed"):
        poll(db, channel)
    channel.feed_url = feed_server.serve("/binary", b"\x00\x01{garbage", content_type="text/xml")
    with pytest.raises(FeedError, match=r"is not an RSS or Atom feed"):
        poll(db, channel)
    assert messages(db, channel) == []


def test_an_oversized_feed_is_refused(db, feed_server, blog, monkeypatch):
    monkeypatch.setattr(feeds, "MAX_FEED_BYTES", 1000)
    channel = blog(feed_server.serve("/comments/feed/", RSS.format(items=DANA * 5)))
    with pytest.raises(FeedError, match=r"larger than 1,000 bytes"):
        poll(db, channel)
    assert messages(db, channel) == []


def test_the_task_polls_each_feed_and_goes_on_past_a_broken_one(committed_app, feed_server, caplog):
    with committed_app.app_context():
        session = flask_db.session
        broken = factories.create_channel(session, kind="blog")
        broken.feed_url = feed_server.serve("/broken", "oops", status=500)
        good = factories.create_channel(session, kind="blog")
        good.feed_url = feed_server.serve("/good", RSS.format(items=SAM + KIM))
        switched_off = factories.create_channel(session, kind="blog")
        switched_off.feed_url = feed_server.serve("/off", RSS.format(items=KIM))
        switched_off.active = False
        session.commit()
        ids = {"broken": broken.id, "good": good.id, "off": switched_off.id}

    with caplog.at_level(logging.WARNING, logger="respondr.tasks"):
        assert poll_all_feeds(committed_app) == 2
        assert poll_all_feeds(committed_app) == 0  # ingested once
    assert f"Feed of channel {ids['broken']} not polled" in caplog.text
    assert "answered HTTP 500" in caplog.text

    with committed_app.app_context():
        stored = dict(
            flask_db.session.execute(
                select(Message.channel_id, func.count()).group_by(Message.channel_id)
            ).all()
        )
        flask_db.session.remove()
    assert stored == {ids["good"]: 2}
