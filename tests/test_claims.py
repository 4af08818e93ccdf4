"""What a refused or repeated claim tells the agent, and what it leaves behind."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from respondr.domain import claims
from respondr.domain.errors import Conflict
from respondr.models import Message, WorkflowEvent
from respondr.timeutil import utcnow


def claimed_events(db, message) -> int:
    return db.scalar(
        select(func.count()).where(
            WorkflowEvent.message_id == message.id, WorkflowEvent.kind == "claimed"
        )
    )


def test_a_closed_message_cannot_be_claimed(db, make_user, make_channel, make_message):
    message = make_message(make_channel(), status="publish_failed")
    with pytest.raises(Conflict, match="This message is publish failed and cannot be claimed"):
        claims.claim(db, message, actor=make_user(), now=utcnow())
    assert claimed_events(db, message) == 0


def test_claiming_a_message_you_hold_changes_nothing(db, make_user, make_channel, make_message):
    agent = make_user()
    message = make_message(make_channel())
    claims.claim(db, message, actor=agent, now=utcnow())
    claimed_at = message.claimed_at
    assert claims.claim(db, message, actor=agent, now=utcnow()) is message
    assert (message.claimed_by_id, message.claimed_at) == (agent.id, claimed_at)
    assert claimed_events(db, message) == 1


def test_the_loser_sees_the_winner_on_the_message(db, make_user, make_channel, make_message):
    bernie, maya = make_user(name="Bernie"), make_user(name="Maya")
    message = make_message(make_channel())
    # Bernie's claim reached the database behind this session's back.
    db.execute(
        update(Message)
        .where(Message.id == message.id)
        .values(claimed_by_id=bernie.id)
        .execution_options(synchronize_session=False)
    )
    assert message.claimed_by_id is None
    with pytest.raises(Conflict, match="Bernie has already claimed this message"):
        claims.claim(db, message, actor=maya, now=utcnow())
    assert message.claimed_by_id == bernie.id
    assert claimed_events(db, message) == 0
