"""The approval policy engine: conditions, outcomes, the safe default, the presets, rule
validation, watch lists and stock response placeholders — pure, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from respondr.domain.business_hours import is_open
from respondr.domain.enrich import sentiment
from respondr.domain.errors import ValidationError
from respondr.domain.policy import (
    CONDITIONS,
    OUTCOMES,
    WATCH_PLACES,
    Facts,
    TemplateError,
    Unreadable,
    Verdict,
    conditions_hold,
    evaluate,
    fill_placeholders,
    is_unedited_stock,
    step_satisfied,
    unknown_placeholders,
    validate_rules,
    watch_list_matches,
)
from respondr.domain.presets import PRESETS
from respondr.models.messages import CATEGORIES, INTENTS
from respondr.models.users import ROLES
from tests.strategies import JSON_VALUES, json_objects

MONDAY_MORNING = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # 10:00 in London
SATURDAY_NIGHT = datetime(2026, 3, 7, 22, 0, tzinfo=UTC)
OFFICE_HOURS = {"timezone": "Europe/London", "hours": {"mon": [["09:00", "17:30"]]}}
LABEL = "Test policy v2"
DEFAULT_REASON = (
    "needs approval: no rule matched, so one approver must clear it (the safe default) "
    "— Test policy v2"
)
ONE_APPROVER = ({"role": "approver", "count": 1},)

PLAIN = Facts(
    author_roles=frozenset({"agent"}),
    author_trusted=False,
    author_approved_count=10,
    channel_id=1,
    category="to_brand",
    intent=None,
    sentiment=0.0,
    message_text="Hello Bernie",
    draft_text="Hello to you too!",
    unedited_stock=False,
    followers=None,
    at=MONDAY_MORNING,
    business_hours=None,
    watch_list=(),
)


def facts(**changes) -> Facts:
    return replace(PLAIN, **changes)


def rule(conditions=None, outcome="needs_approval", steps=None, reason=None) -> dict:
    made = {"conditions": conditions or {}, "outcome": outcome}
    if outcome == "needs_approval":
        made["steps"] = steps or [{"role": "approver", "count": 1}]
    if reason is not None:
        made["reason"] = reason
    return made


def preset(slug: str) -> list[dict]:
    return next(p["rules"] for p in PRESETS if p["slug"] == slug)


# --- every condition, holding and not holding ----------------------------------------------

WATCHING = ("refund", "store closing")

# (condition, value, facts where it holds, how it reads, facts where it does not hold)
CONDITION_CASES = [
    (
        "author_trusted",
        True,
        {"author_trusted": True},
        "the author is trusted",
        {"author_trusted": False},
    ),
    (
        "author_trusted",
        False,
        {"author_trusted": False},
        "the author is not trusted yet",
        {"author_trusted": True},
    ),
    (
        "author_roles",
        ["manager", "admin"],
        {"author_roles": frozenset({"agent", "admin"})},
        "the author is an admin",
        {"author_roles": frozenset({"agent", "approver"})},
    ),
    (
        "channel_ids",
        [2, 3],
        {"channel_id": 3},
        "the message came in on channel 3",
        {"channel_id": 1},
    ),
    (
        "categories",
        ["industry", "about_brand"],
        {"category": "industry"},
        "the message talks about the industry",
        {"category": "to_brand"},
    ),
    (
        "categories",
        ["industry"],
        {"category": "industry"},
        "the message talks about the industry",
        {"category": None},
    ),
    (
        "intents",
        ["complaint", "question"],
        {"intent": "complaint"},
        "the message is a complaint",
        {"intent": "praise"},
    ),
    (
        "intents",
        ["question"],
        {"intent": "question"},
        "the message is a question",
        {"intent": None},
    ),
    (
        "sentiment_below",
        -0.05,
        {"sentiment": -0.4767},
        "the message reads as negative (sentiment -0.4767, below -0.05)",
        {"sentiment": -0.05},
    ),
    (
        "sentiment_below",
        -0.05,
        {"sentiment": -0.06},
        "the message reads as negative (sentiment -0.06, below -0.05)",
        {"sentiment": None},
    ),
    (
        "sentiment_below",
        0.5,
        {"sentiment": 0.2},
        "the message's sentiment is 0.2, below 0.5",
        {"sentiment": 0.5},
    ),
    (
        "watch_list_in",
        "message",
        {"message_text": "Is the store closing?", "watch_list": WATCHING},
        "the message contains a watch-listed word (“store closing”)",
        {"draft_text": "No refund, sorry", "watch_list": WATCHING},
    ),
    (
        "watch_list_in",
        "draft",
        {"draft_text": "We'll refund you", "watch_list": WATCHING},
        "the reply contains a watch-listed word (“refund”)",
        {"message_text": "Refund me", "watch_list": WATCHING},
    ),
    (
        "watch_list_in",
        "either",
        {
            "message_text": "Refund!",
            "draft_text": "The store closing is sad",
            "watch_list": WATCHING,
        },
        "the message and the reply contain watch-listed words (“refund”, “store closing”)",
        {"message_text": "refunds and closings", "watch_list": WATCHING},
    ),
    (
        "watch_list_in",
        "either",
        {"draft_text": "Refund on its way", "watch_list": WATCHING},
        "the reply contains a watch-listed word (“refund”)",
        {"draft_text": "Refund on its way", "watch_list": ()},
    ),
    (
        "unedited_stock",
        True,
        {"unedited_stock": True},
        "the reply is an unedited pre-approved stock response",
        {"unedited_stock": False},
    ),
    (
        "unedited_stock",
        False,
        {"unedited_stock": False},
        "the reply is not an unedited pre-approved stock response",
        {"unedited_stock": True},
    ),
    (
        "followers_at_least",
        10_000,
        {"followers": 10_000},
        "the fan has 10,000 followers (at least 10,000)",
        {"followers": 9_999},
    ),
    (
        "followers_at_least",
        0,
        {"followers": 0},
        "the fan has 0 followers (at least 0)",
        {"followers": None},
    ),
    (
        "outside_business_hours",
        True,
        {"business_hours": OFFICE_HOURS, "at": SATURDAY_NIGHT},
        "it is outside the channel's business hours",
        {"business_hours": OFFICE_HOURS, "at": MONDAY_MORNING},
    ),
    (
        "outside_business_hours",
        True,
        {"business_hours": OFFICE_HOURS, "at": SATURDAY_NIGHT},
        "it is outside the channel's business hours",
        {"business_hours": None, "at": SATURDAY_NIGHT},
    ),  # no hours: staffed around the clock
    (
        "outside_business_hours",
        False,
        {"business_hours": None, "at": SATURDAY_NIGHT},
        "it is within the channel's business hours",
        {"business_hours": OFFICE_HOURS, "at": SATURDAY_NIGHT},
    ),
    (
        "author_approved_fewer_than",
        5,
        {"author_approved_count": 4},
        "the author has had fewer than 5 replies approved so far",
        {"author_approved_count": 5},
    ),
    (
        "author_approved_fewer_than",
        1,
        {"author_approved_count": 0},
        "the author has no approved replies yet",
        {"author_approved_count": 1},
    ),
]
CASE_IDS = [f"{case[0]}={case[1]}" for case in CONDITION_CASES]


def test_the_cases_cover_every_condition():
    assert {case[0] for case in CONDITION_CASES} == set(CONDITIONS)


@pytest.mark.parametrize(
    ("name", "value", "holding", "reads", "not_holding"), CONDITION_CASES, ids=CASE_IDS
)
def test_a_condition_that_holds_decides(name, value, holding, reads, not_holding):
    rules = [rule({name: value}, "blocked")]
    verdict = evaluate(rules, facts(**holding), policy_label=LABEL)
    assert verdict.outcome == "blocked"
    assert verdict.rule_number == 1
    assert verdict.reason == f"blocked: {reads} — rule 1 of {LABEL}"
    assert conditions_hold(rules[0], facts(**holding))


@pytest.mark.parametrize(
    ("name", "value", "holding", "reads", "not_holding"), CONDITION_CASES, ids=CASE_IDS
)
def test_a_condition_that_does_not_hold_passes(name, value, holding, reads, not_holding):
    rules = [rule({name: value}, "blocked")]
    verdict = evaluate(rules, facts(**not_holding), policy_label=LABEL)
    assert (verdict.outcome, verdict.rule_number) == ("needs_approval", None)
    assert not conditions_hold(rules[0], facts(**not_holding))


def test_all_conditions_of_a_rule_must_hold():
    rules = [rule({"intents": ["complaint"], "followers_at_least": 1000}, "blocked")]
    assert (
        evaluate(rules, facts(intent="complaint", followers=5000), policy_label=LABEL).outcome
        == "blocked"
    )
    assert (
        evaluate(rules, facts(intent="complaint", followers=50), policy_label=LABEL).rule_number
        is None
    )
    assert (
        evaluate(rules, facts(intent="praise", followers=5000), policy_label=LABEL).rule_number
        is None
    )


def test_several_conditions_read_as_one_sentence():
    rules = [rule({"author_trusted": False, "intents": ["complaint"], "followers_at_least": 500})]
    verdict = evaluate(rules, facts(intent="complaint", followers=1200), policy_label=LABEL)
    assert verdict.reason == (
        "needs approval: the author is not trusted yet, the message is a complaint and the "
        f"fan has 1,200 followers (at least 500) — rule 1 of {LABEL}"
    )


# --- outcomes, the safe default, first match ---------------------------------------------


def test_publish_needs_no_steps():
    verdict = evaluate(
        [rule({}, "publish", reason="the policy is open")], PLAIN, policy_label=LABEL
    )
    assert verdict == Verdict(
        "publish", 1, (), f"publishes freely: the policy is open — rule 1 of {LABEL}"
    )


def test_needs_approval_carries_its_steps_in_order():
    steps = [{"team_id": 4, "count": 1}, {"team_id": 7, "count": "all"}]  # PR, then legal
    verdict = evaluate(
        [rule({}, steps=steps, reason="PR then legal clear it")], PLAIN, policy_label=LABEL
    )
    assert verdict.outcome == "needs_approval"
    assert verdict.steps == ({"team_id": 4, "count": 1}, {"team_id": 7, "count": "all"})
    assert verdict.reason == f"needs approval: PR then legal clear it — rule 1 of {LABEL}"


def test_blocked_says_why_and_names_the_watch_listed_words():
    rules = [
        rule({"intents": ["question"]}, "publish"),
        rule({"sentiment_below": -0.5}),
        rule({"watch_list_in": "draft"}, "blocked"),
    ]
    verdict = evaluate(
        rules, facts(draft_text="No REFUND, sorry.", watch_list=WATCHING), policy_label="X v2"
    )
    assert verdict.outcome == "blocked"
    assert verdict.steps == ()
    assert verdict.matched_words == ("refund",)
    assert verdict.reason == (
        "blocked: the reply contains a watch-listed word (“refund”) — rule 3 of X v2"
    )


def test_a_rules_own_reason_gets_the_watch_listed_words_added():
    rules = [rule({"watch_list_in": "either"}, reason="it mentions something we watch")]
    verdict = evaluate(
        rules,
        facts(message_text="store closing?", draft_text="no refund", watch_list=WATCHING),
        policy_label=LABEL,
    )
    assert verdict.matched_words == ("store closing", "refund")
    assert verdict.reason == (
        "needs approval: it mentions something we watch (“store closing”, “refund”) "
        f"— rule 1 of {LABEL}"
    )


def test_a_rule_without_conditions_or_reason_covers_every_reply():
    verdict = evaluate([rule({}, "publish")], PLAIN, policy_label=LABEL)
    assert verdict.reason == f"publishes freely: the rule covers every reply — rule 1 of {LABEL}"


def test_no_rules_means_one_approval_from_any_approver():
    assert evaluate([], PLAIN, policy_label=LABEL) == Verdict(
        "needs_approval", None, ONE_APPROVER, DEFAULT_REASON
    )


def test_no_matching_rule_means_one_approval_from_any_approver():
    rules = [rule({"intents": ["complaint"]}, "blocked"), rule({"author_trusted": True}, "publish")]
    verdict = evaluate(rules, PLAIN, policy_label=LABEL)
    assert verdict == Verdict("needs_approval", None, ONE_APPROVER, DEFAULT_REASON)


def test_the_first_matching_rule_decides():
    rules = [
        rule({"intents": ["complaint"]}, "blocked"),  # does not hold
        rule({"author_trusted": True}, "publish"),  # holds: decides
        rule({}, "needs_approval"),  # holds too, but comes later
    ]
    verdict = evaluate(rules, facts(author_trusted=True), policy_label=LABEL)
    assert (verdict.outcome, verdict.rule_number) == ("publish", 2)
    rules[0], rules[1] = rules[1], rules[0]
    assert evaluate(rules, facts(author_trusted=True), policy_label=LABEL).rule_number == 1


# --- rules that cannot be read --------------------------------------------------------------


def test_a_rule_that_cannot_be_read_holds_the_reply():
    rules = [
        rule({"intents": ["complaint"]}),
        {"conditions": {"sentiment_below": "very"}, "outcome": "publish"},
        rule({}, "publish"),
    ]
    verdict = evaluate(rules, PLAIN, policy_label=LABEL)
    assert verdict == Verdict(
        "needs_approval",
        None,
        ONE_APPROVER,
        "needs approval: rule 2 cannot be applied (the sentiment threshold must be a number "
        f"from -1 to 1), so one approver must clear it (the safe default) — {LABEL}",
    )


def test_a_rule_before_an_unreadable_one_still_decides():
    rules = [rule({}, "publish"), {"conditions": {"mood": "sunny"}, "outcome": "publish"}]
    assert evaluate(rules, PLAIN, policy_label=LABEL).rule_number == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"conditions": {"mood": "sunny"}, "outcome": "publish"},
        {"conditions": {}, "outcome": "maybe"},
        {"conditions": {}, "outcome": "needs_approval"},  # no steps
        {"conditions": {}, "outcome": "publish", "steps": [{"role": "approver"}]},
        "publish everything",
        None,
    ],
)
def test_no_unreadable_rule_lets_a_reply_out(bad):
    verdict = evaluate([bad, rule({}, "publish")], PLAIN, policy_label=LABEL)
    assert (verdict.outcome, verdict.rule_number, verdict.steps) == (
        "needs_approval",
        None,
        ONE_APPROVER,
    )
    assert "rule 1 cannot be applied" in verdict.reason
    with pytest.raises(Unreadable):
        conditions_hold(bad, PLAIN)


@pytest.mark.parametrize("rules", [None, "rules", {"conditions": {}}, 42])
def test_rules_that_are_not_a_list_hold_the_reply(rules):
    verdict = evaluate(rules, PLAIN, policy_label=LABEL)
    assert verdict.rule_number is None and verdict.outcome == "needs_approval"
    assert verdict.reason.startswith("needs approval: the policy's rules cannot be read")


def test_unreadable_business_hours_hold_the_reply():
    rules = [rule({"outside_business_hours": False}, "publish")]
    broken = facts(business_hours={"timezone": "Atlantis/Main", "hours": {}})
    naive = facts(business_hours=OFFICE_HOURS, at=datetime(2026, 3, 2, 10))
    for bad in (broken, naive):
        verdict = evaluate(rules, bad, policy_label=LABEL)
        assert (verdict.outcome, verdict.rule_number) == ("needs_approval", None)
        assert "the channel's business hours cannot be read" in verdict.reason


# --- the five presets on realistic cases --------------------------------------------------


def test_corporate_clears_even_happy_birthday():
    birthday = facts(
        message_text="It's my birthday today!",
        draft_text="Happy birthday!",
        author_trusted=True,
        sentiment=sentiment("It's my birthday today!"),
    )
    verdict = evaluate(
        preset("corporate-clears-all"), birthday, policy_label="Corporate clears all v1"
    )
    assert verdict.outcome == "needs_approval"
    assert verdict.reason == (
        "needs approval: every reply is cleared by corporate — rule 1 of Corporate clears all v1"
    )


def test_trusted_staff_free_lets_a_trusted_author_out_and_holds_an_untrusted_one():
    rules, label = preset("trusted-staff-free"), "Trusted staff free v1"
    trusted = evaluate(rules, facts(author_trusted=True), policy_label=label)
    assert trusted.outcome == "publish"
    assert (
        trusted.reason
        == "publishes freely: the author is trusted — rule 1 of Trusted staff free v1"
    )
    untrusted = evaluate(rules, facts(author_trusted=False), policy_label=label)
    assert (untrusted.outcome, untrusted.rule_number) == ("needs_approval", 2)
    assert untrusted.reason == (
        "needs approval: the author is not trusted yet — rule 2 of Trusted staff free v1"
    )


def test_stock_responses_free_lets_an_unedited_stock_reply_out_and_holds_an_edited_one():
    template = "Thanks so much, {fan_name}! We're glad you enjoyed {book}."
    values = {"fan_name": "Ann"}
    as_given = "Thanks so much, Ann! We're glad you enjoyed The Hobbit."
    edited = "Thanks so much, Ann! We're glad you enjoyed The Hobbit. 20% off next week!"
    rules, label = preset("stock-responses-free"), "Stock responses free v4"
    out = evaluate(
        rules,
        facts(draft_text=as_given, unedited_stock=is_unedited_stock(template, as_given, values)),
        policy_label=label,
    )
    assert (out.outcome, out.rule_number) == ("publish", 1)
    held = evaluate(
        rules,
        facts(draft_text=edited, unedited_stock=is_unedited_stock(template, edited, values)),
        policy_label=label,
    )
    assert (held.outcome, held.rule_number) == ("needs_approval", 2)
    assert held.reason == (
        "needs approval: the reply is not an unedited pre-approved stock response "
        "— rule 2 of Stock responses free v4"
    )


def risk_facts(message: str, draft: str, **changes) -> Facts:
    return facts(
        message_text=message,
        draft_text=draft,
        sentiment=sentiment(message),
        watch_list=("refund", "store closing", "lawsuit"),
        **changes,
    )


def test_risk_based_holds_a_complaint():
    complaint = risk_facts(
        "Why was the book signing cancelled?", "It was moved to Friday.", intent="complaint"
    )
    complaint = replace(complaint, sentiment=0.0)  # a calm complaint
    verdict = evaluate(preset("risk-based"), complaint, policy_label="Risk-based v3")
    assert verdict.reason == "needs approval: the message is a complaint — rule 2 of Risk-based v3"


def test_risk_based_holds_a_negative_message():
    angry = risk_facts(
        "This is the worst bookstore ever, I'm so disappointed", "We're sorry to hear that."
    )
    assert angry.sentiment is not None and angry.sentiment < -0.05
    verdict = evaluate(preset("risk-based"), angry, policy_label="Risk-based v3")
    assert (verdict.outcome, verdict.rule_number) == ("needs_approval", 1)
    assert verdict.reason == (
        "needs approval: the message reads as negative — rule 1 of Risk-based v3"
    )


def test_risk_based_holds_a_watch_listed_word_in_the_draft():
    quiet = risk_facts(
        "When does the Main Street shop open?",
        "Sorry, the Main Street store closing means it won't reopen.",
    )
    verdict = evaluate(preset("risk-based"), quiet, policy_label="Risk-based v3")
    assert (verdict.outcome, verdict.rule_number) == ("needs_approval", 3)
    assert verdict.matched_words == ("store closing",)
    assert verdict.reason == (
        "needs approval: the message or the reply contains a watch-listed word "
        "(“store closing”) — rule 3 of Risk-based v3"
    )


def test_risk_based_lets_thanks_out():
    thanks = risk_facts("thanks!", "You're welcome!", intent="praise")
    assert thanks.sentiment is not None and thanks.sentiment > 0
    verdict = evaluate(preset("risk-based"), thanks, policy_label="Risk-based v3")
    assert (verdict.outcome, verdict.rule_number) == ("publish", 4)
    assert verdict.reason == "publishes freely: nothing in it is risky — rule 4 of Risk-based v3"


def test_open_lets_everything_out():
    verdict = evaluate(
        preset("open"), risk_facts("I'll sue!", "See you in court"), policy_label="Open v1"
    )
    assert verdict.outcome == "publish"


def test_the_presets_are_valid_and_already_normalised():
    for shipped in PRESETS:
        assert validate_rules(shipped["rules"]) == shipped["rules"], shipped["slug"]


# --- validate_rules ----------------------------------------------------------------------


def good() -> dict:
    return rule({"intents": ["complaint"]})


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("not a list", "rules"),
        ([good()] * 101, "rules"),
        ([42], "rules[0]"),
        ([{"outcome": "publish", "colour": "blue"}], "rules[0].colour"),
        ([{"conditions": ["trusted"], "outcome": "publish"}], "rules[0].conditions"),
        ([{"conditions": {"mood": "bad"}, "outcome": "publish"}], "rules[0].conditions.mood"),
        ([good(), good(), rule({"sentiment_below": "low"})], "rules[2].conditions.sentiment_below"),
        ([rule({"sentiment_below": 2})], "rules[0].conditions.sentiment_below"),
        ([rule({"sentiment_below": True})], "rules[0].conditions.sentiment_below"),
        ([rule({"sentiment_below": float("nan")})], "rules[0].conditions.sentiment_below"),
        ([rule({"author_trusted": "yes"})], "rules[0].conditions.author_trusted"),
        ([rule({"author_roles": ["ceo"]})], "rules[0].conditions.author_roles"),
        ([rule({"author_roles": []})], "rules[0].conditions.author_roles"),
        ([rule({"author_roles": "agent"})], "rules[0].conditions.author_roles"),
        ([rule({"channel_ids": ["3"]})], "rules[0].conditions.channel_ids"),
        ([rule({"channel_ids": [0]})], "rules[0].conditions.channel_ids"),
        ([rule({"categories": ["sports"]})], "rules[0].conditions.categories"),
        ([rule({"intents": "complaint"})], "rules[0].conditions.intents"),
        ([rule({"watch_list_in": "subject"})], "rules[0].conditions.watch_list_in"),
        ([rule({"unedited_stock": 1})], "rules[0].conditions.unedited_stock"),
        ([rule({"followers_at_least": -1})], "rules[0].conditions.followers_at_least"),
        ([rule({"followers_at_least": 1.5})], "rules[0].conditions.followers_at_least"),
        ([rule({"outside_business_hours": None})], "rules[0].conditions.outside_business_hours"),
        (
            [rule({"author_approved_fewer_than": 0})],
            "rules[0].conditions.author_approved_fewer_than",
        ),
        ([{"conditions": {}}], "rules[0].outcome"),
        ([{"conditions": {}, "outcome": "maybe"}], "rules[0].outcome"),
        ([{"outcome": "needs_approval"}], "rules[0].steps"),
        ([{"outcome": "needs_approval", "steps": []}], "rules[0].steps"),
        ([{"outcome": "needs_approval", "steps": [{"role": "approver"}] * 11}], "rules[0].steps"),
        ([{"outcome": "needs_approval", "steps": ["legal"]}], "rules[0].steps[0]"),
        ([{"outcome": "needs_approval", "steps": [{"count": 2}]}], "rules[0].steps[0]"),
        (
            [{"outcome": "needs_approval", "steps": [{"role": "approver", "team_id": 3}]}],
            "rules[0].steps[0]",
        ),
        ([{"outcome": "needs_approval", "steps": [{"role": "ceo"}]}], "rules[0].steps[0].role"),
        (
            [{"outcome": "needs_approval", "steps": [{"role": "approver"}, {"team_id": "legal"}]}],
            "rules[0].steps[1].team_id",
        ),
        (
            [{"outcome": "needs_approval", "steps": [{"role": "approver", "count": 0}]}],
            "rules[0].steps[0].count",
        ),
        (
            [{"outcome": "needs_approval", "steps": [{"role": "approver", "count": "some"}]}],
            "rules[0].steps[0].count",
        ),
        (
            [{"outcome": "needs_approval", "steps": [{"role": "approver", "count": True}]}],
            "rules[0].steps[0].count",
        ),
        (
            [{"outcome": "needs_approval", "steps": [{"role": "approver", "who": "Ann"}]}],
            "rules[0].steps[0].who",
        ),
        ([{"outcome": "publish", "steps": [{"role": "approver"}]}], "rules[0].steps"),
        ([{"outcome": "blocked", "reason": 42}], "rules[0].reason"),
        ([{"outcome": "blocked", "reason": "x" * 301}], "rules[0].reason"),
    ],
)
def test_validate_rules_names_the_field_at_fault(raw, field):
    with pytest.raises(ValidationError) as caught:
        validate_rules(raw)
    assert caught.value.field == field
    assert caught.value.message[0].isupper() and caught.value.message.endswith(".")


def test_validate_rules_explains_in_words():
    with pytest.raises(
        ValidationError,
        match=r"^The sentiment threshold must be a number from "
        r"-1 to 1\.$",
    ):
        validate_rules([rule({"sentiment_below": "low"})])


def test_validate_rules_normalises():
    raw = [
        {
            "conditions": {"intents": ["complaint", "complaint"], "sentiment_below": -1},
            "outcome": "needs_approval",
            "steps": [{"role": "approver"}, {"team_id": 7, "count": "all"}],
            "reason": "  an   unhappy\nfan ",
        },
        {"outcome": "blocked", "steps": [], "reason": "   "},
    ]
    assert validate_rules(raw) == [
        {
            "conditions": {"intents": ["complaint"], "sentiment_below": -1.0},
            "outcome": "needs_approval",
            "steps": [{"role": "approver", "count": 1}, {"team_id": 7, "count": "all"}],
            "reason": "an unhappy fan",
        },
        {"conditions": {}, "outcome": "blocked"},
    ]
    assert validate_rules([]) == []


# --- step counting -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "approvals", "pool", "satisfied"),
    [
        (1, 0, 5, False),
        (1, 1, 5, True),
        (2, 1, 5, False),
        (2, 2, 5, True),
        (3, 2, 2, False),  # a pool smaller than N waits; the bar is not lowered
        ("all", 2, 3, False),
        ("all", 3, 3, True),
        ("all", 2, 2, True),  # the pool as it is now, after someone left
        ("all", 0, 0, False),  # nobody to approve satisfies nothing
        (0, 5, 5, False),
        ("some", 5, 5, False),
        (True, 5, 5, False),
    ],
)
def test_step_satisfied(count, approvals, pool, satisfied):
    assert step_satisfied({"role": "approver", "count": count}, approvals, pool) is satisfied


def test_a_step_without_a_count_needs_one():
    assert step_satisfied({"team_id": 3}, 1, 4)
    assert not step_satisfied({"team_id": 3}, 0, 4)


# --- watch lists -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words", "found"),
    [
        ("I want a refund", ["refund"], ("refund",)),
        ("I want REFUNDS", ["refund"], ()),  # whole words only
        ("I want REFUNDS", ["refund", "refunds"], ("refunds",)),
        ("a prerefund", ["refund"], ()),
        ("refund_policy", ["refund"], ()),
        ("Refund?! Now.", ["refund"], ("refund",)),
        ("(refund)", ["refund"], ("refund",)),
        ("refund-policy", ["refund"], ("refund",)),
        ("Store   closing soon", ["store closing"], ("store closing",)),
        ("store\nclosing", ["store closing"], ("store closing",)),
        ("store, closing", ["store closing"], ()),
        ("the store is closing", ["store closing"], ()),
        ("Le CAFÉ ferme", ["café"], ("café",)),
        ("des cafés", ["café"], ()),
        ("so viel ÄRGER!", ["ärger"], ("ärger",)),
        ("cafe\u0301 au lait", ["café"], ("café",)),  # decomposed accent
        ("we don’t care", ["don't care"], ("don't care",)),
        (
            "Lawsuit and refund",
            ["refund", "lawsuit", "Refund", "", "  ", 42],
            ("refund", "lawsuit"),
        ),
        ("nothing to see", ["refund"], ()),
        ("anything", [], ()),
    ],
)
def test_watch_list_matches(text, words, found):
    assert watch_list_matches(text, words) == found


# --- stock response placeholders --------------------------------------------------------------

KNOWN = ("fan_name", "channel_name", "agent_name")


def test_unknown_placeholders_are_found():
    template = "Hi {fan_name}, your order {order_id} ships on {date}. — {agent_name}"
    assert unknown_placeholders(template, KNOWN) == {"order_id", "date"}
    assert unknown_placeholders("Hi {fan_name}! {{not_a_placeholder}}", KNOWN) == set()


@pytest.mark.parametrize(
    "template", ["Hi {fan name}", "50% off }", "Hi {", "Hi {}", "{ fan_name }", "{1st}"]
)
def test_braces_that_make_no_placeholder_are_refused(template):
    with pytest.raises(TemplateError, match=r"at character \d+"):
        unknown_placeholders(template, KNOWN)
    with pytest.raises(ValueError):
        fill_placeholders(template, {})
    assert not is_unedited_stock(template, template, {})


def test_fill_placeholders_fills_what_it_knows_and_leaves_the_rest():
    template = "Hi {fan_name}! Your {thing} is ready {{really}}. {fan_name}, enjoy."
    assert fill_placeholders(template, {"fan_name": "Ann"}) == (
        "Hi Ann! Your {thing} is ready {really}. Ann, enjoy."
    )


TEMPLATE = "Hi {fan_name}, thanks for asking about {topic}! — {agent_name}"
VALUES = {"fan_name": "Ann", "agent_name": "Bernie"}


@pytest.mark.parametrize(
    ("text", "unedited"),
    [
        ("Hi Ann, thanks for asking about the signing! — Bernie", True),
        ("Hi Ann, thanks for asking about it! — Bernie\r\n", True),  # trailing newline
        ("  Hi Ann, thanks for asking about  our   new store ! — Bernie", True),
        ("Hi Ann, thanks for asking about the signing? — Bernie", False),  # one character
        ("Hi Ann, thanks for asking about the signing! — Bernie. PS: 50% off!", False),
        ("Hi Ann, thanks for asking about ! — Bernie", False),  # placeholder not filled
        ("Hi Ann, thanks for asking about   ! — Bernie", False),  # filled with blanks
        ("Hi Annie, thanks for asking about the signing! — Bernie", False),  # known value changed
        ("Hi Ann, thanks for asking about {topic}! — Bernie", True),  # the drafting code refuses it
    ],
)
def test_is_unedited_stock(text, unedited):
    assert is_unedited_stock(TEMPLATE, text, VALUES) is unedited


def test_is_unedited_stock_with_escaped_braces_and_line_breaks():
    template = "Use code {{SAVE10}} at checkout,\n{fan_name}."
    assert is_unedited_stock(template, "Use code {SAVE10} at checkout,\r\nAnn.", VALUES)
    assert not is_unedited_stock(template, "Use code {{SAVE10}} at checkout,\nAnn.", VALUES)


def test_consecutive_placeholders_each_need_some_text():
    template = "{greeting}{name}!"
    assert is_unedited_stock(template, "Hi Ann!", {})
    assert is_unedited_stock(template, "xy!", {})
    assert not is_unedited_stock(template, "x!", {})
    assert not is_unedited_stock(template, "!", {})


def test_a_repeated_placeholder_and_a_template_without_any():
    assert is_unedited_stock("{a} and {a}", "one and two", {})
    assert is_unedited_stock("Thanks!", " Thanks!\n", {})
    assert not is_unedited_stock("Thanks!", "Thanks!!", {})


def test_matching_has_no_catastrophic_backtracking():
    template = "{a} {b} {c} {d} {e} {f} {g} {h}!"
    assert not is_unedited_stock(template, "x " * 20_000 + "?", {})


# --- properties --------------------------------------------------------------------------

rule_like = st.fixed_dictionaries(
    {},
    optional={
        "conditions": json_objects([*CONDITIONS, "mood"]) | JSON_VALUES,
        "outcome": st.sampled_from(OUTCOMES) | JSON_VALUES,
        "steps": st.lists(json_objects(["role", "team_id", "count"]), max_size=3) | JSON_VALUES,
        "reason": st.text(max_size=30) | JSON_VALUES,
    },
)
any_rules = st.lists(rule_like | JSON_VALUES, max_size=5) | JSON_VALUES

any_facts = st.builds(
    Facts,
    author_roles=st.frozensets(st.sampled_from(ROLES) | st.text(max_size=5)),
    author_trusted=st.booleans(),
    author_approved_count=st.integers(),
    channel_id=st.integers(),
    category=st.none() | st.sampled_from(CATEGORIES) | st.text(max_size=5),
    intent=st.none() | st.sampled_from(INTENTS) | st.text(max_size=5),
    sentiment=st.none() | st.floats(),
    message_text=st.text(),
    draft_text=st.text(),
    unedited_stock=st.booleans(),
    followers=st.none() | st.integers(),
    at=st.datetimes(timezones=st.timezones()),
    business_hours=st.none()
    | st.just(OFFICE_HOURS)
    | json_objects(["timezone", "hours", "holidays", "colour"]),
    watch_list=st.lists(st.text(max_size=12)).map(tuple),
)


@given(any_rules, any_facts)
def test_evaluate_never_raises(rules, facts_):
    verdict = evaluate(rules, facts_, policy_label=LABEL)
    assert verdict.outcome in OUTCOMES
    assert verdict.reason.endswith(LABEL)
    assert "could not be applied" not in verdict.reason  # the safety net never caught a bug
    if verdict.outcome == "needs_approval":
        assert verdict.steps
    if verdict.rule_number is None:
        assert (verdict.outcome, verdict.steps) == ("needs_approval", ONE_APPROVER)


@given(any_rules)
def test_validate_rules_accepts_or_names_a_field(rules):
    try:
        normalised = validate_rules(rules)
    except ValidationError as error:
        assert error.field is not None and error.field.startswith("rules")
    else:
        assert validate_rules(normalised) == normalised
        assert evaluate(normalised, PLAIN, policy_label=LABEL) == evaluate(
            rules, PLAIN, policy_label=LABEL
        )


VALID_CONDITIONS = {
    "author_trusted": st.booleans(),
    "author_roles": st.lists(st.sampled_from(ROLES), min_size=1, max_size=2),
    "channel_ids": st.lists(st.integers(1, 4), min_size=1, max_size=2),
    "categories": st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=2),
    "intents": st.lists(st.sampled_from(INTENTS), min_size=1, max_size=2),
    "sentiment_below": st.floats(-1, 1),
    "watch_list_in": st.sampled_from(WATCH_PLACES),
    "unedited_stock": st.booleans(),
    "followers_at_least": st.integers(0, 2000),
    "outside_business_hours": st.booleans(),
    "author_approved_fewer_than": st.integers(1, 20),
}
counts = st.integers(1, 3) | st.just("all")
steps = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(ROLES), "count": counts})
    | st.fixed_dictionaries({"team_id": st.integers(1, 9), "count": counts}),
    min_size=1,
    max_size=3,
)
valid_conditions = st.fixed_dictionaries({}, optional=VALID_CONDITIONS)
valid_rule = (
    st.builds(rule, valid_conditions, st.sampled_from(["publish", "blocked"]))
    | st.builds(rule, valid_conditions, st.just("needs_approval"), steps)
    | st.builds(rule, valid_conditions, st.sampled_from(OUTCOMES), st.none(), st.text(max_size=20))
)
WORDS = ["refund", "Refund!", "store closing", "Store  Closing", "hello", "thanks", "café"]
texts = st.lists(st.sampled_from(WORDS), max_size=4).map(" ".join)
realistic_facts = st.builds(
    Facts,
    author_roles=st.frozensets(st.sampled_from(ROLES)),
    author_trusted=st.booleans(),
    author_approved_count=st.integers(0, 25),
    channel_id=st.integers(1, 4),
    category=st.none() | st.sampled_from(CATEGORIES),
    intent=st.none() | st.sampled_from(INTENTS),
    sentiment=st.none() | st.floats(-1, 1),
    message_text=texts,
    draft_text=texts,
    unedited_stock=st.booleans(),
    followers=st.none() | st.integers(0, 3000),
    at=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
    ),
    business_hours=st.none() | st.just(OFFICE_HOURS),
    watch_list=st.lists(st.sampled_from(["refund", "store closing", "café", "lawyer"])).map(tuple),
)


def reference_holds(conditions: dict, f: Facts) -> bool:
    """Each condition as PRODUCT.md words it, written out independently of the engine."""
    checks = []
    for name, value in conditions.items():
        if name == "author_trusted":
            checks.append(f.author_trusted is value)
        elif name == "author_roles":
            checks.append(any(role in f.author_roles for role in value))
        elif name == "channel_ids":
            checks.append(f.channel_id in value)
        elif name == "categories":
            checks.append(f.category in value)
        elif name == "intents":
            checks.append(f.intent in value)
        elif name == "sentiment_below":
            checks.append(f.sentiment is not None and f.sentiment < value)
        elif name == "watch_list_in":
            texts_ = {
                "message": [f.message_text],
                "draft": [f.draft_text],
                "either": [f.message_text, f.draft_text],
            }[value]
            checks.append(any(watch_list_matches(t, f.watch_list) for t in texts_))
        elif name == "unedited_stock":
            checks.append(f.unedited_stock is value)
        elif name == "followers_at_least":
            checks.append(f.followers is not None and f.followers >= value)
        elif name == "outside_business_hours":
            staffed = f.business_hours is None or is_open(f.business_hours, f.at)
            checks.append((not staffed) is value)
        elif name == "author_approved_fewer_than":
            checks.append(f.author_approved_count < value)
    return all(checks)


@given(st.lists(valid_rule, max_size=6), realistic_facts)
def test_the_first_rule_whose_conditions_hold_decides(rules, f):
    holding = [conditions_hold(r, f) for r in rules]
    assert holding == [reference_holds(r["conditions"], f) for r in rules]
    verdict = evaluate(rules, f, policy_label=LABEL)
    first = next((i for i, holds in enumerate(holding) if holds), None)
    if first is None:
        assert verdict == Verdict("needs_approval", None, ONE_APPROVER, DEFAULT_REASON)
    else:
        decider = rules[first]
        assert verdict.rule_number == first + 1
        assert verdict.outcome == decider["outcome"]
        assert list(verdict.steps) == decider.get("steps", [])
        assert verdict.reason.endswith(f" — rule {first + 1} of {LABEL}")
    assert validate_rules(rules) is not None


NAMES = ["fan_name", "agent_name", "topic", "date"]
no_braces = st.text(st.characters(blacklist_characters="{}"), max_size=15)
literal = no_braces | st.sampled_from(["{{", "}}"])
template_parts = st.lists(
    literal | st.sampled_from(NAMES).map(lambda n: "{" + n + "}"), max_size=8
).map("".join)
non_blank = st.tuples(
    no_braces, st.characters(blacklist_characters="{}").filter(lambda c: not c.isspace()), no_braces
).map("".join)


@given(
    template_parts,
    st.dictionaries(st.sampled_from(NAMES), no_braces),
    st.fixed_dictionaries({name: non_blank for name in NAMES}),
)
def test_a_stock_response_with_only_its_placeholders_filled_is_unedited(template, values, by_hand):
    # respondr fills what it knows; the agent fills the rest with any text that is not blank.
    text = fill_placeholders(template, by_hand | values)
    assert is_unedited_stock(template, text, values)
    everything = {name: values.get(name, "") for name in NAMES}
    assert is_unedited_stock(template, fill_placeholders(template, everything), everything)
