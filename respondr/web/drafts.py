"""Drafting on the message page, a draft's history, and the approval queue."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from respondr.domain import drafting, history, publishing
from respondr.domain.errors import DomainError
from respondr.extensions import db
from respondr.models import Draft, Message, Submission
from respondr.timeutil import utcnow
from respondr.web.forms import EmptyForm
from respondr.web.inbox import render_message
from respondr.web.permissions import requires

bp = Blueprint("drafts", __name__)


def _checked_form() -> None:
    if not EmptyForm().validate_on_submit():
        abort(400, description="The form has expired. Reload the page and try again.")


def _message(message_id: int) -> Message:
    message = db.session.get(Message, message_id)
    if message is None:
        abort(404, description="There is no such message.")
    return message


def _draft(draft_id: int) -> Draft:
    draft = db.session.get(Draft, draft_id)
    if draft is None:
        abort(404, description="There is no such draft.")
    return draft


def _version() -> int | None:
    value = request.form.get("version", "")
    return int(value) if value.isdigit() else None


def _finish(message_id: int, action, done: str, *, back: str | None = None):  # type: ignore[no-untyped-def]
    """One transaction; on a domain error show it on the message page with its status."""
    try:
        result = action()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return render_message(_message(message_id), error.status)
    db.session.commit()
    flash(done(result) if callable(done) else done, "success")
    return redirect(back or url_for("inbox.message_page", message_id=message_id), 303)


@bp.post("/messages/<int:message_id>/draft")
@requires()
def save(message_id: int):
    _checked_form()
    message = _message(message_id)
    text = request.form.get("text", "")
    if request.form.get("submit"):

        def save_and_submit() -> Submission:
            draft = drafting.save_draft(
                db.session,
                message,
                author=current_user,
                text=text,
                version=_version(),
                now=utcnow(),
            )
            return drafting.submit(
                db.session,
                draft,
                actor=current_user,
                now=utcnow(),
                ask_for_approval=bool(request.form.get("ask_for_approval")),
            )

        return _finish(message_id, save_and_submit, lambda s: s.reason[:1].upper() + s.reason[1:])
    return _finish(
        message_id,
        lambda: drafting.save_draft(
            db.session, message, author=current_user, text=text, version=_version(), now=utcnow()
        ),
        "Draft saved.",
    )


@bp.post("/messages/<int:message_id>/draft/stock")
@requires()
def insert_stock(message_id: int):
    _checked_form()
    message = _message(message_id)
    response_id = request.form.get("stock_response_id", "")
    if not response_id.isdigit():
        flash("Choose a stock response to insert.", "error")
        return render_message(message, 400)
    return _finish(
        message_id,
        lambda: drafting.insert_stock_response(
            db.session,
            message,
            author=current_user,
            stock_response_id=int(response_id),
            version=_version(),
            now=utcnow(),
        ),
        "Stock response inserted: check it, then submit.",
    )


@bp.get("/drafts/<int:draft_id>/history")
@requires()
def draft_history(draft_id: int):
    """Every version with what it changed, among the submissions, decisions and notes."""
    draft = _draft(draft_id)
    return render_template(
        "drafts/history.html",
        draft=draft,
        message=draft.message,
        entries=history.timeline(db.session, draft),
    )


@bp.get("/approvals")
@requires("approver")
def queue():
    """Drafts waiting for a decision, oldest first, with why each was held."""
    waiting = (
        db.session.scalars(
            select(Submission)
            .join(Submission.draft)
            .where(
                Submission.outcome == "needs_approval",
                Submission.decision.is_(None),
                Draft.status == "awaiting_approval",
            )
            .options(
                joinedload(Submission.draft).joinedload(Draft.message).joinedload(Message.fan),
                joinedload(Submission.draft).joinedload(Draft.author),
            )
            .order_by(Submission.submitted_at)
        )
        .unique()
        .all()
    )
    return render_template("approvals/queue.html", waiting=waiting, form=EmptyForm())


@bp.post("/drafts/<int:draft_id>/approve")
@requires("approver")
def approve(draft_id: int):
    _checked_form()
    draft = _draft(draft_id)
    text = request.form.get("text")
    return _finish(
        draft.message_id,
        lambda: drafting.approve(db.session, draft, approver=current_user, now=utcnow(), text=text),
        lambda s: (
            "Approved: the reply goes out."
            if s.decision == "approved"
            else "Approved your step: the next step's approvers see it now."
        ),
        back=url_for("drafts.queue"),
    )


@bp.post("/drafts/<int:draft_id>/reject")
@requires("approver")
def reject(draft_id: int):
    _checked_form()
    draft = _draft(draft_id)
    return _finish(
        draft.message_id,
        lambda: drafting.reject(
            db.session,
            draft,
            approver=current_user,
            note=request.form.get("note", ""),
            now=utcnow(),
        ),
        "Sent back to the author with your note.",
        back=url_for("drafts.queue"),
    )


@bp.post("/drafts/<int:draft_id>/posted")
@requires()
def mark_posted(draft_id: int):
    """The manual connector: someone posted the reply by hand, here is where."""
    _checked_form()
    draft = _draft(draft_id)
    return _finish(
        draft.message_id,
        lambda: publishing.mark_posted(
            db.session, draft, url=request.form.get("url", ""), actor=current_user, now=utcnow()
        ),
        "Marked as posted: the fan has their answer.",
    )


@bp.post("/drafts/<int:draft_id>/retry")
@requires("approver", "manager", "admin")
def retry_publishing(draft_id: int):
    _checked_form()
    draft = _draft(draft_id)
    return _finish(
        draft.message_id,
        lambda: publishing.retry(db.session, draft, actor=current_user, now=utcnow()),
        "Publishing again.",
    )
