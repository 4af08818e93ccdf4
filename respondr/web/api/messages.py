"""Messages through the API: list with the inbox's filters, claim, release, close, reopen."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request

from respondr.domain import claims, inbox, triage
from respondr.domain.errors import ValidationError
from respondr.extensions import db
from respondr.models import Message
from respondr.timeutil import utcnow
from respondr.web.api import api_requires, api_user, bp, json_body
from respondr.web.converters import MAX_ID


def message_json(message: Message) -> dict[str, Any]:
    fan, claimed_by = message.fan, message.claimed_by
    return {
        "id": message.id,
        "channel": {"id": message.channel_id, "name": message.channel.name},
        "external_id": message.external_id,
        "author": {"handle": fan.handle, "name": fan.display_name, "followers": fan.followers},
        "text": message.text,
        "url": message.url,
        "thread_id": message.thread_key,
        "in_reply_to": message.in_reply_to,
        "posted_at": message.posted_at.isoformat(),
        "received_at": message.received_at.isoformat(),
        "sla_due_at": message.sla_due_at.isoformat(),
        "category": message.category,
        "intent": message.intent,
        "sentiment": {"score": message.sentiment_score, "label": message.sentiment_label},
        "priority": message.priority,
        "status": message.status,
        "assignee_id": message.assignee_id,
        "claimed_by": {"id": claimed_by.id, "name": claimed_by.name} if claimed_by else None,
        "closed_reason": message.closed_reason,
    }


def _message(message_id: int) -> Message:
    message = db.session.get(Message, message_id)
    if message is None:
        abort(404, description=f"There is no message {message_id}.")
    return message


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    if value and not (value.isdigit() and int(value) <= MAX_ID):
        raise ValidationError(f"{name} must be a number from 0 to {MAX_ID}.", name)
    return int(value) if value else None


@bp.get("/messages")
@api_requires()
def list_messages():
    """The inbox as JSON: the same filters and order, and a cursor for the next page."""
    user = api_user()
    limit = _int_arg("limit") or inbox.PAGE_SIZE
    if not 1 <= limit <= 200:
        raise ValidationError("limit must be between 1 and 200.", "limit")
    filters = inbox.InboxFilter(
        channel_id=_int_arg("channel"),
        category=request.args.get("category") or None,
        intent=request.args.get("intent") or None,
        sentiment=request.args.get("sentiment") or None,
        status=request.args.get("status") or "open",
        assignee_id=_int_arg("assignee"),
        mine=user.id if request.args.get("mine") in ("1", "true") else None,
        search=request.args.get("q", "")[:200],
    )
    page = inbox.inbox_page(db.session, filters, cursor=request.args.get("cursor"), limit=limit)
    return jsonify(messages=[message_json(m) for m in page.messages], next_cursor=page.next_cursor)


@bp.get("/messages/<int:message_id>")
@api_requires()
def get_message(message_id: int):
    return jsonify(message_json(_message(message_id)))


def _done(message: Message):
    db.session.commit()
    return jsonify(message_json(message))


@bp.post("/messages/<int:message_id>/claim")
@api_requires()
def claim_message(message_id: int):
    """Exclusive claim: 409 naming the holder when someone else has it."""
    message = _message(message_id)
    claims.claim(db.session, message, actor=api_user(), now=utcnow())
    return _done(message)


@bp.post("/messages/<int:message_id>/release")
@api_requires()
def release_message(message_id: int):
    message = _message(message_id)
    claims.release(db.session, message, actor=api_user(), now=utcnow())
    return _done(message)


@bp.post("/messages/<int:message_id>/close")
@api_requires()
def close_message(message_id: int):
    message = _message(message_id)
    reason = json_body().get("reason")
    if not isinstance(reason, str):
        raise ValidationError(
            "Give a reason: spam, no_reply_needed or handled_elsewhere.", "reason"
        )
    triage.close(db.session, [message], reason=reason, actor=api_user(), now=utcnow())
    return _done(message)


@bp.post("/messages/<int:message_id>/reopen")
@api_requires()
def reopen_message(message_id: int):
    message = _message(message_id)
    triage.reopen(db.session, message, actor=api_user(), now=utcnow())
    return _done(message)
