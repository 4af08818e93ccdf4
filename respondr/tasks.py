"""Background jobs on huey: SQLite-backed by default, Redis when ``REDIS_URL`` is set.

huey was chosen because it runs with no server at all (its SQLite storage lives in the
instance folder, so ``make run`` needs nothing), switches to Redis by configuration for
several workers on several hosts, and has periodic tasks, retries with delays and task
locks built in. Each task builds its own app context.
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import cache

from flask import Flask
from huey import Huey, RedisHuey, SqliteHuey, crontab

from respondr.config import default_instance_path


def make_huey() -> Huey:
    if redis_url := os.environ.get("REDIS_URL"):
        return RedisHuey("respondr", url=redis_url)
    instance = default_instance_path()
    instance.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("respondr", filename=str(instance / "tasks.db"))


huey = make_huey()


@cache
def task_app() -> Flask:
    """One app per worker process, built on first use."""
    from respondr import create_app

    return create_app()


@huey.periodic_task(crontab(minute="*"))
@huey.lock_task("lapse-idle-claims")
def lapse_idle_claims() -> int:
    """Every minute: claims idle past the organisation's lapse time go back to the pool."""
    from respondr.domain.claims import lapse_idle_claims as lapse
    from respondr.domain.organisation import get_organisation
    from respondr.extensions import db
    from respondr.timeutil import utcnow

    with task_app().app_context():
        org = get_organisation(db.session)
        lapsed = lapse(
            db.session, now=utcnow(), idle_for=timedelta(minutes=org.claim_lapse_minutes)
        )
        db.session.commit()
        return len(lapsed)
