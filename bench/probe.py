"""Measurements that run in a process of their own, started by :mod:`bench.run`.

Each prints one JSON object on its last line. A fresh process per measurement makes the
peak memory figure honest: the peak resident set size (VmHWM, which counts the database
driver's C memory too) minus the resident size just before the work started.

    python -m bench.probe latency URL report|sql
    python -m bench.probe whatif URL POLICY
    python -m bench.probe claims URL FIRST_AGENT THREADS START_AT
"""

# The SQL here is built from fixed fragments, never from input.
# ruff: noqa: S608

from __future__ import annotations

import json
import random
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from bench.generate import UNTIL, engine_for

TZ = "Europe/London"
WARM_UP = UNTIL - timedelta(days=1)  # a one-day report first, to warm up
PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95))
# An agent's pause between claims, on average: 50 agents then claim ~200 times a second
# from the same few messages, far more often than people do, so races are frequent.
THINK_SECONDS = 0.25


def _status_kb(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in kB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def measured(work: Callable[[], Any]) -> dict[str, Any]:
    """Run ``work``; its wall time and the peak memory it added, in MB: the process's peak
    resident set (VmHWM, which counts the driver's C memory too) minus the resident set
    before. (``ru_maxrss`` would not do: it keeps the parent's peak across the exec.)"""
    before = _status_kb("VmRSS")
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    peak = _status_kb("VmHWM")
    return {"seconds": seconds, "peak_mb": max(0, peak - before) / 1024, "result": result}


# --------------------------------------------------------------------------- latency


def _ms(dialect: str, column: str) -> str:
    """A stored time as whole milliseconds since the epoch, cut as metrics.py cuts it."""
    if dialect == "postgresql":
        return f"floor(extract(epoch FROM {column}) * 1000)::bigint"
    return (
        f"(CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER) * 1000"
        f" + CAST(substr({column}, 21, 3) AS INTEGER))"
    )


def _json(dialect: str, key: str) -> str:
    if dialect == "postgresql":
        return f"(data->>'{key}')"
    return f"json_extract(data, '$.{key}')"


def stage_queries(dialect: str) -> dict[str, str]:
    """Hand-written SQL: per stage, one statement giving one value (ms) per message."""
    ms = _ms
    final = (
        f"{_json(dialect, 'final')}::boolean"
        if dialect == "postgresql"
        else f"{_json(dialect, 'final')} = 1"
    )
    rounds = f"""
        SELECT message_id, submission_id,
               min(CASE WHEN kind = 'submitted' THEN at END) AS sub,
               max(CASE WHEN kind = 'submitted' THEN {_json(dialect, "outcome")} END) AS outcome,
               min(CASE WHEN kind = 'rejected' THEN at END) AS rej,
               min(CASE WHEN kind = 'approved' AND {final} THEN at END) AS app
        FROM workflow_events
        WHERE kind IN ('submitted', 'rejected', 'approved') AND submission_id IS NOT NULL
        GROUP BY message_id, submission_id"""
    rejected_first = "rej IS NOT NULL AND (app IS NULL OR rej <= app)"
    decided = f"CASE WHEN {rejected_first} THEN rej ELSE app END"
    published = """
        SELECT message_id, min(at) AS pub FROM workflow_events
        WHERE kind = 'published' GROUP BY message_id"""
    picked = """
        SELECT message_id,
               min(CASE WHEN kind = 'claimed' THEN at END) AS claimed,
               min(CASE WHEN kind = 'draft_started' THEN at END) AS drafted,
               min(CASE WHEN kind = 'submitted' THEN at END) AS sub,
               max(CASE WHEN kind = 'closed' THEN at END) AS closed,
               min(CASE WHEN kind = 'published' THEN at END) AS pub
        FROM workflow_events
        WHERE kind IN ('claimed', 'draft_started', 'submitted', 'closed', 'published')
        GROUP BY message_id"""
    return {
        "detection": f"SELECT {ms(dialect, 'received_at')} - {ms(dialect, 'posted_at')} AS x "
        "FROM messages",
        "queue_wait": f"""
            SELECT {ms(dialect, "coalesce(f.claimed, f.drafted)")}
                   - {ms(dialect, "m.received_at")} AS x
            FROM messages m JOIN ({picked}) f ON f.message_id = m.id""",
        "drafting": f"""
            SELECT {ms(dialect, "f.sub")} - {ms(dialect, "coalesce(f.claimed, f.drafted)")} AS x
            FROM ({picked}) f WHERE NOT (f.closed IS NOT NULL AND f.pub IS NULL)""",
        "approval_wait": f"""
            SELECT sum({ms(dialect, decided)} - {ms(dialect, "sub")}) AS x
            FROM ({rounds}) r
            WHERE outcome = 'needs_approval' AND coalesce(rej, app) IS NOT NULL
            GROUP BY message_id""",
        "rework": f"""
            SELECT sum({ms(dialect, "nxt")} - {ms(dialect, "rej")}) AS x
            FROM (SELECT message_id, rej, app,
                         lead(sub) OVER (PARTITION BY message_id ORDER BY sub) AS nxt
                  FROM ({rounds}) r0) r
            WHERE {rejected_first} AND nxt IS NOT NULL
            GROUP BY message_id""",
        # The first publication looked up per message through the (message, time) index:
        # joined as a second aggregate instead, SQLite would loop over it for every row.
        "publish_lag": f"""
            SELECT {ms(dialect, "pub")} - {ms(dialect, "done")} AS x
            FROM (SELECT l.done,
                         (SELECT min(p.at) FROM workflow_events p
                          WHERE p.message_id = l.message_id AND p.kind = 'published') AS pub
                  FROM (SELECT message_id,
                               CASE WHEN outcome = 'needs_approval' THEN {decided} ELSE sub END
                                 AS done,
                               row_number() OVER (PARTITION BY message_id ORDER BY sub DESC) AS n
                        FROM ({rounds}) r0) l
                  WHERE l.n = 1) q
            WHERE pub IS NOT NULL""",
        "ttfr": f"""
            SELECT {ms(dialect, "p.pub")} - {ms(dialect, "m.received_at")} AS x
            FROM messages m JOIN ({published}) p ON p.message_id = m.id""",
        "fan_seen": f"""
            SELECT {ms(dialect, "p.pub")} - {ms(dialect, "m.posted_at")} AS x
            FROM messages m JOIN ({published}) p ON p.message_id = m.id""",
    }


def stats_sql(dialect: str, values: str) -> str:
    """Count, mean, max and the percentiles of the ``x`` column of ``values``."""
    if dialect == "postgresql":
        cuts = ", ".join(
            f"percentile_cont({p}) WITHIN GROUP (ORDER BY x) AS {name}" for name, p in PERCENTILES
        )
        return f"SELECT count(x) AS n, avg(x) AS mean, max(x) AS max, {cuts} FROM ({values}) s"
    # SQLite has no percentile_cont: rank, then take the two values around (n - 1) * p.
    around = ", ".join(
        f"max(CASE WHEN rn = CAST((n - 1) * {p} AS INTEGER) + {k} THEN x END) AS {name}_{k}"
        for name, p in PERCENTILES
        for k in (1, 2)
    )
    return f"""
        WITH v AS (SELECT x, row_number() OVER (ORDER BY x) AS rn, count(*) OVER () AS n
                   FROM ({values}) s WHERE x IS NOT NULL)
        SELECT max(n) AS n, avg(x) AS mean, max(x) AS max, {around} FROM v"""


def hand_sql_stats(session: Session) -> dict[str, dict[str, float | None]]:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # The session settings the report's transaction runs with (metrics.prepare), so
        # that both are measured under the same planner and memory limits.
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '64MB'"))
    out: dict[str, dict[str, float | None]] = {}
    for stage, values in stage_queries(dialect).items():
        row = session.execute(text(stats_sql(dialect, values))).mappings().one()
        figures: dict[str, float | None] = {
            "count": float(row["n"] or 0),
            "mean": _seconds(row["mean"]),
            "max": _seconds(row["max"]),
        }
        for name, p in PERCENTILES:
            if dialect == "postgresql":
                figures[name] = _seconds(row[name])
            else:
                low, high = row[f"{name}_1"], row[f"{name}_2"]
                if low is None:
                    figures[name] = None
                    continue
                position = (int(row["n"]) - 1) * p
                fraction = position - int(position)
                high = low if high is None else high
                figures[name] = _seconds(low + (high - low) * fraction)
        out[stage] = figures
    return out


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value) / 1000.0


