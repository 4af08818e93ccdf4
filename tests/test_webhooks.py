"""Inbound webhooks: a channel's signed webhook, and Facebook Page webhooks."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.serving import make_server

from respondr.domain import facebook, ingest
from respondr.domain.errors import ValidationError
from respondr.extensions import db as flask_db
from respondr.models import Message, WorkflowEvent
from respondr.timeutil import utcnow
from tests import factories
from tests.strategies import JSON_VALUES

PAGE_ID = "104857362"
APP_SECRET = "fb-app-secret-for-tests"
VERIFY_TOKEN = "bernie-verify-token"


def hook_url(channel):
    return f"/api/v1/channels/{channel.id}/webhook"


def delivery(external_id="tw-1", **overrides):
    body = {
        "external_id": external_id,
        "author": {"handle": "@dana", "name": "Dana Fields", "followers": 2400},
        "text": "@BerniesBooks is the Riverside store open late tonight?",
        "posted_at": (utcnow() - timedelta(seconds=40)).isoformat(),
    }
    body.update(overrides)
    return json.dumps(body).encode()


def send(client, channel, body, *, secret=None, at=None):
    timestamp = int(at if at is not None else time.time())
    signature = ingest.sign(secret or channel.inbound_secret, body, timestamp=timestamp)
    return client.post(
        hook_url(channel),
        data=body,
        content_type="application/json",
        headers={ingest.SIGNATURE_HEADER: signature},
    )


def stored(db, channel):
    return db.scalar(
        select(func.count()).select_from(Message).where(Message.channel_id == channel.id)
    )


@pytest.fixture
def channel(make_channel):
    return make_channel(kind="twitter", sla_minutes=30)


def test_a_signed_delivery_is_stored_with_no_actor(client, db, channel):
    response = send(client, channel, delivery())
    assert response.status_code == 201, response.json
    message = db.get(Message, response.json["id"])
    assert message.fan.handle == "@dana" and message.intent == "question"
    event = db.scalar(select(WorkflowEvent).where(WorkflowEvent.message_id == message.id))
    assert (event.kind, event.actor_id) == ("received", None)


def test_a_signed_batch_answers_per_item(client, db, channel):
    body = json.dumps(
        {
            "messages": [
                json.loads(delivery("tw-1")),
                json.loads(delivery("tw-2", text="bad\x00")),
                json.loads(delivery("tw-3")),
            ]
        }
    ).encode()
    response = send(client, channel, body)
    assert response.status_code == 200
    assert [r["status"] for r in response.json["results"]] == ["created", "rejected", "created"]
    assert response.json["results"][1]["field"] == "messages[1].text"
    assert stored(db, channel) == 2


def test_a_tampered_body_gets_401_and_nothing_is_stored(client, db, channel):
    timestamp = int(time.time())
    signature = ingest.sign(channel.inbound_secret, delivery(), timestamp=timestamp)
    response = client.post(
        hook_url(channel),
        data=delivery(text="I was changed on the way"),
        content_type="application/json",
        headers={ingest.SIGNATURE_HEADER: signature},
    )
    assert response.status_code == 401 and response.json["field"] == ingest.SIGNATURE_HEADER
    assert stored(db, channel) == 0


def test_a_stale_timestamp_gets_401(client, db, channel):
    response = send(client, channel, delivery(), at=time.time() - 6 * 60)
    assert response.status_code == 401 and "5 minutes" in response.json["error"]
    assert stored(db, channel) == 0


def test_a_signature_made_with_another_secret_gets_401(client, db, channel, make_channel):
    other = make_channel()
    response = send(client, channel, delivery(), secret=other.inbound_secret)
    assert response.status_code == 401
    assert stored(db, channel) == 0


def test_an_unsigned_or_garbled_signature_is_refused(client, db, channel):
    unsigned = client.post(hook_url(channel), data=delivery(), content_type="application/json")
    assert unsigned.status_code == 400 and unsigned.json["field"] == ingest.SIGNATURE_HEADER
    garbled = client.post(
        hook_url(channel), data=delivery(), headers={ingest.SIGNATURE_HEADER: "t=now,v1=é"}
    )
    assert garbled.status_code == 401
    assert stored(db, channel) == 0


def test_a_sender_rotating_secrets_may_send_two_signatures(client, db, channel):
    body, timestamp = delivery(), int(time.time())
    old = ingest.sign("the-old-secret", body, timestamp=timestamp)
    new = ingest.sign(channel.inbound_secret, body, timestamp=timestamp)
    header = f"{old},{new.split(',')[1]}"
    response = client.post(hook_url(channel), data=body, headers={ingest.SIGNATURE_HEADER: header})
    assert response.status_code == 201


def test_an_unknown_channel_in_the_url_gets_a_json_404(client, channel):
    response = client.post(
        "/api/v1/channels/999999/webhook",
        data=delivery(),
        headers={ingest.SIGNATURE_HEADER: "t=1,v1=00"},
    )
    assert response.status_code == 404 and response.is_json
    too_big = client.post(f"/api/v1/channels/{10**30}/webhook", data=delivery())
    assert too_big.status_code == 404 and too_big.is_json


def test_a_repeated_delivery_stores_one_message(client, db, channel):
    first = send(client, channel, delivery())
    again = send(client, channel, delivery())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"] and stored(db, channel) == 1


def test_a_webhook_takes_messages_for_its_own_channel_only(client, db, channel, make_channel):
    other = make_channel()
    response = send(client, channel, delivery(channel=other.id))
    assert response.status_code == 400 and response.json["field"] == "channel"
    assert send(client, channel, delivery(channel=channel.name)).status_code == 201


def test_the_same_delivery_sent_eight_times_at_once_is_stored_once(committed_app):
    """Real HTTP, real threads, real commits: the unique key and savepoints decide."""
    with committed_app.app_context():
        channel = factories.create_channel(flask_db.session, kind="twitter")
        channel_id, secret = channel.id, channel.inbound_secret
        flask_db.session.remove()
    body = delivery("race-1")
    signature = ingest.sign(secret, body, timestamp=int(time.time()))

    server_name = committed_app.config["SERVER_NAME"]
    committed_app.config["SERVER_NAME"] = None
    server = make_server("127.0.0.1", 0, committed_app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    url = f"http://127.0.0.1:{server.server_port}/api/v1/channels/{channel_id}/webhook"
    barrier = threading.Barrier(8)
    answers: list[tuple[int, int | None]] = []

    def deliver() -> None:
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", ingest.SIGNATURE_HEADER: signature},
        )
        barrier.wait(timeout=30)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answers.append((response.status, json.loads(response.read())["id"]))
        except urllib.error.HTTPError as error:
            answers.append((error.code, None))
            error.close()

    try:
        threads = [threading.Thread(target=deliver) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.shutdown()
        server.server_close()
        committed_app.config["SERVER_NAME"] = server_name

    assert sorted(status for status, _ in answers) == [200] * 7 + [201]
    assert len({message_id for _, message_id in answers}) == 1
    with committed_app.app_context():
        session = flask_db.session
        ids = session.scalars(
            select(Message.id).where(
                Message.channel_id == channel_id, Message.external_id == "race-1"
            )
        ).all()
        events = session.scalars(
            select(WorkflowEvent.kind).where(WorkflowEvent.message_id.in_(ids))
        ).all()
        session.remove()
    assert len(ids) == 1 and events == ["received"]


# --------------------------------------------------------------------------- Facebook


@pytest.fixture
def page(db, make_channel):
    channel = make_channel(name="Bernie the Bookworm", kind="facebook_page")
    channel.connector = "facebook"
    channel.connector_config = {
        "verify_token": VERIFY_TOKEN,
        "app_secret": APP_SECRET,
        "page_id": PAGE_ID,
    }
    db.commit()
    return channel


def fb_url(channel):
    return f"/api/v1/channels/{channel.id}/facebook"


def comment_added(
    *,
    comment_id="5551234_9876",
    parent_id=f"{PAGE_ID}_5551234",
    verb="add",
    sender=("2398475610", "Dana Fields"),
    message="Why was the signing cancelled?",
):
    """A page feed change as Facebook documents it: a comment added to a page post."""
    created = int(time.time()) - 20
    return {
        "object": "page",
        "entry": [
            {
                "id": PAGE_ID,
                "time": created,
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "from": {"id": sender[0], "name": sender[1]},
                            "post": {
                                "status_type": "added_photos",
                                "is_published": True,
                                "updated_time": "2026-11-26T09:00:00+0000",
                                "permalink_url": (
                                    f"https://www.facebook.com/{PAGE_ID}/posts/5551234"
                                ),
                                "promotion_status": "inactive",
                                "id": f"{PAGE_ID}_5551234",
                            },
                            "message": message,
                            "post_id": f"{PAGE_ID}_5551234",
                            "comment_id": comment_id,
                            "created_time": created,
                            "item": "comment",
                            "parent_id": parent_id,
                            "verb": verb,
                        },
                    }
                ],
            }
        ],
    }


def deliver_fb(client, channel, payload, *, secret=APP_SECRET):
    body = json.dumps(payload).encode()
    return client.post(
        fb_url(channel),
        data=body,
        content_type="application/json",
        headers={ingest.FACEBOOK_SIGNATURE_HEADER: ingest.sign_facebook(secret, body)},
    )


def test_facebook_verification_echoes_the_challenge(client, page):
    response = client.get(
        fb_url(page),
        query_string={
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444",
        },
    )
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "1158201444"


def test_facebook_verification_with_a_wrong_token_is_forbidden(client, page):
    response = client.get(
        fb_url(page),
        query_string={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
    )
    assert response.status_code == 403 and response.json["field"] == "hub.verify_token"


def test_a_facebook_comment_is_stored_with_its_thread_and_author(client, db, page):
    response = deliver_fb(client, page, comment_added())
    assert response.status_code == 200, response.json
    assert [r["status"] for r in response.json["results"]] == ["created"]
    message = db.get(Message, response.json["results"][0]["id"])
    assert message.external_id == "5551234_9876"
    assert message.thread_key == f"{PAGE_ID}_5551234"
    assert message.in_reply_to == f"{PAGE_ID}_5551234"
    assert (message.fan.handle, message.fan.display_name) == ("2398475610", "Dana Fields")
    assert message.text == "Why was the signing cancelled?"
    assert message.url == f"https://www.facebook.com/{PAGE_ID}/posts/5551234"
    assert message.category == "to_brand"  # a comment on our own page


def test_a_reply_to_a_comment_stays_in_the_posts_thread(client, db, page):
    deliver_fb(client, page, comment_added())
    reply = comment_added(comment_id="5551234_9999", parent_id="5551234_9876", message="Same!")
    message = db.get(Message, deliver_fb(client, page, reply).json["results"][0]["id"])
    assert message.thread_key == f"{PAGE_ID}_5551234" and message.in_reply_to == "5551234_9876"


def test_a_repeated_facebook_delivery_stores_one_message(client, db, page):
    deliver_fb(client, page, comment_added())
    again = deliver_fb(client, page, comment_added())
    assert [r["status"] for r in again.json["results"]] == ["existing"]
    assert stored(db, page) == 1


def test_a_bad_facebook_signature_gets_401_and_nothing_is_stored(client, db, page):
    response = deliver_fb(client, page, comment_added(), secret="not-the-app-secret")
    assert response.status_code == 401
    assert response.json["field"] == ingest.FACEBOOK_SIGNATURE_HEADER
    assert stored(db, page) == 0


def test_facebook_edits_removals_and_the_pages_own_replies_are_ignored(client, db, page):
    for payload in (
        comment_added(verb="edited"),
        comment_added(verb="remove"),
        comment_added(sender=(PAGE_ID, "Bernie the Bookworm")),
    ):
        response = deliver_fb(client, page, payload)
        assert response.status_code == 200
        assert response.json["results"] == [] and response.json["ignored"] == 1
    assert stored(db, page) == 0


def test_entries_for_another_page_are_ignored(client, db, page):
    payload = comment_added()
    payload["entry"][0]["id"] = "999"
    response = deliver_fb(client, page, payload)
    assert response.status_code == 200 and response.json["ignored"] == 1
    assert stored(db, page) == 0


def test_a_channel_without_facebook_settings_is_no_facebook_endpoint(client, channel):
    assert client.get(fb_url(channel)).status_code == 404
    assert client.post(fb_url(channel), data=b"{}").status_code == 404


FB_ANY = st.sampled_from(["comment", "post", "add", "2026-11-26T09:00:00Z", "1"]) | JSON_VALUES
FB_VALUES = st.fixed_dictionaries(
    {"item": st.sampled_from(["comment", "post"]) | FB_ANY, "verb": st.just("add") | FB_ANY},
    optional={
        key: FB_ANY
        for key in ("from", "message", "post_id", "comment_id", "parent_id", "created_time")
    },
)
FB_CHANGES = st.lists(
    st.fixed_dictionaries({"field": st.just("feed") | JSON_VALUES, "value": FB_VALUES}),
    max_size=3,
)
FB_ENTRIES = st.lists(
    st.fixed_dictionaries({"id": st.just(PAGE_ID), "changes": FB_CHANGES}), max_size=2
)
FB_PAYLOADS = JSON_VALUES | st.fixed_dictionaries(
    {"object": st.just("page"), "entry": JSON_VALUES | FB_ENTRIES}
)


@given(payload=FB_PAYLOADS)
def test_any_facebook_payload_becomes_messages_or_field_errors_never_a_crash(payload):
    try:
        messages, labels, _ = facebook.facebook_items(payload, page_id=PAGE_ID, now=utcnow())
    except ValidationError as error:
        assert error.field == "entry"
        return
    assert len(messages) == len(labels)
    for message, label in zip(messages, labels, strict=True):
        try:
            ingest.parse_incoming(message, prefix=label, need_channel=False, now=utcnow())
        except ValidationError as error:
            assert error.field.startswith(label)
