"""Two gunicorn app servers and a worker on one PostgreSQL and one Redis, driven at once
over real HTTP: whichever server a request lands on, each thing happens exactly once."""

from __future__ import annotations

import json
import time

import requests
from sqlalchemy import func, select

from respondr.domain import accounts
from respondr.extensions import db as flask_db
from respondr.models import (
    Message,
    Note,
    PublishedReply,
    User,
    WorkflowEvent,
)
from respondr.timeutil import utcnow
from tests import factories
from tests.drills import scenes
from tests.drills.harness import wait_for
from tests.drills.visitor import Visitor, at_once, deliver, delivery
from tests.test_approval_races import decisions


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def agents_with_tokens(app, count: int) -> dict[int, str]:
    """``count`` agents: user id → API token."""
    with app.app_context():
        session = flask_db.session
        tokens = {}
        for _ in range(count):
            user = factories.create_user(session)
            tokens[user.id] = accounts.create_api_token(session, user, actor=None, now=utcnow())
        session.commit()
        flask_db.session.remove()
    return tokens


def test_many_agents_claiming_the_same_messages_through_both_servers_get_one_winner_each(
    cluster,
):
    app = cluster.app
    tokens = agents_with_tokens(app, 8)
    with app.app_context():
        channel = factories.create_channel(flask_db.session)
        message_ids = [factories.create_message(flask_db.session, channel).id for _ in range(4)]
        flask_db.session.remove()
    servers = [cluster.a.url, cluster.b.url]
    attempts = [
        (message_id, user_id, servers[n % 2])
        for message_id in message_ids
        for n, user_id in enumerate(tokens)
    ]

    def claim(message_id: int, user_id: int, server: str):
        def call() -> requests.Response:
            return requests.post(
                f"{server}/api/v1/messages/{message_id}/claim",
                headers=bearer(tokens[user_id]),
                timeout=30,
            )

        return call

    answers = at_once([claim(*attempt) for attempt in attempts])

    with app.app_context():
        for message_id in message_ids:
            mine = [
                (user_id, answer)
                for (m, user_id, _server), answer in zip(attempts, answers, strict=True)
                if m == message_id
            ]
            winners = [user_id for user_id, answer in mine if answer.status_code == 200]
            assert len(winners) == 1, [a.status_code for _, a in mine]
            losers = [answer for _, answer in mine if answer.status_code != 200]
            assert {a.status_code for a in losers} == {409}
            holder = flask_db.session.get(User, winners[0]).name
            assert all(a.json()["error"].startswith(holder) for a in losers)
            message = flask_db.session.get(Message, message_id)
            assert message.claimed_by_id == winners[0]
            claimed_events = flask_db.session.scalar(
                select(func.count())
                .select_from(WorkflowEvent)
                .where(WorkflowEvent.message_id == message_id, WorkflowEvent.kind == "claimed")
            )
            assert claimed_events == 1
        flask_db.session.remove()


def test_two_approvers_on_different_servers_make_one_decision_and_one_post(cluster, platform):
    """Carol signs in on server A and Dana on server B; both press Approve at once. The
    worker publishes through a webhook that records every call it gets."""
    app = cluster.app
    draft_id, message_id = scenes.reply_waiting_for_approval(
        app, platform, secret_key=cluster.stack.secret_key, text="See you at 8!"
    )
    with app.app_context():
        carol = factories.create_user(flask_db.session, name="Carol", roles="approver")
        dana = factories.create_user(flask_db.session, name="Dana", roles="approver")
        emails = carol.email, dana.email
        flask_db.session.remove()

    approvers = [(Visitor(emails[0]), cluster.a.url), (Visitor(emails[1]), cluster.b.url)]
    action = f"/drafts/{draft_id}/approve"
    posts = []
    for visitor, server in approvers:
        visitor.sign_in(server)
        fields = visitor.form(f"{server}/approvals", action)
        posts.append(lambda v=visitor, s=server, f=fields: v.post(s + action, f))
    pages = [answer.text for answer in at_once(posts)]

    said = sorted(
        "approved" if "Approved: the reply goes out." in page else "too late" for page in pages
    )
    assert said == ["approved", "too late"]
    assert any("Someone decided on this reply a moment ago." in page for page in pages)

    def published() -> bool:
        with app.app_context():
            found = flask_db.session.scalar(
                select(PublishedReply).where(PublishedReply.draft_id == draft_id)
            )
            flask_db.session.remove()
        return found is not None

    wait_for(published, timeout=30, what="the worker to publish the approved reply")
    time.sleep(1)  # room for a second post, if anything were to send one
    assert len(platform.requests) == 1
    assert json.loads(platform.requests[0]["body"])["text"] == "See you at 8!"
    with app.app_context():
        replies = flask_db.session.scalar(
            select(func.count())
            .select_from(PublishedReply)
            .where(PublishedReply.draft_id == draft_id)
        )
        flask_db.session.remove()
    assert decisions(app, draft_id) == (1, 1)  # one decision, one "approved" event
    assert replies == 1
    # Either approver, on either server, sees it published.
    for visitor, server in approvers:
        page = visitor.get(f"{server}/messages/{message_id}").text
        assert "Published" in page


