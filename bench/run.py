"""respondr's benchmarks: each measures respondr and the limit of its own stack in the
same run, so that the ratio means something on a noisy machine.

    python -m bench.run                                   # what `make bench` runs
    python -m bench.run --messages 1000000 --backends postgres --only inbox,latency,whatif

For each backend it makes scratch databases (a SQLite file in a temporary folder; on
PostgreSQL a database of its own next to ``--postgres-url``'s, dropped at the end),
writes a 10,000-message history and a ``--messages`` one with :mod:`bench.generate`, and
runs the six benchmarks of issue 8 (README "Performance"). Figures are the median and
the 95th percentile over ``--runs`` runs. They are printed as a table and merged into
``bench/results.json`` (an entry per benchmark, backend and size: a later run replaces
the same entry and keeps the others).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import requests
from sqlalchemy import event, text

from bench import generate as gen

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
BIN = Path(sys.executable).parent
BENCHMARKS = ("inbox", "latency", "whatif", "claims", "ingest", "batch")
SMALL = 10_000
WRK_SECONDS = 8
WRK_CONNECTIONS = 8
BATCH = 1000
BATCHES_PER_RUN = 1
CLAIM_AGENTS = 50
CLAIM_QUEUE = 1500
TZ = "Europe/London"

TARGETS = {
    "ingest": "≥ 60% of the bare insert endpoint's requests/s",
    "batch": "≥ 50% of enrichment + raw driver insert",
    "inbox": "< 30 ms at 1,000,000 messages, and within 1.5× of the 10,000 figure",
    "latency": "within 1.5× of hand-written SQL; peak memory < 300 MB at 1,000,000",
    "whatif": "< 10 s and < 300 MB at 1,000,000 messages",
    "claims": "no double claim; p99 claim latency < 50 ms (50 agents, PostgreSQL)",
}


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median and 95th percentile (linear interpolation) of several runs' figures."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * 0.95
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    p95 = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return {"median": statistics.median(ordered), "p95": p95, "runs": [round(v, 4) for v in values]}


def log(text_: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {text_}", flush=True)


# --------------------------------------------------------------------------- databases


class Backend:
    """Scratch databases on one backend, all removed by :meth:`close`."""

    def __init__(self, name: str, postgres_url: str) -> None:
        self.name = name
        self.postgres_url = postgres_url
        self.folder = Path(tempfile.mkdtemp(prefix=f"respondr-bench-{name}-"))
        self.databases: list[str] = []
        self.tag = uuid.uuid4().hex[:8]

    def create(self, label: str) -> str:
        if self.name == "sqlite":
            return f"sqlite:///{self.folder / f'{label}.db'}"
        database = f"respondr_bench_{self.tag}_{label}"
        with psycopg.connect(self._admin_url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{database}"')
        self.databases.append(database)
        head = self.postgres_url.rsplit("/", 1)[0]
        return gen.normalise_url(f"{head}/{database}")

    def _admin_url(self) -> str:
        return self.postgres_url.replace("postgresql+psycopg://", "postgresql://")

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        if not self.databases:
            return
        with psycopg.connect(self._admin_url(), autocommit=True) as connection:
            for database in self.databases:
                connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def version(self) -> str:
        if self.name == "sqlite":
            return f"SQLite {sqlite3.sqlite_version}"
        with psycopg.connect(self._admin_url()) as connection:
            row = connection.execute("SHOW server_version").fetchone()
        return f"PostgreSQL {row[0] if row else '?'}"


@dataclass
class Database:
    url: str
    messages: int
    setup: gen.Setup


def make_database(backend: Backend, label: str, messages: int) -> Database:
    url = backend.create(label)
    log(f"{backend.name}: writing a {messages:,}-message history")
    started = time.perf_counter()
    setup = gen.generate(url, messages=messages, quiet=True)
    log(f"{backend.name}: {messages:,} messages written in {time.perf_counter() - started:.0f} s")
    return Database(url, messages, setup)


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def gunicorn(app: str, env: dict[str, str]) -> Iterator[str]:
    """Serve ``app`` with 2 sync workers on loopback; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [
            str(BIN / "gunicorn"),
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                requests.get(f"{base}/", timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"gunicorn for {app} did not start")
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def respondr_env(db: Database, instance: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": db.url,
        "RESPONDR_INSTANCE": str(instance),
        "SECRET_KEY": "bench-" + uuid.uuid4().hex,
    }


# --------------------------------------------------------------------------- 1. single ingest


def wrk(url: str, token: str, channel: int, seconds: int) -> dict[str, Any]:
    prefix = uuid.uuid4().hex[:10]
    out = subprocess.run(  # noqa: S603
        [
            shutil.which("wrk") or "/usr/bin/wrk",
            "-t1",
            f"-c{WRK_CONNECTIONS}",
            f"-d{seconds}s",
            "-s",
            str(ROOT / "bench" / "ingest.lua"),
            url,
            "--",
            prefix,
            token or "-",
            str(channel),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = [x for x in out.splitlines() if x.startswith("{")][-1]
    figures = json.loads(line)
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


def bench_ingest(backend: Backend, db: Database, runs: int, instance: Path) -> dict[str, Any]:
    """POST /api/v1/messages one at a time (wrk, 8 connections) vs the bare endpoint."""
    engine = gen.engine_for(db.url)
    from bench.bare_app import CREATE

    with engine.begin() as connection:
        connection.execute(text(CREATE[engine.dialect.name]))
    engine.dispose()
    channel = db.setup.channel_ids[0]
    respondr_rps: list[float] = []
    bare_rps: list[float] = []
    detail: dict[str, list[Any]] = {"respondr": [], "bare": []}
    with (
        gunicorn("respondr:create_app()", respondr_env(db, instance)) as app_url,
        gunicorn("bench.bare_app:create_app()", {"BENCH_DATABASE_URL": db.url}) as bare_url,
    ):
        wrk(f"{app_url}/api/v1/messages", db.setup.token, channel, 2)  # warm both up
        wrk(f"{bare_url}/api/v1/messages", "", channel, 2)
        for _ in range(runs):  # alternate, so both see the same noise
            ours = wrk(f"{app_url}/api/v1/messages", db.setup.token, channel, WRK_SECONDS)
            bare = wrk(f"{bare_url}/api/v1/messages", "", channel, WRK_SECONDS)
            respondr_rps.append(ours["rps"])
            bare_rps.append(bare["rps"])
            detail["respondr"].append(ours)
            detail["bare"].append(bare)
    errors = sum(r["errors"] + r["status_errors"] for r in detail["respondr"] + detail["bare"])
    ratio = [a / b for a, b in zip(respondr_rps, bare_rps, strict=True)]
    ratio_median = statistics.median(ratio)
    return {
        "figures": {
            "respondr_requests_per_s": summary(respondr_rps),
            "bare_insert_requests_per_s": summary(bare_rps),
            "ratio": summary(ratio),
            "respondr_latency_p99_ms": summary(
                [r["latency_p99_us"] / 1000 for r in detail["respondr"]]
            ),
            "bare_latency_p99_ms": summary([r["latency_p99_us"] / 1000 for r in detail["bare"]]),
        },
        "errors": errors,
        "met": ratio_median >= 0.6 and errors == 0,
        "settings": f"gunicorn -w 2 (sync), wrk -t1 -c{WRK_CONNECTIONS} -d{WRK_SECONDS}s",
    }


# --------------------------------------------------------------------------- 2. batch ingest

BATCH_TEXTS = [
    "@acmebooks my gift card order {n} never arrived, this is the third time!",
    "Acme Books is my favourite shop, love the staff",
    "How do I use my loyalty points in store? ({n})",
    "The app is broken again. I want a refund for order {n}.",
    "Saw Acme Books at the book fair, great stand",
    "Is the e-reader working for anyone else? Mine shows error {n}",
    "Why is everything so expensive lately",
    "Delivery took 2 days, impressive",
]


def batch_items(prefix: str, count: int, channel: int) -> list[dict[str, Any]]:
    return [
        {
            "channel": channel,
            "external_id": f"{prefix}-{n}",
            "author": {"handle": f"batchfan{n % 700}", "name": "Batch Fan", "followers": n % 9000},
            "text": BATCH_TEXTS[n % len(BATCH_TEXTS)].format(n=n),
            "posted_at": "2026-11-26T08:00:00Z",
        }
        for n in range(count)
    ]


def plain_loop(db: Database, items: list[dict[str, Any]]) -> tuple[float, float]:
    """The stack's limit for the same work: parse, enrich and route each item in a plain
    loop, then write fans, messages and their events with the raw driver in one
    transaction. Returns (seconds for everything, seconds for the insert alone)."""
    from respondr.domain.enrich import OWNED_CHANNEL_KINDS, enrich
    from respondr.domain.ingest import parse_incoming

    engine = gen.engine_for(db.url)
    raw = engine.raw_connection()
    driver = raw.driver_connection
    dialect = engine.dialect.name
    kinds = dict(zip(db.setup.channel_ids, [c[1] for c in gen.CHANNELS], strict=True))
    slas = dict(zip(db.setup.channel_ids, db.setup.channel_sla_us, strict=True))
    members = db.setup.team_members[db.setup.extra["complaints"]]
    started = time.perf_counter()
    cursor = driver.cursor()
    next_ids = {}
    for table in ("fans", "messages", "workflow_events"):
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608
        next_ids[table] = int(cursor.fetchone()[0]) + 1
    rows: dict[str, list[list[Any]]] = {"fans": [], "messages": [], "workflow_events": []}
    fans: dict[str, int] = {}
    now = gen._us(datetime.now(UTC))
    turn = 0

    def add(table: str, values: list[Any]) -> int:
        ident = next_ids[table]
        next_ids[table] += 1
        rows[table].append([ident, *values])
        return ident

    for item in items:
        incoming = parse_incoming(item, now=datetime.now(UTC))
        channel = int(incoming.channel or 0)
        found = enrich(
            incoming.text,
            followers=incoming.followers,
            handles=gen.HANDLES,
            keyword_lists=gen.KEYWORDS,
            owned_space=kinds[channel] in OWNED_CHANNEL_KINDS,
        )
        fan_key = f"{channel}/{incoming.handle}"
        if fan_key not in fans:
            fans[fan_key] = add(
                "fans",
                [
                    channel,
                    f"{incoming.handle}-{uuid.uuid4().hex[:6]}",
                    incoming.name,
                    incoming.followers,
                ],
            )
        assignee = team = None
        if found.intent == "complaint":
            team, assignee = db.setup.extra["complaints"], members[turn % len(members)]
            turn += 1
        message_id = add(
            "messages",
            [
                channel,
                incoming.external_id,
                fans[fan_key],
                incoming.text,
                None,
                gen._us(incoming.posted_at),
                now,
                incoming.external_id,
                None,
                found.category,
                False,
                found.intent,
                False,
                found.sentiment_score,
                found.sentiment_label,
                found.priority,
                "new",
                assignee,
                team,
                None,
                None,
                None,
                now + slas[channel],
                None,
                None,
            ],
        )
        add("workflow_events", ["received", message_id, None, None, None, now, {}])
        if team is not None:
            data = {"assignee_id": assignee, "team_id": team, "rule_id": 1}
            add("workflow_events", ["routed", message_id, None, None, None, now, data])
    insert_started = time.perf_counter()
    for table, values in rows.items():
        columns = gen.TABLES[table]
        marks = ", ".join(["?" if dialect == "sqlite" else "%s"] * len(columns))
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
            gen.prepared(table, values, dialect),
        )
    if dialect == "postgresql":
        for table in rows:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table}))"
            )
    driver.commit()
    ended = time.perf_counter()
    raw.close()
    engine.dispose()
    return ended - started, ended - insert_started


