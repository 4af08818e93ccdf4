"""What every page shares: the navigation each role sees, and the security headers."""

from __future__ import annotations

from flask import Flask, Response, current_app
from flask_login import current_user

from respondr.timeutil import utcnow

# (label, endpoint, roles that see it; empty = every signed-in user)
NAVIGATION = (
    ("Inbox", "inbox.index", ()),
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


def init_app(app: Flask) -> None:
    @app.context_processor
    def layout_context() -> dict[str, object]:
        return {"navigation": navigation(), "now": utcnow()}

    @app.template_filter("when")
    def when(value) -> str:
        return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
