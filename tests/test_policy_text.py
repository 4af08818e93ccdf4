"""Policy rules in plain words."""

from __future__ import annotations

from respondr.domain import policy
from respondr.domain.policy_text import CONDITION_HELP, OUTCOME_HELP, describe_rule, describe_steps


def test_every_condition_and_outcome_has_a_line_of_help():
    assert list(CONDITION_HELP) == list(policy.CONDITIONS)
    assert tuple(OUTCOME_HELP) == policy.OUTCOMES


def test_a_complaint_rule_reads_as_a_sentence():
    rule = {
        "conditions": {"intents": ["complaint"]},
        "outcome": "needs_approval",
        "steps": [{"role": "approver"}],
    }
    assert describe_rule(rule) == "If the message is a complaint → needs approval from 1 approver"


def test_several_conditions_and_steps_name_channels_and_teams():
    rule = {
        "conditions": {
            "author_roles": ["agent"],
            "channel_ids": [1, 2],
            "followers_at_least": 10000,
        },
        "outcome": "needs_approval",
        "steps": [{"role": "manager", "count": 2}, {"team_id": 3, "count": "all"}],
    }
    assert describe_rule(rule, channels={1: "Bernie the Bookworm"}, teams={3: "Legal"}) == (
        "If the author is an agent and the message came in on Bernie the Bookworm or channel 2"
        " and the fan has at least 10,000 followers"
        " → needs approval from 2 managers, then every member of Legal"
    )


def test_rules_without_conditions_and_blocking_rules():
    assert describe_rule({"outcome": "publish"}) == "Always → publishes freely"
    assert describe_rule({"conditions": {"watch_list_in": "draft"}, "outcome": "blocked"}) == (
        "If the reply contains a watch-listed word → blocked until the agent edits it"
    )


def test_an_unreadable_rule_says_it_holds_the_reply():
    assert describe_rule({"conditions": {"sentiment_below": 5}, "outcome": "publish"}) == (
        "Cannot be read (the sentiment threshold must be a number from -1 to 1): "
        "a reply reaching this rule needs one approver"
    )


def test_steps_count_one_many_and_all():
    assert describe_steps([{"team_id": 7, "count": 1}, {"role": "admin", "count": "all"}]) == (
        "1 member of team 7, then every admin"
    )
