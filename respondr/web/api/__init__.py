"""The JSON API under ``/api/v1``.

Callers authenticate with ``Authorization: Bearer <token>`` (``respondr tokens create``);
a browser session also works, and then state-changing calls need the CSRF token in the
``X-CSRFToken`` header. Errors are JSON: ``{"error": message, "field": name}``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, g, jsonify, request
from flask_login import current_user

from respondr.domain.accounts import user_for_api_token
from respondr.domain.errors import DomainError
from respondr.extensions import csrf, db
from respondr.timeutil import utcnow
from respondr.web.errors import error_response

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # token callers have no session; session callers are checked below

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def api_user():
    """The user a request acts as: its bearer token's, else the signed-in session's."""
    if "api_user" in g:
        return g.api_user
    user = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = user_for_api_token(db.session, header[7:].strip(), now=utcnow())
        if db.session.dirty:
            # The token's last use (written once a minute) is saved in its own short
            # transaction: a read-only call never commits, so it was lost and rewritten on
            # every GET, holding the token row's lock for the whole request.
            db.session.commit()
    elif current_user.is_authenticated:
        if request.method in UNSAFE_METHODS:
            csrf.protect()
        user = current_user._get_current_object()
    g.api_user = user
    return user


def api_requires(*roles: str) -> Callable[[F], F]:
    """Like :func:`respondr.web.permissions.requires`, for token or session callers."""

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = api_user()
            if user is None:
                return error_response(401, "Send a valid API token: Authorization: Bearer <token>.")
            if roles and not user.has_role(*roles):
                return error_response(403, f"This needs the {' or '.join(roles)} role.")
            return view(*args, **kwargs)

        guarded.required_roles = frozenset(roles)  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


@bp.errorhandler(DomainError)
def domain_error(error: DomainError):
    db.session.rollback()
    return error_response(error.status, error.message, error.field)


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 naming what is wrong with it."""
    from respondr.domain.errors import ValidationError

    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("Send a JSON object with Content-Type: application/json.", "body")
    return body


@bp.get("/me")
@api_requires()
def me():
    """Who the token or session acts as: a cheap check that a token works."""
    user = api_user()
    return jsonify(
        id=user.id, email=user.email, name=user.name, roles=sorted(user.roles), trusted=user.trusted
    )


# The endpoint modules register their views on ``bp`` when imported.
from respondr.web.api import drafts, messages  # noqa: E402

__all__ = ["bp", "drafts", "messages"]


# These register their views on bp too; openapi serves /api/v1/openapi.json.
from respondr.web.api import ingest, openapi, reports, whatif  # noqa: E402,F401