def report_stats(
    session: Session, start: datetime | None = None
) -> dict[str, dict[str, float | None]]:
    from respondr.domain.metrics import latency_report  # imported before measuring

    report = latency_report(session, start=start, end=None, tz=TZ, group_by=None, now=UNTIL)
    row = report.rows[0]
    return {
        name: {
            "count": float(stats.count),
            "mean": stats.mean,
            "max": stats.max,
            "p50": stats.p50,
            "p90": stats.p90,
            "p95": stats.p95,
        }
        for name, stats in row.stages.items()
    }


def latency(url: str, mode: str) -> dict[str, Any]:
    import respondr.domain.metrics  # noqa: F401  (its import is not the report's memory)

    engine = engine_for(url)
    with Session(engine) as session:
        session.execute(select(1))
        if mode == "report":  # first use (statement compilation, caches) is not the figure
            report_stats(session, start=WARM_UP)
            return measured(lambda: report_stats(session))
        return measured(lambda: hand_sql_stats(session))


# --------------------------------------------------------------------------- what-if


def whatif(url: str, policy: str) -> dict[str, Any]:
    from respondr.domain import whatif as module

    engine = engine_for(url)
    with Session(engine) as session:
        session.execute(select(1))

        def work(start: datetime | None = None) -> Any:
            result = module.run_whatif(
                session, policy_ref=policy, start=start, end=None, tz=TZ, now=UNTIL
            )
            return repr(result)[:300]

        work(WARM_UP)  # first use (statement compilation, caches) is not the figure
        return measured(work)


