"""What the drills set up in the database before they act over HTTP."""

from __future__ import annotations

from flask import Flask

from respondr.domain import channels as channel_ops
from respondr.domain import drafting
from respondr.extensions import db as flask_db
from respondr.timeutil import utcnow
from tests import factories
from tests.test_publishing import Platform


def reply_waiting_for_approval(
    app: Flask,
    platform: Platform,
    *,
    secret_key: str,
    text: str = "On its way!",
    timeout: float = 10,
) -> tuple[int, int]:
    """A submitted draft held by corporate-clears-all on a channel that publishes through
    ``platform``'s webhook (``timeout`` seconds to answer); (draft id, message id)."""
    with app.app_context():
        session = flask_db.session
        channel = factories.create_held_channel(session)
        channel_ops.set_connector(
            session,
            channel,
            connector="webhook",
            url=platform.url + "/replies",
            token="outbound-signing-secret",
            page_id=None,
            secret_key=secret_key,
            actor=None,
            now=utcnow(),
        )
        channel.connector_config = {**channel.connector_config, "timeout_seconds": timeout}
        author = factories.create_user(session)
        message = factories.create_message(session, channel)
        draft = drafting.save_draft(
            session, message, author=author, text=text, version=None, now=utcnow()
        )
        drafting.submit(session, draft, actor=author, now=utcnow())
        session.commit()
        ids = draft.id, message.id
        flask_db.session.remove()
    return ids
