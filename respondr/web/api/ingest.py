"""Getting fan messages in: the ingest API and the inbound webhooks.

- ``POST /api/v1/messages`` (a bearer token, any role): one message, answered 201 with
  the stored message (200 with the message already stored under that channel and
  external id), or ``{"messages": [...]}`` (up to 1,000), answered 200 with one result
  per item, in order.
- ``POST /api/v1/channels/<id>/webhook``: the same bodies for one channel, without
  ``channel``, signed with the channel's inbound secret in ``X-Respondr-Signature``.
- ``GET``/``POST /api/v1/channels/<id>/facebook``: Facebook's subscription check and
  page feed deliveries, signed with the app secret in ``X-Hub-Signature-256``.

The webhooks are public: the signature is their authentication, checked against the raw
body before anything is read from it. Errors are JSON naming the offending field.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, jsonify, request

from respondr.domain import facebook
from respondr.domain import ingest as ops
from respondr.domain.errors import NotFound, ValidationError
from respondr.extensions import db
from respondr.models import Channel
from respondr.timeutil import utcnow
from respondr.web.api import api_requires, api_user, bp
from respondr.web.api.messages import message_json
from respondr.web.permissions import public


def _result_json(result: ops.ItemResult) -> dict[str, Any]:
    if result.message is None:
        return {"status": result.status, "field": result.field, "error": result.error}
    return {"status": result.status, "id": result.message.id}


def _results_json(results: list[ops.ItemResult], **extra: Any) -> Response:
    counts = {s: sum(r.status == s for r in results) for s in ("created", "existing", "rejected")}
    return jsonify(results=[_result_json(r) for r in results], **counts, **extra)


def _answer(received: ops.Received) -> tuple[Response, int]:
    if received.batch:
        return _results_json(received.results), 200
    result = received.results[0]
    assert result.message is not None
    return jsonify(message_json(result.message)), 201 if result.status == "created" else 200


def _channel(channel_id: int) -> Channel:
    channel = db.session.get(Channel, channel_id) if channel_id <= ops.MAX_ROW_ID else None
    if channel is None:
        raise NotFound(f"There is no channel {channel_id}.")
    return channel


def _json(raw: bytes) -> Any:
    """The parsed body. Unlike ``request.get_json`` it needs no Content-Type (webhook
    senders vary) and answers 400, not 500, to JSON nested too deep to parse."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise ValidationError("The body is not valid JSON.", "body") from None


def _json_object(raw: bytes) -> dict[str, Any]:
    body = _json(raw)
    if not isinstance(body, dict):
        raise ValidationError('Send a JSON object: one message or {"messages": [...]}.', "body")
    return body


@bp.post("/messages")
@api_requires()
def create_messages():
    """Store fan messages sent by an integration; see the module docstring."""
    body = _json_object(request.get_data(cache=True))
    received = ops.receive(db.session, body, channel=None, actor=api_user(), now=utcnow())
    answer = _answer(received)  # before the commit, which would expire and reload every row
    db.session.commit()
    return answer


@bp.post("/channels/<int:channel_id>/webhook")
@public
def channel_webhook(channel_id: int):
    """A channel's signed webhook: the API's bodies, for this channel."""
    channel = _channel(channel_id)
    raw = request.get_data(cache=True)
    now = utcnow()
    ops.verify_signature(
        channel.inbound_secret, request.headers.get(ops.SIGNATURE_HEADER), raw, now=now
    )
    received = ops.receive(db.session, _json_object(raw), channel=channel, actor=None, now=now)
    answer = _answer(received)  # before the commit, which would expire and reload every row
    db.session.commit()
    return answer


@bp.get("/channels/<int:channel_id>/facebook")
@public
def facebook_verify(channel_id: int):
    """Facebook's subscription check: echo ``hub.challenge`` when the token is ours."""
    challenge = facebook.facebook_challenge(_channel(channel_id), request.args)
    return Response(challenge, 200, {"Content-Type": "text/plain; charset=utf-8"})


@bp.post("/channels/<int:channel_id>/facebook")
@public
def facebook_deliver(channel_id: int):
    """A Facebook page feed delivery: new comments and posts become messages."""
    channel = _channel(channel_id)
    app_secret = facebook.facebook_setting(channel, "app_secret")
    raw = request.get_data(cache=True)
    ops.verify_facebook_signature(
        app_secret, request.headers.get(ops.FACEBOOK_SIGNATURE_HEADER), raw
    )
    results, ignored = facebook.receive_facebook(db.session, channel, _json(raw), now=utcnow())
    db.session.commit()
    return _results_json(results, ignored=ignored), 200
