"""The organisation's settings: one row per installation."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from respondr.domain import audit
from respondr.domain.errors import ValidationError
from respondr.models import Organisation, User

MAX_NAME_LENGTH = 120
MAX_CLAIM_LAPSE_MINUTES = 24 * 60
MAX_WARNING_MINUTES = 7 * 24 * 60


def get_organisation(session: Session) -> Organisation:
    """The installation's organisation, created with defaults on first use."""
    org = session.scalar(select(Organisation).order_by(Organisation.id).limit(1))
    if org is None:
        org = Organisation(
            name="My brand", timezone="UTC", keyword_lists={}, handles=[], watch_list=[]
        )
        session.add(org)
        session.flush()
    return org


def _checked(
    name: str | None,
    timezone: str | None,
    claim_lapse_minutes: int | None,
    sla_warning_minutes: int | None,
) -> dict[str, str | int]:
    """The given settings, validated; raises on the first bad one."""
    changes: dict[str, str | int] = {}
    if name is not None:
        name = name.strip()
        if not name or len(name) > MAX_NAME_LENGTH:
            raise ValidationError(f"Give a name of 1 to {MAX_NAME_LENGTH} characters.", "name")
        changes["name"] = name
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                f"{timezone!r} is not a timezone name such as Europe/London.", "timezone"
            ) from None
        changes["timezone"] = timezone
    minute_settings = (
        (
            "claim_lapse_minutes",
            claim_lapse_minutes,
            MAX_CLAIM_LAPSE_MINUTES,
            "A claim lapses after 1 to {} idle minutes.",
        ),
        (
            "sla_warning_minutes",
            sla_warning_minutes,
            MAX_WARNING_MINUTES,
            "The warning time is from 1 to {} minutes.",
        ),
    )
    for field, minutes, upper, message in minute_settings:
        if minutes is not None:
            if not 1 <= minutes <= upper:
                raise ValidationError(message.format(upper), field)
            changes[field] = minutes
    return changes


def update_settings(
    session: Session,
    *,
    actor: User | None,
    now: datetime,
    name: str | None = None,
    timezone: str | None = None,
    claim_lapse_minutes: int | None = None,
    sla_warning_minutes: int | None = None,
) -> dict[str, list[str | int]]:
    """Change the settings given (None leaves one as it is), all or none: every value is
    checked before any is applied. One audit entry names each change as [from, to];
    returns those changes (empty when nothing changed, and then nothing is audited)."""
    org = get_organisation(session)
    changed: dict[str, list[str | int]] = {}
    for field, value in _checked(name, timezone, claim_lapse_minutes, sla_warning_minutes).items():
        before = getattr(org, field)
        if before != value:
            changed[field] = [before, value]
            setattr(org, field, value)
    if changed:
        audit.record(
            session,
            actor=actor,
            action="organisation.settings",
            target=org,
            details=changed,
            now=now,
        )
    return changed
