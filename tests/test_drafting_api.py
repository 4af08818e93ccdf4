"""Drafting and clearing replies through the API, under each shipped policy."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from respondr.domain import accounts
from respondr.domain.presets import ensure_presets
from respondr.models import ApprovalPolicy, StockResponse, WorkflowEvent
from respondr.timeutil import utcnow


def bearer(db, user):
    token = accounts.create_api_token(db, user, actor=None, now=utcnow())
    db.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(db, make_user, make_channel, make_message):
    """A channel, a message, an untrusted and a trusted agent, and an approver."""
    ensure_presets(db, now=utcnow())
    channel = make_channel(name="Bernie the Bookworm")
    people = {
        "bernie": make_user(name="Bernie", roles="agent"),
        "maya": make_user(name="Maya", roles="agent", trusted=True),
        "carol": make_user(name="Carol", roles="approver"),
        "dana": make_user(name="Dana", roles="approver"),
    }
    message = make_message(channel, text="It's my birthday today and I love your stores!")
    return {
        "channel": channel,
        "message": message,
        **people,
        "headers": {name: bearer(db, user) for name, user in people.items()},
    }


def use_policy(db, channel, slug):
    channel.policy = db.scalar(select(ApprovalPolicy).where(ApprovalPolicy.slug == slug))
    db.commit()


def draft_and_submit(client, world, who, text="Happy birthday!", **draft_extra):
    headers = world["headers"][who]
    created = client.post(
        f"/api/v1/messages/{world['message'].id}/drafts",
        json={"text": text, **draft_extra},
        headers=headers,
    )
    assert created.status_code == 201, created.json
    return client.post(f"/api/v1/drafts/{created.json['id']}/submit", headers=headers)


def test_corporate_clears_all_holds_even_a_birthday_greeting(client, db, world):
    use_policy(db, world["channel"], "corporate-clears-all")
    answer = draft_and_submit(client, world, "maya")
    assert answer.status_code == 200
    submission = answer.json["submission"]
    assert submission["outcome"] == "pending_approval"
    assert submission["reason"] == (
        "needs approval: every reply is cleared by corporate — rule 1 of Corporate clears all v1"
    )
    assert submission["policy"] == {
        "id": submission["policy"]["id"],
        "name": "Corporate clears all",
        "version": 1,
    }
    assert submission["rule"] == 1
    assert answer.json["status"] == "awaiting_approval"


def test_trusted_staff_free_lets_a_trusted_agent_out_and_holds_an_untrusted_one(
    client, db, world, make_message
):
    use_policy(db, world["channel"], "trusted-staff-free")
    trusted = draft_and_submit(client, world, "maya")
    assert trusted.json["submission"]["outcome"] == "published"
    assert trusted.json["status"] == "approved"
    world["message"] = make_message(world["channel"], text="Do you stock Murakami?")
    untrusted = draft_and_submit(client, world, "bernie", text="Yes, in every store!")
    assert untrusted.json["submission"]["outcome"] == "pending_approval"
    assert "not trusted" in untrusted.json["submission"]["reason"]


def test_stock_responses_free_lets_an_unedited_pre_approved_reply_out(
    client, db, world, make_message
):
    use_policy(db, world["channel"], "stock-responses-free")
    birthday = StockResponse(
        title="Happy birthday", text="Happy birthday, {fan_name}! 🎂", pre_approved=True
    )
    db.add(birthday)
    db.commit()
    headers = world["headers"]["bernie"]
    created = client.post(
        f"/api/v1/messages/{world['message'].id}/drafts",
        json={"stock_response_id": birthday.id},
        headers=headers,
    )
    assert created.json["unedited_stock"] is True
    assert created.json["text"].startswith("Happy birthday, ")
    out = client.post(f"/api/v1/drafts/{created.json['id']}/submit", headers=headers)
    assert out.json["submission"]["outcome"] == "published"

    world["message"] = make_message(world["channel"], text="Birthday today!")
    created = client.post(
        f"/api/v1/messages/{world['message'].id}/drafts",
        json={"stock_response_id": birthday.id},
        headers=headers,
    )
    edited = client.put(
        f"/api/v1/drafts/{created.json['id']}",
        json={"text": created.json["text"] + " See you soon!"},
        headers={**headers, "If-Match": created.headers["ETag"]},
    )
    assert edited.json["unedited_stock"] is False
    held = client.post(f"/api/v1/drafts/{created.json['id']}/submit", headers=headers)
    assert held.json["submission"]["outcome"] == "pending_approval"


def test_risk_based_holds_a_complaint_and_lets_a_thank_you_out(client, db, world, make_message):
    use_policy(db, world["channel"], "risk-based")
    message = world["message"]
    message.intent, message.sentiment_score = "praise", 0.8
    db.commit()
    thanks = draft_and_submit(client, world, "bernie", text="Thank you so much!")
    assert thanks.json["submission"]["outcome"] == "published"

    complaint = make_message(world["channel"], text="The Elm Street store closed without notice")
    complaint.intent, complaint.sentiment_score = "complaint", 0.0
    db.commit()
    world["message"] = complaint
    held = draft_and_submit(client, world, "bernie", text="We're sorry to hear that.")
    assert held.json["submission"]["outcome"] == "pending_approval"
    assert "complaint" in held.json["submission"]["reason"]
    assert held.json["submission"]["rule"] == 2


def test_approver_edits_then_approves_and_the_author_sees_the_edit(client, db, world):
    use_policy(db, world["channel"], "corporate-clears-all")
    submitted = draft_and_submit(client, world, "bernie", text="happy bday!!")
    draft_id = submitted.json["id"]
    approved = client.post(
        f"/api/v1/drafts/{draft_id}/approve",
        json={"text": "Happy birthday from all of us at Bernie's!"},
        headers=world["headers"]["carol"],
    )
    assert approved.status_code == 200
    assert approved.json["status"] == "approved"
    assert approved.json["submission"]["outcome"] == "approved"
    seen = client.get(f"/api/v1/drafts/{draft_id}", headers=world["headers"]["bernie"]).json
    assert seen["text"] == "Happy birthday from all of us at Bernie's!"
    assert seen["version"] == 2
    event = db.scalar(select(WorkflowEvent).where(WorkflowEvent.kind == "approved"))
    assert event.data == {"step": 1, "final": True, "edited": True}


def test_send_back_with_a_note_then_rework_and_resubmit(client, db, world):
    use_policy(db, world["channel"], "corporate-clears-all")
    submitted = draft_and_submit(client, world, "bernie", text="hbd")
    draft_id = submitted.json["id"]
    rejected = client.post(
        f"/api/v1/drafts/{draft_id}/reject",
        json={"note": "Please write it out in full."},
        headers=world["headers"]["carol"],
    )
    assert rejected.json["status"] == "rejected"
    revised = client.put(
        f"/api/v1/drafts/{draft_id}",
        json={"text": "Happy birthday!"},
        headers={**world["headers"]["bernie"], "If-Match": '"1"'},
    )
    assert revised.status_code == 200
    again = client.post(f"/api/v1/drafts/{draft_id}/submit", headers=world["headers"]["bernie"])
    assert again.json["submission"]["number"] == 2
    assert again.json["submission"]["outcome"] == "pending_approval"


def test_nobody_approves_their_own_draft(client, db, world, make_user):
    use_policy(db, world["channel"], "corporate-clears-all")
    both = make_user(name="Ann Both", roles="agent,approver")
    headers = bearer(db, both)
    world["headers"]["ann"] = headers
    submitted = draft_and_submit(client, world, "ann")
    own = client.post(f"/api/v1/drafts/{submitted.json['id']}/approve", headers=headers)
    assert own.status_code == 403
    assert "your own reply" in own.json["error"]


def test_a_stale_version_gets_409(client, db, world):
    headers = world["headers"]["bernie"]
    created = client.post(
        f"/api/v1/messages/{world['message'].id}/drafts",
        json={"text": "First try"},
        headers=headers,
    )
    draft_id = created.json["id"]
    client.put(
        f"/api/v1/drafts/{draft_id}",
        json={"text": "Second try"},
        headers={**headers, "If-Match": '"1"'},
    )
    stale = client.put(
        f"/api/v1/drafts/{draft_id}",
        json={"text": "Overwrite?"},
        headers={**headers, "If-Match": '"1"'},
    )
    assert stale.status_code == 409
    assert stale.json["field"] == "version"
    missing = client.put(f"/api/v1/drafts/{draft_id}", json={"text": "x"}, headers=headers)
    assert missing.status_code == 428


def test_twitter_length_is_checked_before_submission(client, db, world, make_channel, make_message):
    tweet_channel = make_channel(name="@BerniesBooks", kind="twitter")
    world["message"] = make_message(tweet_channel)
    answer = draft_and_submit(client, world, "bernie", text="x" * 281)
    assert answer.status_code == 400
    assert answer.json["field"] == "text" and "280" in answer.json["error"]


def test_an_unfilled_placeholder_is_never_submitted(client, db, world):
    answer = draft_and_submit(client, world, "bernie", text="Our {store} opens at 9.")
    assert answer.status_code == 400
    assert "{store}" in answer.json["error"]


def test_someone_else_cannot_draft_on_a_claimed_message(client, db, world):
    draft_and_submit(client, world, "bernie", text="Mine")
    other = client.post(
        f"/api/v1/messages/{world['message'].id}/drafts",
        json={"text": "Me too"},
        headers=world["headers"]["maya"],
    )
    assert other.status_code == 409
    assert "Bernie has already claimed" in other.json["error"]
