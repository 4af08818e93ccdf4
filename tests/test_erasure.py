"""`respondr fans erase`: a fan's personal data and words go, everywhere; the timing stays.

Run on the Bernie's Bookstore demo (a few weeks of history through the workflow events),
erasing the fan with the most messages: the latency report is the same before and after,
and their words are gone from the messages, the search, the notes and the pages.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from respondr.domain import demo, inbox, triage
from respondr.domain.erasure import ERASED_NOTE
from respondr.models import AuditEntry, Fan, Message, Note, Notification, WorkflowEvent
from respondr.timeutil import utcnow
from tests import factories
from tests.conftest import sign_in


@pytest.fixture
def history(db):
    """The demo, plus a note and a mention about the most talkative fan's messages."""
    assert demo.load(db, now=utcnow(), only_if_empty=False)
    db.commit()
    fan_id, _ = db.execute(
        select(Message.fan_id, func.count()).group_by(Message.fan_id).order_by(func.count().desc())
    ).first()
    fan = db.get(Fan, fan_id)
    messages = db.scalars(select(Message).where(Message.fan_id == fan.id)).all()
    marker = "Zanzibarquest"  # a word only this fan ever wrote
    messages[0].text = f"{messages[0].text} {marker}"
    colleague = factories.create_user(db, roles="agent", name="Colleague")
    triage.add_note(
        db,
        messages[0],
        text=f"@Colleague {fan.display_name} wrote before about {marker}",
        actor=colleague,
        now=utcnow(),
    )
    db.commit()
    return {
        "fan": fan,
        "handle": fan.handle,
        "name": fan.display_name,
        "channel": fan.channel.name,
        "message_ids": [m.id for m in messages],
        "marker": marker,
    }


def latency_json(runner, *args: str) -> dict:
    result = runner.invoke(args=["report", "latency", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def erase(runner, channel: str, handle: str, *extra: str, input: str | None = None):
    return runner.invoke(
        args=["fans", "erase", "--channel", channel, "--handle", handle, *extra], input=input
    )


def test_erasure_removes_the_words_and_keeps_the_numbers(runner, client, db, history):
    before = {by: latency_json(runner, "--by", by) for by in ("channel", "category", "week")}
    events_before = db.scalar(select(func.count()).select_from(WorkflowEvent))
    others = select(Message.id, Message.text).where(Message.fan_id != history["fan"].id)
    other_texts = dict(db.execute(others).all())

    searched = inbox.InboxFilter(status="all", search=history["marker"])
    assert [m.id for m in inbox.inbox_page(db, searched).messages] == history["message_ids"][:1]

    result = erase(runner, history["channel"], history["handle"], "--yes")
    assert result.exit_code == 0, result.output
    assert f"the text of {len(history['message_ids'])} message(s)" in result.output
    db.expire_all()

    # The numbers: every report the same, every workflow event kept.
    assert before == {by: latency_json(runner, "--by", by) for by in before}
    assert before["channel"]["rows"][0]["received"] > 0
    assert db.scalar(select(func.count()).select_from(WorkflowEvent)) == events_before

    # The words and the person: gone from the messages, the fan, notes and notifications.
    fan = db.get(Fan, history["fan"].id)
    assert fan.handle == f"erased-{fan.id}" and fan.display_name == "" and fan.followers is None
    assert fan.erased_at is not None
    erased = db.scalars(select(Message).where(Message.id.in_(history["message_ids"]))).all()
    assert {m.text for m in erased} == {""} and {m.url for m in erased} == {None}
    assert all(n.text == ERASED_NOTE for n in db.scalars(select(Note)))
    for notice in db.scalars(select(Notification)):
        assert history["name"] not in notice.text and history["handle"] not in notice.text
    # Other fans' words are untouched.
    assert dict(db.execute(others).all()) == other_texts

    # The search index forgot them too.
    assert inbox.inbox_page(db, searched).messages == []
    if db.get_bind().dialect.name == "sqlite":
        hits = db.scalar(
            text("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH :word"),
            {"word": history["marker"]},
        )
        assert hits == 0

    # Recorded, with counts only: the audit log keeps nothing that was erased.
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "fan.erase"))
    assert entry.details["messages"] == len(history["message_ids"])
    assert history["handle"] not in json.dumps(entry.details)
    assert history["name"] not in json.dumps(entry.details)

    # Nor do the pages show them.
    factories.create_user(db, roles="agent,approver,manager,admin", email="everyone@example.com")
    sign_in(client, "everyone@example.com")
    pages = ["/", "/?status=all", "/notifications"]
    pages += [f"/messages/{message_id}" for message_id in history["message_ids"]]
    for path in pages:
        page = client.get(path).get_data(as_text=True)
        assert history["marker"] not in page, path
        assert f"@{history['handle']}" not in page, path
    search = client.get("/", query_string={"status": "all", "q": history["marker"]})
    for message_id in history["message_ids"]:
        assert f'/messages/{message_id}"' not in search.get_data(as_text=True)

    # Erased once: the handle no longer finds anyone.
    again = erase(runner, history["channel"], history["handle"], "--yes")
    assert again.exit_code != 0 and "has no fan with the handle" in again.output


@pytest.fixture
def small(db):
    channel = factories.create_channel(db, name="Shop page")
    message = factories.create_message(db, channel, text="Call me on 555 0100", handle="lena")
    return {
        "fan": message.fan,
        "handle": "lena",
        "channel": "Shop page",
        "message_ids": [message.id],
        "marker": "555 0100",
    }


def test_erasure_asks_first_and_a_no_changes_nothing(runner, db, small):
    history = small
    result = erase(runner, history["channel"], history["handle"], input="n\n")
    assert result.exit_code == 1
    assert f"Erase {history['handle']} on {history['channel']}" in result.output
    assert "This cannot be undone." in result.output
    db.expire_all()
    assert db.get(Fan, history["fan"].id).handle == history["handle"]
    assert history["marker"] in db.get(Message, history["message_ids"][0]).text


def test_unknown_channel_or_handle_is_a_clear_error(runner, db, small):
    history = small
    unknown_channel = erase(runner, "No such channel", history["handle"], "--yes")
    assert unknown_channel.exit_code != 0
    assert "There is no channel 'No such channel'." in unknown_channel.output
    unknown_fan = erase(runner, history["channel"], "@nobody-here", "--yes")
    assert unknown_fan.exit_code != 0
    assert f"Channel {history['channel']} has no fan with the handle @nobody-here" in (
        unknown_fan.output
    )
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "fan.erase")) is None
