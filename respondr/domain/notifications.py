"""Telling people about something the system noticed: in-app, by a workflow signal, by mail.

The scheduled checks (:mod:`respondr.domain.escalation`, :mod:`respondr.domain.sla_alerts`)
tell a list of people the same way, through :func:`notify`. Mail is only composed here, as
a :class:`Notice`: the task sends it once the transaction that decided it has committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from blinker import Signal
from sqlalchemy.orm import Session

from respondr.models import Notification, User


@dataclass(frozen=True)
class Notice:
    """Mail to send once the transaction that decided it is committed."""

    to: tuple[str, ...]
    subject: str
    body: str


def notify(
    session: Session,
    people: Sequence[User],
    *,
    kind: str,
    text: str,
    link: str,
    now: datetime,
    signal: Signal,
    about: object,
    data: dict[str, Any],
    subject: str,
    body: str,
) -> Notice | None:
    """Give each of ``people`` a notification (``kind``, ``text``, ``link``), send ``signal``
    about ``about`` by the system with ``data`` and the ids of who was told
    (``notified``), and return the mail to them; None when nobody was told (the signal
    still goes: it records that the check was made)."""
    for person in people:
        session.add(
            Notification(user_id=person.id, kind=kind, text=text[:500], link=link, created_at=now)
        )
    signal.send(
        about,
        session=session,
        actor=None,
        at=now,
        data={**data, "notified": [u.id for u in people]},
    )
    if not people:
        return None
    return Notice(to=tuple(u.email for u in people), subject=subject, body=body)
