"""The shared inbox and the message page: claim, release, close, reopen, notes."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import lazyload, load_only

from respondr.domain import claims, drafting, inbox, sla_alerts, stock, triage
from respondr.domain import presence as presence_ops
from respondr.domain.errors import DomainError, ValidationError
from respondr.extensions import db
from respondr.models import (
    CATEGORIES,
    CLOSE_REASONS,
    INTENTS,
    Channel,
    Message,
    PublishedReply,
    PublishJob,
    User,
)
from respondr.timeutil import utcnow
from respondr.web.auth import safe_next
from respondr.web.forms import EmptyForm
from respondr.web.permissions import requires

bp = Blueprint("inbox", __name__)

STAFF = ()  # any signed-in user: every role works with messages


def filters_from_args() -> inbox.InboxFilter:
    args = request.args

    def number(name: str) -> int | None:
        value = args.get(name, "")
        if value and not value.isdigit():
            raise ValidationError(f"{name} must be a number.", name)
        return int(value) if value else None

    return inbox.InboxFilter(
        channel_id=number("channel"),
        category=args.get("category") or None,
        intent=args.get("intent") or None,
        sentiment=args.get("sentiment") or None,
        status=args.get("status") or "open",
        assignee_id=number("assignee"),
        mine=current_user.id if args.get("mine") else None,
        search=args.get("q", "")[:200],
    )


def _choices() -> dict[str, object]:
    return {
        "channels": db.session.scalars(select(Channel).order_by(Channel.name)).all(),
        # Shown as names in a list: not the roles (and all else) a User load fetches.
        "people": db.session.scalars(
            select(User)
            .where(User.is_active_account.is_(True))
            .order_by(User.name)
            .options(load_only(User.name), lazyload(User.role_rows))
        ).all(),
        "categories": CATEGORIES,
        "intents": INTENTS,
        "sentiments": inbox.SENTIMENTS,
        "statuses": (*inbox.STATUS_GROUPS, *inbox.MESSAGE_STATUSES),
        "close_reasons": CLOSE_REASONS,
    }


@bp.get("/")
@requires(*STAFF)
def index():
    try:
        filters = filters_from_args()
        page = inbox.inbox_page(db.session, filters, cursor=request.args.get("after"))
    except ValidationError as error:
        flash(error.message, "error")
        return redirect(url_for("inbox.index"))
    args = {k: v for k, v in request.args.items() if k != "after"}
    return render_template(
        "inbox/index.html",
        page=page,
        args=args,
        next_url=url_for("inbox.index", **args, after=page.next_cursor)
        if page.next_cursor
        else None,
        bulk_form=EmptyForm(prefix="bulk"),
        **_choices(),
        sla_warning=sla_alerts.warning_time(db.session),
    )


def _message_or_404(message_id: int) -> Message:
    message = db.session.get(Message, message_id)
    if message is None:
        abort(404, description="There is no such message.")
    return message


def render_message(message: Message, status: int = 200):
    thread = inbox.thread(db.session, message)
    draft = drafting.live_draft(db.session, message)
    return render_template(
        "inbox/message.html",
        message=message,
        draft=draft,
        submission=draft.submissions[-1] if draft is not None and draft.submissions else None,
        publish_job=db.session.scalar(select(PublishJob).where(PublishJob.draft_id == draft.id))
        if draft is not None
        else None,
        published=db.session.scalar(
            select(PublishedReply)
            .where(PublishedReply.message_id == message.id)
            .order_by(PublishedReply.published_at.desc())
            .limit(1)
        ),
        stock_responses=db.session.scalars(stock.search()).all(),
        thread=thread,
        replies=inbox.replies_to(db.session, thread),
        activity=presence_ops.activity(message, current_user),
        form=EmptyForm(),
        **_choices(),
        sla_warning=sla_alerts.warning_time(db.session),
    ), status


@bp.get("/messages/<int:message_id>")
@requires(*STAFF)
def message_page(message_id: int):
    return render_message(_message_or_404(message_id))


def _act(message_id: int, action, done: str):  # type: ignore[no-untyped-def]
    """Run one domain action on a message in one transaction; show the outcome."""
    message = _message_or_404(message_id)
    if not EmptyForm().validate_on_submit():
        abort(400, description="The form has expired. Reload the page and try again.")
    try:
        action(message)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return render_message(_message_or_404(message_id), error.status)
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("inbox.message_page", message_id=message_id), 303)


@bp.post("/messages/<int:message_id>/claim")
@requires(*STAFF)
def claim(message_id: int):
    return _act(
        message_id,
        lambda m: claims.claim(db.session, m, actor=current_user, now=utcnow()),
        "You have claimed this message: nobody else will draft a reply to it.",
    )


@bp.post("/messages/<int:message_id>/release")
@requires(*STAFF)
def release(message_id: int):
    return _act(
        message_id,
        lambda m: claims.release(db.session, m, actor=current_user, now=utcnow()),
        "Released: the message is back in the pool.",
    )


@bp.post("/messages/<int:message_id>/close")
@requires(*STAFF)
def close(message_id: int):
    reason = request.form.get("reason", "")
    return _act(
        message_id,
        lambda m: triage.close(db.session, [m], reason=reason, actor=current_user, now=utcnow()),
        "Closed without a reply.",
    )


@bp.post("/messages/<int:message_id>/reopen")
@requires(*STAFF)
def reopen(message_id: int):
    return _act(
        message_id,
        lambda m: triage.reopen(db.session, m, actor=current_user, now=utcnow()),
        "Reopened: the message is back in the queue.",
    )


@bp.post("/messages/<int:message_id>/notes")
@requires(*STAFF)
def add_note(message_id: int):
    text = request.form.get("text", "")
    return _act(
        message_id,
        lambda m: triage.add_note(db.session, m, text=text, actor=current_user, now=utcnow()),
        "Note added.",
    )


@bp.post("/messages/<int:message_id>/recategorise")
@requires(*STAFF)
def recategorise(message_id: int):
    category = request.form.get("category") or None
    intent = request.form.get("intent") or None
    return _act(
        message_id,
        lambda m: triage.recategorise(
            db.session, m, category=category, intent=intent, actor=current_user, now=utcnow()
        ),
        "Saved the correction.",
    )


@bp.post("/messages/<int:message_id>/reassign")
@requires("manager", "admin")
def reassign(message_id: int):
    to_id = request.form.get("assignee", "")
    to = db.session.get(User, int(to_id)) if to_id.isdigit() else None

    def action(message: Message) -> None:
        if to is None:
            raise ValidationError("Choose who should take this message.", "assignee")
        triage.reassign(db.session, message, to=to, actor=current_user, now=utcnow())

    return _act(message_id, action, f"Reassigned to {to.name if to else ''}.")


@bp.post("/messages/<int:message_id>/presence")
@requires(*STAFF)
def presence(message_id: int):
    """The page's heartbeat: records this viewer, answers who else is here."""
    message = _message_or_404(message_id)
    now = utcnow()
    presence_ops.touch(db.session, message, current_user, now=now)
    db.session.commit()
    return jsonify(
        viewers=presence_ops.other_viewers(db.session, message, current_user, now=now),
        activity=presence_ops.activity(message, current_user),
        status=message.status,
    )