# --------------------------------------------------------------------------- claims


def claims(url: str, first_agent: int, threads: int, start_at: float) -> dict[str, Any]:
    """``threads`` agents (user ids from ``first_agent``) claim from the same queue: each
    takes one of the five most urgent unclaimed messages, looks at it for a moment
    (uniformly 0 to 2 × ``THINK_SECONDS``), and goes again until the queue is empty.
    Timed: ``claims.claim`` and the commit (or the rollback of a lost race)."""
    from respondr.domain import claims as ops
    from respondr.domain.errors import Conflict
    from respondr.models import Message, User
    from respondr.receivers import connect_receivers
    from respondr.timeutil import utcnow

    connect_receivers()
    engine = engine_for(url)
    engine.pool.dispose()
    attempts: list[dict[str, Any]] = []
    lock = threading.Lock()
    queue = text(
        "SELECT id FROM messages WHERE status = 'new' AND claimed_by_id IS NULL "
        "AND external_id LIKE 'claimq-%' ORDER BY sla_due_at, id LIMIT 5"
    )

    def agent(user_id: int) -> None:
        rng = random.Random(user_id)  # noqa: S311 (which of the top five to try)
        # Like a request, an attempt has the user and the message in hand before it
        # claims: neither read is timed. The user is read again only after a rollback.
        with Session(engine, expire_on_commit=False) as session:
            session.get(User, user_id)
            session.commit()
            while time.time() < start_at:
                time.sleep(0.001)
            deadline = time.time() + 60
            while time.time() < deadline:
                ids = session.scalars(queue).all()
                session.commit()
                if not ids:
                    return
                message_id = rng.choice(ids)
                actor = session.get(User, user_id)
                message = session.get(Message, message_id)
                assert message is not None and actor is not None
                started = time.perf_counter()
                try:
                    ops.claim(session, message, actor=actor, now=utcnow())
                    session.commit()
                    outcome = "won"
                except Conflict:
                    session.rollback()
                    outcome = "lost"
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    attempts.append(
                        {"message": message_id, "agent": user_id, "ms": elapsed, "outcome": outcome}
                    )
                time.sleep(rng.uniform(0, 2 * THINK_SECONDS))  # reading the message

    workers = [threading.Thread(target=agent, args=(first_agent + n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    engine.dispose()
    return {"attempts": attempts}


def main() -> None:
    command, url, *rest = sys.argv[1:]
    if command == "latency":
        out = latency(url, rest[0])
    elif command == "whatif":
        out = whatif(url, rest[0])
    elif command == "claims":
        out = claims(url, int(rest[0]), int(rest[1]), float(rest[2]))
    else:
        raise SystemExit(f"unknown probe {command!r}")
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
