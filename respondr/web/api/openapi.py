"""The OpenAPI 3 document of ``/api/v1``, served at ``GET /api/v1/openapi.json``.

Built here in code (no YAML to parse, one file to read). ``tests/test_openapi.py`` holds
it to the truth: every ``/api/v1`` route in the URL map must be documented here (a new
route fails until it is), and schemathesis sends generated requests with a real token to
every operation, checking that none answers 5xx and every answer matches this document.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify

from respondr.web.api import bp
from respondr.web.converters import MAX_ID
from respondr.web.permissions import public

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {**schema, "nullable": True}


def obj(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }


STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
TIME: Schema = {"type": "string", "format": "date-time"}
DAY: Schema = {"type": "string", "format": "date"}

SCHEMAS: dict[str, Schema] = {
    "Error": obj({"error": STRING, "field": STRING}, required=["error"]),
    "Me": obj(
        {
            "id": INTEGER,
            "email": STRING,
            "name": STRING,
            "roles": {"type": "array", "items": STRING},
            "trusted": BOOLEAN,
        }
    ),
    "Message": obj(
        {
            "id": INTEGER,
            "channel": obj({"id": INTEGER, "name": STRING}),
            "external_id": STRING,
            "author": obj({"handle": STRING, "name": STRING, "followers": nullable(INTEGER)}),
            "text": STRING,
            "url": nullable(STRING),
            "thread_id": nullable(STRING),
            "in_reply_to": nullable(STRING),
            "posted_at": TIME,
            "received_at": TIME,
            "sla_due_at": TIME,
            "category": nullable(STRING),
            "intent": nullable(STRING),
            "sentiment": obj({"score": nullable(NUMBER), "label": nullable(STRING)}),
            "priority": INTEGER,
            "status": STRING,
            "assignee_id": nullable(INTEGER),
            "claimed_by": nullable(obj({"id": INTEGER, "name": STRING})),
            "closed_reason": nullable(STRING),
        }
    ),
    "MessagePage": obj(
        {"messages": {"type": "array", "items": ref("Message")}, "next_cursor": nullable(STRING)}
    ),
    "IncomingMessage": {
        **obj(
            {
                "channel": {"oneOf": [INTEGER, STRING], "description": "id or name"},
                "external_id": {"oneOf": [STRING, INTEGER]},
                "author": obj(
                    {"handle": STRING, "name": STRING, "followers": INTEGER},
                    required=["handle"],
                ),
                "text": {**STRING, "maxLength": 100_000},
                "posted_at": TIME,
                "url": STRING,
                "thread_id": STRING,
                "in_reply_to": STRING,
            },
            required=["external_id", "author", "text", "posted_at"],
        ),
        "description": "channel is required on /messages, and left out on a channel webhook",
    },
    "IncomingBatch": obj(
        {
            "messages": {
                "type": "array",
                "items": ref("IncomingMessage"),
                "minItems": 1,
                "maxItems": 1000,
            }
        }
    ),
    "IngestResults": {
        **obj(
            {
                "results": {
                    "type": "array",
                    "items": obj(
                        {
                            "status": {"enum": ["created", "existing", "rejected"]},
                            "id": INTEGER,
                            "field": STRING,
                            "error": STRING,
                        },
                        required=["status"],
                    ),
                },
                "created": INTEGER,
                "existing": INTEGER,
                "rejected": INTEGER,
                "ignored": INTEGER,
            },
            required=["results", "created", "existing", "rejected"],
        )
    },
    "Submission": obj(
        {
            "number": INTEGER,
            "outcome": STRING,
            "reason": STRING,
            "rule": nullable(INTEGER),
            "policy": nullable(obj({"id": INTEGER, "name": STRING, "version": INTEGER})),
            "steps": {"type": "array"},
            "submitted_at": TIME,
            "decided_at": nullable(TIME),
        }
    ),
    "Draft": obj(
        {
            "id": INTEGER,
            "message_id": INTEGER,
            "author_id": INTEGER,
            "text": STRING,
            "version": INTEGER,
            "status": STRING,
            "stock_response_id": nullable(INTEGER),
            "unedited_stock": BOOLEAN,
            "submission": nullable(ref("Submission")),
        }
    ),
    "Blocked": obj(
        {
            "outcome": {"enum": ["blocked"]},
            "error": STRING,
            "field": STRING,
            "reason": STRING,
            "rule": nullable(INTEGER),
        }
    ),
    "ReportTable": obj(
        {
            "title": STRING,
            "columns": {
                "type": "array",
                "items": obj({"key": STRING, "label": STRING, "kind": STRING}),
            },
            "rows": {"type": "array", "items": {"type": "object"}},
        }
    ),
    "LatencyReport": obj(
        {
            "from": DAY,
            "to": DAY,
            "timezone": STRING,
            "group_by": nullable(STRING),
            "bottleneck": nullable(obj({"stage": STRING, "share": NUMBER, "sentence": STRING})),
            "tables": {"type": "object", "additionalProperties": ref("ReportTable")},
        },
        required=["from", "to", "timezone", "bottleneck", "tables"],
    ),
    "WhatIfSide": obj(
        {
            "replies": INTEGER,
            "needs_approval": INTEGER,
            "blocked": INTEGER,
            "answered": INTEGER,
            "ttfr_p50_s": nullable(NUMBER),
            "ttfr_p90_s": nullable(NUMBER),
            "sla_met": INTEGER,
            "sla_attainment": nullable(NUMBER),
        }
    ),
    "WhatIf": obj(
        {
            "policy": STRING,
            "from": nullable(STRING),
            "to": nullable(STRING),
            "timezone": STRING,
            "received": INTEGER,
            "actual": ref("WhatIfSide"),
            "estimated": ref("WhatIfSide"),
            "no_longer_held": INTEGER,
            "newly_held": INTEGER,
        },
        required=["policy", "received", "actual", "estimated"],
    ),
}

ERRORS = {
    "400": "Bad request: the field named in the answer is wrong",
    "401": "No valid API token (or session)",
    "403": "The token's user lacks the role",
    "404": "No such object",
    "409": "Conflict: someone else holds the message, or the state does not allow it",
    "413": "The body is larger than 1 MiB",
    "428": "If-Match is missing",
    "503": "The database is not answering; try again after Retry-After",
}


def json_content(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def operation(
    summary: str,
    ok: dict[str, tuple[str, Schema] | tuple[str, Schema, str]],
    *,
    errors: tuple[str, ...] = ("400", "401", "403", "404", "409", "503"),
    body: Schema | None = None,
    body_required: bool = True,
    parameters: list[Schema] | None = None,
    signed: bool = False,
    headers: dict[str, Schema] | None = None,
) -> Schema:
    responses: dict[str, Any] = {
        status: {
            "description": answer[0],
            "content": {
                (answer[2] if len(answer) > 2 else "application/json"): {  # type: ignore[misc]
                    "schema": answer[1]
                }
            },
        }
        for status, answer in ok.items()
    }
    for status in errors:
        responses.setdefault(
            status, {"description": ERRORS[status], "content": json_content(ref("Error"))}
        )
    if headers:
        for status in ok:
            responses[status]["headers"] = headers
    op: Schema = {"summary": summary, "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": body_required, "content": json_content(body)}
    if parameters:
        op["parameters"] = parameters
    if signed:
        op["security"] = []  # the sender's signature is the authentication
    return op


def path_id(name: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
    }


def query(name: str, schema: Schema, description: str = "") -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


MESSAGE = ("The message as it now stands", ref("Message"))
DRAFT = ("The draft as it now stands", ref("Draft"))
ETAG = {"ETag": {"description": "The draft's version, for If-Match", "schema": STRING}}
MESSAGE_ID = [path_id("message_id")]
DRAFT_ID = [path_id("draft_id")]
ALL_ERRORS = ("400", "401", "403", "404", "409", "413", "503")


def document() -> Schema:
    paths: dict[str, dict[str, Schema]] = {
        "/me": {
            "get": operation(
                "Who the token acts as", {"200": ("The user", ref("Me"))}, errors=("401", "503")
            )
        },
        "/messages": {
            "get": operation(
                "The inbox: filters, SLA order, a cursor for the next page",
                {"200": ("A page of messages", ref("MessagePage"))},
                errors=("400", "401", "503"),
                parameters=[
                    query("channel", {**INTEGER, "minimum": 0, "maximum": MAX_ID}),
                    query("category", STRING),
                    query("intent", STRING),
                    query("sentiment", STRING),
                    query("status", STRING, "open (default), new, claimed, closed, ..."),
                    query("assignee", {**INTEGER, "minimum": 0, "maximum": MAX_ID}),
                    query("mine", {"enum": ["1", "true", "0", "false"]}),
                    query("q", STRING, "words in the message"),
                    query("limit", {**INTEGER, "minimum": 1, "maximum": 200}),
                    query("cursor", STRING, "next_cursor of the previous page"),
                ],
            ),
            "post": operation(
                "Store fan messages: one (201 created, 200 already stored) or a batch",
                {
                    "200": (
                        "Already stored, or the batch's results",
                        {"oneOf": [ref("Message"), ref("IngestResults")]},
                    ),
                    "201": ("Stored", ref("Message")),
                },
                errors=ALL_ERRORS,
                body={"oneOf": [ref("IncomingMessage"), ref("IncomingBatch")]},
            ),
        },
        "/messages/{message_id}": {
            "get": operation(
                "One message", {"200": MESSAGE}, parameters=MESSAGE_ID, errors=("401", "404", "503")
            )
        },
        "/messages/{message_id}/claim": {
            "post": operation(
                "Claim it exclusively (409 names the holder)",
                {"200": MESSAGE},
                parameters=MESSAGE_ID,
                errors=ALL_ERRORS,
            )
        },
        "/messages/{message_id}/release": {
            "post": operation(
                "Give the claim back", {"200": MESSAGE}, parameters=MESSAGE_ID, errors=ALL_ERRORS
            )
        },
        "/messages/{message_id}/close": {
            "post": operation(
                "Close without a reply",
                {"200": MESSAGE},
                parameters=MESSAGE_ID,
                errors=ALL_ERRORS,
                body=obj({"reason": {"enum": ["spam", "no_reply_needed", "handled_elsewhere"]}}),
            )
        },
        "/messages/{message_id}/reopen": {
            "post": operation("Reopen", {"200": MESSAGE}, parameters=MESSAGE_ID, errors=ALL_ERRORS)
        },
        "/messages/{message_id}/drafts": {
            "post": operation(
                "Start (or replace the text of) the message's draft; takes a free claim",
                {"200": DRAFT, "201": ("The new draft", ref("Draft"))},
                parameters=MESSAGE_ID,
                errors=ALL_ERRORS,
                body=obj(
                    {
                        "text": STRING,
                        "stock_response_id": {**INTEGER, "minimum": 1, "maximum": MAX_ID},
                    },
                    required=[],
                ),
                headers=ETAG,
            )
        },
        "/drafts/{draft_id}": {
            "get": operation(
                "One draft",
                {"200": DRAFT},
                parameters=DRAFT_ID,
                errors=("401", "404", "503"),
                headers=ETAG,
            ),
            "put": {
                **operation(
                    "Save a new version; If-Match carries the version it started from",
                    {"200": DRAFT},
                    parameters=[
                        *DRAFT_ID,
                        {"name": "If-Match", "in": "header", "required": True, "schema": STRING},
                    ],
                    errors=(*ALL_ERRORS, "428"),
                    body=obj({"text": STRING}),
                    headers=ETAG,
                ),
            },
        },
        "/drafts/{draft_id}/submit": {
            "post": operation(
                "Submit: the policy decides (422 when it blocks the reply)",
                {"200": DRAFT, "422": ("The policy blocks this reply", ref("Blocked"))},
                parameters=DRAFT_ID,
                errors=ALL_ERRORS,
                body=obj({"ask_for_approval": BOOLEAN}, required=[]),
                body_required=False,
                headers=ETAG,
            )
        },
        "/drafts/{draft_id}/approve": {
            "post": operation(
                "Clear the reply (optionally with edited text)",
                {"200": DRAFT},
                parameters=DRAFT_ID,
                errors=ALL_ERRORS,
                body=obj({"text": STRING}, required=[]),
                body_required=False,
                headers=ETAG,
            )
        },
        "/drafts/{draft_id}/reject": {
            "post": operation(
                "Send back with a note",
                {"200": DRAFT},
                parameters=DRAFT_ID,
                errors=ALL_ERRORS,
                body=obj({"note": STRING}),
                headers=ETAG,
            )
        },
        "/channels/{channel_id}/webhook": {
            "post": operation(
                "A channel's signed webhook (X-Respondr-Signature: t=<unix>,v1=<hex HMAC>)",
                {
                    "200": (
                        "Already stored, or the batch's results",
                        {"oneOf": [ref("Message"), ref("IngestResults")]},
                    ),
                    "201": ("Stored", ref("Message")),
                },
                parameters=[path_id("channel_id")],
                errors=("400", "401", "404", "409", "413", "503"),
                body={"oneOf": [ref("IncomingMessage"), ref("IncomingBatch")]},
                signed=True,
            )
        },
        "/channels/{channel_id}/facebook": {
            "get": operation(
                "Facebook's subscription check: echoes hub.challenge",
                {"200": ("The challenge, echoed", STRING, "text/plain")},
                parameters=[
                    path_id("channel_id"),
                    query("hub.mode", STRING),
                    query("hub.verify_token", STRING),
                    query("hub.challenge", STRING),
                ],
                errors=("400", "403", "404", "503"),
                signed=True,
            ),
            "post": operation(
                "A Facebook page feed delivery (X-Hub-Signature-256)",
                {"200": ("The deliveries' results", ref("IngestResults"))},
                parameters=[path_id("channel_id")],
                errors=("400", "401", "403", "404", "409", "413", "503"),
                body={"type": "object"},
                signed=True,
            ),
        },
        "/reports/latency": {
            "get": operation(
                "The latency report's tables (managers and admins)",
                {"200": ("The report", ref("LatencyReport"))},
                parameters=[
                    query("from", DAY, "first day, in the organisation's timezone"),
                    query("to", DAY, "the day after the last"),
                    query("group_by", STRING, "channel, category, intent, agent, ..."),
                ],
                errors=("400", "401", "403", "503"),
            )
        },
        "/whatif": {
            "post": operation(
                "Replay the period's messages under another policy (managers and admins)",
                {"200": ("Actual and estimated figures", ref("WhatIf"))},
                body=obj({"policy": STRING, "from": DAY, "to": DAY}, required=["policy"]),
                errors=("400", "401", "403", "404", "413", "503"),
            )
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {"description": "OpenAPI 3", "content": json_content({"type": "object"})}
                },
            }
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "respondr API",
            "version": "1",
            "description": "Bearer tokens come from `respondr tokens create`. Errors are "
            '`{"error": message, "field": name}`.',
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@bp.get("/openapi.json")
@public
def openapi_document():
    return jsonify(document())
