"""Signing in and out, passwords, reset links, sessions."""

from __future__ import annotations

from sqlalchemy import func, select

from respondr.models import AuditEntry, User
from tests.conftest import csrf_token, sign_in
from tests.factories import PASSWORD

SIGN_IN_FAILED = "That email and password do not match an active account."


def test_agent_signs_in_and_sees_the_inbox(client, make_user):
    make_user(email="bernie@example.com", name="Bernie")
    response = sign_in(client, "bernie@example.com")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Inbox" in page and "Bernie" in page


def test_wrong_password_and_unknown_user_get_the_same_answer(client, make_user):
    make_user(email="bernie@example.com")
    wrong_password = sign_in(client, "bernie@example.com", "not-the-password")
    unknown_user = sign_in(client, "nobody@example.com", PASSWORD)
    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert SIGN_IN_FAILED in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still signed out


def test_sign_in_without_csrf_token_is_refused(client, make_user):
    make_user(email="bernie@example.com")
    response = client.post("/login", data={"email": "bernie@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_empty_sign_in_form_shows_field_errors(client):
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": "", "password": "", "csrf_token": token})
    assert response.status_code == 400
    assert response.get_data(as_text=True).count('class="field-error"') == 2


def test_deactivated_user_cannot_sign_in(client, db, make_user):
    user = make_user(email="gone@example.com")
    user.is_active_account = False
    db.commit()
    assert sign_in(client, "gone@example.com").status_code == 401


def test_sign_out_ends_the_session(client, make_user):
    make_user(email="bernie@example.com")
    sign_in(client, "bernie@example.com")
    token = csrf_token(client, "/account")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_sign_out_needs_the_csrf_token(client, make_user):
    make_user(email="bernie@example.com")
    sign_in(client, "bernie@example.com")
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_next_redirects_only_to_local_paths(client, make_user):
    make_user(email="bernie@example.com")
    for target, expected in [
        ("/admin/audit", "/admin/audit"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
    ]:
        client.delete_cookie("session", domain="respondr.test")
        token = csrf_token(client, "/login")
        response = client.post(
            "/login",
            query_string={"next": target},
            data={"email": "bernie@example.com", "password": PASSWORD, "csrf_token": token},
        )
        assert response.headers["Location"] == expected, target


def test_session_cookie_is_httponly_and_samesite(client, make_user):
    make_user(email="bernie@example.com")
    response = sign_in(client, "bernie@example.com")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_user_changes_own_password_and_other_sessions_end(app, client, db, make_user):
    user = make_user(email="bernie@example.com")
    other_device = app.test_client()
    sign_in(other_device, "bernie@example.com")
    sign_in(client, "bernie@example.com")
    token = csrf_token(client, "/account")
    response = client.post(
        "/account",
        data={
            "current_password": PASSWORD,
            "new_password": "a-brand-new-pass",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200  # this session continues
    assert other_device.get("/").status_code == 302  # the other one ended
    assert user.check_password("a-brand-new-pass")
    assert db.scalar(select(func.count()).where(AuditEntry.action == "user.password_change")) == 1


def test_wrong_current_password_changes_nothing(client, db, make_user):
    user = make_user(email="bernie@example.com")
    sign_in(client, "bernie@example.com")
    token = csrf_token(client, "/account")
    response = client.post(
        "/account",
        data={
            "current_password": "wrong-password",
            "new_password": "a-brand-new-pass",
            "csrf_token": token,
        },
    )
    assert response.status_code == 400
    assert "not your current password" in response.get_data(as_text=True)
    assert user.check_password(PASSWORD)


def test_availability_toggles_away_and_back(client, db, make_user):
    user = make_user(email="bernie@example.com")
    sign_in(client, "bernie@example.com")
    token = csrf_token(client, "/account")
    client.post("/account/availability", data={"csrf_token": token, "next": "/account"})
    assert db.get(User, user.id).available is False
    client.post("/account/availability", data={"csrf_token": token})
    assert db.get(User, user.id).available is True
