"""History import: messages that were answered elsewhere (a spreadsheet, another tool),
with everything that happened to them, written as if respondr had been there.

A JSON Lines file holds one message a line: the fields :mod:`respondr.domain.ingest`
takes (``channel``, ``external_id``, ``author``, ``text``, ``posted_at``, ``url``,
``thread_id``, ``in_reply_to``) plus ``received_at`` and its story:

- ``claimed``: ``{"by": email, "at": time}``;
- ``draft_started_at``: when the first draft was begun (default: the claim, or else the
  first submission);
- ``submissions``: in order, each ``{"by", "at", "text"}`` with optional
  ``author_trusted`` (default: the author's trust now), ``needs_approval`` (default: it
  has decisions) and ``decisions``: ``[{"by", "outcome": "approved"|"rejected", "at",
  "step" (default 1), "note"}]``;
- ``published``: ``{"at", "by"?}`` or ``closed``: ``{"at", "reason"?, "by"?}``;
- ``stock_response`` (title or id) and ``unedited_stock``: the stock response the first
  draft used, and whether it went out with only its placeholders filled;
- ``policy`` (name or slug, with ``policy_version``, default its current version): the
  policy that was in force, recorded on every submission.

Every line is validated whole — times in order, people and channel known, rounds that
make sense — before anything of it is written; then the rows (message, fan, draft and its
versions, submissions, decisions, published reply) are written and every step is
announced through :mod:`respondr.signals`, in time order, so the workflow event table
gets exactly the events the live workflow writes and reports cannot tell the
difference. People are named by email and must already exist (``respondr users
create``); a person's roles are not checked (they may have changed since), but nobody
may approve their own submission. Imported messages are not routed (the history says who
picked them up) and published replies carry the connector ``import``.

A message whose channel already holds its external id is reported as existing and left
untouched (never merged), so importing a file twice changes nothing. Nothing here
commits: the command commits a chunk of lines at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from respondr import signals
from respondr.domain import bulk_import
from respondr.domain.accounts import find_user
from respondr.domain.enrich import OWNED_CHANNEL_KINDS, enrich
from respondr.domain.errors import DomainError, ValidationError
from respondr.domain.ingest import (
    IncomingMessage,
    _fan,
    find_message,
    parse_incoming,
    resolve_channel,
    thread_key,
)
from respondr.domain.organisation import get_organisation
from respondr.domain.policies import find_policy
from respondr.models import (
    CLOSE_REASONS,
    ApprovalDecision,
    Channel,
    Draft,
    DraftVersion,
    Message,
    PolicyVersion,
    PublishedReply,
    StockResponse,
    Submission,
    User,
)

CONNECTOR = "import"
DEFAULT_CLOSE_REASON = "no_reply_needed"
TIME_EXAMPLE = "for example 2026-11-26T09:30:00+01:00"
MAX_ROUNDS = 50
MAX_DECISIONS = 50


def read_rows(path: Path | str) -> Any:
    """The lines of a JSON Lines history file, as :func:`bulk_import.read_rows` gives them."""
    path = Path(path)
    if path.suffix.lower() not in bulk_import.JSON_LINES_SUFFIXES:
        raise ValidationError(f"Import history from a JSON Lines (.jsonl) file, not {path.name}.")
    return bulk_import.read_rows(path)


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class _Decision:
    approver: User
    outcome: str
    at: datetime
    step: int
    note: str


@dataclass
class _Round:
    author: User
    at: datetime
    text: str
    trusted: bool
    held: bool
    decisions: list[_Decision]

    @property
    def rejected(self) -> bool:
        return any(d.outcome == "rejected" for d in self.decisions)

    @property
    def ended_at(self) -> datetime | None:
        """When the round was decided (None: still waiting); a free one ends at once."""
        if not self.held:
            return self.at
        return self.decisions[-1].at if self.decisions else None


@dataclass
class _Plan:
    """One line, validated and resolved: everything needed to write it."""

    channel: Channel
    incoming: IncomingMessage
    received_at: datetime
    claimer: User | None = None
    claimed_at: datetime | None = None
    draft_started_at: datetime | None = None
    rounds: list[_Round] = field(default_factory=list)
    published_at: datetime | None = None
    publisher: User | None = None
    closed_at: datetime | None = None
    closer: User | None = None
    close_reason: str = DEFAULT_CLOSE_REASON
    stock: StockResponse | None = None
    unedited_stock: bool = False
    version: PolicyVersion | None = None


class _Reader:
    """Reads one line's fields, resolving people, stock responses and policies (cached
    for the whole import)."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        self.users: dict[str, User | None] = {}

    def time(self, value: object, where: str) -> datetime:
        if not isinstance(value, str):
            raise ValidationError(f"{where} must be an ISO 8601 time, {TIME_EXAMPLE}.", where)
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(
                f"{where} is not an ISO 8601 time; send one {TIME_EXAMPLE}.", where
            ) from None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise ValidationError(f"{where} needs its UTC offset, {TIME_EXAMPLE}.", where)
        try:
            parsed = parsed.astimezone(UTC)
        except OverflowError:
            raise ValidationError(f"{where} is out of range.", where) from None
        if parsed > self.now:
            raise ValidationError(f"{where} is in the future ({parsed.isoformat()}).", where)
        return parsed

    def person(self, value: object, where: str) -> User:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"{where} must be the email of a respondr user.", where)
        key = value.strip().lower()
        if key not in self.users:
            self.users[key] = find_user(self.session, key)
        user = self.users[key]
        if user is None:
            raise ValidationError(
                f"There is no user {value.strip()}; add them first (respondr users create).",
                where,
            )
        return user

    def step(self, data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        value = data.get(key)
        if not isinstance(value, Mapping):
            raise ValidationError(f"{where} must be a JSON object.", where)
        return value

    def stock_response(self, value: object) -> StockResponse:
        found: StockResponse | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            found = self.session.get(StockResponse, value)
        elif isinstance(value, str) and value.strip():
            found = self.session.scalar(
                select(StockResponse)
                .where(StockResponse.title == value.strip())
                .order_by(StockResponse.id)
                .limit(1)
            )
        if found is None:
            raise ValidationError(f"There is no stock response {value!r}.", "stock_response")
        return found

    def policy_version(self, ref: object, number: object) -> PolicyVersion:
        if not isinstance(ref, str) or not ref.strip():
            raise ValidationError("policy must be a policy's name or slug.", "policy")
        try:
            found = find_policy(self.session, ref)
        except DomainError as error:
            raise ValidationError(error.message, "policy") from None
        if number is None:
            if found.current_version is None:
                raise ValidationError(f"The policy {found.name} has no version.", "policy")
            return found.current_version
        version = next((v for v in found.versions if v.number == number), None)
        if version is None:
            raise ValidationError(
                f"The policy {found.name} has no version {number!r}.", "policy_version"
            )
        return version


def _flag(data: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ValidationError(f"{where} must be true or false.", where)
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{where} must be the reply's text.", where)
    if len(value) > 50000:
        raise ValidationError(f"{where} is longer than 50,000 characters.", where)
    if "\x00" in value:
        raise ValidationError(f"{where} contains a NUL character, which cannot be stored.", where)
    return value


def _list(data: Mapping[str, Any], key: str, where: str, limit: int) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ValidationError(f"{where} must be a list.", where)
    if len(value) > limit:
        raise ValidationError(f"{where} has more than {limit} entries.", where)
    return value


def _not_before(later: datetime, earlier: datetime, what: str, than: str, where: str) -> None:
    if later < earlier:
        raise ValidationError(f"{what} ({later.isoformat()}) is before {than}.", where)


def _read_round(reader: _Reader, raw: object, where: str) -> _Round:
    if not isinstance(raw, Mapping):
        raise ValidationError(f"{where} must be a JSON object.", where)
    author = reader.person(raw.get("by"), f"{where}.by")
    at = reader.time(raw.get("at"), f"{where}.at")
    decisions: list[_Decision] = []
    for j, item in enumerate(_list(raw, "decisions", f"{where}.decisions", MAX_DECISIONS)):
        place = f"{where}.decisions[{j}]"
        if not isinstance(item, Mapping):
            raise ValidationError(f"{place} must be a JSON object.", place)
        approver = reader.person(item.get("by"), f"{place}.by")
        if approver.id == author.id:
            raise ValidationError(
                f"{approver.email} cannot approve their own submission (four eyes).", f"{place}.by"
            )
        outcome = item.get("outcome")
        if outcome not in ("approved", "rejected"):
            raise ValidationError(f"{place}.outcome must be approved or rejected.", place)
        step = item.get("step", 1)
        if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= 10:
            raise ValidationError(f"{place}.step must be a whole number from 1 to 10.", place)
        note = item.get("note", "")
        if not isinstance(note, str):
            raise ValidationError(f"{place}.note must be text.", f"{place}.note")
        decision = _Decision(
            approver, outcome, reader.time(item.get("at"), f"{place}.at"), step, note
        )
        _not_before(decision.at, at, f"{place}.at", "the submission it decides", f"{place}.at")
        if decisions:
            before = decisions[-1]
            _not_before(decision.at, before.at, f"{place}.at", "the decision before it", place)
            if before.outcome == "rejected":
                raise ValidationError(f"{place}: a rejection ends the round.", place)
            if step < before.step:
                raise ValidationError(f"{place}: steps are decided in order.", f"{place}.step")
            if any(d.step == step and d.approver.id == approver.id for d in decisions):
                raise ValidationError(f"{place}: one decision per approver and step.", place)
        elif step != 1:
            raise ValidationError(f"{place}: a round starts at step 1.", f"{place}.step")
        if decisions and step > decisions[-1].step + 1:
            raise ValidationError(f"{place}: step {step} comes after step {step - 1}.", place)
        decisions.append(decision)
    held = _flag(raw, "needs_approval", f"{where}.needs_approval", bool(decisions))
    if decisions and not held:
        raise ValidationError(
            f"{where} went out without approval, so it cannot have decisions.",
            f"{where}.needs_approval",
        )
    return _Round(
        author=author,
        at=at,
        text=_text(raw.get("text"), f"{where}.text"),
        trusted=_flag(raw, "author_trusted", f"{where}.author_trusted", author.trusted),
        held=held,
        decisions=decisions,
    )


def _check_rounds(plan: _Plan, start: datetime, start_label: str) -> datetime:
    """Rounds follow each other: every round but the last was sent back, each next one
    submitted after that; returns when the last step so far happened."""
    last = start
    for i, round_ in enumerate(plan.rounds):
        where = f"submissions[{i}]"
        _not_before(round_.at, last, f"{where}.at", start_label, f"{where}.at")
        ended = round_.ended_at
        if i < len(plan.rounds) - 1 and not (round_.held and round_.rejected):
            raise ValidationError(
                f"{where} was not sent back, so no submission can follow it.", where
            )
        last = ended if ended is not None else round_.at
        start_label = f"the decision on {where}"
    return last


def _read_line(reader: _Reader, row: Mapping[str, Any]) -> _Plan:
    session = reader.session
    incoming = parse_incoming(row, need_channel=True, now=reader.now)
    channel = resolve_channel(session, incoming.channel)
    received_at = reader.time(row.get("received_at"), "received_at")
    _not_before(received_at, incoming.posted_at, "received_at", "posted_at", "received_at")
    plan = _Plan(channel=channel, incoming=incoming, received_at=received_at)
    last, last_label = received_at, "received_at"

    if row.get("claimed") is not None:
        claimed = reader.step(row, "claimed", "claimed")
        plan.claimer = reader.person(claimed.get("by"), "claimed.by")
        plan.claimed_at = reader.time(claimed.get("at"), "claimed.at")
        _not_before(plan.claimed_at, last, "claimed.at", last_label, "claimed.at")
        last, last_label = plan.claimed_at, "the claim"

    plan.rounds = [
        _read_round(reader, raw, f"submissions[{i}]")
        for i, raw in enumerate(_list(row, "submissions", "submissions", MAX_ROUNDS))
    ]
    if row.get("draft_started_at") is not None:
        if not plan.rounds:
            raise ValidationError(
                "draft_started_at needs the submissions that followed.", "draft_started_at"
            )
        plan.draft_started_at = reader.time(row["draft_started_at"], "draft_started_at")
        _not_before(plan.draft_started_at, last, "draft_started_at", last_label, "draft_started_at")
        last, last_label = plan.draft_started_at, "draft_started_at"
    elif plan.rounds:
        plan.draft_started_at = plan.claimed_at or plan.rounds[0].at
    if plan.rounds and plan.claimer is None:
        # Live, saving the first draft claims the message for its author.
        plan.claimer, plan.claimed_at = plan.rounds[0].author, plan.draft_started_at
    last = _check_rounds(plan, last, last_label)

    if row.get("stock_response") is not None:
        if not plan.rounds:
            raise ValidationError("stock_response needs a submission.", "stock_response")
        plan.stock = reader.stock_response(row["stock_response"])
    plan.unedited_stock = _flag(row, "unedited_stock", "unedited_stock", False)
    if plan.unedited_stock and plan.stock is None:
        raise ValidationError("unedited_stock needs the stock_response used.", "unedited_stock")
    if row.get("policy") is not None:
        plan.version = reader.policy_version(row["policy"], row.get("policy_version"))
    elif row.get("policy_version") is not None:
        raise ValidationError("policy_version needs the policy it belongs to.", "policy")

    _read_ending(reader, row, plan, last)
    return plan


def _read_ending(reader: _Reader, row: Mapping[str, Any], plan: _Plan, last: datetime) -> None:
    if row.get("published") is not None and row.get("closed") is not None:
        raise ValidationError("A message is either published or closed, not both.", "closed")
    final = plan.rounds[-1] if plan.rounds else None
    if row.get("published") is not None:
        published = reader.step(row, "published", "published")
        if final is None or (final.held and (final.rejected or not final.decisions)):
            raise ValidationError(
                "Only a reply that went out freely or was approved can be published.",
                "published",
            )
        plan.published_at = reader.time(published.get("at"), "published.at")
        _not_before(plan.published_at, last, "published.at", "the last decision", "published.at")
        by = published.get("by")
        plan.publisher = reader.person(by, "published.by") if by is not None else final.author
    elif row.get("closed") is not None:
        closed = reader.step(row, "closed", "closed")
        if final is not None and not final.rejected:
            raise ValidationError(
                "A message whose reply is waiting, approved or out cannot be closed.", "closed"
            )
        plan.closed_at = reader.time(closed.get("at"), "closed.at")
        _not_before(plan.closed_at, last, "closed.at", "the step before it", "closed.at")
        reason = closed.get("reason", DEFAULT_CLOSE_REASON)
        if reason not in CLOSE_REASONS:
            raise ValidationError(
                f"closed.reason must be one of {', '.join(CLOSE_REASONS)}.", "closed.reason"
            )
        plan.close_reason = reason
        by = closed.get("by")
        plan.closer = reader.person(by, "closed.by") if by is not None else plan.claimer
    elif final is not None and (not final.held or (final.decisions and not final.rejected)):
        raise ValidationError(
            "A reply that was approved or went out freely needs its published time.", "published"
        )


# --------------------------------------------------------------------------- writing


def _status(plan: _Plan) -> str:
    if plan.published_at is not None:
        return "published"
    if plan.closed_at is not None:
        return "closed"
    if plan.rounds:
        final = plan.rounds[-1]
        return "rejected" if final.rejected else "awaiting_approval"
    return "claimed" if plan.claimer is not None else "new"


def _write(session: Session, plan: _Plan, org: Any) -> Message:
    """The rows first, then every step announced in time order (as the demo does), so
    each signal's flush writes only its event."""
    incoming, channel = plan.incoming, plan.channel
    fan = _fan(session, channel, incoming)
    found = enrich(
        incoming.text,
        followers=incoming.followers if incoming.followers is not None else fan.followers,
        handles=org.handles if isinstance(org.handles, list) else [],
        keyword_lists=org.keyword_lists if isinstance(org.keyword_lists, dict) else {},
        owned_space=channel.kind in OWNED_CHANNEL_KINDS,
    )
    message = Message(
        channel=channel,
        external_id=incoming.external_id,
        fan=fan,
        text=incoming.text,
        url=incoming.url,
        posted_at=incoming.posted_at,
        received_at=plan.received_at,
        thread_key=thread_key(session, channel, incoming),
        in_reply_to=incoming.in_reply_to,
        category=found.category,
        intent=found.intent,
        sentiment_score=found.sentiment_score,
        sentiment_label=found.sentiment_label,
        priority=found.priority,
        status=_status(plan),
        sla_due_at=plan.received_at + timedelta(minutes=channel.sla_minutes),
    )
    if plan.claimer is not None and plan.closed_at is None:
        message.claimed_by_id, message.claimed_at = plan.claimer.id, plan.claimed_at
    if plan.closed_at is not None:
        message.closed_at, message.closed_reason = plan.closed_at, plan.close_reason
    session.add(message)
    session.flush()
    steps: list[tuple[Any, Any, User | None, datetime, dict[str, Any]]] = [
        (signals.message_received, message, None, plan.received_at, {})
    ]
    if plan.claimer is not None and plan.claimed_at is not None:
        steps.append((signals.message_claimed, message, plan.claimer, plan.claimed_at, {}))
        message.last_activity_at = plan.claimed_at
    if plan.rounds:
        steps += _write_reply(session, plan, message)
    if plan.closed_at is not None:
        data = {"reason": plan.close_reason}
        steps.append((signals.message_closed, message, plan.closer, plan.closed_at, data))
    for signal, sender, actor, at, data in steps:
        signal.send(sender, session=session, actor=actor, at=at, data=data)
    return message


def _write_reply(session: Session, plan: _Plan, message: Message) -> list[Any]:
    first, final = plan.rounds[0], plan.rounds[-1]
    started = plan.draft_started_at or first.at
    stock = plan.stock
    draft = Draft(
        message=message,
        author_id=first.author.id,
        text=final.text,
        version=1,
        stock_response_id=stock.id if stock is not None else None,
        # As live: only a pre-approved response counts, and only while its text stands.
        unedited_stock=plan.unedited_stock
        and stock is not None
        and stock.pre_approved
        and final.text == first.text,
        # Closing leaves a sent-back draft as it was.
        status=_status(plan) if plan.closed_at is None else "rejected",
        created_at=started,
        updated_at=final.at,
    )
    if stock is not None:
        stock.usage_count += 1
    session.add(draft)
    steps: list[Any] = [(signals.draft_started, draft, first.author, started, {})]
    text: str | None = None
    for number, round_ in enumerate(plan.rounds, start=1):
        if round_.text != text:
            draft.versions.append(
                DraftVersion(
                    number=len(draft.versions) + 1,
                    text=round_.text,
                    editor_id=round_.author.id,
                    created_at=round_.at,
                )
            )
            text = round_.text
        steps += _write_round(session, plan, draft, number, round_)
    draft.version = len(draft.versions)
    message.last_activity_at = final.at
    if plan.published_at is not None:
        assert plan.publisher is not None
        reply = PublishedReply(
            draft=draft,
            message_id=message.id,
            text=final.text,
            published_at=plan.published_at,
            connector=CONNECTOR,
            published_by_id=plan.publisher.id,
        )
        session.add(reply)
        data = {"connector": CONNECTOR}
        steps.append((signals.reply_published, reply, plan.publisher, plan.published_at, data))
    return steps


def _write_round(
    session: Session, plan: _Plan, draft: Draft, number: int, round_: _Round
) -> list[Any]:
    version = plan.version
    steps_needed = max((d.step for d in round_.decisions), default=1)
    approval_steps = [
        {"role": "approver", "count": max(1, sum(1 for d in round_.decisions if d.step == n))}
        for n in range(1, steps_needed + 1)
    ]
    outcome = "needs_approval" if round_.held else "publish"
    label = version.label if version is not None else "the policy in force then"
    submission = Submission(
        draft=draft,
        number=number,
        text=round_.text,
        submitted_at=round_.at,
        author_id=round_.author.id,
        author_trusted=round_.trusted,
        author_roles=sorted(round_.author.roles),
        policy_version_id=version.id if version is not None else None,
        rule_number=None,
        outcome=outcome,
        reason=f"{'needs approval' if round_.held else 'publishes freely'}: imported "
        f"from history — {label}",
        steps=approval_steps if round_.held else [],
        decision=("rejected" if round_.rejected else "approved") if round_.decisions else None,
        decided_at=round_.ended_at if round_.decisions else None,
    )
    session.add(submission)
    data = {
        "outcome": outcome,
        "policy_version_id": submission.policy_version_id,
        "rule_number": None,
        "author_trusted": round_.trusted,
    }
    steps: list[Any] = [(signals.draft_submitted, submission, round_.author, round_.at, data)]
    if round_.held:
        held = {"steps": approval_steps}
        steps.append((signals.approval_required, submission, None, round_.at, held))
    for i, decision in enumerate(round_.decisions):
        submission.decisions.append(
            ApprovalDecision(
                step=decision.step,
                approver_id=decision.approver.id,
                outcome=decision.outcome,
                note=decision.note,
                decided_at=decision.at,
            )
        )
        if decision.outcome == "rejected":
            data = {"step": decision.step, "note": decision.note}
            steps.append((signals.draft_rejected, submission, decision.approver, decision.at, data))
        else:
            final = i == len(round_.decisions) - 1
            data = {"step": decision.step, "final": final, "edited": False}
            steps.append((signals.draft_approved, submission, decision.approver, decision.at, data))
    return steps


# --------------------------------------------------------------------------- importing


def import_rows(
    session: Session,
    rows: Iterable[bulk_import.Row],
    *,
    now: datetime,
    dry_run: bool = False,
) -> bulk_import.ImportReport:
    """Validate each line whole, then write it (in a savepoint of its own); a line whose
    message is already stored is ``existing`` and untouched. A dry run does everything
    inside a savepoint it rolls back: it reports exactly what the import would do."""
    report = bulk_import.ImportReport()
    reader = _Reader(session, now)
    org = get_organisation(session)
    outer = session.begin_nested() if dry_run else None
    try:
        for line, row in rows:
            try:
                if isinstance(row, bulk_import.RowError):
                    raise ValidationError(row.reason, row.field)
                plan = _read_line(reader, row)
                if find_message(session, plan.channel, plan.incoming.external_id) is not None:
                    report.existing += 1
                    continue
                with session.begin_nested():
                    _write(session, plan, org)
            except ValidationError as error:
                reason = bulk_import.Rejected(line, error.field or "message", error.message)
                report.rejected.append(reason)
                continue
            report.created += 1
    finally:
        if outer is not None:
            outer.rollback()
    return report
