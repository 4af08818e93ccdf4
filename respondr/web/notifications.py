"""In-app notifications: mentions, decisions on your drafts, escalations."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select, update

from respondr.extensions import db
from respondr.models import Notification
from respondr.timeutil import utcnow
from respondr.web.forms import EmptyForm
from respondr.web.permissions import requires

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.get("/")
@requires()
def index():
    notices = db.session.scalars(
        select(Notification)
        .where(Notification.user_id == current_user.id)
        .order_by(Notification.created_at.desc())
        .limit(100)
    ).all()
    return render_template("notifications.html", notices=notices, form=EmptyForm())


@bp.post("/read")
@requires()
def mark_read():
    if not EmptyForm().validate_on_submit():
        abort(400, description="The form has expired. Reload the page and try again.")
    db.session.execute(
        update(Notification)
        .where(Notification.user_id == current_user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    return redirect(url_for("notifications.index"), 303)