def bench_batch(backend: Backend, db: Database, runs: int, instance: Path) -> dict[str, Any]:
    """Batches of 1,000 over HTTP (one client, one batch at a time) vs the same work in a
    plain loop with a raw driver insert, in one process."""
    channel = db.setup.channel_ids[0]
    http_rates: list[float] = []
    loop_rates: list[float] = []
    insert_rates: list[float] = []
    rejected = 0
    with (
        gunicorn("respondr:create_app()", respondr_env(db, instance)) as app_url,
        requests.Session() as client,
    ):
        client.headers["Authorization"] = f"Bearer {db.setup.token}"
        client.post(  # warm-up
            f"{app_url}/api/v1/messages",
            json={"messages": batch_items(uuid.uuid4().hex, 50, channel)},
            timeout=120,
        ).raise_for_status()
        for _ in range(runs):
            bodies = [
                {"messages": batch_items(uuid.uuid4().hex, BATCH, channel)}
                for _ in range(BATCHES_PER_RUN)
            ]
            started = time.perf_counter()
            for body in bodies:
                answer = client.post(f"{app_url}/api/v1/messages", json=body, timeout=300)
                answer.raise_for_status()
                rejected += answer.json()["rejected"]
            http_rates.append(BATCH * BATCHES_PER_RUN / (time.perf_counter() - started))
            total = insert = 0.0
            for _ in range(BATCHES_PER_RUN):
                everything, alone = plain_loop(db, batch_items(uuid.uuid4().hex, BATCH, channel))
                total += everything
                insert += alone
            loop_rates.append(BATCH * BATCHES_PER_RUN / total)
            insert_rates.append(BATCH * BATCHES_PER_RUN / insert)
    ratio = [a / b for a, b in zip(http_rates, loop_rates, strict=True)]
    return {
        "figures": {
            "respondr_http_messages_per_s": summary(http_rates),
            "plain_loop_messages_per_s": summary(loop_rates),
            "raw_insert_only_messages_per_s": summary(insert_rates),
            "ratio": summary(ratio),
        },
        "errors": rejected,
        "met": statistics.median(ratio) >= 0.5 and rejected == 0,
        "settings": f"{BATCHES_PER_RUN} batches of {BATCH} per run, one client, gunicorn -w 2",
    }


