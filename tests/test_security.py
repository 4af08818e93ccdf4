"""The security suite: CSRF on every state-changing route, cookies, sessions, redirects,
security headers and API tokens. Routes come from the URL map, so new ones are covered.

(tests/test_auth.py covers the basics of sign-in; tests/test_permissions.py who may use
which route; tests/test_throttling.py, test_submission_keys.py and test_hostile_text.py
the rest of the suite.)
"""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import String, Text, func, select

from respondr.domain import accounts
from respondr.models import ROLES, ApiToken, Base
from respondr.timeutil import utcnow
from tests import factories
from tests.conftest import csrf_token, make_app, sign_in
from tests.factories import PASSWORD
from tests.url_map import routes, seed, url_for_rule

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_REFUSED = "The form has expired or was not sent from respondr"


def row_counts(db) -> dict[str, int]:
    return {
        name: db.scalar(select(func.count()).select_from(table))
        for name, table in Base.metadata.tables.items()
    }


def state_changing_routes(app):
    """Every unsafe route a browser session can reach (the public API webhooks are signed
    by their senders instead, and carry no session)."""
    for rule, method in routes(app):
        view = app.view_functions[rule.endpoint]
        if method in UNSAFE and not (rule.rule.startswith("/api/") and view.required_roles is None):
            yield rule, method


def test_every_state_changing_route_refuses_a_request_without_a_csrf_token(app, client, db):
    values = seed(db)
    factories.create_user(db, roles=ROLES, email="everyone@example.com")
    assert sign_in(client, "everyone@example.com").status_code == 302
    before = row_counts(db)
    checked = []
    for rule, method in state_changing_routes(app):
        url = url_for_rule(rule, values)
        if rule.rule.startswith("/api/"):
            response = client.open(url, method=method, json={})  # no X-CSRFToken header
        else:
            response = client.open(url, method=method, data={"text": "x"})
        assert response.status_code == 400, f"{method} {rule.rule} -> {response.status_code}"
        assert CSRF_REFUSED in response.get_data(as_text=True), rule.rule
        checked.append(rule.endpoint)
    assert row_counts(db) == before  # nothing was changed by any of them
    assert {"inbox.claim", "drafts.approve", "admin.new_user", "auth.logout"} <= set(checked)
    assert any(endpoint.startswith("api.") for endpoint in checked)


def test_a_csrf_token_from_another_session_is_refused(app, client, db, make_user):
    make_user(email="bernie@example.com")
    other = app.test_client()
    stolen = csrf_token(other, "/login")
    sign_in(client, "bernie@example.com")
    response = client.post("/account/availability", data={"csrf_token": stolen})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("base_url", "headers", "env", "expected"),
    [
        ("https://respondr.test", {}, {}, True),
        ("http://respondr.test", {}, {}, False),
        ("http://respondr.test", {}, {"SECURE_COOKIES": "1"}, True),
        # Behind one trusted proxy that ended TLS:
        ("http://respondr.test", {"X-Forwarded-Proto": "https"}, {"TRUST_PROXY_HOPS": "1"}, True),
        # The same header from a client talking to us directly is not believed:
        ("http://respondr.test", {"X-Forwarded-Proto": "https"}, {}, False),
    ],
)
def test_session_cookie_is_secure_when_served_over_https(
    database_url, tmp_path, db, make_user, monkeypatch, base_url, headers, env, expected
):
    for name in ("SECURE_COOKIES", "TRUST_PROXY_HOPS"):
        monkeypatch.setenv(name, env.get(name, ""))
    app = make_app(database_url, tmp_path)
    make_user(email="bernie@example.com")
    client = app.test_client()
    token = csrf_token(client, "/login")
    response = client.post(
        "/login",
        data={"email": "bernie@example.com", "password": PASSWORD, "csrf_token": token},
        base_url=base_url,
        # What a browser sends from the HTTPS page (CSRF checks the Referer over HTTPS).
        headers={"Referer": "https://respondr.test/login", **headers},
    )
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("; Secure" in cookie) is expected


