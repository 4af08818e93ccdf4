"""The history of a draft: its versions, each with what changed, among the workflow events.

Everything comes from rows that are only ever added: the message's
:class:`~respondr.models.WorkflowEvent` rows (who claimed it, each submission and the rule
that held it, each decision and its note, each publishing attempt) and the draft's
:class:`~respondr.models.DraftVersion` rows. :func:`timeline` puts them in time order;
:func:`diff_words` says, word by word, what one version changed from the one before.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from respondr.domain.policy_text import describe_steps
from respondr.models import (
    Draft,
    DraftVersion,
    Note,
    PolicyVersion,
    Submission,
    Team,
    User,
    WorkflowEvent,
)

Op = Literal["equal", "insert", "delete"]

# Each word with the space before it (space at the very end is a token of its own).
WORD = re.compile(r"\s*\S+|\s+")
LINE = re.compile(r"[^\n]*\n|[^\n]+")
# How to compare, tried in turn while tokens × tokens stays within the bound: word by word
# exactly; word by word ignoring the most common words as anchors (difflib's "autojunk");
# line by line. Past all three the texts are compared as wholes. Each stays under about
# half a second, however pathological the text.
COMPARISONS = (
    (WORD, 1_000_000, False),
    (WORD, 64_000_000, True),
    (LINE, 64_000_000, True),
)

# The event kinds a draft's history shows; message-wide ones (claims, notes) included.
KINDS = (
    "claimed",
    "released",
    "lapsed",
    "reassigned",
    "note_added",
    "draft_started",
    "submitted",
    "approval_required",
    "approved",
    "rejected",
    "escalated",
    "publish_attempted",
    "published",
    "publish_failed",
)
# At the same instant, these come before the version saved with them, the rest after.
BEFORE_VERSIONS = frozenset({"claimed", "reassigned", "draft_started"})


@dataclass(frozen=True)
class Entry:
    """One line of the history: a workflow event, or a version of the text.

    ``actor`` is who did it, by name (None for respondr itself); ``what`` reads on from the
    name ("submitted it …"), or as a sentence of its own when there is no actor. ``note``
    is what someone wrote (a rejection note, a staff note) or a platform's error; ``detail``
    is respondr's own explanation (the policy's reason). Versions carry ``version``,
    ``by_approver`` and ``diff``, the change from the version before.
    """

    at: datetime
    kind: str  # a workflow event kind, or "version"
    actor: str | None
    what: str
    note: str = ""
    detail: str = ""
    version: int | None = None
    by_approver: bool = False
    diff: tuple[tuple[Op, str], ...] = ()


def diff_words(old: str, new: str) -> list[tuple[Op, str]]:
    """What changed from ``old`` to ``new``, word by word: ("equal" | "delete" | "insert",
    text) pieces that spell ``old`` without the inserts and ``new`` without the deletes.

    Each word is compared with the space before it, so "a b" → "c d" reads as one change.
    Long texts are compared more coarsely (see :data:`COMPARISONS`): a history page must
    not spend seconds on one pathological version.
    """
    before, after = WORD.findall(old), WORD.findall(new)
    head = 0
    while head < min(len(before), len(after)) and before[head] == after[head]:
        head += 1
    tail = 0
    while tail < min(len(before), len(after)) - head and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    pieces: list[tuple[Op, str]] = [("equal", "".join(before[:head]))]
    changed = "".join(before[head : len(before) - tail]), "".join(after[head : len(after) - tail])
    pieces += _diff(*changed)
    pieces.append(("equal", "".join(before[len(before) - tail :])))
    merged: list[tuple[Op, str]] = []
    for op, text in pieces:
        if not text:
            continue
        if merged and merged[-1][0] == op:
            merged[-1] = (op, merged[-1][1] + text)
        else:
            merged.append((op, text))
    return merged


def _tokens(old: str, new: str) -> tuple[list[str], list[str], bool]:
    """The two texts cut into the pieces to compare, and whether to use autojunk."""
    for pattern, max_pairs, autojunk in COMPARISONS:
        before, after = pattern.findall(old), pattern.findall(new)
        if len(before) * len(after) <= max_pairs:
            return before, after, autojunk
    return [old], [new], False


def _diff(old: str, new: str) -> list[tuple[Op, str]]:
    """The pieces for the part of two texts between their common start and end."""
    before, after, autojunk = _tokens(old, new)
    pieces: list[tuple[Op, str]] = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=autojunk)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        deleted, inserted = "".join(before[i1:i2]), "".join(after[j1:j2])
        if tag == "equal":
            pieces.append(("equal", deleted))
            continue
        # A space both sides have before the changed words is not part of the change.
        space = _common_space(deleted, inserted)
        pieces += [
            ("equal", space),
            ("delete", deleted[len(space) :]),
            ("insert", inserted[len(space) :]),
        ]
    return pieces


def _common_space(one: str, other: str) -> str:
    """The whitespace both texts start with."""
    length = 0
    while length < min(len(one), len(other)) and one[length] == other[length]:
        if not one[length].isspace():
            break
        length += 1
    return one[:length]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


class _Describer:
    """Turns workflow events into entries, looking up the names and texts they point to."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.teams: dict[int, str] | None = None

    def name(self, user_id: object) -> str:
        user = self.session.get(User, user_id) if isinstance(user_id, int) else None
        return user.name if user is not None else "someone"

    def team_names(self) -> Mapping[int, str]:
        if self.teams is None:
            self.teams = {t.id: t.name for t in self.session.scalars(select(Team))}
        return self.teams

    def entry(self, event: WorkflowEvent) -> Entry:
        describe = getattr(self, f"_{event.kind}")
        what, note, detail = describe(event.data or {}, event)
        actor = event.actor.name if event.actor is not None else None
        return Entry(at=event.at, kind=event.kind, actor=actor, what=what, note=note, detail=detail)

    def _claimed(self, data: dict[str, Any], event: WorkflowEvent) -> tuple[str, str, str]:
        return "claimed the message", "", ""

    def _released(self, data: dict[str, Any], event: WorkflowEvent) -> tuple[str, str, str]:
        holder = self.name(data.get("holder_id"))
        if event.actor_id is None:
            why = ": their account was closed" if data.get("reason") == "deactivated" else ""
            return f"{holder}'s claim went back to the pool{why}", "", ""
        if event.actor_id == data.get("holder_id"):
            return "released the message to the pool", "", ""
        return f"released {holder}'s claim", "", ""

    def _lapsed(self, data: dict[str, Any], event: WorkflowEvent) -> tuple[str, str, str]:
        holder = self.name(data.get("holder_id"))
        return f"{holder}'s claim lapsed: nothing was done for too long", "", ""

    def _reassigned(self, data: dict[str, Any], event: WorkflowEvent) -> tuple[str, str, str]:
        to = self.name(data.get("to_id"))
        if data.get("from_id") is None:
            return f"gave the message to {to}", "", ""
        return f"moved the message from {self.name(data.get('from_id'))} to {to}", "", ""

    def _note_added(self, data: dict[str, Any], event: WorkflowEvent) -> tuple[str, str, str]:
        note_id = data.get("note_id")
        note = self.session.get(Note, note_id) if isinstance(note_id, int) else None
        return "added an internal note", note.text if note is not None else "", ""

    def _draft_started(self, data: dict[str, Any], event: WorkflowEvent) -> tuple[str, str, str]:
        return "started the draft", "", ""

    def _submitted(self, data: dict[str, Any], event: WorkflowEvent) -> tuple[str, str, str]:
        version_id = data.get("policy_version_id")
        version = (
            self.session.get(PolicyVersion, version_id) if isinstance(version_id, int) else None
        )
        if version is None:
            by = "with no policy set"
        elif data.get("rule_number") is None:
            by = f"by the safe default of {version.label} (no rule decided)"
        else:
            by = f"by rule {data['rule_number']} of {version.label}"
        outcome = "held for approval" if data.get("outcome") == "needs_approval" else "let out"
        submission = (
            self.session.get(Submission, event.submission_id) if event.submission_id else None
        )
        return f"submitted it: {outcome} {by}", "", submission.reason if submission else ""

    def _approval_required(
        self, data: dict[str, Any], event: WorkflowEvent
    ) -> tuple[str, str, str]:
        steps = data.get("steps") or []
        return f"Waiting for approval from {describe_steps(steps, self.team_names())}", "", ""

    def _approved(self, data: dict[str, Any], event: WorkflowEvent) -> tuple[str, str, str]:
        what = "approved"
        if not data.get("final") or data.get("step", 1) != 1:
            what += f" step {data.get('step', 1)}"
        if data.get("edited"):
            what += " after editing it"
        what += ": the reply goes out" if data.get("final") else ": the next step is asked"
        return what, "", ""

    def _rejected(self, data: dict[str, Any], event: WorkflowEvent) -> tuple[str, str, str]:
        return "sent it back", str(data.get("note", "")), ""

    def _escalated(self, data: dict[str, Any], event: WorkflowEvent) -> tuple[str, str, str]:
        count = len(data.get("notified") or [])
        told = "1 person" if count == 1 else f"{count} people"
        waited = data.get("waited_minutes", "?")
        return f"Escalated after waiting {waited} min for approval: {told} told", "", ""

    def _publish_attempted(
        self, data: dict[str, Any], event: WorkflowEvent
    ) -> tuple[str, str, str]:
        attempt = data.get("attempt", "?")
        outcome = {"published": "published", "retry": "failed; trying again later"}.get(
            str(data.get("outcome")), "failed"
        )
        return f"Publishing attempt {attempt}: {outcome}", str(data.get("error", "")), ""

    def _published(self, data: dict[str, Any], event: WorkflowEvent) -> tuple[str, str, str]:
        connector = data.get("connector", "")
        if event.actor_id is not None:
            return "marked it as posted by hand", "", ""
        return f"Published through the {connector} connector", "", ""

    def _publish_failed(self, data: dict[str, Any], event: WorkflowEvent) -> tuple[str, str, str]:
        attempts = _plural(int(data.get("attempts", 0) or 0), "attempt")
        return f"Publishing gave up after {attempts}", str(data.get("error", "")), ""


