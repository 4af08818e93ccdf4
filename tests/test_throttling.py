"""Sign-in throttling: failures per account and per address, Retry-After, never honest users.

Each test builds its own app (its own limiter and counters) on the session's database, so
the counters it fills never reach another test; the shared test app keeps throttling on.
"""

from __future__ import annotations

import logging
import os
import uuid

import pytest
import requests

from tests.conftest import make_app, sign_in
from tests.factories import PASSWORD

WRONG = "not-the-password"


@pytest.fixture
def fresh_app(database_url, tmp_path, db):
    def build(**config):
        return make_app(database_url, tmp_path / uuid.uuid4().hex, **config)

    return build


def client_from(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def unique_email() -> str:
    return f"fan-{uuid.uuid4().hex[:10]}@example.com"


def test_the_shared_test_app_throttles_by_default(app):
    assert app.config["RATELIMIT_ENABLED"] is True
    assert app.config["SIGN_IN_LIMIT_ACCOUNT"] == "5 per 15 minutes"


def test_five_failures_lock_the_account_for_a_while_with_retry_after(fresh_app, make_user):
    app = fresh_app()
    user = make_user(email=unique_email())
    other = make_user(email=unique_email())
    for n in range(5):  # from five different addresses: the account limit still counts them
        response = sign_in(client_from(app, f"192.0.2.{n + 1}"), user.email, WRONG)
        assert response.status_code == 401
    refused = sign_in(client_from(app, "192.0.2.99"), user.email, PASSWORD)
    assert refused.status_code == 429
    assert 840 <= int(refused.headers["Retry-After"]) <= 900
    page = refused.get_data(as_text=True)
    assert "Too many failed sign-ins for this account. Try again in 15 minutes." in page
    assert client_from(app, "192.0.2.99").get("/").status_code == 302  # not signed in
    # Another account from the same addresses is not affected.
    assert sign_in(client_from(app, "192.0.2.1"), other.email).status_code == 302


def test_twenty_failures_from_one_address_stop_that_address_only(fresh_app, make_user):
    app = fresh_app()
    user = make_user(email=unique_email())
    attacker = client_from(app, "198.51.100.7")
    for _ in range(20):  # a different made-up account each time: the address limit counts
        assert sign_in(attacker, unique_email(), WRONG).status_code == 401
    refused = sign_in(attacker, user.email, PASSWORD)
    assert refused.status_code == 429
    assert "from your network" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0
    assert sign_in(client_from(app, "198.51.100.8"), user.email).status_code == 302


def test_successful_sign_ins_never_count(fresh_app, make_user):
    app = fresh_app()
    user = make_user(email=unique_email())
    for _ in range(30):
        client = client_from(app, "203.0.113.5")
        assert sign_in(client, user.email).status_code == 302


def test_a_successful_sign_in_forgets_the_accounts_earlier_mistakes(fresh_app, make_user):
    app = fresh_app()
    user = make_user(email=unique_email())
    for _round in range(3):  # 4 typos then success, three times: 12 typos, never locked out
        for _ in range(4):
            assert sign_in(client_from(app, "203.0.113.9"), user.email, WRONG).status_code == 401
        assert sign_in(client_from(app, "203.0.113.9"), user.email).status_code == 302


def test_throttling_can_be_switched_off_explicitly(fresh_app, make_user):
    app = fresh_app(RATELIMIT_ENABLED=False)
    user = make_user(email=unique_email())
    for _ in range(8):
        assert sign_in(client_from(app, "203.0.113.20"), user.email, WRONG).status_code == 401
    assert sign_in(client_from(app, "203.0.113.20"), user.email).status_code == 302


def test_counters_in_redis_are_shared_by_every_app_server(fresh_app, make_user):
    redis_url = os.environ.get("RESPONDR_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("RESPONDR_TEST_REDIS_URL is not set")
    first, second = fresh_app(REDIS_URL=redis_url), fresh_app(REDIS_URL=redis_url)
    assert first.config["RATELIMIT_STORAGE_URI"] == redis_url
    user = make_user(email=unique_email())
    address = f"2001:db8::{uuid.uuid4().hex[:4]}"
    for n in range(5):
        server = first if n % 2 else second
        assert sign_in(client_from(server, address), user.email, WRONG).status_code == 401
    assert sign_in(client_from(first, address), user.email).status_code == 429
    assert sign_in(client_from(second, address), user.email).status_code == 429


def test_an_unreachable_counter_store_does_not_lock_people_out(fresh_app, make_user, caplog):
    app = fresh_app(RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    user = make_user(email=unique_email())
    with caplog.at_level(logging.WARNING):
        assert sign_in(client_from(app, "203.0.113.30"), user.email, WRONG).status_code == 401
        assert sign_in(client_from(app, "203.0.113.30"), user.email).status_code == 302
    assert "sign-in throttle unavailable" in caplog.text


def test_throttling_over_real_http(live_server):
    from respondr.domain import accounts
    from respondr.extensions import db
    from respondr.timeutil import utcnow

    email = unique_email()
    with live_server.app.app_context():
        accounts.create_user(
            db.session,
            email=email,
            name="Real",
            roles="agent",
            password=PASSWORD,
            actor=None,
            now=utcnow(),
        )
        db.session.commit()
    browser = requests.Session()

    def attempt(password: str) -> requests.Response:
        page = browser.get(live_server.url + "/login", timeout=10)
        token = page.text.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
        return browser.post(
            live_server.url + "/login",
            data={"email": email, "password": password, "csrf_token": token},
            allow_redirects=False,
            timeout=10,
        )

    assert [attempt(WRONG).status_code for _ in range(5)] == [401] * 5
    refused = attempt(PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in refused.text
