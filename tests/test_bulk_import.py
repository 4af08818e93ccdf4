"""`respondr import FILE`: fan messages from CSV or JSON Lines, through the API's
validation, each stored once, every rejected line reported by number."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from respondr.domain import bulk_import
from respondr.models import Message
from respondr.timeutil import utcnow

POSTED = "2026-11-20T09:30:00+01:00"

CSV_HEADER = "channel,external_id,author.handle,author.name,author.followers,text,posted_at,url"


@pytest.fixture
def channel(make_channel):
    return make_channel(name="Bernie the Bookworm")


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def csv_file(tmp_path, *rows: str | bytes):
    """A CSV file with the API's columns in its header, then ``rows`` (bytes as given)."""
    lines = [CSV_HEADER.encode(), *(r if isinstance(r, bytes) else r.encode() for r in rows)]
    path = tmp_path / "fans.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def jsonl(tmp_path, *rows, name="messages.jsonl"):
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    return write(tmp_path, name, "\n".join(lines) + "\n")


def row(external_id: str, channel="Bernie the Bookworm", **overrides):
    body = {
        "channel": channel,
        "external_id": external_id,
        "author": {"handle": "dana", "name": "Dana Fields"},
        "text": "Do you have the new Murakami in stock?",
        "posted_at": POSTED,
    }
    body.update(overrides)
    return body


def stored(db, **where) -> int:
    query = select(func.count()).select_from(Message)
    for key, value in where.items():
        query = query.where(getattr(Message, key) == value)
    return db.scalar(query)


def import_file(runner, path, *options):
    return runner.invoke(args=["import", str(path), *options])


def test_csv_rows_with_dotted_author_columns_become_messages(runner, db, channel, tmp_path):
    path = csv_file(
        tmp_path,
        f'Bernie the Bookworm,fb-1,dana,Dana Fields,120,"Open late, tonight?",{POSTED},'
        "https://fb.example/p/1",
        f"{channel.id},fb-2,omar,,,Thanks! 📚,2026-11-20T10:00:00Z,",
    )
    result = import_file(runner, path)
    assert result.exit_code == 0, result.output
    assert "2 created, 0 already stored, 0 rejected." in result.output
    dana = db.scalar(select(Message).where(Message.external_id == "fb-1"))
    assert (dana.channel_id, dana.text, dana.url) == (
        channel.id,
        "Open late, tonight?",
        "https://fb.example/p/1",
    )
    assert (dana.fan.handle, dana.fan.display_name, dana.fan.followers) == (
        "dana",
        "Dana Fields",
        120,
    )
    assert dana.posted_at == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    omar = db.scalar(select(Message).where(Message.external_id == "fb-2"))
    # Empty cells are absent: no name (the handle stands in), no followers, no url.
    assert (omar.fan.display_name, omar.fan.followers, omar.url) == ("omar", None, None)
    assert omar.text == "Thanks! 📚"


def test_importing_a_file_again_stores_nothing_twice(runner, db, channel, tmp_path):
    path = jsonl(tmp_path, row("fb-1"), "", row("fb-2", text="Is the café open?"))
    first = import_file(runner, path)
    assert first.exit_code == 0, first.output
    assert "2 created, 0 already stored, 0 rejected." in first.output
    again = import_file(runner, path)
    assert again.exit_code == 0, again.output
    assert "0 created, 2 already stored, 0 rejected." in again.output
    assert stored(db, channel_id=channel.id) == 2


def test_bad_lines_are_reported_by_number_and_reason_and_the_rest_kept(
    runner, db, channel, tmp_path
):
    future = (utcnow() + timedelta(days=1)).isoformat()
    path = jsonl(
        tmp_path,
        row("fb-1"),
        '{"external_id": "fb-2", "text": ',
        "",
        row("fb-3", author={"name": "No Handle"}),
        row("fb-4", posted_at=future),
        "[1, 2]",
        row("fb-6"),
    )
    result = import_file(runner, path)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert [line for line in lines if line.startswith("line ")] == [
        "line 2: json: Not valid JSON: Expecting value at column 33.",
        "line 4: author.handle: handle is required.",
        f"line 5: posted_at: posted_at is in the future ({future}).",
        "line 6: json: Each line must be one JSON object {...}.",
    ]
    assert lines[-1].endswith("2 created, 0 already stored, 4 rejected.")
    assert stored(db, channel_id=channel.id) == 2


