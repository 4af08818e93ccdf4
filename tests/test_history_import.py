"""`respondr import-history FILE.jsonl`: messages with what happened to them, written as
the live workflow writes them, so the latency report cannot tell the difference."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from respondr.domain import metrics, stock
from respondr.domain.presets import ensure_presets
from respondr.models import (
    ApprovalDecision,
    Draft,
    DraftVersion,
    Message,
    PublishedReply,
    Submission,
    WorkflowEvent,
)
from respondr.timeutil import utcnow

SAMPLE = Path(__file__).parent / "data" / "history.jsonl"
NOW = datetime(2026, 1, 6, 12, 0, tzinfo=UTC)
MINUTE = 60.0


@pytest.fixture
def cast(db, make_user, make_channel):
    """The people and the channel the sample history names."""
    people = {
        "bernie": make_user(name="Bernie Adler", email="bernie@example.com"),
        "maya": make_user(name="Maya Okafor", email="maya@example.com", trusted=True),
        "carol": make_user(name="Carol Whitfield", email="carol@example.com", roles="approver"),
    }
    channel = make_channel(name="Bernie the Bookworm", sla_minutes=60)
    ensure_presets(db, now=utcnow())
    stock.create(
        db,
        title="Store hours",
        text="Hi {fan_name}! Our stores are open Monday to Saturday 9am-9pm.",
        category="question",
        pre_approved=True,
        actor=None,
        now=utcnow(),
    )
    db.commit()
    return people, channel


def run(runner, path: Path, *options: str):
    return runner.invoke(args=["import-history", str(path), *options])


def counts(db) -> dict[str, int]:
    tables = (Message, Draft, DraftVersion, Submission, ApprovalDecision, PublishedReply)
    found = {t.__name__: db.scalar(select(func.count()).select_from(t)) for t in tables}
    found["events"] = db.scalar(select(func.count()).select_from(WorkflowEvent))
    return found


def events_of(db, external_id: str) -> list[tuple[str, str | None]]:
    message = db.scalar(select(Message).where(Message.external_id == external_id))
    rows = db.execute(
        select(WorkflowEvent.kind, WorkflowEvent.at)
        .where(WorkflowEvent.message_id == message.id)
        .order_by(WorkflowEvent.at, WorkflowEvent.id)
    )
    return [(kind, at.strftime("%H:%M")) for kind, at in rows]


def write_lines(tmp_path: Path, *lines: object) -> Path:
    path = tmp_path / "history.jsonl"
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    )
    return path


def sample_line(external_id: str) -> dict:
    for text in SAMPLE.read_text().splitlines():
        if f'"external_id": "{external_id}"' in text:
            return json.loads(text)
    raise KeyError(external_id)


def test_the_sample_imports_its_good_lines_and_names_each_bad_one(db, runner, cast):
    result = run(runner, SAMPLE)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert "line 7: json: Not valid JSON" in result.output
    assert any(
        line.startswith("line 8: claimed.by: There is no user nobody@example.com") for line in lines
    )
    assert any(
        line.startswith("line 9: submissions[0].decisions[0].at:") and "is before" in line
        for line in lines
    )
    assert any(line.startswith("line 10: received_at:") for line in lines)
    assert any(line.startswith("line 11: channel: There is no channel 'Nowhere'") for line in lines)
    assert f"Imported {SAMPLE}: 6 created, 1 already stored, 5 rejected." in lines
    assert db.scalar(select(func.count()).select_from(Message)) == 6


def test_the_latency_report_gives_exactly_the_stages_of_the_history(db, runner, cast):
    run(runner, SAMPLE)
    report = metrics.latency_report(db, start=None, end=None, tz="UTC", group_by=None, now=NOW)
    (row,) = report.rows
    assert (row.received, row.answered, row.open, row.closed) == (6, 3, 2, 1)
    stages = row.stages
    # fb-1: 10 min queue, 10 drafting, 120 approval, 2 publish lag (TTFR 142 min);
    # fb-2: 5 queue, 10 drafting, 30 + 30 approval, 15 rework, 1 publish lag (TTFR 91);
    # fb-3: 2 queue, 4 drafting, no approval, 1 publish lag (TTFR 7);
    # fb-4 closed after 20 min in the queue; fb-6 claimed after 5 min, still waiting.
    assert stages["ttfr"].max == 142 * MINUTE
    assert stages["ttfr"].p50 == 91 * MINUTE
    assert stages["ttfr"].count == 3
    assert stages["approval_wait"].count == 2
    assert (stages["approval_wait"].max, stages["approval_wait"].p50) == (120 * MINUTE, 90 * MINUTE)
    assert (stages["rework"].count, stages["rework"].max) == (1, 15 * MINUTE)
    assert stages["queue_wait"].count == 5  # the never-claimed fb-5 has no queue end
    assert stages["queue_wait"].max == 20 * MINUTE
    assert stages["drafting"].max == 10 * MINUTE
    assert stages["publish_lag"].max == 2 * MINUTE
    assert stages["detection"].max == 1 * MINUTE
    assert row.sla.met == 1  # only fb-3 inside the hour
    totals = row.answered_totals_ms
    assert sum(totals[name] for name in metrics.TTFR_STAGES) == totals["ttfr"]


def test_it_writes_the_events_the_live_workflow_writes(db, runner, cast):
    run(runner, SAMPLE)
    assert events_of(db, "fb-2") == [
        ("received", "10:00"),
        ("claimed", "10:05"),
        ("draft_started", "10:05"),
        ("submitted", "10:15"),
        ("approval_required", "10:15"),
        ("rejected", "10:45"),
        ("submitted", "11:00"),
        ("approval_required", "11:00"),
        ("approved", "11:30"),
        ("published", "11:31"),
    ]
    assert events_of(db, "fb-4") == [
        ("received", "13:00"),
        ("claimed", "13:20"),
        ("closed", "13:22"),
    ]
    message = db.scalar(select(Message).where(Message.external_id == "fb-2"))
    draft = message.drafts[0]
    assert (message.status, draft.status, draft.version) == ("published", "published", 2)
    assert [s.decision for s in draft.submissions] == ["rejected", "approved"]
    assert draft.submissions[0].policy_version.label == "Corporate clears all v1"
    assert draft.published_reply.text.startswith("We apologise for the trouble")
    approved = db.scalar(
        select(WorkflowEvent).where(
            WorkflowEvent.message_id == message.id, WorkflowEvent.kind == "approved"
        )
    )
    assert approved.data == {"step": 1, "final": True, "edited": False}
    free = db.scalar(select(Message).where(Message.external_id == "fb-3")).drafts[0]
    assert free.unedited_stock and free.stock_response.title == "Store hours"
    assert free.submissions[0].outcome == "publish" and free.submissions[0].author_trusted
    pending = db.scalar(select(Message).where(Message.external_id == "fb-6"))
    assert pending.status == "awaiting_approval"


def test_importing_the_same_file_twice_changes_nothing(db, runner, cast):
    run(runner, SAMPLE)
    before = counts(db)
    again = run(runner, SAMPLE)
    assert f"Imported {SAMPLE}: 0 created, 7 already stored, 5 rejected." in again.output
    assert counts(db) == before


def test_a_stored_message_is_reported_as_existing_and_never_merged(db, runner, cast, tmp_path):
    run(runner, write_lines(tmp_path, sample_line("fb-5")))
    later = sample_line("fb-5") | {
        "claimed": {"by": "bernie@example.com", "at": "2026-01-05T14:30:00Z"}
    }
    result = run(runner, write_lines(tmp_path, later))
    assert result.exit_code == 0
    assert "0 created, 1 already stored, 0 rejected." in result.output
    assert events_of(db, "fb-5") == [("received", "14:00")]


def test_a_bad_line_writes_nothing_of_itself(db, runner, cast, tmp_path):
    broken = sample_line("fb-1")
    broken["published"] = {"at": "2026-01-05T11:00:00Z"}  # before the approval
    result = run(runner, write_lines(tmp_path, broken))
    assert result.exit_code == 1
    assert (
        "line 1: published.at: published.at (2026-01-05T11:00:00+00:00) is before" in result.output
    )
    assert counts(db) == {name: 0 for name in counts(db)}


def decision(by: str, outcome: str) -> dict:
    return {"by": by, "outcome": outcome, "at": "2026-01-05T09:30:00Z"}


def one_round(by: str, decisions: list[dict]) -> dict:
    return {
        "submissions": [
            {"by": by, "at": "2026-01-05T09:21:00Z", "text": "Hi", "decisions": decisions}
        ]
    }


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"received_at": "2026-01-05T08:00:00Z"}, "received_at", "is before posted_at"),
        ({"received_at": "2026-01-05T09:01:00"}, "received_at", "needs its UTC offset"),
        ({"received_at": "2099-01-01T00:00:00Z"}, "received_at", "is in the future"),
        (
            {"claimed": {"by": "bernie@example.com", "at": "2026-01-05T08:00:00Z"}},
            "claimed.at",
            "is before received_at",
        ),
        ({"claimed": "bernie"}, "claimed", "must be a JSON object"),
        (
            one_round("carol@example.com", [decision("carol@example.com", "approved")]),
            "submissions[0].decisions[0].by",
            "cannot approve their own submission",
        ),
        (
            one_round("bernie@example.com", [decision("carol@example.com", "maybe")]),
            "submissions[0].decisions[0]",
            "approved or rejected",
        ),
        (
            {"submissions": [{"by": "bernie@example.com", "at": "2026-01-05T09:21:00Z"}]},
            "submissions[0].text",
            "must be the reply's text",
        ),
        ({"closed": {"at": "2026-01-05T12:00:00Z"}}, "closed", "published or closed, not both"),
        ({"policy": "bernies-rules"}, "policy", "There is no policy"),
        ({"policy": None, "policy_version": 2}, "policy", "needs the policy it belongs to"),
        ({"policy_version": 7}, "policy_version", "has no version 7"),
        ({"stock_response": "Nope"}, "stock_response", "There is no stock response"),
        ({"published": None}, "published", "needs its published time"),
    ],
)
def test_each_kind_of_bad_line_is_named(db, runner, cast, tmp_path, change, field, words):
    line = sample_line("fb-1") | change
    result = run(runner, write_lines(tmp_path, line))
    assert result.exit_code == 1
    (reported,) = [text for text in result.output.splitlines() if text.startswith("line 1:")]
    assert reported.startswith(f"line 1: {field}: "), reported
    assert words in reported
    assert db.scalar(select(func.count()).select_from(Message)) == 0


def test_a_second_round_must_follow_a_rejection(db, runner, cast, tmp_path):
    line = sample_line("fb-2")
    line["submissions"][0]["decisions"][0]["outcome"] = "approved"
    result = run(runner, write_lines(tmp_path, line))
    assert "line 1: submissions[0]: submissions[0] was not sent back" in result.output


def test_a_two_step_round_clears_on_its_last_approval(db, runner, cast, make_user, tmp_path):
    make_user(name="Lee Legal", email="lee@example.com", roles="approver")
    line = sample_line("fb-1")
    line["submissions"][0]["decisions"].append(
        {"by": "lee@example.com", "outcome": "approved", "at": "2026-01-05T11:51:00Z", "step": 2}
    )
    line["published"] = {"at": "2026-01-05T11:53:00Z"}
    assert run(runner, write_lines(tmp_path, line)).exit_code == 0
    report = metrics.latency_report(db, start=None, end=None, tz="UTC", group_by=None, now=NOW)
    assert report.rows[0].stages["approval_wait"].max == 150 * MINUTE
    finals = db.scalars(
        select(WorkflowEvent.data)
        .where(WorkflowEvent.kind == "approved")
        .order_by(WorkflowEvent.at)
    ).all()
    assert [d["final"] for d in finals] == [False, True]


def test_a_dry_run_reports_and_stores_nothing(db, runner, cast):
    result = run(runner, SAMPLE, "--dry-run")
    assert "Dry run, nothing stored: 6 would be created, 1 already stored, 5 rejected." in (
        result.output
    )
    assert db.scalar(select(func.count()).select_from(Message)) == 0


def test_only_json_lines_files_are_taken(db, runner, cast, tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("channel,external_id\n")
    result = run(runner, path)
    assert result.exit_code == 1
    assert "Import history from a JSON Lines (.jsonl) file, not history.csv." in result.output
