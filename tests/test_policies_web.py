"""The policies pages: channels pick a policy, rules are edited as new versions, try-it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from respondr.domain import drafting, stock
from respondr.domain.presets import ensure_presets
from respondr.models import (
    ApprovalPolicy,
    AuditEntry,
    Draft,
    PolicyVersion,
    Submission,
    WorkflowEvent,
)
from respondr.timeutil import utcnow
from tests.conftest import csrf_token, sign_in


@pytest.fixture
def presets(db):
    shipped = ensure_presets(db, now=utcnow())
    db.commit()
    return shipped


@pytest.fixture
def manager(client, make_user):
    mona = make_user(roles="manager", email="mona@example.com", name="Mona Manager")
    sign_in(client, "mona@example.com")
    return mona


def count(db, model, *where):
    return db.scalar(select(func.count()).select_from(model).where(*where))


def follow(db, channel, chosen):
    channel.policy = chosen
    db.commit()


def submitted(db, message, author, text="Thanks for telling us."):
    draft = drafting.save_draft(db, message, author=author, text=text, version=None, now=utcnow())
    submission = drafting.submit(db, draft, actor=author, now=utcnow())
    db.commit()
    return submission


def test_manager_picks_the_policy_a_channel_follows_and_it_is_audited(
    client, db, presets, manager, make_channel
):
    channel = make_channel(name="Bernie the Bookworm")
    trusted = presets["trusted-staff-free"]
    prefix = f"channel-{channel.id}-"
    response = client.post(
        f"/policies/channels/{channel.id}",
        data={
            prefix + "policy": str(trusted.id),
            prefix + "csrf_token": csrf_token(client, "/policies"),
        },
        follow_redirects=True,
    )
    assert "Bernie the Bookworm now follows Trusted staff free." in response.get_data(as_text=True)
    assert db.get(type(channel), channel.id).policy_id == trusted.id
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "channel.policy"))
    assert entry.actor_id == manager.id
    assert entry.details == {
        "channel": "Bernie the Bookworm",
        "policy": [None, "Trusted staff free"],
    }


def test_an_agent_is_refused_every_policies_page(client, db, presets, make_user, make_channel):
    make_user(roles="agent", email="bernie@example.com")
    sign_in(client, "bernie@example.com")
    policy_id = presets["risk-based"].id
    channel = make_channel()
    token = csrf_token(client, "/account")
    shown = ["/policies", f"/policies/{policy_id}", f"/policies/{policy_id}/versions/1"]
    forms = [
        "/policies/new",
        f"/policies/{policy_id}/edit",
        f"/policies/{policy_id}/try",
        f"/policies/channels/{channel.id}",
    ]
    for page in shown + forms[:-1]:
        assert client.get(page).status_code == 403, page
    for page in forms:
        assert client.post(page, data={"csrf_token": token}).status_code == 403, page


def test_policy_page_words_the_rules_and_lists_the_versions(client, presets, manager):
    page = client.get(f"/policies/{presets['risk-based'].id}").get_data(as_text=True)
    assert "If the message is a complaint → needs approval from 1 approver" in page
    assert "Tells the drafter: “the message is a complaint”" in page
    assert "as shipped" in page


def test_editing_rules_makes_version_2_and_old_submissions_keep_version_1(
    client, db, presets, manager, make_user, make_channel, make_message
):
    risk_based = presets["risk-based"]
    channel = make_channel()
    follow(db, channel, risk_based)
    agent = make_user(roles="agent")
    before = submitted(db, make_message(channel, text="Where is my order?"), agent)
    assert before.policy_version.number == 1

    rules = [{"conditions": {}, "outcome": "publish", "reason": "we trust everyone now"}]
    path = f"/policies/{risk_based.id}/edit"
    response = client.post(
        path,
        data={
            "rules": json.dumps(rules),
            "escalate_after_minutes": "30",
            "note": "Relax for the summer",
            "csrf_token": csrf_token(client, path),
        },
    )

    assert response.status_code == 302
    current = db.get(ApprovalPolicy, risk_based.id).current_version
    assert (current.number, current.escalate_after_minutes) == (2, 30)
    assert current.created_by_id == manager.id
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "policy.version"))
    assert entry.actor_id == manager.id
    assert entry.details == {"policy": "Risk-based", "version": 2, "note": "Relax for the summer"}
    assert db.get(Submission, before.id).policy_version.number == 1
    after = submitted(db, make_message(channel, text="Another order question"), agent)
    assert after.policy_version.number == 2 and after.outcome == "publish"
    old = client.get(f"/policies/{risk_based.id}/versions/1").get_data(as_text=True)
    assert "This is version 1" in old and "the message is a complaint" in old


@pytest.mark.parametrize(
    ("rules", "shown"),
    [
        ("[{", "This is not valid JSON: Expecting property name enclosed in double quotes"),
        (
            json.dumps(
                [
                    {"conditions": {}, "outcome": "publish"},
                    {"conditions": {"sentiment_below": 5}, "outcome": "blocked"},
                ]
            ),
            "rules[1].conditions.sentiment_below (rule 2): "
            "The sentiment threshold must be a number from -1 to 1.",
        ),
        (
            json.dumps(
                [{"outcome": "needs_approval", "steps": [{"team_id": 999999, "count": "all"}]}]
            ),
            "rules[0].steps[0].team_id (rule 1): There is no team 999999.",
        ),
    ],
    ids=["invalid JSON", "invalid rule", "unknown team"],
)
def test_bad_rules_are_shown_inline_and_nothing_is_written(
    client, db, presets, manager, rules, shown
):
    risk_based = presets["risk-based"]
    versions, entries = count(db, PolicyVersion), count(db, AuditEntry)
    path = f"/policies/{risk_based.id}/edit"
    response = client.post(
        path, data={"rules": rules, "note": "Oops", "csrf_token": csrf_token(client, path)}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'<small class="field-error" id="rules-error">{shown}' in page
    assert (count(db, PolicyVersion), count(db, AuditEntry)) == (versions, entries)


def test_try_it_says_which_rule_decides_and_saves_nothing(
    client, db, presets, manager, make_channel, make_message
):
    message = make_message(make_channel(), text="Your shop ruined my weekend")
    message.intent, message.sentiment_score = "complaint", 0.0
    db.commit()
    rows = [count(db, model) for model in (Submission, WorkflowEvent, Draft)]
    path = f"/policies/{presets['risk-based'].id}/try"
    response = client.post(
        path,
        data={
            "message": str(message.id),
            "author": str(manager.id),
            "stock_response": "",
            "text": "So sorry: we'll make it right.",
            "csrf_token": csrf_token(client, path),
        },
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "needs approval: the message is a complaint — rule 2 of Risk-based v1" in page
    assert "Rule 2: If the message is a complaint → needs approval from 1 approver" in page
    assert [count(db, model) for model in (Submission, WorkflowEvent, Draft)] == rows


def test_try_it_counts_an_unedited_pre_approved_stock_response(
    client, db, presets, manager, make_channel, make_message
):
    message = make_message(make_channel(), text="It's my birthday!", handle="lena")
    birthday = stock.create(
        db,
        title="Birthday",
        text="Happy birthday, {fan_name}!",
        category=None,
        pre_approved=True,
        actor=None,
        now=utcnow(),
    )
    db.commit()
    path = f"/policies/{presets['stock-responses-free'].id}/try"
    form = {
        "message": str(message.id),
        "author": str(manager.id),
        "stock_response": str(birthday.id),
        "csrf_token": csrf_token(client, path),
    }
    unedited = client.post(path, data={**form, "text": "Happy birthday, Lena!"})
    edited = client.post(path, data={**form, "text": "Happy birthday, Lena! Free coffee?"})
    assert "publishes freely: the reply is an unedited pre-approved stock response" in (
        unedited.get_data(as_text=True)
    )
    assert "rule 2 of Stock responses free v1" in edited.get_data(as_text=True)


def test_try_it_names_an_unknown_message_number(
    client, presets, manager, make_channel, make_message
):
    message = make_message(make_channel())
    path = f"/policies/{presets['open'].id}/try"
    response = client.post(
        path,
        data={
            "message": str(message.id),
            "message_id": "999999",
            "author": str(manager.id),
            "stock_response": "",
            "text": "Hello",
            "csrf_token": csrf_token(client, path),
        },
    )
    assert response.status_code == 400
    assert "There is no message #999999." in response.get_data(as_text=True)


def test_new_policy_starts_from_risk_based_and_a_clashing_name_is_refused(
    client, db, presets, manager
):
    page = client.get("/policies/new").get_data(as_text=True)
    assert "&#34;sentiment_below&#34;: -0.05" in page
    token = csrf_token(client, "/policies/new")
    rules = json.dumps(presets["open"].current_version.rules)
    clash = client.post(
        "/policies/new", data={"name": "risk-based", "rules": rules, "csrf_token": token}
    )
    assert clash.status_code == 400
    assert "A policy named &#39;Risk-based&#39; already exists." in clash.get_data(as_text=True)
    assert count(db, ApprovalPolicy) == len(presets)

    created = client.post(
        "/policies/new",
        data={"name": "Weekend cover", "rules": rules, "csrf_token": token},
    )
    assert created.status_code == 302
    weekend = db.scalar(select(ApprovalPolicy).where(ApprovalPolicy.slug == "weekend-cover"))
    assert weekend.current_version.created_by_id == manager.id
    assert not weekend.preset
