"""Write a realistic respondr history straight into a database, fast and deterministically.

    python -m bench.generate --database-url sqlite:////tmp/bench.db --messages 100000
    python -m bench.generate --database-url postgresql://postgres@127.0.0.1/bench

The database is migrated to the latest schema first and must hold no messages yet. The
settings (organisation, users, teams, channels on the shipped approval policies, routing
rules, an API token) are made through the models; the history (fans, messages, drafts
and their versions, submissions, approval decisions, published replies and the workflow
events the latency reports read) goes in with the driver's bulk paths: ``executemany`` on
SQLite, ``COPY`` on PostgreSQL. Then every message's stored stage row is written from
those events in one statement, as the live event writer would have kept it.

The brand receives ``--per-day`` messages a day (default 2,740: a million a year), so a
larger ``--messages`` means a longer history, not a busier day: the open backlog (the
recent messages whose life runs past the history's end) stays about the same size.
Each message's life is simulated (detection, queue wait, claim, drafting, the policy's
verdict, approval rounds with rejections and rework, publishing, or closing without a
reply) and cut at ``--until``: what would happen later has not happened yet.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from respondr import db_setup, migrate
from respondr.domain.accounts import create_api_token
from respondr.domain.enrich import OWNED_CHANNEL_KINDS, enrich
from respondr.domain.presets import ensure_presets
from respondr.domain.stage_totals import refresh_stage_totals
from respondr.models import (
    Channel,
    Message,
    Organisation,
    RoutingRule,
    Team,
    User,
)

UNTIL = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PER_DAY = 2740
CHUNK = 20_000
AGENTS = 50
STEPS = [{"role": "approver", "count": 1}]
US = 1_000_000  # microseconds per second
EPOCH = datetime(1970, 1, 1)

KEYWORDS = {
    "industry": ["publishing", "bestseller list", "book fair"],
    "product_features": ["gift card", "app", "delivery", "loyalty points", "e-reader"],
    "praise": ["love", "thank you", "brilliant"],
    "complaint": ["refund", "broken", "never arrived", "rude"],
    "question": ["how do i", "when will", "can i"],
}
HANDLES = ["@acmebooks", "Acme Books"]
PRODUCTS = ["gift card", "app", "delivery", "loyalty points", "e-reader"]
TEMPLATES = [
    "@acmebooks my {p} order #{n} never arrived, this is the third time!",
    "Acme Books is my favourite shop, love the staff",
    "How do I use my {p} in store? order {n}",
    "When will the {p} be back? Been waiting weeks",
    "Thank you @acmebooks for the signed copy, brilliant service",
    "The {p} is broken again. I want a refund for order {n}.",
    "Anyone else think the publishing industry is in trouble?",
    "Can I return a book bought with a {p}?",
    "Saw Acme Books at the book fair, great stand",
    "Your cashier was rude to my kid today. Not ok.",
    "Just finished the new thriller from the bestseller list, wow",
    "Is the {p} working for anyone else? Mine shows an error",
    "hi Acme Books, do you ship to Ireland?",
    "My {p} balance disappeared after the update #{n}",
    "Great selection of kids books this month, thanks",
    "Delivery took 2 days, impressive",
    "Why is everything so expensive lately",
    "Could you stock more poetry please?",
    "The e-reader screen is cracked out of the box, order {n}",
    "Love the reading nook in the new store!",
]
CLOSE_REASONS = ("spam", "no_reply_needed", "handled_elsewhere")
CHANNELS = [
    # name, kind, SLA minutes, policy slug, share of the messages
    ("Acme on Facebook", "facebook_page", 60, "risk-based", 0.35),
    ("@acmebooks on Twitter", "twitter", 30, "corporate-clears-all", 0.30),
    ("Acme on Instagram", "instagram", 120, "trusted-staff-free", 0.15),
    ("Acme blog", "blog", 480, "open", 0.10),
    ("Acme forum", "forum", 240, "stock-responses-free", 0.10),
]
REPLIES = [
    "Thanks for getting in touch, we're on it.",
    "So sorry about this! Please DM us your order number.",
    "Thank you so much, we'll pass it on to the team!",
    "Great question: you can use it at any till.",
]


@dataclass
class Setup:
    """What the history needs from the settings: ids of the people, channels, policies."""

    token: str
    api_user_id: int
    agent_ids: list[int]
    trusted_ids: set[int]
    approver_ids: list[int]
    manager_id: int
    channel_ids: list[int]
    channel_sla_us: list[int]
    channel_policy: list[tuple[str, int]]  # (slug, policy version id)
    team_members: dict[int, list[int]]
    rule_ids: dict[str, int]
    tz: str = "Europe/London"
    extra: dict[str, Any] = field(default_factory=dict)


def engine_for(url: str) -> Engine:
    """An engine configured as the app configures its own (WAL and BEGIN IMMEDIATE on
    SQLite), with the URL normalised to the psycopg 3 driver."""
    url = normalise_url(url)
    options: dict[str, Any] = {}
    if url.startswith("sqlite"):
        options["connect_args"] = {"timeout": 30, "check_same_thread": False}
    engine = create_engine(url, **options)
    db_setup.install_connection_hooks(engine)
    return engine


def normalise_url(url: str) -> str:
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_setup(session: Session, *, now: datetime) -> Setup:
    """The settings of a mid-sized brand: 50 agents, 4 approvers, 5 channels on five
    different shipped policies, routing to two round-robin teams and one person."""
    session.add(
        Organisation(
            name="Acme Books",
            timezone="Europe/London",
            keyword_lists=KEYWORDS,
            handles=HANDLES,
            watch_list=["refund", "lawyer"],
        )
    )
    password = generate_password_hash("bench-password-not-secret")

    def user(email: str, name: str, roles: set[str], trusted: bool = False) -> User:
        person = User(email=email, name=name, password_hash=password, trusted=trusted)
        person.roles = roles
        session.add(person)
        return person

    agents = [
        user(f"agent{n:02d}@bench.example", f"Agent {n:02d}", {"agent"}, trusted=n % 5 == 0)
        for n in range(1, AGENTS + 1)
    ]
    approvers = [
        user(f"approver{n}@bench.example", f"Approver {n}", {"approver", "agent"})
        for n in range(1, 5)
    ]
    manager = user("manager@bench.example", "Manager", {"manager", "approver"})
    admin = user("admin@bench.example", "Admin", {"admin"})
    api_user = user("integration@bench.example", "Integration", {"agent"})
    complaints = Team(name="Complaints", members=agents[:10])
    product = Team(name="Product", members=agents[10:20])
    session.add_all([complaints, product])
    presets = ensure_presets(session, now=now)
    channels = []
    for name, kind, sla, slug, _share in CHANNELS:
        channel = Channel(name=name, kind=kind, sla_minutes=sla, policy=presets[slug])
        session.add(channel)
        channels.append(channel)
    session.flush()
    rules = {
        "complaints": RoutingRule(position=1, intent="complaint", team_id=complaints.id),
        "product": RoutingRule(position=2, category="product_features", team_id=product.id),
        "blog": RoutingRule(position=3, channel_id=channels[3].id, user_id=agents[20].id),
    }
    session.add_all(rules.values())
    session.flush()
    token = create_api_token(session, api_user, name="bench", actor=admin, now=now)
    return Setup(
        token=token,
        api_user_id=api_user.id,
        agent_ids=[a.id for a in agents],
        trusted_ids={a.id for a in agents if a.trusted},
        approver_ids=[a.id for a in approvers],
        manager_id=manager.id,
        channel_ids=[c.id for c in channels],
        channel_sla_us=[c.sla_minutes * 60 * US for c in channels],
        channel_policy=[(slug, presets[slug].versions[-1].id) for _n, _k, _s, slug, _w in CHANNELS],
        team_members={
            complaints.id: [a.id for a in agents[:10]],
            product.id: [a.id for a in agents[10:20]],
        },
        rule_ids={key: rule.id for key, rule in rules.items()},
        extra={"complaints": complaints.id, "product": product.id, "blog_agent": agents[20].id},
    )


# --------------------------------------------------------------------------- the history

MESSAGE_COLUMNS = [
    "id",
    "channel_id",
    "external_id",
    "fan_id",
    "text",
    "url",
    "posted_at",
    "received_at",
    "thread_key",
    "in_reply_to",
    "category",
    "category_corrected",
    "intent",
    "intent_corrected",
    "sentiment_score",
    "sentiment_label",
    "priority",
    "status",
    "assignee_id",
    "assigned_team_id",
    "claimed_by_id",
    "claimed_at",
    "last_activity_at",
    "sla_due_at",
    "closed_reason",
    "closed_at",
]
TABLES: dict[str, list[str]] = {
    "fans": ["id", "channel_id", "handle", "display_name", "followers"],
    "messages": MESSAGE_COLUMNS,
    "drafts": [
        "id",
        "message_id",
        "author_id",
        "text",
        "version",
        "stock_response_id",
        "unedited_stock",
        "status",
        "idempotency_key",
        "created_at",
        "updated_at",
    ],
    "draft_versions": [
        "id",
        "draft_id",
        "number",
        "text",
        "editor_id",
        "by_approver",
        "created_at",
    ],
    "submissions": [
        "id",
        "draft_id",
        "number",
        "text",
        "submitted_at",
        "author_id",
        "author_trusted",
        "author_roles",
        "policy_version_id",
        "rule_number",
        "outcome",
        "reason",
        "steps",
        "asked_by_author",
        "decision",
        "decided_at",
        "escalated_at",
    ],
    "approval_decisions": (
        ["id", "submission_id", "step", "approver_id", "outcome", "note", "edited", "decided_at"]
    ),
    "published_replies": (
        [
            "id",
            "draft_id",
            "message_id",
            "text",
            "published_at",
            "connector",
            "external_id",
            "url",
            "published_by_id",
        ]
    ),
    "workflow_events": [
        "id",
        "kind",
        "message_id",
        "draft_id",
        "submission_id",
        "actor_id",
        "at",
        "data",
    ],
}
# Which columns hold times (microseconds since the epoch until written), JSON or booleans.
TIME_COLUMNS = {
    "posted_at",
    "received_at",
    "claimed_at",
    "last_activity_at",
    "sla_due_at",
    "closed_at",
    "created_at",
    "updated_at",
    "submitted_at",
    "decided_at",
    "escalated_at",
    "published_at",
    "at",
}
JSON_COLUMNS = {"author_roles", "steps", "data"}


class Rows:
    """The rows of one chunk, by table, and the next id of each table."""

    def __init__(self) -> None:
        self.rows: dict[str, list[list[Any]]] = {name: [] for name in TABLES}
        self.next_id = dict.fromkeys(TABLES, 1)

    def add(self, table: str, values: list[Any]) -> int:
        ident = self.next_id[table]
        self.next_id[table] = ident + 1
        self.rows[table].append([ident, *values])
        return ident

    def event(
        self,
        kind: str,
        at: int,
        message_id: int,
        *,
        draft_id: int | None = None,
        submission_id: int | None = None,
        actor: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.add(
            "workflow_events",
            [kind, message_id, draft_id, submission_id, actor, at, data or {}],
        )

    def take(self) -> dict[str, list[list[Any]]]:
        taken, self.rows = self.rows, {name: [] for name in TABLES}
        return taken


class History:
    """Simulates each message's life; one instance writes the whole history."""

    def __init__(self, setup: Setup, *, messages: int, per_day: int, until: datetime, seed: int):
        self.setup = setup
        self.total = messages
        self.rng = random.Random(seed)  # noqa: S311 (a reproducible history, not secrets)
        self.until = _us(until)
        self.span = int(messages / per_day * 86_400 * US)
        self.start = self.until - self.span
        self.rows = Rows()
        self.turn = dict.fromkeys(setup.team_members, 0)
        self.weights = [share for *_rest, share in CHANNELS]
        kinds = [kind for _n, kind, *_rest in CHANNELS]
        self.fan_pool = max(50, messages // 20)
        self.texts = self._texts(kinds)

    def _texts(self, kinds: list[str]) -> list[list[tuple[str, Any]]]:
        """Each template's text with each product and its enrichment, per channel."""
        out: list[list[tuple[str, Any]]] = [[] for _ in CHANNELS]
        for index, kind in enumerate(kinds):
            for template in TEMPLATES:
                for product in PRODUCTS if "{p}" in template else PRODUCTS[:1]:
                    text = template.replace("{p}", product)
                    found = enrich(
                        text.replace("{n}", "12345"),
                        followers=None,
                        handles=HANDLES,
                        keyword_lists=KEYWORDS,
                        owned_space=kind in OWNED_CHANNEL_KINDS,
                    )
                    out[index].append((text, found))
        return out

    def chunks(self) -> Iterable[dict[str, list[list[Any]]]]:
        rows = self.rows
        fan_pool = self.fan_pool
        for channel_id in self.setup.channel_ids:
            for n in range(fan_pool):
                rows.add("fans", [channel_id, f"fan{n}", f"Fan {n}", None])
        # Fans' followers vary; drawn here so the whole history stays one seeded stream.
        rng = self.rng
        for row in rows.rows["fans"]:
            row[4] = int(rng.lognormvariate(5, 2)) if rng.random() < 0.8 else None
        step = self.span / self.total
        for number in range(self.total):
            received = self.start + int((number + rng.random()) * step)
            self.message(number, received)
            if (number + 1) % CHUNK == 0:
                yield rows.take()
        yield rows.take()

    def message(self, number: int, received: int) -> None:
        rng, rows, setup, until = self.rng, self.rows, self.setup, self.until
        channel = rng.choices(range(len(CHANNELS)), self.weights)[0]
        channel_id = setup.channel_ids[channel]
        text, found = rng.choice(self.texts[channel])
        text = text.replace("{n}", str(rng.randint(10_000, 99_999)))
        fan_id = channel * self.fan_pool + int(rng.paretovariate(1.2)) % self.fan_pool + 1
        posted = received - int(rng.lognormvariate(3, 1) * US)
        sla_due = received + setup.channel_sla_us[channel]
        message = [
            channel_id, f"m{number}", fan_id, text, None, posted, received, f"m{number}", None,
            found.category, False, found.intent, False, found.sentiment_score,
            found.sentiment_label, found.priority, "new", None, None, None, None, None,
            sla_due, None, None,
        ]  # fmt: skip
        message_id = rows.add("messages", message)
        row = rows.rows["messages"][-1]
        rows.event("received", received, message_id, actor=setup.api_user_id)
        self._route(row, message_id, found, channel, received)

        def status(value: str) -> None:
            row[17] = value

        # Queue wait; about 0.3% are never picked up, and a manager closes them 3 days on.
        wait = int(min(rng.lognormvariate(6.7, 0.9), 6 * 3600) * US)
        if rng.random() < 0.003:
            closed = received + 3 * 86_400 * US
            if closed < until:
                status("closed")
                row[24], row[25] = "no_reply_needed", closed
                rows.event(
                    "closed", closed, message_id, actor=setup.manager_id,
                    data={"reason": "no_reply_needed"},
                )  # fmt: skip
            return
        claimed = received + wait
        if claimed >= until:
            return
        agent = row[18] or rng.choice(setup.agent_ids)  # the assignee, when routed
        status("claimed")
        row[20], row[21], row[22] = agent, claimed, claimed
        rows.event("claimed", claimed, message_id, actor=agent)

        if found.intent != "question" and rng.random() < 0.15:  # closed without a reply
            closed = claimed + int(rng.uniform(20, 180) * US)
            if closed < until:
                reason = rng.choice(CLOSE_REASONS)
                status("closed")
                row[24], row[25] = reason, closed
                rows.event("closed", closed, message_id, actor=agent, data={"reason": reason})
            return
        self._answer(row, message_id, agent, claimed, channel, found, status)

    def _route(self, row: list[Any], message_id: int, found: Any, channel: int, at: int) -> None:
        setup = self.setup
        team = assignee = rule = None
        if found.intent == "complaint":
            team, rule = setup.extra["complaints"], setup.rule_ids["complaints"]
        elif found.category == "product_features":
            team, rule = setup.extra["product"], setup.rule_ids["product"]
        elif channel == 3:
            assignee, rule = setup.extra["blog_agent"], setup.rule_ids["blog"]
        if rule is None:
            return
        if team is not None:
            members = setup.team_members[team]
            assignee = members[self.turn[team] % len(members)]
            self.turn[team] += 1
        row[18], row[19] = assignee, team
        data = {"assignee_id": assignee, "team_id": team, "rule_id": rule}
        self.rows.event("routed", at, message_id, data=data)

    def _answer(
        self,
        row: list[Any],
        message_id: int,
        agent: int,
        claimed: int,
        channel: int,
        found: Any,
        status: Any,
    ) -> None:
        rng, rows, setup, until = self.rng, self.rows, self.setup, self.until
        started = claimed + int(rng.uniform(30, 240) * US)
        if started >= until:
            return
        text = rng.choice(REPLIES)
        draft = [message_id, agent, text, 1, None, False, "drafting", _uuid(rng), started, started]
        draft_id = rows.add("drafts", draft)
        draft_row = rows.rows["drafts"][-1]
        rows.add("draft_versions", [draft_id, 1, text, agent, False, started])
        status("drafting")
        row[22] = started
        rows.event("draft_started", started, message_id, draft_id=draft_id, actor=agent)

        slug, version_id = setup.channel_policy[channel]
        trusted = agent in setup.trusted_ids
        held = {
            "corporate-clears-all": True,
            "risk-based": found.intent == "complaint" or found.sentiment_score < -0.05,
            "trusted-staff-free": not trusted,
            "open": False,
            "stock-responses-free": rng.random() < 0.6,
        }[slug]
        at = started + int(rng.uniform(90, 720) * US)
        for number in range(1, 4):
            if at >= until:
                return
            decision = decided = None
            approver = rng.choice(setup.approver_ids)
            if held:
                decided = at + int(min(rng.lognormvariate(7.8, 1.0), 2 * 86_400) * US)
                if decided < until:
                    decision = "rejected" if number < 3 and rng.random() < 0.1 else "approved"
                else:
                    decided = None
            submission = [
                draft_id, number, text, at, agent, trusted, ["agent"], version_id,
                1, "needs_approval" if held else "publish",
                "held by the policy" if held else "the policy lets it out",
                STEPS if held else [], False, decision, decided, None,
            ]  # fmt: skip
            submission_id = rows.add("submissions", submission)
            data = {
                "outcome": submission[9],
                "policy_version_id": version_id,
                "rule_number": 1,
                "author_trusted": trusted,
            }
            ids = {"draft_id": draft_id, "submission_id": submission_id}
            rows.event("submitted", at, message_id, actor=agent, data=data, **ids)
            if not held:
                status("approved")
                draft_row[7] = "approved"
                break
            rows.event("approval_required", at, message_id, data={"steps": STEPS}, **ids)
            status("awaiting_approval")
            draft_row[7] = "awaiting_approval"
            if decided is None:
                return
            note = "Please sign as the team." if decision == "rejected" else ""
            rows.add(
                "approval_decisions", [submission_id, 1, approver, decision, note, False, decided]
            )
            if decision == "rejected":
                rows.event(
                    "rejected", decided, message_id, actor=approver,
                    data={"step": 1, "note": note}, **ids,
                )  # fmt: skip
                status("rejected")
                draft_row[7] = "rejected"
                at = decided + int(rng.uniform(5, 60) * 60 * US)
                if at >= until:
                    return
                text = f"{text}\n— The Acme Books team"
                draft_row[3], draft_row[4] = text, number + 1
                draft_row[10] = at
                rows.add("draft_versions", [draft_id, number + 1, text, agent, False, at])
                continue
            rows.event(
                "approved", decided, message_id, actor=approver,
                data={"step": 1, "final": True, "edited": False}, **ids,
            )  # fmt: skip
            status("approved")
            draft_row[7] = "approved"
            at = decided
            break
        published = at + int(rng.uniform(2, 120) * US)
        if published >= until:
            return
        rows.event(
            "publish_attempted", published, message_id, draft_id=draft_id, actor=agent,
            data={"attempt": 1, "outcome": "published"},
        )  # fmt: skip
        rows.add(
            "published_replies",
            [draft_id, message_id, text, published, "manual", None, None, agent],
        )
        rows.event(
            "published", published, message_id, draft_id=draft_id, actor=agent,
            data={"connector": "manual"},
        )  # fmt: skip
        status("published")
        draft_row[7] = "published"


def _us(at: datetime) -> int:
    return (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _uuid(rng: random.Random) -> str:
    value = f"{rng.getrandbits(128):032x}"
    return f"{value[:8]}-{value[8:12]}-4{value[13:16]}-a{value[17:20]}-{value[20:]}"


# --------------------------------------------------------------------------- writing


def _converter(table: str, dialect: str) -> list[Any]:
    """Per column: how a generated value becomes what the driver writes."""

    def when(value: int | None) -> str | None:
        if value is None:
            return None
        text = (EPOCH + timedelta(microseconds=value)).isoformat(sep=" ", timespec="microseconds")
        return text if dialect == "sqlite" else text + "+00"

    def as_json(value: Any) -> str:
        return json.dumps(value)

    def boolean(value: Any) -> Any:
        if dialect == "sqlite" and isinstance(value, bool):
            return int(value)
        return value

    out: list[Any] = []
    for column in TABLES[table]:
        if column in TIME_COLUMNS:
            out.append(when)
        elif column in JSON_COLUMNS:
            out.append(as_json)
        else:
            out.append(boolean)
    return out


def prepared(table: str, rows: Sequence[list[Any]], dialect: str) -> list[tuple[Any, ...]]:
    converters = _converter(table, dialect)
    return [tuple(c(v) for c, v in zip(converters, row, strict=True)) for row in rows]


class Writer:
    """Bulk writes into one database through its raw driver connection."""

    def __init__(self, engine: Engine) -> None:
        self.dialect = engine.dialect.name
        self.raw = engine.raw_connection()
        self.driver = self.raw.driver_connection
        if self.dialect == "sqlite":
            assert isinstance(self.driver, sqlite3.Connection)
            self.driver.execute("PRAGMA foreign_keys=OFF")
            self.driver.execute("BEGIN")
        else:
            with self.driver.cursor() as cursor:
                # The generated rows are consistent by construction: skip the per-row
                # foreign key triggers (a superuser may; otherwise they just run).
                try:
                    cursor.execute("SET session_replication_role = replica")
                except Exception:
                    self.driver.rollback()

    def write(self, chunk: dict[str, list[list[Any]]]) -> None:
        for table, rows in chunk.items():
            if not rows:
                continue
            values = prepared(table, rows, self.dialect)
            columns = TABLES[table]
            if self.dialect == "sqlite":
                marks = ", ".join("?" for _ in columns)
                self.driver.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
                    values,
                )
            else:
                with (
                    self.driver.cursor() as cursor,
                    cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
                ):
                    for value in values:
                        copy.write_row(value)

    def finish(self) -> None:
        if self.dialect == "sqlite":
            self.driver.execute("COMMIT")
            self.driver.execute("PRAGMA foreign_keys=ON")
        else:
            with self.driver.cursor() as cursor:
                for table in TABLES:
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                        f"(SELECT coalesce(max(id), 1) FROM {table}))"
                    )
                cursor.execute("RESET session_replication_role")
            self.driver.commit()
            self.driver.autocommit = True
            with self.driver.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")  # what autovacuum would soon do
            self.driver.autocommit = False
        self.raw.close()


