"""SLA alerts: the inbox flag, one warning per message to the right people, one
``sla_breached`` event per message, idempotent reruns, and the minute task for real."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from respondr import tasks
from respondr.domain import sla_alerts
from respondr.domain.organisation import get_organisation
from respondr.extensions import db as flask_db
from respondr.models import AuditEntry, Message, Notification, WorkflowEvent
from respondr.timeutil import utcnow
from tests import factories
from tests.conftest import sign_in
from tests.test_escalation import smtp_server  # noqa: F401  (a real SMTP server)


def due_in(make_message, channel, minutes: float, **fields) -> Message:
    """A message whose SLA (the channel's, 60 min) runs out in ``minutes``."""
    received = utcnow() - timedelta(minutes=channel.sla_minutes - minutes)
    return make_message(channel, received_at=received, **fields)


def told(db, message: Message) -> list[int]:
    return sorted(
        db.scalars(
            select(Notification.user_id).where(
                Notification.kind == "sla_warning", Notification.link == f"/messages/{message.id}"
            )
        )
    )


def events(db, kind: str) -> list[WorkflowEvent]:
    return list(db.scalars(select(WorkflowEvent).where(WorkflowEvent.kind == kind).order_by("id")))


def test_the_inbox_flags_messages_about_to_breach_in_words(
    client, db, make_user, make_channel, make_message
):
    make_user(email="bernie@example.com")
    channel = make_channel(sla_minutes=60)
    due_in(make_message, channel, 20, text="Is the signing still on?")
    due_in(make_message, channel, 45, text="Lovely shop")
    due_in(make_message, channel, -5, text="Where is my order?")
    sign_in(client, "bernie@example.com")
    page = client.get("/").get_data(as_text=True)

    def row(text: str) -> str:
        (found,) = [r for r in page.split("<tr") if text in r]
        return found

    assert "About to breach" in row("signing") and re.search(r"1[89] min left", row("signing"))
    assert "About to breach" not in row("Lovely shop")  # 45 min left, warning is 30
    assert "SLA breached" in row("Where is my order?") and "overdue" in row("Where is my order?")

    get_organisation(db).sla_warning_minutes = 50  # the warning time is the organisation's
    db.commit()
    page = client.get("/").get_data(as_text=True)
    assert "About to breach" in row("Lovely shop")
    message_id = due_in(make_message, channel, 10, text="Help!").id
    assert "About to breach" in client.get(f"/messages/{message_id}").get_data(as_text=True)


def test_about_to_breach_lists_open_messages_within_the_warning_time(
    db, make_channel, make_message
):
    channel = make_channel(sla_minutes=60)
    soon = due_in(make_message, channel, 10)
    sooner = due_in(make_message, channel, 2)
    due_in(make_message, channel, 40)  # not yet
    due_in(make_message, channel, -1)  # already breached
    due_in(make_message, channel, 5, status="closed")
    due_in(make_message, channel, 5, status="published")
    found = db.scalars(sla_alerts.about_to_breach(db, now=utcnow())).all()
    assert [m.id for m in found] == [sooner.id, soon.id]


def test_each_message_warns_its_people_once(db, make_user, make_channel, make_message):
    channel = make_channel(sla_minutes=60)
    bernie = make_user(name="Bernie")
    maya = make_user(name="Maya")
    away = make_user(name="Away")
    away.available = False
    make_user(name="Carol", roles="approver")  # not an agent
    team = factories.create_team(db, name="Weekend", members=[maya, away])
    assigned = due_in(make_message, channel, 10)
    assigned.assignee_id = bernie.id
    claimed = due_in(make_message, channel, 12)
    claimed.assignee_id, claimed.claimed_by_id = bernie.id, maya.id
    teamed = due_in(make_message, channel, 15)
    teamed.assigned_team_id = team.id
    pooled = due_in(make_message, channel, 20)
    later = due_in(make_message, channel, 50)
    db.commit()

    now = utcnow()
    done = sla_alerts.check_slas(db, now=now)
    assert set(done.warned) == {assigned.id, claimed.id, teamed.id, pooled.id}
    assert done.breached == ()
    assert told(db, assigned) == [bernie.id]  # the assignee
    assert told(db, claimed) == [maya.id]  # the claim holder
    assert told(db, teamed) == [maya.id]  # the team's available members
    assert told(db, pooled) == sorted([bernie.id, maya.id])  # every available agent
    assert told(db, later) == []
    warned = events(db, "sla_warned")
    assert len(warned) == 4
    assert {e.message_id: e.data["notified"] for e in warned}[claimed.id] == [maya.id]

    again = sla_alerts.check_slas(db, now=now + timedelta(minutes=1))
    assert (again.warned, again.breached) == ((), ())
    assert len(events(db, "sla_warned")) == 4
    assert told(db, pooled) == sorted([bernie.id, maya.id])  # no repeat

    # Twenty minutes on, the later one is within the warning time: warned once, too.
    assert sla_alerts.check_slas(db, now=now + timedelta(minutes=21)).warned == (later.id,)


def test_each_breach_is_one_event_at_the_moment_it_fell_due(db, make_channel, make_message):
    channel = make_channel(sla_minutes=60)
    late = due_in(make_message, channel, -15)
    answered = due_in(make_message, channel, -30, status="published")
    closed = due_in(make_message, channel, -30, status="closed")
    soon = due_in(make_message, channel, 5)
    now = utcnow()
    done = sla_alerts.check_slas(db, now=now)
    assert done.breached == (late.id,)
    (event,) = events(db, "sla_breached")
    assert (event.message_id, event.at, event.actor_id) == (late.id, late.sla_due_at, None)
    assert event.data == {"sla_minutes": 60}
    assert sla_alerts.check_slas(db, now=now).breached == ()  # once only
    # The message warned about earlier breaches later: its own single event.
    assert sla_alerts.check_slas(db, now=now + timedelta(minutes=6)).breached == (soon.id,)
    assert sla_alerts.check_slas(db, now=now + timedelta(minutes=7)).breached == ()
    breached = [e.message_id for e in events(db, "sla_breached")]
    assert breached == [late.id, soon.id]
    assert answered.id not in breached and closed.id not in breached


@pytest.fixture
def task_app(committed_app, monkeypatch, smtp_server):  # noqa: F811
    url, mailbox = smtp_server
    committed_app.config["SMTP_URL"] = url
    monkeypatch.setattr(tasks, "task_app", lambda: committed_app)
    yield committed_app, mailbox
    committed_app.config.pop("SMTP_URL")


def test_the_minute_task_warns_and_records_breaches_once(task_app):
    app, mailbox = task_app
    with app.app_context():
        session = flask_db.session
        agent = factories.create_user(session, name="Bernie", email="bernie@bernies.example")
        channel = factories.create_channel(session, sla_minutes=60)
        soon = factories.create_message(
            session, channel, received_at=utcnow() - timedelta(minutes=50)
        )
        factories.create_message(session, channel, received_at=utcnow() - timedelta(minutes=70))
        soon_id, agent_id = soon.id, agent.id
        session.remove()

    assert tasks.check_slas.call_local() == 2  # one warned, one breached
    assert tasks.check_slas.call_local() == 0
    with app.app_context():
        session = flask_db.session
        assert [e.message_id for e in events(session, "sla_warned")] == [soon_id]
        assert len(events(session, "sla_breached")) == 1
        assert told(session, session.get(Message, soon_id)) == [agent_id]
        session.remove()
    ((_sender, recipients, body),) = mailbox.messages
    assert recipients == ["bernie@bernies.example"]
    assert re.search(r"is due in (9|10) min", body)


def test_the_warning_time_is_set_from_the_command_line_audited_and_checked(runner, db):
    assert runner.invoke(args=["sla-warning"]).output == "SLA warning time: 30 min\n"
    result = runner.invoke(args=["sla-warning", "45"])
    assert result.exit_code == 0, result.output
    assert result.output == "SLA warning time: 45 min\n"
    db.expire_all()
    assert sla_alerts.warning_time(db) == timedelta(minutes=45)
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "organisation.settings"))
    assert entry is not None and entry.details == {"sla_warning_minutes": [30, 45]}
    refused = runner.invoke(args=["sla-warning", "0"])
    assert refused.exit_code != 0
    assert "from 1 to 10080 minutes" in refused.output
    assert runner.invoke(args=["sla-warning"]).output == "SLA warning time: 45 min\n"
