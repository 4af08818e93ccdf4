"""Approvals waiting too long escalate: in-app, by mail to a real SMTP server, as an event."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from respondr import mail
from respondr.domain import drafting
from respondr.domain.escalation import escalate_overdue
from respondr.models import Notification, WorkflowEvent
from respondr.timeutil import utcnow
from tests import factories


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode())
        )
        return "250 OK"


@pytest.fixture
def smtp_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}?from=respondr@bernies.example", inbox
    controller.stop()


@pytest.fixture
def held_reply(db, make_user, make_message):
    channel = factories.create_held_channel(db)
    author = make_user(name="Bernie")
    carol = make_user(name="Carol", roles="approver", email="carol@example.com")
    jerry = make_user(name="Jerry", roles="manager", email="jerry@example.com")
    draft = drafting.save_draft(
        db, make_message(channel), author=author, text="Happy birthday!", version=None, now=utcnow()
    )
    submission = drafting.submit(db, draft, actor=author, now=utcnow())
    db.commit()
    return submission, author, carol, jerry


def test_a_reply_waiting_past_the_limit_escalates_once(db, held_reply, smtp_server):
    submission, _author, carol, jerry = held_reply
    assert escalate_overdue(db, now=utcnow() + timedelta(minutes=30)) == []

    later = utcnow() + timedelta(hours=3)
    notices = escalate_overdue(db, now=later)
    db.commit()
    assert submission.escalated_at == later
    assert len(notices) == 1 and set(notices[0].to) == {carol.email, jerry.email}
    told = db.scalars(select(Notification.user_id).where(Notification.kind == "escalation"))
    assert set(told) == {carol.id, jerry.id}
    event = db.scalar(select(WorkflowEvent).where(WorkflowEvent.kind == "escalated"))
    assert event.submission_id == submission.id and event.data["waited_minutes"] >= 180
    assert escalate_overdue(db, now=later + timedelta(hours=1)) == []  # once per round

    url, inbox = smtp_server
    notice = notices[0]
    assert mail.send(url, to=notice.to, subject=notice.subject, body=notice.body)
    sender, recipients, content = inbox.messages[0]
    assert sender == "respondr@bernies.example"
    assert set(recipients) == {carol.email, jerry.email}
    assert "has waited 180 min for approval" in content and "Happy birthday!" in content


def test_mail_that_cannot_go_is_reported_not_raised():
    assert mail.send("smtp://127.0.0.1:1", to=("a@example.com",), subject="x", body="y") is False
    assert mail.send(None, to=("a@example.com",), subject="x", body="y") is False