def _version_entries(draft: Draft) -> list[Entry]:
    entries = []
    previous: str | None = None
    for version in draft.versions:
        diff: list[tuple[Op, str]] = (
            [("equal", version.text)] if previous is None else diff_words(previous, version.text)
        )
        entries.append(_version_entry(version, diff))
        previous = version.text
    return entries


def _version_entry(version: DraftVersion, diff: list[tuple[Op, str]]) -> Entry:
    if version.number == 1:
        what = "wrote version 1"
    elif version.by_approver:
        what = f"edited it while approving: version {version.number}"
    else:
        what = f"saved version {version.number}"
    return Entry(
        at=version.created_at,
        kind="version",
        actor=version.editor.name,
        what=what,
        version=version.number,
        by_approver=version.by_approver,
        diff=tuple(diff),
    )


def _order(entry: Entry) -> tuple[datetime, int]:
    if entry.kind == "version":
        return entry.at, 1
    return entry.at, 0 if entry.kind in BEFORE_VERSIONS else 2


def timeline(session: Session, draft: Draft) -> list[Entry]:
    """The draft's history, oldest first: its message's workflow events (those of this
    draft and the message-wide ones) interleaved with its versions."""
    events = session.scalars(
        select(WorkflowEvent)
        .where(
            WorkflowEvent.message_id == draft.message_id,
            WorkflowEvent.kind.in_(KINDS),
            or_(WorkflowEvent.draft_id.is_(None), WorkflowEvent.draft_id == draft.id),
        )
        .options(joinedload(WorkflowEvent.actor))
        .order_by(WorkflowEvent.at, WorkflowEvent.id)
    ).all()
    describer = _Describer(session)
    entries = [describer.entry(event) for event in events] + _version_entries(draft)
    return sorted(entries, key=_order)  # stable: events keep their order within a moment
