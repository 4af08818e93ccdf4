"""What an inbox page costs the database: a fixed handful of statements however many rows
it shows, and an API caller's token check records its use even on a read-only call."""

from __future__ import annotations

from sqlalchemy import select

from respondr.domain import accounts
from respondr.models import ApiToken
from respondr.timeutil import utcnow
from tests.conftest import sign_in
from tests.test_ingest_batching import statements


def selects(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


def fill_inbox(db, make_user, make_channel, make_message, count: int) -> None:
    """``count`` messages from different fans, some claimed and some assigned."""
    claimer, assignee = make_user(), make_user()
    channel = make_channel()
    for i in range(count):
        message = make_message(channel, text=f"question {i}", handle=f"fan{i}")
        if i % 3 == 0:
            message.claimed_by, message.claimed_at = claimer, utcnow()
        elif i % 3 == 1:
            message.assignee = assignee
    db.commit()


def api_page_selects(client, db, headers) -> int:
    db.expunge_all()  # as in a new request: nothing already in the session
    with statements(db) as seen:
        answer = client.get("/api/v1/messages", headers=headers)
    assert answer.status_code == 200
    return len(selects(seen))


def test_an_api_page_costs_the_same_statements_for_3_rows_or_50(
    client, db, make_user, make_channel, make_message
):
    user = make_user()
    token = accounts.create_api_token(db, user, actor=None, now=utcnow())
    db.commit()
    headers = {"Authorization": f"Bearer {token}"}
    fill_inbox(db, make_user, make_channel, make_message, 3)
    client.get("/api/v1/messages", headers=headers)  # records the token's first use
    small = api_page_selects(client, db, headers)
    fill_inbox(db, make_user, make_channel, make_message, 47)
    large = api_page_selects(client, db, headers)

    page = client.get("/api/v1/messages", headers=headers).json["messages"]
    assert len(page) == 50
    assert {m["claimed_by"]["name"] for m in page if m["claimed_by"]} and page[0]["author"]
    # The token with its user and roles, then the page with its fans, channels and people.
    assert small == large == 2


def test_the_web_inbox_costs_the_same_statements_for_3_rows_or_50(
    client, db, make_user, make_channel, make_message
):
    name = make_user(email="agent@example.com").name
    sign_in(client, "agent@example.com")
    fill_inbox(db, make_user, make_channel, make_message, 3)
    db.expunge_all()
    with statements(db) as small:
        assert client.get("/").status_code == 200
    fill_inbox(db, make_user, make_channel, make_message, 47)
    db.expunge_all()
    with statements(db) as large:
        page = client.get("/")
    assert page.status_code == 200 and "claimed by" in page.get_data(as_text=True)
    assert len(selects(small)) == len(selects(large))
    assert name in page.get_data(as_text=True)  # the people list still names everyone


def test_a_read_only_api_call_records_the_tokens_last_use(client, db, make_user):
    user = make_user()
    token = accounts.create_api_token(db, user, actor=None, now=utcnow())
    db.commit()

    assert client.get("/api/v1/messages", headers={"Authorization": f"Bearer {token}"}).json
    db.rollback()  # whatever the request left uncommitted is gone

    stored = db.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert stored.last_used_at is not None
