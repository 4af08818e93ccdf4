"""What every page shares: the navigation each role sees, time display, security headers."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, Response, current_app, g
from flask_login import current_user
from markupsafe import Markup

from respondr.domain import drafting, triage
from respondr.domain.organisation import get_organisation
from respondr.extensions import db
from respondr.models import Fan
from respondr.timeutil import utcnow

# (label, endpoint, roles that see it; empty = every signed-in user)
NAVIGATION = (
    ("Inbox", "inbox.index", ()),
    ("Approvals", "drafts.queue", ("approver",)),
    ("Stock responses", "stock.index", ()),
    ("Policies", "policies.index", ("manager", "admin")),
    ("Reports", "reports.latency", ("manager", "admin")),
    ("What-if", "whatif.page", ("manager", "admin")),
    ("Organisation", "admin.organisation", ("admin",)),
    ("Users", "admin.users", ("admin",)),
    ("Channels", "admin.channels", ("admin",)),
    ("Audit log", "admin.audit", ("admin",)),
)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def navigation() -> list[tuple[str, str]]:
    if not current_user.is_authenticated:
        return []
    return [
        (label, endpoint)
        for label, endpoint, roles in NAVIGATION
        if endpoint in current_app.view_functions and (not roles or current_user.has_role(*roles))
    ]


def badge_counts() -> dict[str, int]:
    """Unread notifications, and for approvers the replies waiting for a decision."""
    if not current_user.is_authenticated:
        return {}
    counts = {"notifications": triage.unread_notifications(db.session, current_user)}
    if current_user.has_role("approver"):
        counts["approvals"] = drafting.waiting_for_approval(db.session)
    return counts


def org_zone() -> ZoneInfo:
    """The organisation's timezone, read once per request."""
    if "org_zone" not in g:
        g.org_zone = ZoneInfo(get_organisation(db.session).timezone)
    return g.org_zone


def when(value: datetime | None) -> str:
    """A time in the organisation's timezone."""
    if value is None:
        return "—"
    local = value.astimezone(org_zone())
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")


def duration(seconds: float) -> str:
    """A span for people: "45 min", "3 h 20 min", "2 d 4 h"."""
    minutes = int(abs(seconds) // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def at_handle(handle: str) -> str:
    """A fan handle shown with exactly one leading @."""
    return handle if handle.startswith("@") else f"@{handle}"


def fan_name(fan: Fan) -> Markup:
    """A fan's name (or handle) isolated in ``<bdi>``, so a right-to-left name or a
    direction override in it cannot reorder the text around it."""
    return Markup("<bdi>{}</bdi>").format(fan.display_name or fan.handle)


def init_app(app: Flask) -> None:
    app.add_template_filter(at_handle, "at_handle")
    app.add_template_filter(fan_name, "fan_name")
    app.add_template_filter(when, "when")
    app.add_template_filter(duration, "duration")

    @app.context_processor
    def layout_context() -> dict[str, object]:
        return {"navigation": navigation(), "now": utcnow(), "counts": badge_counts()}

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
