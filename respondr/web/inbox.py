"""The shared inbox."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from respondr.extensions import db
from respondr.models import Channel, Message
from respondr.web.permissions import requires

bp = Blueprint("inbox", __name__)

OPEN_STATUSES = (
    "new",
    "claimed",
    "drafting",
    "awaiting_approval",
    "rejected",
    "approved",
    "publish_failed",
)
PAGE_SIZE = 50


@bp.get("/")
@requires()
def index():
    channel_id = request.args.get("channel", type=int)
    query = (
        select(Message)
        .options(
            joinedload(Message.fan), joinedload(Message.channel), joinedload(Message.claimed_by)
        )
        .where(Message.status.in_(OPEN_STATUSES))
        .order_by(Message.sla_due_at, Message.id)
        .limit(PAGE_SIZE)
    )
    if channel_id:
        query = query.where(Message.channel_id == channel_id)
    messages = db.session.scalars(query).all()
    channels = db.session.scalars(select(Channel).order_by(Channel.name)).all()
    return render_template(
        "inbox/index.html", messages=messages, channels=channels, channel_id=channel_id
    )
