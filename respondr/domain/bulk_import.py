"""Bulk import: fan messages from a CSV or JSON Lines file, through the same validation
and storage as the API (:mod:`respondr.domain.ingest`).

The fields are the API's. In a CSV file the first row names the columns, and nested
fields are dotted columns (``author.handle``, ``author.name``, ``author.followers``); an
empty cell is an absent field. In a JSON Lines file (``.jsonl`` or ``.ndjson``) each
line is one message object; blank lines are skipped.

Each row stands alone: a rejected row is reported with its line number, the field at
fault and why, and the others are kept. A message already stored (same channel and
external id) is ``existing``, so importing a file twice stores each message once.
Nothing here commits: the command commits a chunk of rows at a time.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from respondr.domain.errors import ValidationError
from respondr.domain.ingest import ingest, parse_incoming, resolve_channel
from respondr.models import Channel, User

CHUNK_SIZE = 500  # rows committed together by the command
CSV_SUFFIXES = (".csv",)
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
# Numbers in a CSV file arrive as text; these fields are numbers in the API.
_CSV_COUNTS = frozenset({"author.followers"})


@dataclass(frozen=True)
class RowError:
    """A line that could not be read as a message at all (bad JSON, a ragged CSV row)."""

    field: str
    reason: str


Row = tuple[int, dict[str, Any] | RowError]


@dataclass(frozen=True)
class Rejected:
    """A line that was not imported: its number, the field at fault and why."""

    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    created: int = 0
    existing: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def __add__(self, other: ImportReport) -> ImportReport:
        return ImportReport(
            self.created + other.created,
            self.existing + other.existing,
            self.rejected + other.rejected,
        )


# --------------------------------------------------------------------------- reading


def read_rows(path: Path | str) -> Iterator[Row]:
    """The rows of ``path`` as ``(line number, message dict or RowError)``, lazily.

    Raises :class:`ValidationError` at once for a file that is neither
    CSV nor JSON Lines. Bytes that are not UTF-8 are kept as broken characters, which
    the message's validation then refuses, naming the field.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _csv_rows(path)
    if suffix in JSON_LINES_SUFFIXES:
        return _json_lines(path)
    raise ValidationError(f"Import a .csv or a JSON Lines (.jsonl, .ndjson) file, not {path.name}.")


def count_lines(path: Path | str) -> int:
    """The number of lines in ``path`` (for a progress bar)."""
    with Path(path).open("rb") as file:
        return sum(1 for _ in file)


def chunks(rows: Iterable[Row], size: int = CHUNK_SIZE) -> Iterator[list[Row]]:
    """``rows`` in lists of ``size`` (the last may be shorter), read as they are needed."""
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _open(path: Path) -> Any:
    return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")


def _json_lines(path: Path) -> Iterator[Row]:
    with _open(path) as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as error:
                where = f"column {error.colno}"
                yield number, RowError("json", f"Not valid JSON: {error.msg} at {where}.")
                continue
            except (ValueError, RecursionError):  # a number too long, nesting too deep
                yield number, RowError("json", "Not valid JSON, or too deeply nested.")
                continue
            if isinstance(value, dict):
                yield number, value
            else:
                yield number, RowError("json", "Each line must be one JSON object {...}.")


def _csv_rows(path: Path) -> Iterator[Row]:
    with _open(path) as file:
        reader = csv.reader(file, strict=True)
        header: list[str] | None = None
        while True:
            first_line = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield first_line, RowError("csv", f"Not a readable CSV row: {error}.")
                continue
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = [name.strip() for name in cells]
            elif len(cells) > len(header):
                yield (
                    first_line,
                    RowError("csv", f"{len(cells)} cells, but the header names {len(header)}."),
                )
            else:
                yield first_line, _nested(zip(header, cells, strict=False))


def _nested(cells: Iterable[tuple[str, str]]) -> dict[str, Any] | RowError:
    """A message dict from ``(column, cell)`` pairs: dotted columns nest, empty cells are
    left out, and count columns that hold a whole number become numbers."""
    row: dict[str, Any] = {}
    for column, cell in cells:
        if not column:
            continue
        *parents, leaf = column.split(".")
        # The parents are made even for an empty cell, so that an empty author.handle
        # is reported as such, not as a missing author.
        target = row
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                break
        if not isinstance(target, dict) or isinstance(target.get(leaf), dict):
            return RowError(column, f"The column {column} clashes with another in the header.")
        if cell.strip():
            count = column in _CSV_COUNTS and cell.strip().isdigit()
            target[leaf] = int(cell.strip()) if count else cell
    return row


# --------------------------------------------------------------------------- importing


def import_rows(
    session: Session,
    rows: Iterable[Row],
    *,
    channel: Channel | None = None,
    actor: User | None,
    now: datetime,
    dry_run: bool = False,
) -> ImportReport:
    """Validate and ingest each row on its own; ``channel`` takes the rows that name
    none. A dry run does all of it, including the channel look-up and whether each
    message is already stored, inside a savepoint that it then rolls back: it reports
    exactly what the import would do, and writes nothing.
    """
    report = ImportReport()
    savepoint = session.begin_nested() if dry_run else None
    try:
        for line, row in rows:
            try:
                if isinstance(row, RowError):
                    raise ValidationError(row.reason, row.field)
                incoming = parse_incoming(row, need_channel=channel is None, now=now)
                if incoming.channel is not None:
                    target = resolve_channel(session, incoming.channel)
                else:
                    assert channel is not None
                    target = channel
                _, created = ingest(session, target, incoming, actor=actor, now=now)
            except ValidationError as error:
                report.rejected.append(Rejected(line, error.field or "message", error.message))
                continue
            if created:
                report.created += 1
            else:
                report.existing += 1
    finally:
        if savepoint is not None:
            savepoint.rollback()
    return report
