"""Decisions under concurrency, over real HTTP: one decision per round, however many race."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

from sqlalchemy import func, select

from respondr.domain import accounts, drafting
from respondr.extensions import db as flask_db
from respondr.models import ApprovalDecision, Submission, User, WorkflowEvent
from respondr.timeutil import utcnow
from tests import factories


def submitted_draft(app, *, author_roles: str = "agent") -> tuple[int, dict[str, str]]:
    """Bernie's draft held by corporate-clears-all, and API tokens for Bernie and for two
    approvers, Carol and Dana."""
    with app.app_context():
        session = flask_db.session
        channel = factories.create_held_channel(session)
        author = factories.create_user(session, name="Bernie", roles=author_roles)
        message = factories.create_message(session, channel)
        draft = drafting.save_draft(
            session, message, author=author, text="Happy birthday!", version=None, now=utcnow()
        )
        drafting.submit(session, draft, actor=author, now=utcnow())
        tokens = {"bernie": accounts.create_api_token(session, author, actor=None, now=utcnow())}
        for name in ("carol", "dana"):
            approver = factories.create_user(session, name=name.title(), roles="approver")
            tokens[name] = accounts.create_api_token(session, approver, actor=None, now=utcnow())
        session.commit()
        draft_id = draft.id
        flask_db.session.remove()
    return draft_id, tokens


def race(url: str, tokens: list[str]) -> list[int]:
    """POST to ``url`` once per token, all at the same moment; the status codes, sorted."""
    return sorted(race_each(url, tokens))


def race_each(url: str, tokens: list[str]) -> list[int]:
    """POST to ``url`` once per token, all at the same moment; each token's status code."""
    barrier = threading.Barrier(len(tokens))
    statuses: dict[int, int] = {}

    def send(index: int, token: str) -> None:
        request = urllib.request.Request(
            url,
            data=b"{}",
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        barrier.wait(timeout=10)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                statuses[index] = response.status
        except urllib.error.HTTPError as error:
            json.loads(error.read())  # every refusal is a JSON error
            statuses[index] = error.code

    threads = [threading.Thread(target=send, args=pair) for pair in enumerate(tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [statuses[index] for index in range(len(tokens))]


def decisions(app, draft_id: int) -> tuple[int, int]:
    """The draft's approval decisions and "approved" workflow events, counted."""
    with app.app_context():
        session = flask_db.session
        count = session.scalar(
            select(func.count())
            .select_from(ApprovalDecision)
            .join(ApprovalDecision.submission)
            .where(Submission.draft_id == draft_id)
        )
        approved = session.scalar(
            select(func.count())
            .select_from(WorkflowEvent)
            .where(WorkflowEvent.kind == "approved", WorkflowEvent.draft_id == draft_id)
        )
        flask_db.session.remove()
    return count, approved


def test_two_approvers_at_once_make_one_decision(live_server):
    draft_id, tokens = submitted_draft(live_server.app)
    url = f"{live_server.url}/api/v1/drafts/{draft_id}/approve"
    assert race(url, [tokens["carol"], tokens["dana"]]) == [200, 409]
    assert decisions(live_server.app, draft_id) == (1, 1)


def test_a_double_click_approves_once(live_server):
    draft_id, tokens = submitted_draft(live_server.app)
    url = f"{live_server.url}/api/v1/drafts/{draft_id}/approve"
    assert race(url, [tokens["carol"]] * 2) == [200, 409]
    assert decisions(live_server.app, draft_id)[1] == 1


def test_the_author_racing_another_approver_cannot_clear_their_own_reply(live_server):
    draft_id, tokens = submitted_draft(live_server.app, author_roles="agent,approver")
    url = f"{live_server.url}/api/v1/drafts/{draft_id}/approve"
    bernie, carol = race_each(url, [tokens["bernie"], tokens["carol"]])
    assert (bernie, carol) == (403, 200)
    assert decisions(live_server.app, draft_id) == (1, 1)
    with live_server.app.app_context():
        session = flask_db.session
        approvers = session.scalars(
            select(User.name)
            .join(ApprovalDecision, ApprovalDecision.approver_id == User.id)
            .join(ApprovalDecision.submission)
            .where(Submission.draft_id == draft_id)
        ).all()
        flask_db.session.remove()
    assert approvers == ["Carol"]