# --------------------------------------------------------------------------- 3. inbox


def encode_cursor(due: Any, ident: int) -> str:
    """The inbox's own cursor for a row read with plain SQL."""
    from respondr.domain.inbox import encode_cursor as encode

    if isinstance(due, str):  # SQLite: naive UTC text
        due = datetime.fromisoformat(due).replace(tzinfo=UTC)
    return encode(SimpleNamespace(sla_due_at=due.astimezone(UTC), id=ident))  # type: ignore[arg-type]


def inbox_cases(db: Database) -> dict[str, tuple[str, str | None]]:
    """Name → (query string, SQL picking the row the deep page starts after)."""
    facebook, twitter = db.setup.channel_ids[0], db.setup.channel_ids[1]
    deep = "SELECT sla_due_at, id FROM messages WHERE {where} ORDER BY sla_due_at, id "
    half = "LIMIT 1 OFFSET (SELECT count(*) / 2 FROM messages WHERE {where})"
    return {
        "open, first page": ("", None),
        "open, complaints on one channel": (f"channel={facebook}&intent=complaint", None),
        "all statuses, one channel, first page": (f"status=all&channel={twitter}", None),
        "all statuses, one channel, deep page": (
            f"status=all&channel={twitter}",
            (deep + half).format(where=f"channel_id = {twitter}"),
        ),
        "published, negative, deep page": (
            "status=published&sentiment=negative",
            (deep + half).format(where="status = 'published' AND sentiment_label = 'negative'"),
        ),
        "search 'refund', all statuses": ("status=all&q=refund", None),
    }


