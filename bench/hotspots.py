"""Where the time goes, for the targets ``make bench`` reports as missed.

    python -m bench.hotspots ingest URL   # URL: an empty database; 200 POSTs under cProfile
    python -m bench.hotspots whatif URL   # URL: a generated history (bench.generate)

``ingest`` writes a small history, then times ``POST /api/v1/messages`` through the Flask
test client (no network) and prints the cProfile of 200 more by cumulative time.
``whatif`` prints the ``EXPLAIN (ANALYZE, BUFFERS)`` of the what-if's statement (on
PostgreSQL), the time to fetch its rows alone, and the cProfile of a whole run by own time.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable

from sqlalchemy.orm import Session

from bench import generate as gen
from bench.probe import TZ, UNTIL, engine_for

POLICY = "corporate-clears-all"


def profiled(work: Callable[[], object], sort: str) -> None:
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.runcall(work)
    print(f"under cProfile: {time.perf_counter() - started:.2f} s")
    pstats.Stats(profile).sort_stats(sort).print_stats(30)


def ingest(url: str) -> None:
    setup = gen.generate(url, messages=2000, quiet=True)
    os.environ.update(
        DATABASE_URL=url, RESPONDR_INSTANCE=tempfile.mkdtemp(), SECRET_KEY="profile-" * 4
    )
    from respondr import create_app

    client = create_app().test_client()
    headers = {"Authorization": f"Bearer {setup.token}"}

    def post(n: int) -> None:
        body = {
            "channel": setup.channel_ids[0],
            "external_id": f"profile-{n}",
            "author": {"handle": f"fan{n % 500}", "name": "Fan", "followers": n},
            "text": "The app is broken again. I want a refund.",
            "posted_at": "2026-11-26T08:00:00Z",
        }
        answer = client.post("/api/v1/messages", json=body, headers=headers)
        assert answer.status_code == 201, answer.get_data(as_text=True)

    for n in range(50):  # warm up: statement caches, VADER's lexicon
        post(n)
    started = time.perf_counter()
    for n in range(50, 250):
        post(n)
    print(f"one message: {(time.perf_counter() - started) / 200 * 1000:.1f} ms")
    profiled(lambda: [post(n) for n in range(250, 450)], "cumulative")


def whatif(url: str) -> None:
    from respondr.domain import metrics
    from respondr.domain import whatif as module

    with Session(engine_for(url)) as session:
        connection = session.connection()
        metrics.prepare(connection)
        dialect = connection.dialect.name
        rules = module._replayed_policy(session, POLICY).rules
        query = module._query(
            dialect,
            metrics.Scope(None, None, TZ, None, UNTIL),
            module._conditions_read(rules),
        )
        if dialect == "postgresql":
            sql = query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
            plan = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {sql}").scalars()
            print("\n".join(plan))
        started = time.perf_counter()
        rows = sum(1 for _ in module._rows(session, query))
        print(f"fetching its {rows:,} rows alone: {time.perf_counter() - started:.2f} s")
        profiled(
            lambda: module.run_whatif(
                session, policy_ref=POLICY, start=None, end=None, tz=TZ, now=UNTIL
            ),
            "tottime",
        )


def main() -> None:
    commands = {"ingest": ingest, "whatif": whatif}
    if len(sys.argv) != 3 or sys.argv[1] not in commands:
        raise SystemExit(__doc__)
    commands[sys.argv[1]](sys.argv[2])


if __name__ == "__main__":
    main()
