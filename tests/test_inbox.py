"""Working the inbox: filters, search, keyset pages, claims, closing, notes — web and API."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from respondr.domain import accounts
from respondr.models import Message, Notification, WorkflowEvent
from respondr.timeutil import utcnow
from tests.conftest import csrf_token, sign_in


def kinds(db, message):
    return db.scalars(
        select(WorkflowEvent.kind)
        .where(WorkflowEvent.message_id == message.id)
        .order_by(WorkflowEvent.id)
    ).all()


def bearer(db, user):
    token = accounts.create_api_token(db, user, actor=None, now=utcnow())
    db.commit()
    return {"Authorization": f"Bearer {token}"}


def test_inbox_lists_open_messages_most_urgent_first(client, make_user, make_channel, make_message):
    make_user(email="bernie@example.com")
    fast = make_channel(name="Twitter", kind="twitter", sla_minutes=30)
    slow = make_channel(name="Blog", kind="blog", sla_minutes=600)
    now = utcnow()
    make_message(slow, text="Lovely blog post", received_at=now - timedelta(hours=2))
    make_message(fast, text="Where is my order?", received_at=now - timedelta(minutes=10))
    make_message(fast, text="Closed one", status="closed")
    sign_in(client, "bernie@example.com")
    page = client.get("/").get_data(as_text=True)
    assert page.index("Where is my order?") < page.index("Lovely blog post")
    assert "Closed one" not in page
    assert re.search(r"\b(19|20) min left", page)  # 30 min SLA, received 10 min ago


def test_filters_and_search_narrow_the_inbox(client, db, make_user, make_channel, make_message):
    make_user(email="bernie@example.com")
    channel = make_channel()
    signing = make_message(channel, text="Why was the book signing cancelled?")
    signing.category, signing.intent = "to_brand", "complaint"
    make_message(channel, text="Happy birthday Bernie!")
    db.commit()
    sign_in(client, "bernie@example.com")
    for query in ({"q": "signing"}, {"q": "SIGNING cancelled"}, {"intent": "complaint"}):
        page = client.get("/", query_string=query).get_data(as_text=True)
        assert "book signing" in page and "Happy birthday" not in page, query
    assert "Nothing matches" in client.get("/", query_string={"q": "refund"}).get_data(as_text=True)
    assert client.get("/", query_string={"intent": "gossip"}).status_code == 302


def test_keyset_pages_cover_every_message_once(db, make_user, make_channel, make_message):
    from respondr.domain import inbox

    channel = make_channel()
    start = utcnow()
    same_time = start - timedelta(minutes=5)
    made = [make_message(channel, received_at=same_time) for _ in range(4)]
    made += [make_message(channel, received_at=start - timedelta(minutes=i)) for i in range(7)]
    seen, cursor = [], None
    while True:
        page = inbox.inbox_page(db, inbox.InboxFilter(), cursor=cursor, limit=3)
        seen += [m.id for m in page.messages]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(m.id for m in made)
    assert len(seen) == len(set(seen))


def test_agent_claims_from_the_message_page_and_a_colleague_sees_it_taken(
    app, client, db, make_user, make_channel, make_message
):
    make_user(email="bernie@example.com", name="Bernie")
    make_user(email="maya@example.com", name="Maya")
    message = make_message(make_channel())
    sign_in(client, "bernie@example.com")
    token = csrf_token(client, f"/messages/{message.id}")
    response = client.post(f"/messages/{message.id}/claim", data={"csrf_token": token})
    assert response.status_code == 303

    maya = app.test_client()
    sign_in(maya, "maya@example.com")
    page = maya.get(f"/messages/{message.id}").get_data(as_text=True)
    assert "<strong>Bernie</strong> is working on this message" in page
    assert ">Claim</button>" not in page
    maya_token = csrf_token(maya, "/account")
    refused = maya.post(f"/messages/{message.id}/claim", data={"csrf_token": maya_token})
    assert refused.status_code == 409
    assert "Bernie has already claimed this message." in refused.get_data(as_text=True)
    assert kinds(db, message) == ["claimed"]


def test_api_claim_race_loser_gets_409_naming_the_holder(
    client, db, make_user, make_channel, make_message
):
    bernie = make_user(name="Bernie")
    maya = make_user(name="Maya")
    message = make_message(make_channel())
    first = client.post(f"/api/v1/messages/{message.id}/claim", headers=bearer(db, bernie))
    assert first.status_code == 200 and first.json["claimed_by"]["name"] == "Bernie"
    second = client.post(f"/api/v1/messages/{message.id}/claim", headers=bearer(db, maya))
    assert second.status_code == 409
    assert second.json["error"] == "Bernie has already claimed this message."
    released = client.post(f"/api/v1/messages/{message.id}/release", headers=bearer(db, bernie))
    assert released.json["status"] == "new" and released.json["claimed_by"] is None


def test_api_lists_with_filters_and_a_cursor(client, db, make_user, make_channel, make_message):
    user = make_user()
    channel = make_channel()
    for i in range(5):
        make_message(channel, text=f"question {i}")
    headers = bearer(db, user)
    first = client.get("/api/v1/messages", query_string={"limit": 3}, headers=headers).json
    assert len(first["messages"]) == 3 and first["next_cursor"]
    rest = client.get(
        "/api/v1/messages",
        query_string={"limit": 3, "cursor": first["next_cursor"]},
        headers=headers,
    ).json
    assert len(rest["messages"]) == 2 and rest["next_cursor"] is None
    bad = client.get("/api/v1/messages", query_string={"status": "lost"}, headers=headers)
    assert bad.status_code == 400 and bad.json["field"] == "status"
    broken = client.get("/api/v1/messages", query_string={"cursor": "???"}, headers=headers)
    assert broken.status_code == 400 and broken.json["field"] == "cursor"


def test_api_close_needs_a_known_reason_and_reopen_brings_it_back(
    client, db, make_user, make_channel, make_message
):
    user = make_user()
    message = make_message(make_channel())
    headers = bearer(db, user)
    bad = client.post(
        f"/api/v1/messages/{message.id}/close", json={"reason": "bored"}, headers=headers
    )
    assert bad.status_code == 400 and bad.json["field"] == "reason"
    closed = client.post(
        f"/api/v1/messages/{message.id}/close", json={"reason": "spam"}, headers=headers
    )
    assert closed.json["status"] == "closed" and closed.json["closed_reason"] == "spam"
    reopened = client.post(f"/api/v1/messages/{message.id}/reopen", headers=headers)
    assert reopened.json["status"] == "new"
    assert kinds(db, message) == ["closed", "reopened"]
    assert client.post("/api/v1/messages/999999/claim", headers=headers).status_code == 404


def test_bulk_close_is_all_or_nothing(client, db, make_user, make_channel, make_message):
    make_user(email="bernie@example.com")
    channel = make_channel()
    spam = [make_message(channel, text=f"buy followers {i}") for i in range(2)]
    waiting = make_message(channel, status="awaiting_approval")
    sign_in(client, "bernie@example.com")
    token = csrf_token(client, "/")
    ids = [str(m.id) for m in spam]
    response = client.post(
        "/inbox/close",
        data={"bulk-csrf_token": token, "reason": "spam", "message": [*ids, str(waiting.id)]},
    )
    assert response.status_code == 303
    assert {db.get(Message, m.id).status for m in spam} == {"new"}
    client.post("/inbox/close", data={"bulk-csrf_token": token, "reason": "spam", "message": ids})
    assert {db.get(Message, m.id).status for m in spam} == {"closed"}


def test_a_note_mentioning_a_colleague_notifies_them_and_keeps_the_claim_alive(
    client, db, make_user, make_channel, make_message
):
    bernie = make_user(email="bernie@example.com", name="Bernie Adler")
    maya = make_user(email="maya@example.com", name="Maya Okafor")
    message = make_message(make_channel())
    sign_in(client, "bernie@example.com")
    token = csrf_token(client, f"/messages/{message.id}")
    client.post(f"/messages/{message.id}/claim", data={"csrf_token": token})
    claimed_at = db.get(Message, message.id).last_activity_at
    client.post(
        f"/messages/{message.id}/notes",
        data={"csrf_token": token, "text": "@maya do we know why it was cancelled?"},
    )
    note = db.get(Message, message.id).notes[0]
    assert note.author_id == bernie.id
    assert db.get(Message, message.id).last_activity_at >= claimed_at
    notice = db.scalar(select(Notification).where(Notification.user_id == maya.id))
    assert notice.kind == "mention" and notice.link == f"/messages/{message.id}"
    assert kinds(db, message) == ["claimed", "note_added"]


def test_a_correction_is_kept_and_recorded(client, db, make_user, make_channel, make_message):
    make_user(email="bernie@example.com")
    message = make_message(make_channel())
    sign_in(client, "bernie@example.com")
    token = csrf_token(client, f"/messages/{message.id}")
    client.post(
        f"/messages/{message.id}/recategorise",
        data={"csrf_token": token, "category": "industry", "intent": "question"},
    )
    message = db.get(Message, message.id)
    assert (message.category, message.category_corrected) == ("industry", True)
    event = db.scalar(select(WorkflowEvent).where(WorkflowEvent.kind == "recategorised"))
    assert event.data["category"] == [None, "industry"]


def test_only_a_manager_can_reassign_and_the_claim_moves(
    app, client, db, make_user, make_channel, make_message
):
    bernie = make_user(email="bernie@example.com", name="Bernie")
    theo = make_user(name="Theo")
    make_user(email="jerry@example.com", roles="manager", name="Jerry")
    message = make_message(make_channel())
    sign_in(client, "bernie@example.com")
    token = csrf_token(client, f"/messages/{message.id}")
    client.post(f"/messages/{message.id}/claim", data={"csrf_token": token})
    assert (
        client.post(
            f"/messages/{message.id}/reassign", data={"csrf_token": token, "assignee": theo.id}
        ).status_code
        == 403
    )
    jerry = app.test_client()
    sign_in(jerry, "jerry@example.com")
    jerry_token = csrf_token(jerry, f"/messages/{message.id}")
    jerry.post(
        f"/messages/{message.id}/reassign", data={"csrf_token": jerry_token, "assignee": theo.id}
    )
    message = db.get(Message, message.id)
    assert message.claimed_by_id == theo.id and message.assignee_id == theo.id
    event = db.scalar(select(WorkflowEvent).where(WorkflowEvent.kind == "reassigned"))
    assert event.data == {"from_id": bernie.id, "to_id": theo.id}


def test_fan_text_is_shown_escaped_and_verbatim(client, make_user, make_channel, make_message):
    make_user(email="bernie@example.com")
    hostile = '<script>alert("x")</script> <img src=x onerror=alert(1)> \u202eevil'
    message = make_message(make_channel(), text=hostile)
    sign_in(client, "bernie@example.com")
    for path in ("/", f"/messages/{message.id}"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
        assert "\u202eevil" in page


def test_inbox_updates_count_messages_that_arrived_after_the_page(
    client, make_user, make_channel, make_message
):
    make_user(email="bernie@example.com")
    channel = make_channel()
    opened = utcnow()
    make_message(channel, received_at=opened - timedelta(minutes=1))
    make_message(channel, received_at=opened + timedelta(seconds=5))
    sign_in(client, "bernie@example.com")
    answer = client.get("/inbox/updates", query_string={"since": opened.isoformat()})
    assert answer.json == {"new": 1}
    naive = client.get("/inbox/updates", query_string={"since": "2026-01-01T10:00:00"})
    assert naive.status_code == 400 and naive.json["field"] == "since"


def test_a_fans_name_cannot_reorder_the_text_around_it(
    client, db, make_user, make_channel, make_message
):
    make_user(email="bernie@example.com")
    message = make_message(make_channel(), text="Hello", handle="\u202egnp.exe")
    message.fan.display_name = "\u202eevil\u202c <b>name</b>"
    db.flush()
    sign_in(client, "bernie@example.com")
    for path in ("/", f"/messages/{message.id}"):
        page = client.get(path).get_data(as_text=True)
        assert "<bdi>\u202eevil\u202c &lt;b&gt;name&lt;/b&gt;</bdi>" in page, path
        assert "<bdi>@\u202egnp.exe</bdi>" in page, path
