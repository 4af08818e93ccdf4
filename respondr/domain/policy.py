"""The approval policy engine: which drafts go out freely, which wait for whom, which are
blocked — a pure function of the policy's rules and the facts of one submission.

A policy version is an ordered list of rules in the format of
:mod:`respondr.domain.presets`. :func:`evaluate` reads them in order and the first rule
whose conditions all hold decides; when none holds, the draft needs one approval from
any approver (the safe default). Every verdict says why in plain words, naming the rule
and the policy version: "needs approval: the message is a complaint — rule 2 of
Risk-based v3".

Rules are checked when saved (:func:`validate_rules`, which names the field at fault).
A stored rule that cannot be read all the same (hand-edited, or written by a newer
respondr) must never let a reply out: evaluation stops at the first such rule it reaches
and asks for one approver, saying which rule could not be applied. Rules before it still
decide as usual. The same holds when a fact a rule needs cannot be read (the channel's
business hours). :func:`evaluate` never raises.

Also here, as pure helpers the drafting code shares: watch-list matching, stock
response placeholders, and counting approvals towards a step.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from respondr.domain import business_hours
from respondr.domain.enrich import contains_term
from respondr.domain.errors import ValidationError
from respondr.models.messages import CATEGORIES, INTENTS
from respondr.models.users import ROLES

logger = logging.getLogger(__name__)

OUTCOMES = ("publish", "needs_approval", "blocked")
WATCH_PLACES = ("message", "draft", "either")
SAFE_DEFAULT_STEPS: tuple[dict[str, Any], ...] = ({"role": "approver", "count": 1},)
MAX_RULES = 100
MAX_STEPS = 10
MAX_REASON = 300

_OUTCOME_WORDS = {
    "publish": "publishes freely",
    "needs_approval": "needs approval",
    "blocked": "blocked",
}
_CATEGORY_WORDS = {
    "to_brand": "talks to the brand",
    "about_brand": "talks about the brand",
    "industry": "talks about the industry",
    "product_features": "talks about product features",
}
_INTENT_WORDS = {"praise": "praise", "complaint": "a complaint", "question": "a question"}


@dataclass(frozen=True)
class Facts:
    """What a policy may read about one submission, as plain values.

    ``author_approved_count`` is how many of the author's replies approvers have
    cleared so far; ``sentiment`` is VADER's compound score of the message (None when
    unknown); ``unedited_stock`` says the draft is a pre-approved stock response with
    only its placeholders filled (see :func:`is_unedited_stock`); ``at`` (aware) is the
    submission time; ``business_hours`` is the channel's spec (None: always staffed);
    ``watch_list`` is the organisation's.
    """

    author_roles: frozenset[str]
    author_trusted: bool
    author_approved_count: int
    channel_id: int
    category: str | None
    intent: str | None
    sentiment: float | None
    message_text: str
    draft_text: str
    unedited_stock: bool
    followers: int | None
    at: datetime
    business_hours: dict[str, Any] | None
    watch_list: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    """What the policy decided: ``outcome`` is ``publish``, ``needs_approval`` or
    ``blocked``; ``rule_number`` the deciding rule (1-based; None when the safe default
    decided); ``steps`` the approvals needed, in order; ``reason`` the plain-words why;
    ``matched_words`` the watch-listed words the deciding rule found."""

    outcome: str
    rule_number: int | None
    steps: tuple[dict[str, Any], ...]
    reason: str
    matched_words: tuple[str, ...] = ()


class Unreadable(ValueError):
    """A rule, or a fact it needs, cannot be read. ``message`` is a clause for people
    ("the sentiment threshold must be a number from -1 to 1"); ``path`` the place in the
    rule ("conditions.sentiment_below"), empty for the rule as a whole."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


# --- Watch lists -----------------------------------------------------------------------


def watch_list_matches(text: str, words: Iterable[object]) -> tuple[str, ...]:
    """The watch-list entries ``text`` contains, as written in the list, in list order.

    Matching is case-insensitive, on whole words or phrases with Unicode word
    boundaries: "refund" matches "Refund!" but not "refunds"; "store closing" matches
    "Store   closing" across any run of whitespace. Both sides are NFC-normalised, so an
    accent typed either way matches. Entries that are not text, or blank, are ignored.
    """
    terms = [unicodedata.normalize("NFC", w).strip() for w in words if isinstance(w, str)]
    terms = [t for t in dict.fromkeys(terms) if t]
    text = unicodedata.normalize("NFC", text)
    if not contains_term(text, terms):
        return ()
    seen: set[str] = set()
    found = []
    for term in terms:
        key = " ".join(term.casefold().split())
        if key not in seen:
            seen.add(key)
            if contains_term(text, (term,)):
                found.append(term)
    return tuple(found)