def test_sign_in_starts_a_new_session(client, make_user):
    make_user(email="bernie@example.com")
    before_token = csrf_token(client, "/login")
    with client.session_transaction() as session:
        session["planted"] = "by someone else before sign-in"
    before_cookie = client.get_cookie("session", domain="respondr.test").value
    sign_in(client, "bernie@example.com")
    assert client.get_cookie("session", domain="respondr.test").value != before_cookie
    with client.session_transaction() as session:
        assert "planted" not in session
    # The token of the signed-out session no longer works.
    response = client.post("/account/availability", data={"csrf_token": before_token})
    assert response.status_code == 400


def test_a_copied_session_cookie_dies_at_sign_out(client, make_user):
    make_user(email="bernie@example.com")
    sign_in(client, "bernie@example.com")
    copied = client.get_cookie("session", domain="respondr.test").value
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    client.set_cookie("session", copied, domain="respondr.test")
    assert client.get("/").status_code == 302  # the copy signs nobody in


@pytest.mark.parametrize(
    "target",
    [
        "javascript:alert(1)",
        "http:/evil.example",
        "/\t/evil.example",
        "\t//evil.example",
        "/\n/evil.example",
        " //evil.example",
        "///evil.example",
        "https:evil.example",
        "data:text/html,<script>alert(1)</script>",
    ],
)
def test_next_never_leaves_the_site(client, make_user, target):
    make_user(email="bernie@example.com")
    token = csrf_token(client, "/login")
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": "bernie@example.com", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_security_headers(response, where: str) -> None:
    headers = response.headers
    csp = csp_directives(headers.get("Content-Security-Policy", ""))
    script_sources = csp.get("script-src", csp.get("default-src"))
    assert script_sources, where
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:"} & set(script_sources), where
    assert csp.get("object-src") == ["'none'"], where
    assert csp.get("frame-ancestors") == ["'none'"], where
    assert csp.get("base-uri") == ["'none'"], where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") in {"same-origin", "no-referrer", "strict-origin"}, where
    response.close()  # static files answer with an open file


def test_every_page_and_answer_carries_the_security_headers(app, client, db):
    values = seed(db)
    factories.create_user(db, roles=ROLES, email="everyone@example.com")
    for rule, method in routes(app):  # signed out: sign-in redirects and 401s
        if method == "GET":
            path = url_for_rule(rule, values)
            assert_security_headers(client.get(path), f"anonymous {path}")
    sign_in(client, "everyone@example.com")
    for rule, method in routes(app):
        if method == "GET":
            path = url_for_rule(rule, values)
            assert_security_headers(client.get(path), path)
    for path in ("/no-such-page", "/api/v1/no-such-thing", "/static/css/app.css"):
        assert_security_headers(client.get(path), path)
    assert_security_headers(client.post("/logout"), "CSRF refusal")


def test_api_tokens_are_stored_hashed_and_never_logged(client, db, make_user, caplog):
    user = make_user(email="bot@example.com", roles="agent")
    token = accounts.create_api_token(db, user, name="ci", actor=None, now=utcnow())
    db.commit()
    with caplog.at_level(logging.DEBUG):
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["email"] == "bot@example.com"
    assert token not in caplog.text
    # No text column of any table holds the token, or its secret part.
    secret = token.removeprefix("rsp_")
    for table in Base.metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, String | Text):
                found = db.scalar(
                    select(func.count()).select_from(table).where(column.contains(secret[:16]))
                )
                assert found == 0, f"{table.name}.{column.name} holds the token"
    stored = db.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert re.fullmatch(r"[0-9a-f]{64}", stored.token_hash)


def test_a_token_stops_working_when_revoked_or_its_user_is_deactivated(client, db, make_user):
    user = make_user(email="bot@example.com", roles="agent")
    first = accounts.create_api_token(db, user, actor=None, now=utcnow())
    second = accounts.create_api_token(db, user, actor=None, now=utcnow())
    db.commit()

    def answer(token: str) -> int:
        return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code

    assert answer(first) == answer(second) == 200
    stored = db.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
    accounts.revoke_api_token(db, stored[0], actor=None, now=utcnow())
    db.commit()
    assert (answer(first), answer(second)) == (401, 200)
    accounts.deactivate(db, user, now=utcnow())
    db.commit()
    assert answer(second) == 401
