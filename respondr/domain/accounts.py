"""Users, roles, passwords and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager
from werkzeug.security import check_password_hash, generate_password_hash

from respondr.domain import audit
from respondr.domain.errors import NotFound, ValidationError
from respondr.models import ROLES, ApiToken, User

MIN_PASSWORD_LENGTH = 10
RESET_LINK_LIFETIME = timedelta(hours=24)
# A token's last use is recorded to the minute: writing it on every call made every API
# request a writer, and concurrent requests with one token queued on its row lock.
TOKEN_USE_PRECISION = timedelta(minutes=1)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise ValidationError(f"Enter a valid email address ({error}).", "email") from None


def parse_roles(roles: str | Iterable[str]) -> set[str]:
    names = {r.strip() for r in (roles.split(",") if isinstance(roles, str) else roles)}
    names.discard("")
    unknown = names - set(ROLES)
    if unknown:
        raise ValidationError(
            f"Unknown role {', '.join(sorted(unknown))}: choose from {', '.join(ROLES)}.", "roles"
        )
    return names


def check_password_strength(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"Use a password of at least {MIN_PASSWORD_LENGTH} characters.", field
        )


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def get_user(session: Session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise NotFound(f"No user with the email {email}.", "email")
    return user


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    password: str,
    roles: str | Iterable[str],
    trusted: bool = False,
    actor: User | None,
    now: datetime,
) -> User:
    email = normalise_email(email)
    name = name.strip()
    if not name:
        raise ValidationError("Enter the person's name.", "name")
    check_password_strength(password)
    role_names = parse_roles(roles)
    if find_user(session, email) is not None:
        raise ValidationError(f"A user with the email {email} already exists.", "email")
    user = User(email=email, name=name, trusted=trusted, created_at=now)
    user.roles = role_names
    user.set_password(password)
    session.add(user)
    audit.record(
        session,
        actor=actor,
        action="user.create",
        target=user,
        details={"email": email, "roles": sorted(role_names), "trusted": trusted},
        now=now,
    )
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None — never saying which half was wrong."""
    user = find_user(session, email)
    if user is None or not user.is_active_account:
        # Spend the same time hashing, so timing does not reveal unknown accounts.
        check_password_hash(_dummy_hash(), password)
        return None
    return user if user.check_password(password) else None


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


def change_password(session: Session, user: User, *, current: str, new: str, now: datetime) -> None:
    if not user.check_password(current):
        raise ValidationError("That is not your current password.", "current_password")
    check_password_strength(new, "new_password")
    user.set_password(new)
    audit.record(session, actor=user, action="user.password_change", target=user, now=now)


def issue_reset_link_token(
    session: Session, user: User, *, actor: User | None, now: datetime
) -> str:
    """A one-time token for a password reset link; only its hash is kept."""
    token = secrets.token_urlsafe(32)
    user.reset_token_hash = _hash_token(token)
    user.reset_expires_at = now + RESET_LINK_LIFETIME
    audit.record(session, actor=actor, action="user.password_reset_issued", target=user, now=now)
    return token


def user_for_reset_token(session: Session, token: str, *, now: datetime) -> User:
    user = session.scalar(select(User).where(User.reset_token_hash == _hash_token(token)))
    if user is None or user.reset_expires_at is None or user.reset_expires_at <= now:
        raise NotFound("This reset link is not valid or has expired. Ask an admin for a new one.")
    return user


def reset_password(session: Session, token: str, *, new: str, now: datetime) -> User:
    user = user_for_reset_token(session, token, now=now)
    check_password_strength(new, "new_password")
    user.set_password(new)
    user.reset_token_hash = None
    user.reset_expires_at = None
    audit.record(session, actor=user, action="user.password_reset", target=user, now=now)
    return user


def update_user(
    session: Session,
    user: User,
    *,
    name: str,
    roles: str | Iterable[str],
    trusted: bool,
    active: bool,
    actor: User,
    now: datetime,
) -> None:
    """Admin edit of a user; every changed attribute is in the audit entry."""
    name = name.strip()
    if not name:
        raise ValidationError("Enter the person's name.", "name")
    role_names = parse_roles(roles)
    if user.id == actor.id and "admin" not in role_names:
        raise ValidationError("You cannot remove your own admin role.", "roles")
    if user.id == actor.id and not active:
        raise ValidationError("You cannot deactivate yourself.", "active")
    changes: dict[str, list[object]] = {}
    for attr, new in (("name", name), ("trusted", trusted), ("active", active)):
        old = user.is_active_account if attr == "active" else getattr(user, attr)
        if old != new:
            changes[attr] = [old, new]
    if set(user.roles) != role_names:
        changes["roles"] = [sorted(user.roles), sorted(role_names)]
    if not changes:
        return
    user.name = name
    user.trusted = trusted
    user.roles = role_names
    if user.is_active_account and not active:
        deactivate(session, user, now=now)
    elif not user.is_active_account and active:
        user.is_active_account = True
        user.deactivated_at = None
    audit.record(session, actor=actor, action="user.update", target=user, details=changes, now=now)


def deactivate(session: Session, user: User, *, now: datetime) -> None:
    """Sign the user out everywhere; their claims go back to the pool."""
    from respondr.domain.claims import return_claims_of  # claims build on accounts

    user.is_active_account = False
    user.deactivated_at = now
    user.session_token = secrets.token_urlsafe(32)
    return_claims_of(session, user, now=now)


def set_availability(session: Session, user: User, *, available: bool) -> None:
    user.available = available


def create_api_token(
    session: Session, user: User, *, name: str = "", actor: User | None, now: datetime
) -> str:
    """A new bearer token, returned once; only its SHA-256 is stored."""
    token = "rsp_" + secrets.token_urlsafe(32)
    api_token = ApiToken(
        user_id=user.id, name=name, token_hash=_hash_token(token), prefix=token[:10], created_at=now
    )
    session.add(api_token)
    audit.record(
        session,
        actor=actor,
        action="token.create",
        target=api_token,
        details={"user": user.email, "prefix": api_token.prefix, "name": name},
        now=now,
    )
    return token


def revoke_api_token(
    session: Session, api_token: ApiToken, *, actor: User | None, now: datetime
) -> None:
    if api_token.revoked_at is None:
        api_token.revoked_at = now
        audit.record(
            session,
            actor=actor,
            action="token.revoke",
            target=api_token,
            details={"user": api_token.user.email, "prefix": api_token.prefix},
            now=now,
        )


def user_for_api_token(session: Session, token: str, *, now: datetime) -> User | None:
    """The live token's user, read with the user and their roles in one statement: this
    runs on every API request, where a lazy user load and a roles load were two more."""
    api_token = (
        session.scalars(
            select(ApiToken)
            .join(ApiToken.user)
            .options(contains_eager(ApiToken.user).joinedload(User.role_rows))
            .where(ApiToken.token_hash == _hash_token(token))
        )
        .unique()
        .one_or_none()
    )
    if api_token is None or api_token.revoked_at is not None:
        return None
    if not api_token.user.is_active_account:
        return None
    if api_token.last_used_at is None or now - api_token.last_used_at >= TOKEN_USE_PRECISION:
        api_token.last_used_at = now
    return api_token.user
