"""The audit log: who changed which setting, policy, role or token, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from respondr.models import AuditEntry, User


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    target: Any,
    details: dict[str, Any] | None = None,
    now: datetime,
) -> AuditEntry:
    """Append one audit entry. ``details`` must never hold a secret."""
    session.flush()
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        action=action,
        target_type=type(target).__name__.lower(),
        target_id=str(getattr(target, "id", "") or ""),
        details=details or {},
        at=now,
    )
    session.add(entry)
    return entry


def audit_query(
    *,
    actor_id: int | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[AuditEntry]:
    """Newest first, filtered by who, what (an action prefix such as ``user.``) and when."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    return query