class InboxTarget:
    """One database's inbox, served in-process by its own app."""

    def __init__(self, db: Database, instance: Path) -> None:
        from respondr import create_app
        from respondr.extensions import db as flask_db

        self.app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": db.url,
                "INSTANCE_PATH": str(instance),
                "SECRET_KEY": "bench",
            }
        )
        self.client = self.app.test_client()
        self.headers = {"Authorization": f"Bearer {db.setup.token}"}
        with self.app.app_context():
            self.engine = flask_db.engine
        self.urls: dict[str, str] = {}
        if self.engine.dialect.name == "sqlite":
            # The planner's statistics, as PostgreSQL has them after the generator's
            # VACUUM ANALYZE: without them SQLite takes `channel_id = ?` for a rare value
            # and sorts a whole channel rather than read ix_messages_sla in order.
            with self.engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        with self.engine.connect() as connection:
            for name, (query, deep_sql) in inbox_cases(db).items():
                if deep_sql is not None:
                    row = connection.execute(text(deep_sql)).one()
                    query += f"&cursor={encode_cursor(row[0], row[1])}"
                self.urls[name] = f"/api/v1/messages?{query}"

    def get(self, case: str) -> tuple[float, int]:
        """Server time in ms (the whole request, without the network) and rows."""
        started = time.perf_counter()
        answer = self.client.get(self.urls[case], headers=self.headers)
        elapsed = (time.perf_counter() - started) * 1000
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return elapsed, len(answer.get_json()["messages"])

    def plan(self, case: str) -> str:
        return query_plan(self.engine, self.client, self.urls[case], self.headers)


