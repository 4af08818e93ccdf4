"""Every way in, over real HTTP against a served app: the API, our signed webhook, Facebook."""

from __future__ import annotations

import json
import time

import pytest
import requests
from sqlalchemy import func, select

from respondr.domain import accounts
from respondr.domain.ingest import sign, sign_facebook
from respondr.extensions import db as flask_db
from respondr.models import Message
from respondr.timeutil import utcnow
from tests import factories

APP_SECRET = "fb-app-secret"


@pytest.fixture(scope="module")
def world(live_server):
    with live_server.app.app_context():
        session = flask_db.session
        twitter = factories.create_channel(session, name="@BerniesBooks", kind="twitter")
        page = factories.create_channel(session, name="Bernie the Bookworm")
        page.connector_config = {"verify_token": "vt", "app_secret": APP_SECRET, "page_id": "1001"}
        agent = factories.create_user(session)
        token = accounts.create_api_token(session, agent, actor=None, now=utcnow())
        session.commit()
        ids = {
            "twitter": twitter.id,
            "page": page.id,
            "secret": twitter.inbound_secret,
            "token": token,
        }
        flask_db.session.remove()
    return ids


def count(live_server, external_id: str) -> int:
    with live_server.app.app_context():
        n = flask_db.session.scalar(
            select(func.count()).select_from(Message).where(Message.external_id == external_id)
        )
        flask_db.session.remove()
    return n


def item(external_id: str, **extra):
    return {
        "channel": "@BerniesBooks",
        "external_id": external_id,
        "author": {"handle": "reader", "name": "A Reader", "followers": 12},
        "text": "Is the Elm Street store open on Sunday?",
        "posted_at": "2026-11-26T09:00:00+01:00",
        **extra,
    }


def api(live_server, world, body, **kwargs):
    return requests.post(
        f"{live_server.url}/api/v1/messages",
        timeout=10,
        headers={"Authorization": f"Bearer {world['token']}", **kwargs.pop("headers", {})},
        **({"json": body} if body is not None else {}),
        **kwargs,
    )


def test_api_creates_then_returns_the_same_message_on_retry(live_server, world):
    first = api(live_server, world, item("http-1"))
    assert first.status_code == 201 and first.json()["intent"] == "question"
    again = api(live_server, world, item("http-1"))
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert count(live_server, "http-1") == 1


def test_api_batch_with_good_and_bad_items_keeps_the_good(live_server, world):
    answer = api(
        live_server,
        world,
        {
            "messages": [
                item("http-2"),
                item("http-3", posted_at="yesterday"),
                item("http-2"),
                item("http-4", channel="myspace"),
            ]
        },
    )
    assert answer.status_code == 200
    statuses = [(r["status"], r.get("field")) for r in answer.json()["results"]]
    assert statuses == [
        ("created", None),
        ("rejected", "messages[1].posted_at"),
        ("existing", None),
        ("rejected", "messages[3].channel"),
    ]
    assert count(live_server, "http-2") == 1 and count(live_server, "http-3") == 0


def test_api_refuses_malformed_oversized_and_unauthenticated_bodies(live_server, world):
    malformed = api(
        live_server, world, None, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400 and "error" in malformed.json()
    huge = api(live_server, world, item("http-5", text="x" * (1024 * 1024 + 10)))
    assert huge.status_code == 413 and "1 MiB" in huge.json()["error"]
    anonymous = requests.post(f"{live_server.url}/api/v1/messages", json=item("http-6"), timeout=10)
    assert anonymous.status_code == 401
    assert count(live_server, "http-5") == 0 and count(live_server, "http-6") == 0


def webhook(live_server, world, body: bytes, signature: str):
    return requests.post(
        f"{live_server.url}/api/v1/channels/{world['twitter']}/webhook",
        data=body,
        timeout=10,
        headers={"Content-Type": "application/json", "X-Respondr-Signature": signature},
    )


def test_signed_webhook_stores_once_and_refuses_tampered_or_stale_deliveries(live_server, world):
    body = json.dumps({k: v for k, v in item("hook-1").items() if k != "channel"}).encode()
    now = int(time.time())
    assert (
        webhook(live_server, world, body, sign(world["secret"], body, timestamp=now)).status_code
        == 201
    )
    assert (
        webhook(live_server, world, body, sign(world["secret"], body, timestamp=now)).status_code
        == 200
    )  # the platform retried the same delivery
    tampered = body.replace(b"Sunday", b"Monday")
    assert (
        webhook(
            live_server, world, tampered, sign(world["secret"], body, timestamp=now)
        ).status_code
        == 401
    )
    stale = now - 6 * 60
    stale_body = body.replace(b"hook-1", b"hook-2")
    assert (
        webhook(
            live_server, world, stale_body, sign(world["secret"], stale_body, timestamp=stale)
        ).status_code
        == 401
    )
    assert count(live_server, "hook-1") == 1 and count(live_server, "hook-2") == 0
    unknown = requests.post(
        f"{live_server.url}/api/v1/channels/999999/webhook",
        data=body,
        timeout=10,
        headers={"X-Respondr-Signature": "t=1,v1=00"},
    )
    assert unknown.status_code == 404 and unknown.json()["error"]


def test_facebook_handshake_and_signed_comment_delivery(live_server, world):
    url = f"{live_server.url}/api/v1/channels/{world['page']}/facebook"
    handshake = requests.get(
        url,
        timeout=10,
        params={"hub.mode": "subscribe", "hub.verify_token": "vt", "hub.challenge": "1158201444"},
    )
    assert handshake.status_code == 200 and handshake.text == "1158201444"
    payload = json.dumps(
        {
            "object": "page",
            "entry": [
                {
                    "id": "1001",
                    "time": 1764147600,
                    "changes": [
                        {
                            "field": "feed",
                            "value": {
                                "from": {"id": "55", "name": "Wes Moreau"},
                                "item": "comment",
                                "verb": "add",
                                "comment_id": "444_777",
                                "post_id": "1001_444",
                                "parent_id": "1001_444",
                                "message": "Why was the signing cancelled?",
                                "created_time": 1764147590,
                                "post": {"id": "1001_444", "status_type": "added_photos"},
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    bad = requests.post(
        url,
        data=payload,
        timeout=10,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + "0" * 64},
    )
    assert bad.status_code == 401 and count(live_server, "444_777") == 0
    good = requests.post(
        url,
        data=payload,
        timeout=10,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign_facebook(APP_SECRET, payload),
        },
    )
    assert good.status_code == 200 and count(live_server, "444_777") == 1
