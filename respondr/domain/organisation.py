"""The organisation's settings: one row per installation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from respondr.models import Organisation


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
