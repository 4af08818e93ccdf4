"""``respondr report latency`` shows next reply time and, for channels with business
hours, each series counted in business hours under its calendar line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from respondr.domain import business_hours
from tests.test_metrics import FREE, write

MONDAY = datetime(2026, 3, 2, 16, tzinfo=UTC)  # 16:00 in London (GMT)
WEEKDAYS = {
    "timezone": "Europe/London",
    "hours": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
}


def test_the_table_shows_next_reply_and_business_hours_beneath_each_series(
    runner, db, make_user, make_channel
):
    agent = make_user()
    channel = make_channel(name="Bernie the Bookworm")
    channel.business_hours = business_hours.validate_spec(WEEKDAYS)

    def answered(received: datetime, thread: str) -> None:
        write(
            db,
            channel,
            received_at=received,
            thread_key=thread,
            steps=[
                (received + timedelta(minutes=30), "claimed", agent.id, {}),
                (received + timedelta(minutes=59), "submitted", agent.id, FREE),
                # Published the next morning at 10:00: 1 h + 1 h in business hours.
                (MONDAY + timedelta(hours=18), "published", agent.id, {}),
            ],
        )

    answered(MONDAY, "post-1")
    answered(MONDAY + timedelta(minutes=1), "post-1")  # a follow-up in the thread
    db.commit()
    result = runner.invoke(args=["report", "latency"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    ttfr = next(i for i, line in enumerate(lines) if "Time to first response" in line)
    assert "n=2" in lines[ttfr] and "max=18.00h" in lines[ttfr]
    assert "in business hours" in lines[ttfr + 1]
    assert "n=2" in lines[ttfr + 1] and "max=2.00h" in lines[ttfr + 1]
    next_reply = next(line for line in lines if "Next reply time" in line)
    assert "n=1" in next_reply and "max=17.98h" in next_reply
    assert lines[-1].startswith("Bottleneck: ")