def test_the_same_webhook_delivery_sent_to_both_servers_at_once_is_stored_once(cluster):
    app = cluster.app
    with app.app_context():
        channel = factories.create_channel(flask_db.session, kind="twitter")
        channel_id, secret = channel.id, channel.inbound_secret
        flask_db.session.remove()
    body = delivery("tw-both-servers")
    answers = at_once(
        [
            lambda s=server: deliver(s, channel_id, secret, body)
            for server in (cluster.a.url, cluster.b.url) * 3
        ]
    )

    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    with app.app_context():
        stored = flask_db.session.scalars(
            select(Message.id).where(
                Message.channel_id == channel_id, Message.external_id == "tw-both-servers"
            )
        ).all()
        received = flask_db.session.scalar(
            select(func.count())
            .select_from(WorkflowEvent)
            .where(WorkflowEvent.message_id == stored[0], WorkflowEvent.kind == "received")
        )
        flask_db.session.remove()
    assert len(stored) == 1 and received == 1


def test_a_session_started_on_one_server_works_on_the_other(cluster):
    with cluster.app.app_context():
        agent = factories.create_user(flask_db.session, name="Erin Session")
        email = agent.email
        flask_db.session.remove()
    erin = Visitor(email)
    erin.sign_in(cluster.a.url)

    inbox = erin.get(f"{cluster.b.url}/")
    assert inbox.status_code == 200 and inbox.url == f"{cluster.b.url}/"
    assert "Erin Session" in inbox.text
    # A form loaded from server A is accepted by server B (same SECRET_KEY: same CSRF).
    action = "/account/availability"
    fields = erin.form(f"{cluster.a.url}/", action)
    answer = erin.post(f"{cluster.b.url}{action}", fields)
    assert answer.status_code == 200 and "○ Away" in answer.text
    # Signing out on B ends the session everywhere.
    fields = erin.form(f"{cluster.b.url}/", "/logout")
    assert erin.post(f"{cluster.b.url}/logout", fields).status_code == 200
    assert erin.get(f"{cluster.a.url}/").url.startswith(f"{cluster.a.url}/login")


def test_live_updates_answer_on_either_server(cluster):
    """The inbox banner and the message page's presence line, polled by live.js, see what
    happened through the other server."""
    with cluster.app.app_context():
        session = flask_db.session
        channel = factories.create_channel(session, kind="twitter")
        message = factories.create_message(session, channel)
        frank = factories.create_user(session, name="Frank Live")
        gina = factories.create_user(session, name="Gina Live")
        channel_id, secret, message_id = channel.id, channel.inbound_secret, message.id
        emails = frank.email, gina.email
        flask_db.session.remove()
    frank, gina = Visitor(emails[0]), Visitor(emails[1])
    frank.sign_in(cluster.a.url)
    gina.sign_in(cluster.b.url)

    page = f"/messages/{message_id}"
    presence = f"{page}/presence"
    assert (
        frank.http.post(
            cluster.a.url + presence, headers=frank.csrf_header(cluster.a.url + page), timeout=30
        ).json()["viewers"]
        == []
    )
    seen_by_gina = gina.http.post(
        cluster.b.url + presence, headers=gina.csrf_header(cluster.b.url + page), timeout=30
    ).json()
    assert seen_by_gina["viewers"] == ["Frank Live"]

    since = utcnow().isoformat()
    delivered = deliver(cluster.a.url, channel_id, secret, delivery("tw-live"))
    assert delivered.status_code == 201
    for visitor, server in ((frank, cluster.a.url), (gina, cluster.b.url)):
        updates = visitor.http.get(f"{server}/inbox/updates", params={"since": since}, timeout=30)
        assert updates.json() == {"new": 1}


def test_sign_in_throttling_counts_failures_on_every_server_together(cluster):
    """Five wrong passwords spread over both servers use up the account's limit (kept in
    Redis): the sixth try is refused on either server, even with the right password."""
    with cluster.app.app_context():
        email = factories.create_user(flask_db.session, name="Ivy Throttle").email
        flask_db.session.remove()
    ivy = Visitor(email)
    servers = [cluster.a.url, cluster.b.url]
    for n in range(5):
        assert ivy.try_sign_in(servers[n % 2], "not-the-password").status_code == 401
    for server in servers:
        refused = ivy.try_sign_in(server, factories.PASSWORD)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
        assert "Too many failed sign-ins for this account" in refused.text


def test_a_form_sent_twice_at_once_to_both_servers_has_one_effect(cluster):
    """The same filled-in form (one submission key) posted four times at the same moment,
    twice to each server: one note is added, the other sendings are told it was already
    submitted."""
    with cluster.app.app_context():
        session = flask_db.session
        message = factories.create_message(session, factories.create_channel(session))
        jo = factories.create_user(session, name="Jo Twice")
        message_id, email = message.id, jo.email
        flask_db.session.remove()
    jo = Visitor(email)
    jo.sign_in(cluster.a.url)
    action = f"/messages/{message_id}/notes"
    fields = jo.form(f"{cluster.a.url}/messages/{message_id}", action)
    fields["text"] = "Checked with the Riverside store: open until 9."

    answers = at_once(
        [
            lambda s=server: jo.post(s + action, fields)
            for server in [cluster.a.url, cluster.b.url] * 2
        ]
    )

    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409]
    assert sum("Note added." in a.text for a in answers) == 1
    assert all("This form was already submitted" in a.text for a in answers if a.status_code == 409)
    with cluster.app.app_context():
        notes = flask_db.session.scalar(
            select(func.count()).select_from(Note).where(Note.message_id == message_id)
        )
        flask_db.session.remove()
    assert notes == 1
