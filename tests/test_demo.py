"""The Bernie's Bookstore demo: loads once, signs people in, and tells the story in events.

Self-contained: each test module database is built here with Alembic, so the demo is
checked against the schema the migrations make.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

import respondr
from respondr.domain import accounts, demo
from respondr.extensions import db
from respondr.migrate import upgrade
from respondr.models import (
    CLOSE_REASONS,
    ApprovalDecision,
    Channel,
    Draft,
    Fan,
    Message,
    PublishedReply,
    StockResponse,
    Submission,
    User,
    WorkflowEvent,
)
from respondr.receivers import connect_receivers

# A Wednesday afternoon in New York.
NOW = datetime(2026, 3, 11, 19, 30, tzinfo=UTC)
COUNTED = (
    Channel,
    User,
    Fan,
    Message,
    Draft,
    Submission,
    ApprovalDecision,
    PublishedReply,
    StockResponse,
    WorkflowEvent,
)


def build_app(tmp: Path) -> Flask:
    url = f"sqlite:///{tmp}/demo.db"
    app = respondr.create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp / "instance"), "TESTING": True}
    )
    upgrade(url)
    connect_receivers()
    return app


def load_committed(app: Flask, now: datetime = NOW) -> bool:
    with app.app_context():
        loaded = demo.load(db.session, now=now, only_if_empty=True)
        db.session.commit()
    return loaded


def counts() -> dict[str, int]:
    return {m.__name__: db.session.scalar(select(func.count()).select_from(m)) for m in COUNTED}


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = build_app(tmp_path_factory.mktemp("demo"))
    assert load_committed(app) is True
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def session(demo_app: Flask) -> Iterator[object]:
    with demo_app.app_context():
        yield db.session
        db.session.rollback()


def events_by_message(session) -> dict[int, list[WorkflowEvent]]:
    found: dict[int, list[WorkflowEvent]] = defaultdict(list)
    for event in session.scalars(select(WorkflowEvent).order_by(WorkflowEvent.id)):
        found[event.message_id].append(event)
    return found


def test_loading_again_changes_nothing(demo_app: Flask) -> None:
    with demo_app.app_context():
        before = counts()
        assert before["Message"] > 500 and before["WorkflowEvent"] > 4000
        assert demo.load(db.session, now=NOW, only_if_empty=False) is False
        assert demo.load(db.session, now=NOW + timedelta(days=3), only_if_empty=True) is False
        db.session.commit()
        assert counts() == before


def test_an_installation_with_users_is_left_alone(tmp_path: Path) -> None:
    app = build_app(tmp_path)
    with app.app_context():
        accounts.create_user(
            db.session,
            email="owner@example.com",
            name="Owner",
            password="a-long-password",
            roles="admin",
            actor=None,
            now=NOW,
        )
        db.session.commit()
        assert demo.load(db.session, now=NOW, only_if_empty=True) is False
        assert db.session.scalar(select(func.count()).select_from(Message)) == 0
        assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_every_demo_user_signs_in_with_the_printed_password(session) -> None:
    pattern = re.compile(r"(\S+@example\.com)\s+password (\S+)\s+roles (\S+?)(, trusted)?\s")
    found = {}
    for line in demo.sign_in_help():
        match = pattern.search(line)
        if match:
            found[match.group(1)] = match
    assert set(found) == {u.email for u in demo.USERS}
    for email, match in found.items():
        user = accounts.authenticate(session, email, match.group(2))
        assert user is not None, email
        assert sorted(user.roles) == sorted(match.group(3).split(","))
        assert user.trusted == bool(match.group(4))
    assert accounts.authenticate(session, "bernie@example.com", "wrong-password") is None
    bernie = accounts.get_user(session, "bernie@example.com")
    assert bernie.roles == {"agent"} and not bernie.trusted
    assert accounts.get_user(session, "admin@example.com").roles == {"admin", "manager"}
    assert accounts.get_user(session, "carol@example.com").roles == {"approver"}


def test_the_store_channels_and_policy_are_set_up(session) -> None:
    channels = {c.name: c for c in session.scalars(select(Channel))}
    assert {name: (c.kind, c.sla_minutes) for name, c in channels.items()} == {
        "Bernie the Bookworm": ("facebook_page", 60),
        "@BerniesBooks": ("twitter", 60),
        "Jerry's blog": ("blog", 240),
    }
    assert {c.policy.slug for c in channels.values() if c.policy} == {"corporate-clears-all"}
    per_channel = dict(
        session.execute(select(Message.channel_id, func.count()).group_by(Message.channel_id)).all()
    )
    facebook = per_channel[channels["Bernie the Bookworm"].id]
    assert facebook > per_channel[channels["@BerniesBooks"].id]
    assert facebook > per_channel[channels["Jerry's blog"].id]
    stock = session.scalars(select(StockResponse)).all()
    assert any("{fan_name}" in s.text and "birthday" in s.title.lower() for s in stock)
    assert any(s.pre_approved for s in stock)


def test_messages_are_well_formed(session) -> None:
    messages = session.scalars(select(Message)).all()
    sla = {c.id: c.sla_minutes for c in session.scalars(select(Channel))}
    days = {m.received_at.date() for m in messages}
    assert len(days) >= 50  # about eight weeks
    assert max(m.received_at for m in messages) < NOW
    for m in messages:
        assert m.received_at.tzinfo is not None
        assert m.posted_at < m.received_at
        assert m.sla_due_at == m.received_at + timedelta(minutes=sla[m.channel_id])
        assert m.sentiment_label in ("positive", "neutral", "negative")
        assert -1 <= m.sentiment_score <= 1
    pairs = [(m.channel_id, m.external_id) for m in messages]
    assert len(set(pairs)) == len(pairs)


def test_every_published_message_tells_its_story_in_order(session) -> None:
    published = set(session.scalars(select(Message.id).where(Message.status == "published")))
    assert len(published) > 500
    events = events_by_message(session)
    for message_id in published:
        kinds = [e.kind for e in events[message_id]]
        times = [e.at for e in events[message_id]]
        assert times == sorted(times), kinds
        assert kinds[:5] == [
            "received",
            "claimed",
            "draft_started",
            "submitted",
            "approval_required",
        ]
        assert kinds[-2:] == ["approved", "published"]
        rounds = kinds[3:-2]
        assert rounds == ["submitted", "approval_required", "rejected"] * (
            kinds.count("rejected")
        ) + ["submitted", "approval_required"]


def test_approval_wait_is_the_bottleneck(session) -> None:
    stages: dict[str, float] = defaultdict(float)
    ttfr = 0.0
    for events in events_by_message(session).values():
        kinds = [e.kind for e in events]
        if "published" not in kinds:
            continue
        at = {kind: [e.at for e in events if e.kind == kind] for kind in set(kinds)}
        decided = {e.submission_id: e.at for e in events if e.kind in ("approved", "rejected")}
        submitted = [e for e in events if e.kind == "submitted"]
        stages["queue wait"] += (at["claimed"][0] - at["received"][0]).total_seconds()
        stages["drafting"] += (submitted[0].at - at["claimed"][0]).total_seconds()
        for event in submitted:
            stages["approval wait"] += (decided[event.submission_id] - event.at).total_seconds()
        for rejected, resubmitted in zip(at.get("rejected", []), submitted[1:], strict=True):
            stages["rework"] += (resubmitted.at - rejected).total_seconds()
        stages["publish lag"] += (at["published"][0] - at["approved"][-1]).total_seconds()
        ttfr += (at["published"][0] - at["received"][0]).total_seconds()
    assert sum(stages.values()) == pytest.approx(ttfr), "the stages add up to TTFR"
    others = sum(v for k, v in stages.items() if k != "approval wait")
    assert stages["approval wait"] > others
    assert stages["approval wait"] / ttfr > 0.8
    assert all(stages[k] > 0 for k in ("queue wait", "drafting", "rework", "publish lag"))


def test_rounds_record_the_corporate_policy(session) -> None:
    submissions = session.scalars(select(Submission)).all()
    channel = session.scalar(select(Channel).where(Channel.name == "Bernie the Bookworm"))
    version = channel.policy.current_version
    for s in submissions:
        assert s.policy_version_id == version.id and s.rule_number == 1
        assert s.outcome == "needs_approval" and s.steps == [{"role": "approver", "count": 1}]
        assert s.reason == (
            "needs approval: every reply is cleared by corporate"
            " — rule 1 of Corporate clears all v1"
        )
        author = session.get(User, s.author_id)
        assert s.author_trusted == author.trusted
    rejected = [s for s in submissions if s.decision == "rejected"]
    assert 0.05 < len(rejected) / len(submissions) < 0.2
    for s in rejected:
        assert s.decisions[0].note and s.decisions[0].outcome == "rejected"
    decided = [s for s in submissions if s.decision is not None]
    assert all(s.decided_at - s.submitted_at >= timedelta(hours=1) for s in decided)
    pending = [s for s in submissions if s.decision is None]
    assert pending and all(s.draft.status == "awaiting_approval" for s in pending)


def test_some_messages_wait_unanswered_and_some_were_closed(session) -> None:
    statuses = dict(
        session.execute(select(Message.status, func.count()).group_by(Message.status)).all()
    )
    assert set(statuses) <= {"published", "closed", "awaiting_approval", "new", "claimed"}
    assert statuses.get("new", 0) + statuses.get("claimed", 0) >= 5
    assert statuses["awaiting_approval"] >= 1
    assert statuses["closed"] >= 20
    closed = session.scalars(select(Message).where(Message.status == "closed")).all()
    events = events_by_message(session)
    for message in closed:
        assert message.closed_reason in CLOSE_REASONS
        last = events[message.id][-1]
        assert last.kind == "closed" and last.data == {"reason": message.closed_reason}
        assert not message.drafts
    for message in session.scalars(select(Message).where(Message.status == "new")):
        assert [e.kind for e in events[message.id]] == ["received"]
    for message in session.scalars(
        select(Message).where(Message.status.in_(["published", "awaiting_approval"]))
    ):
        assert message.drafts and message.drafts[0].status == message.status


def test_the_same_moment_gives_the_same_history(demo_app: Flask, tmp_path: Path) -> None:
    def history(app: Flask) -> list[tuple[object, ...]]:
        with app.app_context():
            rows = db.session.execute(
                select(
                    Message.external_id, Message.text, Message.received_at, Message.status
                ).order_by(Message.id)
            )
            return [tuple(row) for row in rows]

    other = build_app(tmp_path)
    assert load_committed(other) is True
    assert history(other) == history(demo_app)