def _watch_hits(place: str, facts: Facts) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Watch-listed words in the message and in the draft, as far as ``place`` looks."""
    in_message: tuple[str, ...] = ()
    in_draft: tuple[str, ...] = ()
    if place in ("message", "either"):
        in_message = watch_list_matches(facts.message_text, facts.watch_list)
    if place in ("draft", "either"):
        in_draft = watch_list_matches(facts.draft_text, facts.watch_list)
    return in_message, in_draft


def _quoted(words: Iterable[str]) -> str:
    return ", ".join(f"“{word}”" for word in words)


# --- Stock response placeholders -------------------------------------------------------

_TOKEN = re.compile(r"\{\{|\}\}|\{([^\W\d]\w*)\}|[{}]")
_NON_BLANK = re.compile(r"\S")


class TemplateError(ValueError):
    """A stock response's braces do not make placeholders; ``str()`` says where."""


@dataclass(frozen=True)
class _Slot:
    name: str


def _segments(template: str) -> list[str | _Slot]:
    """The template as literal text (``{{``/``}}`` already made single braces) and slots."""
    parts: list[str | _Slot] = []
    literal: list[str] = []
    position = 0
    for token in _TOKEN.finditer(template):
        literal.append(template[position : token.start()])
        position = token.end()
        brace = token.group(0)
        if brace in ("{{", "}}"):
            literal.append(brace[0])
        elif token.group(1):
            parts += ["".join(literal), _Slot(token.group(1))]
            literal = []
        else:
            verb = "opens" if brace == "{" else "closes"
            raise TemplateError(
                f'The "{brace}" at character {token.start() + 1} {verb} no placeholder: '
                "write placeholders as {fan_name}, and a brace meant as text as {{ or }}."
            )
    parts.append("".join([*literal, template[position:]]))
    return parts


def unknown_placeholders(template: str, known: Iterable[str]) -> set[str]:
    """The placeholder names in ``template`` that are not in ``known``.

    Raises :class:`TemplateError` (a ``ValueError``) where a brace makes no placeholder.
    """
    known = set(known)
    return {part.name for part in _segments(template) if isinstance(part, _Slot)} - known


