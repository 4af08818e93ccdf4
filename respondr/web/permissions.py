"""Every view declares who may use it; a test walks the URL map to hold us to that.

``public`` views need no sign-in; ``requires()`` needs any signed-in user;
``requires("manager", "admin")`` needs one of those roles. The declared roles are kept on
the view as ``required_roles`` (``None`` for public) so the permission test can read them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user

from respondr.extensions import login_manager

F = TypeVar("F", bound=Callable[..., Any])


def public(view: F) -> F:
    view.required_roles = None  # type: ignore[attr-defined]
    return view


def requires(*roles: str) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        guarded.required_roles = frozenset(roles)  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate
