"""Publishing as people see it: the manual connector's "mark as posted", failures, retry."""

from __future__ import annotations

from sqlalchemy import select

from respondr.domain import drafting
from respondr.domain.policies import find_policy, set_channel_policy
from respondr.domain.presets import ensure_presets
from respondr.models import Message, PublishedReply, PublishJob, WorkflowEvent
from respondr.timeutil import utcnow
from tests.conftest import csrf_token, sign_in


def approved(db, make_user, make_channel, make_message, *, connector="manual"):
    ensure_presets(db, now=utcnow())
    channel = make_channel(name="Jerry's blog", kind="blog")
    channel.connector = connector
    set_channel_policy(db, channel, find_policy(db, "open"), actor=None, now=utcnow())
    agent = make_user(email="bernie@example.com", name="Bernie")
    message = make_message(channel)
    draft = drafting.save_draft(
        db, message, author=agent, text="Thanks, Amy!", version=None, now=utcnow()
    )
    drafting.submit(db, draft, actor=agent, now=utcnow())
    db.commit()
    return message, draft


def test_a_manual_channel_reply_is_copied_and_marked_posted(
    client, db, make_user, make_channel, make_message
):
    message, draft = approved(db, make_user, make_channel, make_message)
    assert db.scalar(select(PublishJob)) is None  # nothing automatic for a manual channel
    sign_in(client, "bernie@example.com")
    page = client.get(f"/messages/{message.id}").get_data(as_text=True)
    assert "Ready to post by hand" in page and "Thanks, Amy!" in page
    token = csrf_token(client, f"/messages/{message.id}")
    bad = client.post(f"/drafts/{draft.id}/posted", data={"csrf_token": token, "url": "ftp://x"})
    assert bad.status_code == 400
    done = client.post(
        f"/drafts/{draft.id}/posted", data={"csrf_token": token, "url": "https://blog.example/c/9"}
    )
    assert done.status_code == 303
    reply = db.scalar(select(PublishedReply))
    assert reply.url == "https://blog.example/c/9" and reply.connector == "manual"
    assert db.get(Message, message.id).status == "published"
    event = db.scalar(select(WorkflowEvent).where(WorkflowEvent.kind == "published"))
    assert event.at == reply.published_at
    again = client.post(f"/drafts/{draft.id}/posted", data={"csrf_token": token, "url": ""})
    assert again.status_code == 409
    assert "Published" in client.get(f"/messages/{message.id}").get_data(as_text=True)


def test_a_failed_publish_shows_the_error_and_an_approver_retries(
    app, client, db, make_user, make_channel, make_message
):
    message, draft = approved(db, make_user, make_channel, make_message, connector="webhook")
    job = db.scalar(select(PublishJob))
    job.status, job.attempts, job.last_error = "failed", 6, "webhook answered 400: too long"
    draft.status = message.status = "publish_failed"
    make_user(email="carol@example.com", roles="approver")
    db.commit()
    sign_in(client, "bernie@example.com")
    page = client.get(f"/messages/{message.id}").get_data(as_text=True)
    assert "Publishing failed" in page and "webhook answered 400: too long" in page
    assert "Retry publishing" not in page  # agents cannot retry
    carol = app.test_client()
    sign_in(carol, "carol@example.com")
    token = csrf_token(carol, f"/messages/{message.id}")
    assert carol.post(f"/drafts/{draft.id}/retry", data={"csrf_token": token}).status_code == 303
    assert db.get(PublishJob, job.id).status == "pending"
    assert db.get(Message, message.id).status == "approved"
