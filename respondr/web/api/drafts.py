"""Drafts through the API: write, revise (If-Match), submit, approve, reject."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request

from respondr.domain import drafting
from respondr.domain.errors import ValidationError
from respondr.extensions import db
from respondr.models import Draft, Message, Submission
from respondr.timeutil import utcnow
from respondr.web.api import api_requires, api_user, bp, json_body
from respondr.web.converters import MAX_ID


def submission_json(submission: Submission | None) -> dict[str, Any] | None:
    if submission is None:
        return None
    version = submission.policy_version
    return {
        "number": submission.number,
        "outcome": {"needs_approval": "pending_approval", "publish": "published"}[
            submission.outcome
        ]
        if submission.decision is None
        else submission.decision,
        "reason": submission.reason,
        "rule": submission.rule_number,
        "policy": {"id": version.policy_id, "name": version.policy.name, "version": version.number}
        if version is not None
        else None,
        "steps": submission.steps,
        "submitted_at": submission.submitted_at.isoformat(),
        "decided_at": submission.decided_at.isoformat() if submission.decided_at else None,
    }


def draft_response(draft: Draft, status: int = 200):  # type: ignore[no-untyped-def]
    body = {
        "id": draft.id,
        "message_id": draft.message_id,
        "author_id": draft.author_id,
        "text": draft.text,
        "version": draft.version,
        "status": draft.status,
        "stock_response_id": draft.stock_response_id,
        "unedited_stock": draft.unedited_stock,
        "submission": submission_json(draft.submissions[-1] if draft.submissions else None),
    }
    response = jsonify(body)
    response.status_code = status
    response.headers["ETag"] = f'"{draft.version}"'
    return response


def _text(body: dict[str, Any], *, required: bool) -> str | None:
    text = body.get("text")
    if text is None and not required:
        return None
    if not isinstance(text, str):
        raise ValidationError("text must be a string.", "text")
    return text


def _draft(draft_id: int) -> Draft:
    draft = db.session.get(Draft, draft_id)
    if draft is None:
        abort(404, description=f"There is no draft {draft_id}.")
    return draft


@bp.post("/messages/<int:message_id>/drafts")
@api_requires()
def create_draft(message_id: int):
    """Start (or replace the text of) the message's draft; takes the claim if free."""
    message = db.session.get(Message, message_id)
    if message is None:
        abort(404, description=f"There is no message {message_id}.")
    body = json_body()
    stock_id = body.get("stock_response_id")
    if stock_id is not None and not (isinstance(stock_id, int) and 0 <= stock_id <= MAX_ID):
        raise ValidationError(
            "stock_response_id must be a stock response's number.", "stock_response_id"
        )
    existing = drafting.live_draft(db.session, message)
    version = existing.version if existing is not None else None
    if stock_id is not None:
        draft = drafting.insert_stock_response(
            db.session,
            message,
            author=api_user(),
            stock_response_id=stock_id,
            version=version,
            now=utcnow(),
        )
    else:
        draft = drafting.save_draft(
            db.session,
            message,
            author=api_user(),
            text=_text(body, required=True) or "",
            version=version,
            now=utcnow(),
        )
    db.session.commit()
    return draft_response(draft, 201 if existing is None else 200)


@bp.get("/drafts/<int:draft_id>")
@api_requires()
def get_draft(draft_id: int):
    return draft_response(_draft(draft_id))


@bp.put("/drafts/<int:draft_id>")
@api_requires()
def update_draft(draft_id: int):
    """Save a new version; ``If-Match`` must carry the version the editor started from."""
    draft = _draft(draft_id)
    match = request.headers.get("If-Match", "").strip().strip('"').removeprefix("W/").strip('"')
    if not match.isdigit():
        return jsonify(error="Send the draft's ETag in If-Match.", field="If-Match"), 428
    text = _text(json_body(), required=True) or ""
    draft = drafting.save_draft(
        db.session, draft.message, author=api_user(), text=text, version=int(match), now=utcnow()
    )
    db.session.commit()
    return draft_response(draft)


@bp.post("/drafts/<int:draft_id>/submit")
@api_requires()
def submit_draft(draft_id: int):
    """Submit: the answer names the outcome, the rule, the reason and the policy version."""
    draft = _draft(draft_id)
    body = request.get_json(silent=True) or {}
    ask = bool(body.get("ask_for_approval")) if isinstance(body, dict) else False
    try:
        drafting.submit(db.session, draft, actor=api_user(), now=utcnow(), ask_for_approval=ask)
    except drafting.Blocked as blocked:
        db.session.rollback()
        verdict = blocked.verdict
        return jsonify(
            outcome="blocked",
            error=verdict.reason,
            field="text",
            reason=verdict.reason,
            rule=verdict.rule_number,
        ), 422
    db.session.commit()
    return draft_response(draft)


@bp.post("/drafts/<int:draft_id>/approve")
@api_requires("approver")
def approve_draft(draft_id: int):
    draft = _draft(draft_id)
    body = request.get_json(silent=True) or {}
    text = _text(body, required=False) if isinstance(body, dict) else None
    drafting.approve(db.session, draft, approver=api_user(), now=utcnow(), text=text)
    db.session.commit()
    return draft_response(draft)


@bp.post("/drafts/<int:draft_id>/reject")
@api_requires("approver")
def reject_draft(draft_id: int):
    draft = _draft(draft_id)
    note = json_body().get("note")
    if not isinstance(note, str):
        raise ValidationError("Give a note saying what to change.", "note")
    drafting.reject(db.session, draft, approver=api_user(), note=note, now=utcnow())
    db.session.commit()
    return draft_response(draft)