def bench_inbox(small: Database, main: Database, runs: int, instance: Path) -> dict[str, Any]:
    """GET /api/v1/messages in-process (Flask test client), 50 rows a page, on the small
    and the large database in turn (request by request, so both see the same noise),
    with the query plan of each inbox statement."""
    targets = {"small": InboxTarget(small, instance), "main": InboxTarget(main, instance)}
    out: dict[str, Any] = {size: {"figures": {}, "plans": {}} for size in targets}
    growth: dict[str, float] = {}
    for case in targets["main"].urls:
        timings: dict[str, list[float]] = {size: [] for size in targets}
        rows: dict[str, int] = {}
        for round_ in range(5 + max(40, runs)):
            for size, target in targets.items():
                elapsed, rows[size] = target.get(case)
                if round_ >= 5:  # the first five warm up
                    timings[size].append(elapsed)
        for size, target in targets.items():
            out[size]["figures"][case] = {**summary(timings[size]), "rows": rows[size]}
            out[size]["plans"][case] = target.plan(case)
        growth[case] = (
            out["main"]["figures"][case]["median"] / out["small"]["figures"][case]["median"]
        )
    worst = max(v["median"] for v in out["main"]["figures"].values())
    return {
        "at_small": out["small"],
        "at_main": out["main"],
        "small": small.messages,
        "growth": growth,
        "unit": "ms",
        "met": worst < 30 and max(growth.values()) <= 1.5,
    }