@bp.get("/inbox/updates")
@requires(*STAFF)
def updates():
    """How many open messages arrived after ``since`` (polled by the inbox page)."""
    try:
        since = datetime.fromisoformat(request.args.get("since", ""))
    except ValueError:
        return jsonify(error="since must be an ISO 8601 time", field="since"), 400
    if since.tzinfo is None:
        return jsonify(error="since needs a UTC offset", field="since"), 400
    count = inbox.count_arrived_since(db.session, since)
    return jsonify(new=count)


@bp.post("/inbox/close")
@requires(*STAFF)
def close_many():
    form = EmptyForm(prefix="bulk")
    if not form.validate_on_submit():
        abort(400, description="The form has expired. Reload the page and try again.")
    ids = [int(i) for i in request.form.getlist("message") if i.isdigit()]
    back = safe_next(request.form.get("back"))
    if not ids:
        flash("Tick the messages to close first.", "error")
        return redirect(back, 303)
    messages = db.session.scalars(select(Message).where(Message.id.in_(ids))).all()
    try:
        triage.close(
            db.session,
            messages,
            reason=request.form.get("reason", ""),
            actor=current_user,
            now=utcnow(),
        )
    except DomainError as error:
        db.session.rollback()
        flash(f"Nothing was closed: {error.message}", "error")
    else:
        db.session.commit()
        flash(f"Closed {len(messages)} message(s) without a reply.", "success")
    return redirect(back, 303)
