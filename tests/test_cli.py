"""The respondr command line."""

from __future__ import annotations

import json

from sqlalchemy import select

from respondr.domain import accounts
from respondr.models import ApiToken, Channel, User
from respondr.timeutil import utcnow


def test_users_create_makes_a_user_who_can_sign_in(runner, db):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "maya@example.com",
            "--name",
            "Maya",
            "--roles",
            "agent,approver",
            "--trusted",
            "--password",
            "maya-password-1",
        ]
    )
    assert result.exit_code == 0, result.output
    maya = accounts.authenticate(db, "maya@example.com", "maya-password-1")
    assert maya is not None and maya.trusted and maya.roles == {"agent", "approver"}


def test_users_create_rejects_an_unknown_role_and_writes_nothing(runner, db):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "x@example.com",
            "--name",
            "X",
            "--roles",
            "agent,ceo",
            "--password",
            "long-enough-pw",
        ]
    )
    assert result.exit_code != 0
    assert "Unknown role ceo" in result.output and "(--roles)" in result.output
    assert db.scalar(select(User).where(User.email == "x@example.com")) is None


def test_token_is_printed_once_on_the_last_line_and_stored_hashed(runner, db, make_user):
    make_user(email="bot@example.com")
    result = runner.invoke(args=["tokens", "create", "--email", "bot@example.com"])
    assert result.exit_code == 0
    token = result.output.strip().splitlines()[-1]
    stored = db.scalar(select(ApiToken))
    assert token.startswith("rsp_") and token not in stored.token_hash
    assert accounts.user_for_api_token(db, token, now=utcnow()).email == "bot@example.com"

    result = runner.invoke(args=["tokens", "revoke", "--email", "bot@example.com"])
    assert "Revoked 1 token" in result.output
    assert accounts.user_for_api_token(db, token, now=utcnow()) is None


def test_channels_create_json_gives_id_and_secret(runner, db):
    result = runner.invoke(
        args=["channels", "create", "--name", "Jerry's blog", "--kind", "blog", "--json"]
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    channel = db.get(Channel, created["id"])
    assert channel.name == "Jerry's blog" and created["secret"] == channel.inbound_secret


def test_channels_create_rejects_an_unknown_kind(runner):
    result = runner.invoke(args=["channels", "create", "--name", "X", "--kind", "myspace"])
    assert result.exit_code != 0 and "Kind must be one of" in result.output


def test_reset_password_prints_a_working_one_time_link(app, runner, db, make_user):
    make_user(email="bernie@example.com")
    result = runner.invoke(args=["users", "reset-password", "--email", "bernie@example.com"])
    assert result.exit_code == 0
    link = result.output.strip().splitlines()[-1]
    assert link.startswith("http://127.0.0.1:5000/reset/")
    token = link.rsplit("/", 1)[1]
    accounts.reset_password(db, token, new="brand-new-password", now=utcnow())
    assert accounts.authenticate(db, "bernie@example.com", "brand-new-password") is not None


def test_reset_password_for_unknown_user_says_so(runner):
    result = runner.invoke(args=["users", "reset-password", "--email", "ghost@example.com"])
    assert result.exit_code != 0 and "No user with the email ghost@example.com" in result.output


def test_every_command_explains_itself(runner):
    for args in (
        ["init-db"],
        ["users", "create"],
        ["users", "reset-password"],
        ["tokens", "create"],
        ["tokens", "revoke"],
        ["channels", "create"],
        ["demo"],
        ["worker"],
        ["serve"],
    ):
        result = runner.invoke(args=[*args, "--help"])
        assert result.exit_code == 0
        assert len(result.output.split("Options:")[0].strip().splitlines()) >= 3, args


def test_report_latency_names_the_bottleneck_on_the_demo(runner, db):
    from respondr.domain import demo

    demo.load(db, now=utcnow(), only_if_empty=False)
    db.commit()
    table = runner.invoke(args=["report", "latency"])
    assert table.exit_code == 0, table.output
    lines = table.output.strip().splitlines()
    assert lines[-1].startswith("Bottleneck: Approval wait is ")
    assert lines[-1].endswith("% of time to first response")
    as_json = runner.invoke(args=["report", "latency", "--by", "channel", "--format", "json"])
    rows = json.loads(as_json.output)["rows"]
    assert {r["group"] for r in rows} == {"Bernie the Bookworm", "@BerniesBooks", "Jerry's blog"}
    assert all(r["approval_wait_count"] > 0 for r in rows)
    as_csv = runner.invoke(args=["report", "latency", "--format", "csv"])
    assert as_csv.output.splitlines()[0].startswith("group,received,answered,open")
    bad = runner.invoke(args=["report", "latency", "--by", "colour"])
    assert bad.exit_code != 0