def test_bad_csv_lines_are_reported_at_the_line_they_start_on(runner, db, channel, tmp_path):
    path = csv_file(
        tmp_path,
        f'Bernie the Bookworm,fb-1,dana,,,"Two lines\nof text",{POSTED},',
        f"Bernie the Bookworm,fb-2,omar,,lots,Hi,{POSTED},",
        f"Bernie the Bookworm,fb-3,lena,,,Hi,{POSTED},,extra",
        "Bernie the Bookworm,fb-4,kim,,,Hi,yesterday,",
        b"Bernie the Bookworm,fb-5,sam,,,caf\xe9,2026-11-20T10:00:00Z,",  # not UTF-8
        f"Bernie the Bookworm,fb-6,,Nameless,,Hi,{POSTED},",
    )
    result = import_file(runner, path)
    assert result.exit_code == 1
    rejected = [line for line in result.output.splitlines() if line.startswith("line ")]
    assert rejected == [
        "line 4: author.followers: followers must be a whole number.",
        "line 5: csv: 9 cells, but the header names 8.",
        "line 6: posted_at: posted_at is not an ISO 8601 time; send one for example "
        "2026-11-26T09:30:00+01:00 or 2026-11-26T08:30:00Z.",
        "line 7: text: text contains broken Unicode, which cannot be stored; remove it and "
        "send again.",
        "line 8: author.handle: handle is required.",
    ]
    assert db.scalar(select(Message.text).where(Message.external_id == "fb-1")) == (
        "Two lines\nof text"
    )


def test_a_dry_run_stores_nothing_and_reports_what_the_import_would(runner, db, channel, tmp_path):
    path = jsonl(
        tmp_path,
        row("fb-1"),
        row("fb-2", author={"handle": ""}),
        row("fb-1"),  # repeated further on: already there by then
        row("fb-3", channel="Myspace"),
    )
    dry = import_file(runner, path, "--dry-run")
    assert dry.exit_code == 1
    assert stored(db) == 0
    real = import_file(runner, path)
    assert real.exit_code == 1
    assert stored(db) == 1

    def report(output):
        return [line for line in output.splitlines() if line.startswith("line ")]

    assert (
        report(dry.output)
        == report(real.output)
        == [
            "line 2: author.handle: handle must not be blank.",
            "line 4: channel: There is no channel 'Myspace'.",
        ]
    )
    assert "Dry run, nothing stored: 1 would be created, 1 already stored, 2 rejected." in (
        dry.output
    )
    assert "1 created, 1 already stored, 2 rejected." in real.output


def test_a_row_naming_an_unknown_channel_is_rejected_on_the_channel_field(
    runner, db, channel, tmp_path
):
    path = jsonl(tmp_path, row("fb-1", channel="Bernie's MySpace"))
    result = import_file(runner, path)
    assert result.exit_code == 1
    assert 'line 1: channel: There is no channel "Bernie\'s MySpace".' in result.output
    assert stored(db) == 0


def test_rows_without_a_channel_take_the_channel_option(runner, db, channel, tmp_path):
    first = {key: value for key, value in row("fb-1").items() if key != "channel"}
    other = row("fb-2", channel="Elsewhere")
    path = jsonl(tmp_path, first, other)
    result = import_file(runner, path, "--channel", "Bernie the Bookworm")
    assert result.exit_code == 1  # the second row names a channel that does not exist
    assert "line 2: channel: There is no channel 'Elsewhere'." in result.output
    assert stored(db, channel_id=channel.id, external_id="fb-1") == 1


def test_a_row_without_any_channel_is_rejected(runner, db, channel, tmp_path):
    path = jsonl(tmp_path, {key: value for key, value in row("fb-1").items() if key != "channel"})
    result = import_file(runner, path)
    assert result.exit_code == 1
    assert "line 1: channel: channel is required." in result.output


def test_an_unknown_channel_option_stops_the_import_before_it_starts(runner, db, tmp_path):
    path = jsonl(tmp_path, row("fb-1"))
    result = import_file(runner, path, "--channel", "Nowhere")
    assert result.exit_code == 1
    assert "There is no channel 'Nowhere'. (--channel)" in result.output
    assert stored(db) == 0


def test_a_file_of_another_kind_is_refused(runner, tmp_path):
    result = import_file(runner, write(tmp_path, "fans.xlsx", "PK"))
    assert result.exit_code == 1
    assert "Import a .csv or a JSON Lines (.jsonl, .ndjson) file, not fans.xlsx." in result.output


def test_a_large_file_is_imported_in_chunks_with_nothing_lost(runner, db, channel, tmp_path):
    count = bulk_import.CHUNK_SIZE * 2 + 1
    path = jsonl(
        tmp_path, *(row(f"fb-{n}", author={"handle": f"fan{n % 7}"}) for n in range(count))
    )
    result = import_file(runner, path)
    assert result.exit_code == 0, result.output
    assert f"{count} created, 0 already stored, 0 rejected." in result.output
    assert stored(db, channel_id=channel.id) == count


def test_chunks_hold_five_hundred_rows():
    rows = [(n, {}) for n in range(1, 1202)]
    assert [len(chunk) for chunk in bulk_import.chunks(rows)] == [500, 500, 201]


def test_import_explains_itself(runner):
    result = runner.invoke(args=["import", "--help"])
    assert result.exit_code == 0
    for words in ("CSV or JSON Lines", "author.handle", "--dry-run", "--channel", "status 1"):
        assert words in result.output
