"""What the storage layer promises on both backends."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError, StatementError

from respondr.models import Fan, Message, WorkflowEvent


def test_times_come_back_as_aware_utc(db, make_channel, make_message):
    eastern = timezone(timedelta(hours=-5))
    posted = datetime(2026, 3, 1, 9, 30, tzinfo=eastern)
    message = make_message(make_channel(), received_at=posted)
    db.expire_all()
    loaded = db.get(Message, message.id)
    assert loaded.received_at == posted
    assert loaded.received_at.tzinfo is not None
    assert loaded.received_at.utcoffset() == timedelta(0)
    assert loaded.received_at.hour == 14


def test_naive_times_are_refused(db, make_channel):
    channel = make_channel()
    db.add(WorkflowEvent(kind="received", at=datetime(2026, 3, 1, 9, 30)))
    with pytest.raises(StatementError, match="naive datetime"):
        db.flush()
    db.rollback()
    assert channel.name  # the session is usable again


def test_external_id_is_unique_per_channel(db, make_channel, make_message):
    first, second = make_channel(), make_channel()
    message = make_message(first)
    fan = db.get(Fan, message.fan_id)
    other_fan = Fan(channel_id=second.id, handle=fan.handle)
    db.add(other_fan)
    # The same external id on another channel is a different message.
    db.add(
        Message(
            channel_id=second.id,
            external_id=message.external_id,
            fan=other_fan,
            text="x",
            sla_due_at=datetime.now(UTC),
            posted_at=datetime.now(UTC),
        )
    )
    db.flush()
    db.add(
        Message(
            channel_id=first.id,
            external_id=message.external_id,
            fan=fan,
            text="x",
            sla_due_at=datetime.now(UTC),
            posted_at=datetime.now(UTC),
        )
    )
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()


def test_default_timestamps_are_taken_when_each_row_is_made(db):
    first = WorkflowEvent(kind="received")
    db.add(first)
    db.flush()
    time.sleep(0.01)
    second = WorkflowEvent(kind="received")
    db.add(second)
    db.flush()
    assert second.at > first.at
    assert abs(datetime.now(UTC) - first.at) < timedelta(minutes=1)