def generate(
    url: str,
    *,
    messages: int = 100_000,
    per_day: int = PER_DAY,
    until: datetime = UNTIL,
    seed: int = 8,
    quiet: bool = False,
) -> Setup:
    """Migrate ``url``, make the settings, write ``messages`` messages' history."""
    url = normalise_url(url)
    migrate.upgrade(url)
    engine = engine_for(url)
    try:
        with Session(engine) as session:
            if session.scalar(select(func.count()).select_from(Message)):
                raise SystemExit(f"{_safe(url)} already holds messages: give a fresh database.")
            setup = make_setup(session, now=until - timedelta(days=400))
            session.commit()
        history = History(setup, messages=messages, per_day=per_day, until=until, seed=seed)
        writer = Writer(engine)
        started = time.perf_counter()
        written = 0
        for chunk in history.chunks():
            writer.write(chunk)
            written += len(chunk["messages"])
            if not quiet:
                rate = written / max(time.perf_counter() - started, 1e-9)
                print(f"  {written:,} messages written ({rate:,.0f}/s)", flush=True)
        writer.finish()
        with Session(engine) as session:
            # Every message's stored stage row, as the live event writer keeps them.
            refresh_stage_totals(session)
            session.commit()
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE message_stage_totals")
    finally:
        engine.dispose()
    return setup


def _safe(url: str) -> str:
    """The URL without a password, for messages."""
    head, _, tail = url.rpartition("@")
    return f"{head.split('://')[0]}://…@{tail}" if head else url


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="sqlite:///path or postgresql://…")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--per-day", type=int, default=PER_DAY)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    if args.messages < 1 or args.per_day < 1:
        parser.error("--messages and --per-day must be positive")
    started = time.perf_counter()
    generate(args.database_url, messages=args.messages, per_day=args.per_day, seed=args.seed)
    print(f"{args.messages:,} messages in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