def query_plan(engine: Any, client: Any, url: str, headers: dict[str, str]) -> str:
    """The plan of the inbox statement a request runs (EXPLAIN ANALYZE on PostgreSQL,
    EXPLAIN QUERY PLAN on SQLite), caught as the request sends it."""
    seen: list[tuple[str, Any]] = []

    def catch(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM messages" in statement and "ORDER BY messages.sla_due_at" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", catch)
    try:
        client.get(url, headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", catch)
    if not seen:
        return "(no inbox statement seen)"
    statement, parameters = seen[-1]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            lines = [row[0] for row in cursor.fetchall()]
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            lines = [f"{'  ' * 0}{row[3]}" for row in cursor.fetchall()]
        raw.rollback()
    finally:
        raw.close()
    return "\n".join(lines)


# --------------------------------------------------------------------------- 4 and 5: probes


def probe(*args: str) -> dict[str, Any]:
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bench.probe", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench.probe {args[0]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def bench_latency(backend: Backend, db: Database, runs: int, instance: Path) -> dict[str, Any]:
    """metrics.latency_report over the whole history vs hand-written SQL (one statement
    per stage), each in a fresh process; peak memory as the peak RSS it added."""
    report_s, report_mb, sql_s, sql_mb = [], [], [], []
    report = sql = None
    for _ in range(max(2, (runs + 1) // 2)):
        ours = probe("latency", db.url, "report")
        hand = probe("latency", db.url, "sql")
        report_s.append(ours["seconds"])
        report_mb.append(ours["peak_mb"])
        sql_s.append(hand["seconds"])
        sql_mb.append(hand["peak_mb"])
        report, sql = ours["result"], hand["result"]
    assert report is not None and sql is not None
    agree = all(
        report[stage]["count"] == sql[stage]["count"]
        and all(
            _close(report[stage][k], sql[stage][k]) for k in ("mean", "p50", "p90", "p95", "max")
        )
        for stage in sql
    )
    ratio = [a / b for a, b in zip(report_s, sql_s, strict=True)]
    met = statistics.median(ratio) <= 1.5 and max(report_mb) < 300
    return {
        "figures": {
            "report_seconds": summary(report_s),
            "hand_sql_seconds": summary(sql_s),
            "ratio": summary(ratio),
            "report_peak_mb": summary(report_mb),
            "hand_sql_peak_mb": summary(sql_mb),
        },
        "same_statistics": agree,
        "ttfr": report.get("ttfr"),
        "met": met and agree,
    }


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 0.002 + 1e-6 * abs(b)


def whatif_available() -> bool:
    return (ROOT / "respondr" / "domain" / "whatif.py").exists()


def bench_whatif(backend: Backend, db: Database, runs: int, instance: Path) -> dict[str, Any]:
    """What-if: the whole history replayed under another policy, in a fresh process."""
    if not whatif_available():
        return {"available": False, "note": "respondr.domain.whatif has not landed", "met": None}
    seconds, peak = [], []
    result = None
    for _ in range(max(2, (runs + 1) // 2)):
        out = probe("whatif", db.url, "corporate-clears-all")
        seconds.append(out["seconds"])
        peak.append(out["peak_mb"])
        result = out["result"]
    return {
        "figures": {"seconds": summary(seconds), "peak_mb": summary(peak)},
        "result": result,
        "met": statistics.median(seconds) < 10 and max(peak) < 300,
    }


# --------------------------------------------------------------------------- 6. claims


def add_claim_queue(db: Database, count: int) -> None:
    """A fresh queue of ``count`` new, unclaimed messages, copied from the history."""
    engine = gen.engine_for(db.url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO messages (channel_id, external_id, fan_id, text, posted_at, "
                "received_at, category, category_corrected, intent, intent_corrected, "
                "sentiment_score, sentiment_label, priority, status, sla_due_at) "
                "SELECT channel_id, 'claimq-' || id, fan_id, text, now(), now(), category, "
                "false, intent, false, sentiment_score, sentiment_label, priority, 'new', "
                "now() + (id % 120) * interval '1 minute' FROM messages "
                "WHERE status = 'published' ORDER BY id LIMIT :count"
            ),
            {"count": count},
        )
    engine.dispose()


def bench_claims(backend: Backend, db: Database, runs: int, instance: Path) -> dict[str, Any]:
    """50 agents (5 processes × 10 threads) claim from the same queue with the domain
    claim function, each transaction committed; every attempt's claim and commit timed."""
    if backend.name != "postgresql":
        return {"skipped": "PostgreSQL only", "met": None}
    add_claim_queue(db, CLAIM_QUEUE)
    start_at = time.time() + 5
    processes = [
        subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "bench.probe",
                "claims",
                db.url,
                str(db.setup.agent_ids[0] + 10 * n),
                "10",
                str(start_at),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for n in range(CLAIM_AGENTS // 10)
    ]
    attempts: list[dict[str, Any]] = []
    for process in processes:
        out, _ = process.communicate(timeout=300)
        if process.returncode != 0:
            raise RuntimeError("a claims probe failed")
        attempts.extend(json.loads(out.splitlines()[-1])["attempts"])
    won = [a for a in attempts if a["outcome"] == "won"]
    winners: dict[int, set[int]] = {}
    for attempt in won:
        winners.setdefault(attempt["message"], set()).add(attempt["agent"])
    doubled_in_answers = sum(len(agents) > 1 for agents in winners.values())
    engine = gen.engine_for(db.url)
    with engine.connect() as connection:
        doubled_in_events = connection.execute(
            text(
                "SELECT count(*) FROM (SELECT e.message_id FROM workflow_events e "
                "JOIN messages m ON m.id = e.message_id WHERE m.external_id LIKE 'claimq-%' "
                "AND e.kind = 'claimed' GROUP BY e.message_id HAVING count(*) > 1) d"
            )
        ).scalar_one()
        unclaimed = connection.execute(
            text(
                "SELECT count(*) FROM messages WHERE external_id LIKE 'claimq-%' "
                "AND claimed_by_id IS NULL"
            )
        ).scalar_one()
    engine.dispose()

    def pct(values: list[float], p: float) -> float:
        ordered = sorted(values)
        position = (len(ordered) - 1) * p
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    won_ms = [a["ms"] for a in won]
    all_ms = [a["ms"] for a in attempts]
    p99 = pct(won_ms, 0.99)
    doubles = doubled_in_answers + doubled_in_events
    return {
        "figures": {
            "claims_won": len(won),
            "attempts": len(attempts),
            "lost_races": len(attempts) - len(won),
            "queue_left_unclaimed": unclaimed,
            "double_claims": doubles,
            "claim_ms_p50": pct(won_ms, 0.5),
            "claim_ms_p95": pct(won_ms, 0.95),
            "claim_ms_p99": p99,
            "any_attempt_ms_p99": pct(all_ms, 0.99),
        },
        "met": doubles == 0 and p99 < 50 and len(won) == CLAIM_QUEUE,
        "settings": f"{CLAIM_AGENTS} agents (5 processes × 10 threads), queue of "
        f"{CLAIM_QUEUE}; each picks one of the 5 most urgent, then pauses 0–0.5 s; "
        "timed: claim() and its commit, the user and the message read before it",
    }


# --------------------------------------------------------------------------- main

RUNNERS: dict[str, Callable[[Backend, Database, int, Path], dict[str, Any]]] = {
    "latency": bench_latency,
    "whatif": bench_whatif,
    "claims": bench_claims,
    "ingest": bench_ingest,
    "batch": bench_batch,
}


def run_backend(
    name: str, args: argparse.Namespace, only: set[str], meta: dict[str, Any]
) -> list[dict[str, Any]]:
    backend = Backend(name, args.postgres_url)
    entries: list[dict[str, Any]] = []

    def record(bench: str, messages: int, outcome: dict[str, Any]) -> None:
        entry = {
            "benchmark": bench,
            "backend": name,
            "messages": messages,
            "target": TARGETS[bench],
            **outcome,
        }
        entries.append(entry)
        entry["database"] = version
        save(merge([entry], meta))  # each figure kept as soon as it is measured
        log(f"{name} {bench} @ {messages:,}: {json.dumps(outcome.get('figures', outcome))[:400]}")

    try:
        version = backend.version()
        log(f"{name}: {version}")
        main = make_database(backend, "main", args.messages)
        if "inbox" in only:
            small = make_database(backend, "small", SMALL) if args.messages != SMALL else main
            outcome = bench_inbox(small, main, args.runs, backend.folder)
            record("inbox", args.messages, outcome)
        for bench, runner in RUNNERS.items():
            if bench in only:
                record(bench, args.messages, runner(backend, main, args.runs, backend.folder))
    finally:
        backend.close()
    return entries


def save(results: dict[str, Any]) -> None:
    RESULTS.write_text(json.dumps(results, indent=1, default=str) + "\n")


def merge(entries: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    """The results file with these entries replacing those of the same benchmark,
    backend and size."""
    try:
        saved = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        saved = {"entries": []}
    key = lambda e: (e["benchmark"], e["backend"], e["messages"])  # noqa: E731
    fresh = {key(e) for e in entries}
    kept = [e for e in saved.get("entries", []) if key(e) not in fresh]
    for entry in entries:
        entry["measured_at"] = meta["started"]
    ordered = sorted(
        kept + entries,
        key=lambda e: (BENCHMARKS.index(e["benchmark"]), e["backend"], e["messages"]),
    )
    return {"machine": meta["machine"], "entries": ordered}


def table(entries: list[dict[str, Any]]) -> str:
    lines = [f"{'benchmark':<9} {'backend':<10} {'messages':>9}  figure (median / p95)", "-" * 78]
    for e in entries:
        head = f"{e['benchmark']:<9} {e['backend']:<10} {e['messages']:>9,}"
        met = {True: "met", False: "NOT MET", None: "-"}[e.get("met")]
        if e["benchmark"] == "inbox":
            for case, big in e["at_main"]["figures"].items():
                little = e["at_small"]["figures"][case]
                lines.append(
                    f"{head}  {case}: {little['median']:.1f} / {little['p95']:.1f} ms at "
                    f"{e['small']:,}, {big['median']:.1f} / {big['p95']:.1f} ms here "
                    f"({e['growth'][case]:.2f}×)"
                )
            growth = max(e["growth"].values())
            lines.append(f"{head}  worst growth {growth:.2f}×  [{met}]")
            continue
        if "figures" not in e:
            lines.append(f"{head}  {e.get('note') or e.get('skipped')}")
            continue
        for name, fig in e["figures"].items():
            if isinstance(fig, dict):
                lines.append(f"{head}  {name}: {fig['median']:,.3f} / {fig['p95']:,.3f}")
            else:
                lines.append(f"{head}  {name}: {fig:,.2f}")
        lines.append(f"{head}  [{met}]")
    return "\n".join(lines)


def _fig(figure: dict[str, Any], digits: int = 0) -> str:
    return f"{figure['median']:,.{digits}f} / {figure['p95']:,.{digits}f}"


def _peak(figure: dict[str, Any] | None) -> str:
    return f"peak {_fig(figure)} MB" if figure else "peak not measured"


def markdown(saved: dict[str, Any]) -> str:
    """The README's tables, from the results file."""
    verdict = {True: "met", False: "**not met**", None: "–"}
    out = [
        "| benchmark | backend | messages | respondr | the stack's limit | ratio | target |",
        "| --- | --- | ---: | --- | --- | --- | --- |",
    ]
    inbox = [
        "| case | backend | 10,000 msgs (ms) | N msgs (ms) | N | growth |",
        "| --- | --- | --- | --- | ---: | ---: |",
    ]
    for e in saved["entries"]:
        b, f = e["benchmark"], e.get("figures", {})
        row = f"| {b} | {e['backend']} | {e['messages']:,} |"
        met = verdict[e.get("met")]
        if b == "ingest":
            out.append(
                f"{row} {_fig(f['respondr_requests_per_s'])} req/s | "
                f"{_fig(f['bare_insert_requests_per_s'])} req/s (bare insert) | "
                f"{_fig(f['ratio'], 3)} | {met} |"
            )
        elif b == "batch":
            out.append(
                f"{row} {_fig(f['respondr_http_messages_per_s'])} msg/s | "
                f"{_fig(f['plain_loop_messages_per_s'])} msg/s (raw insert alone "
                f"{_fig(f['raw_insert_only_messages_per_s'])}) | {_fig(f['ratio'], 3)} | {met} |"
            )
        elif b == "latency":
            out.append(
                f"{row} {_fig(f['report_seconds'], 2)} s, {_peak(f.get('report_peak_mb'))} | "
                f"{_fig(f['hand_sql_seconds'], 2)} s (hand SQL) | {_fig(f['ratio'], 2)} | {met} |"
            )
        elif b == "whatif" and f:
            out.append(
                f"{row} {_fig(f['seconds'], 2)} s, {_peak(f.get('peak_mb'))} | – | – | {met} |"
            )
        elif b == "claims" and f:
            out.append(
                f"{row} p50 {f['claim_ms_p50']:.0f} ms, p99 {f['claim_ms_p99']:.0f} ms, "
                f"{f['claims_won']:,} claims, {f['double_claims']} double | – | – | {met} |"
            )
        elif b == "inbox":
            out.append(
                f"{row} see below | – | worst growth {max(e['growth'].values()):.2f}× | {met} |"
            )
            for case, big in e["at_main"]["figures"].items():
                small = e["at_small"]["figures"][case]
                inbox.append(
                    f"| {case} | {e['backend']} | {_fig(small, 1)} | {_fig(big, 1)} | "
                    f"{e['messages']:,} | {e['growth'][case]:.2f}× |"
                )
    return "\n".join([*out, "", *inbox])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--only", default=",".join(BENCHMARKS))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument(
        "--markdown", action="store_true", help="print the README tables from the results"
    )
    args = parser.parse_args(argv)
    # Stopped with SIGTERM, still drop the scratch databases (the finally blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.markdown:
        print(markdown(json.loads(RESULTS.read_text())))
        return
    only = {b.strip() for b in args.only.split(",") if b.strip()}
    if unknown := only - set(BENCHMARKS):
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - {"sqlite", "postgres"}:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    if ({"ingest"} & only) and shutil.which("wrk") is None:
        parser.error("wrk is not installed: apt-get install wrk (make bench does it)")
    meta = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "note": "a shared 2-core machine: other work may run beside the benchmarks",
        },
    }
    entries: list[dict[str, Any]] = []
    for name in backends:
        entries += run_backend("postgresql" if name == "postgres" else name, args, only, meta)
    print(table(entries))
    log(f"figures merged into {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
