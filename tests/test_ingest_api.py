"""POST /api/v1/messages: integrations send fan messages in, once each, validated."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from sqlalchemy import func, select

from respondr.domain import accounts
from respondr.domain import ingest as ingest_ops
from respondr.domain.errors import ValidationError
from respondr.models import ApiToken, Message, WorkflowEvent
from respondr.timeutil import utcnow
from tests import factories
from tests.strategies import JSON_VALUES, json_objects

URL = "/api/v1/messages"


@pytest.fixture
def agent(make_user):
    return make_user(roles="agent")


@pytest.fixture
def token(db, agent):
    return factories.create_api_token(db, agent)


@pytest.fixture
def channel(make_channel):
    return make_channel(name="Bernie the Bookworm", kind="facebook_page", sla_minutes=45)


def message(on, external_id="fb-1", **overrides):
    """A valid API message on channel ``on``, with ``overrides`` (``channel`` too)."""
    body = {
        "channel": on.id,
        "external_id": external_id,
        "author": {"handle": "dana", "name": "Dana Fields", "followers": 120},
        "text": "Do you have the new Murakami in stock?",
        "posted_at": (utcnow() - timedelta(minutes=3)).isoformat(),
    }
    body.update(overrides)
    return body


def post(client, body, token):
    return client.post(URL, json=body, headers={"Authorization": f"Bearer {token}"})


def count(db, **where):
    query = select(func.count()).select_from(Message)
    for key, value in where.items():
        query = query.where(getattr(Message, key) == value)
    return db.scalar(query)


def test_a_new_message_is_stored_and_answered_201_with_its_id(client, db, token, agent, channel):
    text = "Bernie! שלום 📚 Is the café open? \u202eRTL\u202c"
    response = post(client, message(channel, text=text, url="https://fb.com/p/1"), token)
    assert response.status_code == 201, response.json
    body = response.json
    stored = db.get(Message, body["id"])
    assert stored.text == text and body["text"] == text  # verbatim
    assert (stored.channel_id, stored.external_id, stored.status) == (channel.id, "fb-1", "new")
    assert stored.fan.handle == "dana" and stored.fan.display_name == "Dana Fields"
    assert stored.fan.followers == 120 and stored.url == "https://fb.com/p/1"
    assert stored.sla_due_at == stored.received_at + timedelta(minutes=45)
    assert stored.thread_key == "fb-1" and stored.sentiment_label in ("positive", "neutral")
    event = db.scalar(select(WorkflowEvent).where(WorkflowEvent.message_id == stored.id))
    assert (event.kind, event.actor_id, event.at) == ("received", agent.id, stored.received_at)


def test_a_retry_returns_the_stored_message_with_200_and_no_duplicate(client, db, token, channel):
    first = post(client, message(channel), token)
    again = post(client, message(channel, text="an edited text is not taken"), token)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"]
    assert again.json["text"] == "Do you have the new Murakami in stock?"
    assert count(db, external_id="fb-1") == 1
    assert db.scalar(select(func.count()).select_from(WorkflowEvent)) == 1


def test_the_channel_may_be_named_instead_of_numbered(client, db, token, channel):
    response = post(client, message(channel, channel="Bernie the Bookworm"), token)
    assert response.status_code == 201 and response.json["channel"]["id"] == channel.id


def test_a_batch_answers_each_item_in_order_and_one_bad_item_loses_no_other(
    client, db, token, channel
):
    post(client, message(channel, "fb-0"), token)
    batch = [
        message(channel, "fb-1"),
        message(channel, "fb-2", posted_at="2026-11-26T09:30:00"),
        message(channel, "fb-0"),
        message(channel, "fb-3", channel="No such channel"),
        message(channel, "fb-4", text="Thanks!"),
        message(channel, "fb-1"),
    ]
    response = post(client, {"messages": batch}, token)
    assert response.status_code == 200
    results = response.json["results"]
    assert [r["status"] for r in results] == [
        "created",
        "rejected",
        "existing",
        "rejected",
        "created",
        "existing",
    ]
    assert results[1]["field"] == "messages[1].posted_at" and "offset" in results[1]["error"]
    assert results[3]["field"] == "messages[3].channel"
    assert results[5]["id"] == results[0]["id"]
    assert (response.json["created"], response.json["existing"], response.json["rejected"]) == (
        2,
        2,
        2,
    )
    assert count(db, channel_id=channel.id) == 3  # fb-0, fb-1, fb-4
    assert count(db, external_id="fb-2") == 0


def test_a_batch_holds_at_most_a_thousand_messages(client, token, channel):
    response = post(client, {"messages": [message(channel, f"x{i}") for i in range(1001)]}, token)
    assert response.status_code == 400 and response.json["field"] == "messages"
    assert post(client, {"messages": []}, token).status_code == 400


@pytest.mark.parametrize("ref", [999_999, "No such channel", 10**30, "99999999999999999999", "²"])
def test_an_unknown_channel_in_the_body_is_a_field_error(client, db, token, channel, ref):
    response = post(client, message(channel, channel=ref), token)
    assert response.status_code == 400
    assert response.json["field"] == "channel" and "no channel" in response.json["error"]
    assert count(db) == 0


def test_malformed_json_is_a_400(client, token):
    response = client.post(
        URL,
        data=b'{"channel": 1, "text": ',
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400 and response.json["field"] == "body"
    deep = client.post(URL, data=b"[" * 100_000, headers={"Authorization": f"Bearer {token}"})
    assert deep.status_code == 400 and deep.json["field"] == "body"


def test_a_body_over_one_mebibyte_gets_a_json_413(client, token, channel):
    body = b'{"text": "' + b"x" * (1024 * 1024) + b'"}'
    response = client.post(
        URL,
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 413
    assert response.is_json and "1 MiB" in response.json["error"]


def test_without_a_token_the_api_answers_401(client, db, channel):
    response = client.post(URL, json=message(channel))
    assert response.status_code == 401 and response.is_json
    assert post(client, message(channel), "rsp_not-a-real-token").status_code == 401
    assert count(db) == 0


def test_a_revoked_token_is_refused(client, db, token, channel):
    api_token = db.scalar(select(ApiToken))
    accounts.revoke_api_token(db, api_token, actor=None, now=utcnow())
    db.commit()
    assert post(client, message(channel), token).status_code == 401
    assert count(db) == 0


def test_a_posted_at_without_its_offset_is_a_field_error(client, db, token, channel):
    response = post(client, message(channel, posted_at="2026-11-26T09:30:00"), token)
    assert response.status_code == 400 and response.json["field"] == "posted_at"
    assert "offset" in response.json["error"]
    future = (utcnow() + timedelta(hours=2)).isoformat()
    assert post(client, message(channel, posted_at=future), token).json["field"] == "posted_at"


def test_text_with_a_nul_character_is_refused_naming_the_field(client, db, token, channel):
    response = post(client, message(channel, text="before\x00after"), token)
    assert response.status_code == 400 and response.json["field"] == "text"
    assert "NUL" in response.json["error"]
    assert count(db) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"external_id": "x" * 256}, "external_id"),
        ({"external_id": "  "}, "external_id"),
        ({"author": {"name": "No handle"}}, "author.handle"),
        ({"author": {"handle": "h" * 256}}, "author.handle"),
        ({"author": {"handle": "dana", "followers": -1}}, "author.followers"),
        ({"author": "dana"}, "author"),
        ({"text": "x" * 100_001}, "text"),
        ({"text": None}, "text"),
        ({"url": "https://example.com/" + "x" * 2000}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"posted_at": "last Tuesday"}, "posted_at"),
        ({"thread_id": "t" * 256}, "thread_id"),
        ({"in_reply_to": ["not", "an", "id"]}, "in_reply_to"),
        ({"channel": None}, "channel"),
    ],
)
def test_every_field_is_checked_and_named(client, db, token, channel, change, field):
    response = post(client, message(channel, **change), token)
    assert response.status_code == 400, response.json
    assert response.json["field"] == field
    assert count(db) == 0


def test_text_over_the_channel_kinds_limit_is_kept_whole(client, db, token, make_channel):
    twitter = make_channel(kind="twitter")
    text = "A long thread pasted in one go. " * 300  # far beyond 280 characters
    response = post(client, message(twitter, text=text), token)
    assert response.status_code == 201 and db.get(Message, response.json["id"]).text == text


def test_a_reply_joins_the_thread_of_the_message_it_answers(client, db, token, channel):
    post(client, message(channel, "post-1", thread_id="thread-A"), token)
    reply = post(client, message(channel, "c-2", in_reply_to="post-1"), token).json
    orphan = post(client, message(channel, "c-3", in_reply_to="unknown-9"), token).json
    assert reply["thread_id"] == "thread-A" and reply["in_reply_to"] == "post-1"
    assert orphan["thread_id"] == "unknown-9"


def test_arrival_enrichment_is_stored(client, db, token, channel):
    factories.set_organisation(
        db, handles=["@BerniesBooks"], keyword_lists={"complaint": ["refund"]}
    )
    body = message(
        channel,
        text="@BerniesBooks I want a refund, this is awful",
        author={"handle": "loud", "followers": 50_000},
    )
    stored = db.get(Message, post(client, body, token).json["id"])
    assert (stored.category, stored.intent, stored.sentiment_label) == (
        "to_brand",
        "complaint",
        "negative",
    )
    assert stored.priority >= 40 + 40


def test_a_repeat_writes_nothing_not_even_the_fan_or_the_teams_turn(db, channel, make_user):
    """The insert finds the key taken (as when a concurrent delivery won): the stored
    message is returned, and the fan's profile, the events and the round robin are as
    they were."""
    team = factories.create_team(db, members=[make_user(), make_user()])
    factories.create_routing_rule(db, team=team)
    incoming = ingest_ops.parse_incoming(message(channel, "race-1"))
    first, created = ingest_ops.ingest(db, channel, incoming, actor=None, now=utcnow())
    db.commit()
    turn, events = team.last_assigned_user_id, db.scalar(select(func.count(WorkflowEvent.id)))
    renamed = message(channel, "race-1", author={"handle": "dana", "name": "D", "followers": 9})
    again, created_again = ingest_ops.ingest(
        db, channel, ingest_ops.parse_incoming(renamed), actor=None, now=utcnow()
    )
    db.commit()
    assert created and not created_again and again.id == first.id
    assert count(db, external_id="race-1") == 1
    assert (first.fan.display_name, first.fan.followers) == ("Dana Fields", 120)
    assert team.last_assigned_user_id == turn and turn is not None
    assert db.scalar(select(func.count(WorkflowEvent.id))) == events


def test_a_switched_off_channel_takes_no_messages(client, db, token, channel):
    channel.active = False
    db.commit()
    response = post(client, message(channel), token)
    assert response.status_code == 400 and response.json["field"] == "channel"
    assert count(db) == 0


FIELDS = ["channel", "external_id", "author", "text", "posted_at", "url", "thread_id",
          "in_reply_to", "handle", "name", "followers"]  # fmt: skip


@given(json_objects(FIELDS, JSON_VALUES | json_objects(FIELDS)))
def test_any_json_object_is_either_a_message_or_a_field_error(data):
    try:
        incoming = ingest_ops.parse_incoming(data, now=utcnow())
    except ValidationError as error:
        assert error.field
    else:
        assert incoming.external_id and incoming.handle and incoming.posted_at.tzinfo
