"""The weekly summary mail: due Mondays from 08:00 in the organisation's timezone, sent to
the managers through a real SMTP server (aiosmtpd), once per week."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from respondr.domain import demo
from respondr.domain.report_tables import Period, latency_tables
from respondr.domain.weekly_summary import ACTION, week_due
from respondr.models import AuditEntry
from respondr.tasks import send_weekly_summary
from respondr.timeutil import utcnow
from tests.test_escalation import smtp_server  # noqa: F401  (a fixture used below)

NEW_YORK = "America/New_York"


@pytest.mark.parametrize(
    ("now", "week"),
    [
        # Monday 07:59 in New York (12:59 UTC): last week's summary is not due yet.
        (datetime(2026, 3, 2, 12, 59, tzinfo=UTC), date(2026, 2, 16)),
        (datetime(2026, 3, 2, 13, 0, tzinfo=UTC), date(2026, 2, 23)),  # Monday 08:00
        (datetime(2026, 3, 8, 23, 0, tzinfo=UTC), date(2026, 2, 23)),  # Sunday evening
        # Monday 08:00 right after the change to summer time (12:00 UTC).
        (datetime(2026, 3, 9, 12, 0, tzinfo=UTC), date(2026, 3, 2)),
    ],
)
def test_the_summary_is_due_from_monday_eight_oclock_local_time(now, week):
    assert week_due(now, NEW_YORK) == week


def sent_weeks(db) -> list[str]:
    return list(db.scalars(select(AuditEntry.target_id).where(AuditEntry.action == ACTION)))


def test_managers_get_the_summary_once_with_the_bottleneck_and_key_numbers(
    app,
    db,
    smtp_server,  # noqa: F811
    monkeypatch,
):
    url, inbox = smtp_server
    now = utcnow()
    demo.load(db, now=now, only_if_empty=False)
    db.commit()
    monkeypatch.setitem(app.config, "SMTP_URL", url)

    assert send_weekly_summary(app) is True
    assert len(inbox.messages) == 1
    sender, recipients, raw = inbox.messages[0]
    mail = email.message_from_string(raw, policy=email.policy.default)
    body = mail.get_content().replace("\r\n", "\n")
    assert sender == "respondr@bernies.example"
    assert sorted(recipients) == ["admin@example.com", "jerry@example.com"]  # the managers
    week = week_due(now, demo.TIMEZONE)
    assert re.fullmatch(
        r"\[respondr\] Approval wait is \d+% of time to first response",
        mail["Subject"],
    )
    assert body.startswith(f"Response times for Bernie's Bookstore, {week.isoformat()} to ")
    assert re.search(r"^Approval wait is \d+% of time to first response\.$", body, re.M)
    assert re.search(r"^Time to first response: median \d+\.\d h, p90 \d+\.\d h$", body, re.M)
    assert "@BerniesBooks:" in body

    # The same numbers as the report for that week.
    period = Period(week, week + timedelta(days=7), demo.TIMEZONE)
    summary = latency_tables(db, period, group_by=None, now=now).tables["summary"].rows[0]
    assert summary["received"] > 0
    expected = (
        f"Received: {summary['received']}   Answered: {summary['answered']}   "
        f"Open: {summary['open']}   Closed without reply: {summary['closed']}"
    )
    assert expected in body
    assert f"Response rate: {summary['response_rate']:.0%}" in body
    assert sent_weeks(db) == [week.isoformat()]

    # Asked again (the task runs hourly): nothing more goes out.
    assert send_weekly_summary(app) is False
    assert len(inbox.messages) == 1


def test_nothing_is_sent_or_recorded_without_smtp_or_when_the_server_refuses(
    app, db, make_user, monkeypatch
):
    make_user(roles="manager")
    monkeypatch.setitem(app.config, "SMTP_URL", None)
    assert send_weekly_summary(app) is False
    monkeypatch.setitem(app.config, "SMTP_URL", "smtp://127.0.0.1:1")
    assert send_weekly_summary(app) is False  # refused: asked again next hour
    assert sent_weeks(db) == []
