"""Approval policy rules in plain words, for the pages that show and edit them.

:func:`describe_rule` words one rule of the format in :mod:`respondr.domain.presets`
("If the message is a complaint → needs approval from 1 approver"); :func:`describe_steps`
words the approvals a rule or a verdict asks for. :data:`CONDITION_HELP` and
:data:`OUTCOME_HELP` explain, a line each, what a rule may say. Pure: no database, no
Flask. Channel and team names are passed in by the caller, who has the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from respondr.domain import policy
from respondr.domain.errors import ValidationError

# The engine's own words for outcomes, categories and intents, and its list joiners, so a
# rule reads here as its verdicts read to the drafter.
from respondr.domain.policy import (
    _CATEGORY_WORDS,
    _INTENT_WORDS,
    _OUTCOME_WORDS,
    _article,
    _or,
)

CONDITION_HELP: dict[str, str] = {
    "author_trusted": "true or false: whether an admin has marked the author trusted.",
    "author_roles": 'a list such as ["agent"]: the author holds any of these roles.',
    "channel_ids": "a list of channel ids: the message came in on one of them.",
    "categories": (
        'a list such as ["to_brand"]: the message is in one of these categories '
        f"({', '.join(_CATEGORY_WORDS)})."
    ),
    "intents": (f'a list such as ["complaint"]: the message is one of {", ".join(_INTENT_WORDS)}.'),
    "sentiment_below": (
        "a number from -1 to 1: the message's sentiment (VADER compound) is below it; "
        "-0.05 means negative."
    ),
    "watch_list_in": (
        '"message", "draft" or "either": a word from the organisation\'s watch list is there.'
    ),
    "unedited_stock": (
        "true or false: the reply is a pre-approved stock response with only its "
        "placeholders filled."
    ),
    "followers_at_least": "a whole number: the fan has at least this many followers.",
    "outside_business_hours": (
        "true or false: the reply is submitted outside the channel's business hours."
    ),
    "author_approved_fewer_than": (
        "a whole number: the author has had fewer replies than this approved so far."
    ),
}

OUTCOME_HELP: dict[str, str] = {
    "publish": "the reply goes out without approval.",
    "needs_approval": (
        'approvers must clear it first; "steps" lists them in order, each '
        '{"role": "approver", "count": 1} or {"team_id": 3, "count": "all"} '
        '(count: a number or "all").'
    ),
    "blocked": "the reply cannot be submitted until the agent edits it.",
}


def _plural(word: str, count: int) -> str:
    return word if count == 1 else f"{word}s"


def describe_step(step: Mapping[str, Any], teams: Mapping[int, str] | None = None) -> str:
    """One approval step: "1 approver", "2 managers", "every member of Legal"."""
    count = step.get("count", 1)
    if "team_id" in step:
        team_id = step["team_id"]
        team = (teams or {}).get(team_id) or f"team {team_id}"
        if count == "all":
            return f"every member of {team}"
        return f"{count} {_plural('member', count)} of {team}"
    role = str(step.get("role", "approver"))
    if count == "all":
        return f"every {role}"
    return f"{count} {_plural(role, count)}"


def describe_steps(
    steps: Iterable[Mapping[str, Any]], teams: Mapping[int, str] | None = None
) -> str:
    """The steps in order: "1 approver, then every member of Legal"."""
    return ", then ".join(describe_step(step, teams) for step in steps)


def _names(ids: Iterable[int], names: Mapping[int, str], noun: str) -> str:
    return _or(names.get(i) or f"{noun} {i}" for i in ids)


def describe_condition(name: str, value: Any, channels: Mapping[int, str] | None = None) -> str:
    """One validated condition, holding, in words ("the message is a complaint")."""
    match name:
        case "author_trusted":
            return "the author is trusted" if value else "the author is not trusted"
        case "author_roles":
            return "the author is " + _or(_article(role) for role in value)
        case "channel_ids":
            return f"the message came in on {_names(value, channels or {}, 'channel')}"
        case "categories":
            return "the message " + _or(_CATEGORY_WORDS[c] for c in value)
        case "intents":
            return "the message is " + _or(_INTENT_WORDS[i] for i in value)
        case "sentiment_below":
            return f"the message's sentiment is below {value:g}"
        case "watch_list_in":
            where = {"message": "the message", "draft": "the reply"}
            return f"{where.get(value, 'the message or the reply')} contains a watch-listed word"
        case "unedited_stock":
            negation = "" if value else "not "
            return f"the reply is {negation}an unedited pre-approved stock response"
        case "followers_at_least":
            return f"the fan has at least {value:,} followers"
        case "outside_business_hours":
            inside = "outside" if value else "within"
            return f"it is {inside} the channel's business hours"
        case "author_approved_fewer_than":
            if value == 1:
                return "the author has no approved replies yet"
            return f"the author has had fewer than {value} replies approved"
    return f"{name} is {value!r}"


def describe_rule(
    rule: object,
    *,
    channels: Mapping[int, str] | None = None,
    teams: Mapping[int, str] | None = None,
) -> str:
    """A rule in one sentence: "If the message is a complaint → needs approval from 1
    approver". A rule that cannot be read says so, as evaluation treats it: a reply
    reaching it needs one approver."""
    try:
        checked = policy.validate_rules([rule])[0]
    except ValidationError as problem:
        why = problem.message[:1].lower() + problem.message[1:].rstrip(".")
        return f"Cannot be read ({why}): a reply reaching this rule needs one approver"
    conditions = [
        describe_condition(name, value, channels) for name, value in checked["conditions"].items()
    ]
    when = "If " + " and ".join(conditions) if conditions else "Always"
    outcome = _OUTCOME_WORDS[checked["outcome"]]
    if checked["outcome"] == "needs_approval":
        outcome += " from " + describe_steps(checked["steps"], teams)
    elif checked["outcome"] == "blocked":
        outcome += " until the agent edits it"
    return f"{when} → {outcome}"