def fill_placeholders(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each ``{name}`` that ``values`` has replaced by its value;
    others stay as written (``{name}``), for the agent to fill. ``{{`` and ``}}`` become
    single braces. Raises :class:`TemplateError` where a brace makes no placeholder."""
    return "".join(
        part if isinstance(part, str) else values.get(part.name, "{" + part.name + "}")
        for part in _segments(template)
    )


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def is_unedited_stock(template: str, text: str, values: Mapping[str, str]) -> bool:
    """Whether ``text`` is ``template`` with only its placeholders filled.

    A placeholder ``values`` has must hold exactly that value (respondr filled it); any
    other must hold some text that is not blank, each occurrence on its own (the agent
    filled it). Nothing else may change, except line endings (``\\r\\n`` from a browser)
    and whitespace at either end of the whole reply. A template whose braces make no
    placeholder is never matched. Never raises.
    """
    try:
        segments = _segments(template)
    except TemplateError:
        return False
    pieces: list[str | None] = []  # literal text, or None for a free slot
    for part in segments:
        piece = values.get(part.name) if isinstance(part, _Slot) else part
        if piece is not None and pieces and pieces[-1] is not None:
            pieces[-1] += str(piece)
        else:
            pieces.append(None if piece is None else str(piece))
    pieces = [None if piece is None else _newlines(piece) for piece in pieces]
    if pieces[0] is not None:
        pieces[0] = pieces[0].lstrip()
    if pieces[-1] is not None:
        pieces[-1] = pieces[-1].rstrip()
    return _fits(pieces, _newlines(text).strip())


def _fits(pieces: list[str | None], text: str) -> bool:
    """Whether ``text`` is the pieces in order, each None any span with a non-blank.

    Tracks where a match can have reached: a set of positions, or, after a free slot,
    every position from some point on; so the cost is linear per piece, whatever the
    slots (no backtracking).
    """
    reached: set[int] | int = {0}  # an int n stands for every position from n on
    for piece in pieces:
        start = reached if isinstance(reached, int) else min(reached, default=None)
        if start is None:
            return False
        if piece is None:
            filled = _NON_BLANK.search(text, start)  # the slot must hold a non-blank
            if filled is None:
                return False
            reached = filled.end()
        elif not piece:
            continue
        elif isinstance(reached, int):
            reached = set()
            found = text.find(piece, start)
            while found != -1:
                reached.add(found + len(piece))
                found = text.find(piece, found + 1)
        else:
            reached = {end + len(piece) for end in reached if text.startswith(piece, end)}
    if isinstance(reached, int):
        return reached <= len(text)
    return len(text) in reached


# --- Approval steps --------------------------------------------------------------------


def step_satisfied(step: Mapping[str, Any], approvals: int, pool_size: int) -> bool:
    """Whether ``approvals`` (distinct approvers from the step's pool who approved it)
    satisfy ``step``.

    ``pool_size`` is how many people may approve the step now: holders of the role or
    members of the team, the draft's author excluded (nobody approves their own draft).
    A count of N needs N approvals; a pool smaller than N cannot satisfy it (the round
    waits and escalates rather than lowering the bar). ``"all"`` needs every member of
    the pool as it is when counted, so someone leaving the pool stops holding it up; an
    empty pool satisfies nothing. A malformed step is never satisfied.
    """
    count = step.get("count", 1)
    if count == "all":
        return pool_size > 0 and approvals >= pool_size
    if isinstance(count, int) and not isinstance(count, bool) and count >= 1:
        return approvals >= count
    return False


def _parse_step(raw: object, path: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise Unreadable("each approval step names a role or a team and how many", path)
    for key in raw:
        if key not in ("role", "team_id", "count"):
            raise Unreadable(f"an approval step has no setting {key!r}", f"{path}.{key}")
    if ("role" in raw) == ("team_id" in raw):
        raise Unreadable("each approval step names either a role or a team", path)
    step: dict[str, Any]
    if "role" in raw:
        if raw["role"] not in ROLES:
            raise Unreadable(f"the role must be one of {', '.join(ROLES)}", f"{path}.role")
        step = {"role": raw["role"]}
    else:
        step = {"team_id": _whole_number(raw["team_id"], "team", 1, f"{path}.team_id")}
    count = raw.get("count", 1)
    if count != "all":
        count = _whole_number(count, "number of approvers", 1, f"{path}.count", "or “all”")
    step["count"] = count
    return step


def _parse_steps(raw: object) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise Unreadable("a rule that needs approval names at least one approval step", "steps")
    if len(raw) > MAX_STEPS:
        raise Unreadable(f"a rule has at most {MAX_STEPS} approval steps", "steps")
    return [_parse_step(step, f"steps[{j}]") for j, step in enumerate(raw)]


# --- Conditions ------------------------------------------------------------------------


def _whole_number(value: object, label: str, minimum: int, path: str, also: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        more = f" {also}" if also else ""
        raise Unreadable(f"the {label} must be a whole number from {minimum} up{more}", path)
    return value


@dataclass(frozen=True)
class _Condition:
    parse: Callable[[object, str], Any]  # (value, path) -> normalised value, or Unreadable
    holds: Callable[[Any, Facts], bool]
    describe: Callable[[Any, Facts], str]  # the condition, holding, in plain words


def _flag(label: str) -> Callable[[object, str], bool]:
    def parse(value: object, path: str) -> bool:
        if not isinstance(value, bool):
            raise Unreadable(f"the “{label}” condition must be true or false", path)
        return value

    return parse


def _any_of(label: str, allowed: tuple[str, ...]) -> Callable[[object, str], list[str]]:
    def parse(value: object, path: str) -> list[str]:
        if not isinstance(value, list) or not value or any(v not in allowed for v in value):
            raise Unreadable(
                f"the {label} must be a list of one or more of {', '.join(allowed)}", path
            )
        return list(dict.fromkeys(value))

    return parse


def _channel_ids(value: object, path: str) -> list[int]:
    if not isinstance(value, list) or not value:
        raise Unreadable("the channels must be a list of one or more channel ids", path)
    return list(dict.fromkeys(_whole_number(v, "channel id", 1, path) for v in value))


def _threshold(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not -1 <= value <= 1:
        raise Unreadable("the sentiment threshold must be a number from -1 to 1", path)
    return float(value)


def _place(value: object, path: str) -> str:
    if value not in WATCH_PLACES:
        raise Unreadable("the watch-list place must be message, draft or either", path)
    return str(value)


def _at_least(label: str, minimum: int) -> Callable[[object, str], int]:
    def parse(value: object, path: str) -> int:
        return _whole_number(value, label, minimum, path)

    return parse


def _or(words: Iterable[str]) -> str:
    words = list(words)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _and(clauses: list[str]) -> str:
    return clauses[0] if len(clauses) == 1 else f"{', '.join(clauses[:-1])} and {clauses[-1]}"


def _article(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _outside_hours(want: bool, facts: Facts) -> bool:
    if facts.business_hours is None:  # staffed around the clock: never outside
        return not want
    try:
        outside = not business_hours.is_open(facts.business_hours, facts.at)
    except (ValidationError, ValueError, OverflowError):
        raise Unreadable("the channel's business hours cannot be read") from None
    return outside == want


def _describe_watch(place: str, facts: Facts) -> str:
    in_message, in_draft = _watch_hits(place, facts)
    words = tuple(dict.fromkeys(in_message + in_draft))
    where = {(True, False): "the message contains", (False, True): "the reply contains"}
    verb = where.get((bool(in_message), bool(in_draft)), "the message and the reply contain")
    noun = "a watch-listed word" if len(words) == 1 else "watch-listed words"
    return f"{verb} {noun} ({_quoted(words)})"


def _describe_sentiment(below: float, facts: Facts) -> str:
    if below <= 0:
        return f"the message reads as negative (sentiment {facts.sentiment:.4g}, below {below:g})"
    return f"the message's sentiment is {facts.sentiment:.4g}, below {below:g}"


def _describe_record(limit: int, facts: Facts) -> str:
    if limit == 1:
        return "the author has no approved replies yet"
    return f"the author has had fewer than {limit} replies approved so far"


CONDITIONS: dict[str, _Condition] = {
    "author_trusted": _Condition(
        _flag("author is trusted"),
        lambda want, f: f.author_trusted == want,
        lambda want, f: "the author is trusted" if want else "the author is not trusted yet",
    ),
    "author_roles": _Condition(
        _any_of("author's roles", ROLES),
        lambda roles, f: not f.author_roles.isdisjoint(roles),
        lambda roles, f: (
            "the author is " + _or(_article(role) for role in roles if role in f.author_roles)
        ),
    ),
    "channel_ids": _Condition(
        _channel_ids,
        lambda ids, f: f.channel_id in ids,
        lambda ids, f: f"the message came in on channel {f.channel_id}",
    ),
    "categories": _Condition(
        _any_of("categories", CATEGORIES),
        lambda categories, f: f.category in categories,
        lambda categories, f: f"the message {_CATEGORY_WORDS[str(f.category)]}",
    ),
    "intents": _Condition(
        _any_of("intents", INTENTS),
        lambda intents, f: f.intent in intents,
        lambda intents, f: f"the message is {_INTENT_WORDS[str(f.intent)]}",
    ),
    "sentiment_below": _Condition(
        _threshold,
        lambda below, f: f.sentiment is not None and f.sentiment < below,
        _describe_sentiment,
    ),
    "watch_list_in": _Condition(
        _place, lambda place, f: any(_watch_hits(place, f)), _describe_watch
    ),
    "unedited_stock": _Condition(
        _flag("unedited stock response"),
        lambda want, f: f.unedited_stock == want,
        lambda want, f: (
            ("the reply is " if want else "the reply is not ")
            + "an unedited pre-approved stock response"
        ),
    ),
    "followers_at_least": _Condition(
        _at_least("follower count", 0),
        lambda least, f: f.followers is not None and f.followers >= least,
        lambda least, f: f"the fan has {f.followers:,} followers (at least {least:,})",
    ),
    "outside_business_hours": _Condition(
        _flag("outside business hours"),
        _outside_hours,
        lambda want, f: (
            "it is outside the channel's business hours"
            if want
            else "it is within the channel's business hours"
        ),
    ),
    "author_approved_fewer_than": _Condition(
        _at_least("number of approved replies", 1),
        lambda limit, f: f.author_approved_count < limit,
        _describe_record,
    ),
}


# --- Rules -----------------------------------------------------------------------------


def _parse_rule(raw: object) -> dict[str, Any]:
    """The rule normalised, or :class:`Unreadable` saying what is wrong and where."""
    if not isinstance(raw, dict):
        raise Unreadable("a rule must be a set of conditions with an outcome")
    for key in raw:
        if key not in ("conditions", "outcome", "steps", "reason"):
            raise Unreadable(f"a rule has no setting {key!r}", str(key))
    conditions = raw.get("conditions", {})
    if not isinstance(conditions, dict):
        raise Unreadable("the conditions must be a set of named conditions", "conditions")
    parsed: dict[str, Any] = {}
    for name, value in conditions.items():
        path = f"conditions.{name}"
        if name not in CONDITIONS:
            raise Unreadable(f"there is no condition called {name!r}", path)
        parsed[name] = CONDITIONS[name].parse(value, path)
    outcome = raw.get("outcome")
    if outcome not in OUTCOMES:
        raise Unreadable("the outcome must be publish, needs_approval or blocked", "outcome")
    rule: dict[str, Any] = {"conditions": parsed, "outcome": outcome}
    if outcome == "needs_approval":
        rule["steps"] = _parse_steps(raw.get("steps"))
    elif raw.get("steps") not in (None, []):
        raise Unreadable("only a rule that needs approval has approval steps", "steps")
    reason = raw.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise Unreadable("the reason must be text", "reason")
    if reason and reason.strip():
        if len(reason.strip()) > MAX_REASON:
            raise Unreadable(f"keep the reason under {MAX_REASON} characters", "reason")
        rule["reason"] = " ".join(reason.split())
    return rule


def validate_rules(raw: object) -> list[dict[str, Any]]:
    """A normalised copy of a rule list about to be saved, or :class:`ValidationError`
    naming the field at fault, as ``rules[2].conditions.sentiment_below``.

    Checks every rule's settings, condition names and values, outcome and approval
    steps (a role, or a team id, with a count of 1 or more or ``"all"``). Whether a
    team id names a team is for the caller, which has the database.
    """
    if not isinstance(raw, list):
        raise ValidationError("The rules must be a list.", "rules")
    if len(raw) > MAX_RULES:
        raise ValidationError(f"A policy has at most {MAX_RULES} rules.", "rules")
    rules = []
    for i, rule in enumerate(raw):
        try:
            rules.append(_parse_rule(rule))
        except Unreadable as problem:
            field = f"rules[{i}]" + (f".{problem.path}" if problem.path else "")
            message = problem.message[0].upper() + problem.message[1:] + "."
            raise ValidationError(message, field) from None
    return rules


def _holds(rule: dict[str, Any], facts: Facts) -> bool:
    return all(CONDITIONS[name].holds(value, facts) for name, value in rule["conditions"].items())


def conditions_hold(rule: object, facts: Facts) -> bool:
    """Whether every condition of ``rule`` holds for ``facts`` (a rule without conditions
    always holds). Raises :class:`Unreadable` when the rule, or a fact it needs, cannot
    be read."""
    return _holds(_parse_rule(rule), facts)


def _safe_default(why: str, policy_label: str) -> Verdict:
    return Verdict(
        "needs_approval",
        None,
        tuple(dict(step) for step in SAFE_DEFAULT_STEPS),
        f"needs approval: {why}, so one approver must clear it (the safe default) — {policy_label}",
    )


def _decide(number: int, rule: dict[str, Any], facts: Facts, policy_label: str) -> Verdict:
    conditions = rule["conditions"]
    words: tuple[str, ...] = ()
    if "watch_list_in" in conditions:
        in_message, in_draft = _watch_hits(conditions["watch_list_in"], facts)
        words = tuple(dict.fromkeys(in_message + in_draft))
    if "reason" in rule:
        why = rule["reason"] + (f" ({_quoted(words)})" if words else "")
    elif conditions:
        why = _and([CONDITIONS[name].describe(v, facts) for name, v in conditions.items()])
    else:
        why = "the rule covers every reply"
    return Verdict(
        rule["outcome"],
        number,
        tuple(dict(step) for step in rule.get("steps", ())),
        f"{_OUTCOME_WORDS[rule['outcome']]}: {why} — rule {number} of {policy_label}",
        words,
    )


def _evaluate(rules: object, facts: Facts, policy_label: str) -> Verdict:
    if not isinstance(rules, list | tuple):
        return _safe_default("the policy's rules cannot be read", policy_label)
    for number, raw in enumerate(rules, start=1):
        try:
            rule = _parse_rule(raw)
            if not _holds(rule, facts):
                continue
        except Unreadable as problem:
            return _safe_default(
                f"rule {number} cannot be applied ({problem.message})", policy_label
            )
        return _decide(number, rule, facts, policy_label)
    return _safe_default("no rule matched", policy_label)


def evaluate(rules: object, facts: Facts, *, policy_label: str) -> Verdict:
    """The verdict of the rule list ``rules`` (a policy version's) on ``facts``.

    The first rule whose conditions all hold decides; when none does, one approval from
    any approver (rule number None). Reaching a rule that cannot be read, or that needs
    a fact that cannot be read, also gives that safe default, with the reason saying so.
    ``policy_label`` ("Risk-based v3") names the policy in the reason. Never raises.
    """
    try:
        return _evaluate(rules, facts, policy_label)
    except Exception:  # a bug here must hold the reply, never let it out or fail the submit
        logger.exception("policy %s could not be applied", policy_label)
        return _safe_default("the policy could not be applied", policy_label)
