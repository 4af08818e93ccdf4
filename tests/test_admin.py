"""Admin pages: users, channels, the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from respondr.domain import audit
from respondr.domain.organisation import get_organisation
from respondr.models import AuditEntry, Channel, Message, User
from tests.conftest import csrf_token, sign_in


def admin_client(client, make_user, **kwargs):
    admin = make_user(roles="admin", email="admin@example.com", name="Ada Admin", **kwargs)
    sign_in(client, "admin@example.com")
    return admin


def count(db, model, *where):
    return db.scalar(select(func.count()).select_from(model).where(*where))


def test_admin_adds_a_user_who_can_then_sign_in(app, client, db, make_user):
    admin_client(client, make_user)
    token = csrf_token(client, "/admin/users/new")
    response = client.post(
        "/admin/users/new",
        data={
            "email": "Carol@Example.com",
            "name": "Carol Corporate",
            "roles": ["approver"],
            "password": "approve-everything",
            "active": "y",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    carol = db.scalar(select(User).where(User.email == "carol@example.com"))
    assert carol.roles == {"approver"} and not carol.trusted
    assert sign_in(app.test_client(), "carol@example.com", "approve-everything").status_code == 302
    entry = db.scalar(select(AuditEntry).where(AuditEntry.target_id == str(carol.id)))
    assert entry.action == "user.create" and entry.details["email"] == "carol@example.com"
    assert "password" not in str(entry.details)


def test_invalid_user_form_shows_inline_errors_and_adds_nobody(client, db, make_user):
    admin_client(client, make_user)
    before = count(db, User)
    token = csrf_token(client, "/admin/users/new")
    response = client.post(
        "/admin/users/new",
        data={"email": "not-an-email", "name": "", "password": "short", "csrf_token": token},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert page.count('class="field-error"') == 4  # email, name, roles, password
    assert count(db, User) == before


def test_duplicate_email_is_a_field_error(client, db, make_user):
    admin_client(client, make_user)
    make_user(email="bernie@example.com")
    token = csrf_token(client, "/admin/users/new")
    response = client.post(
        "/admin/users/new",
        data={
            "email": "bernie@example.com",
            "name": "Second Bernie",
            "roles": ["agent"],
            "password": "long-enough-password",
            "csrf_token": token,
        },
    )
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)


def test_admin_makes_an_agent_trusted_and_the_change_is_audited(client, db, make_user):
    admin = admin_client(client, make_user)
    bernie = make_user(email="bernie@example.com", name="Bernie")
    token = csrf_token(client, f"/admin/users/{bernie.id}")
    response = client.post(
        f"/admin/users/{bernie.id}",
        data={
            "name": "Bernie",
            "roles": ["agent"],
            "trusted": "y",
            "active": "y",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert db.get(User, bernie.id).trusted is True
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "user.update"))
    assert entry.actor_id == admin.id
    assert entry.details == {"trusted": [False, True]}


def test_deactivating_a_user_returns_their_claims_to_the_pool(
    client, db, make_user, make_channel, make_message
):
    admin_client(client, make_user)
    bernie = make_user(email="bernie@example.com", name="Bernie")
    message = make_message(make_channel(), status="claimed")
    message.claimed_by_id = bernie.id
    db.commit()
    token = csrf_token(client, f"/admin/users/{bernie.id}")
    client.post(
        f"/admin/users/{bernie.id}",
        data={"name": "Bernie", "roles": ["agent"], "csrf_token": token},
    )
    message = db.get(Message, message.id)
    assert message.claimed_by_id is None and message.status == "new"
    assert sign_in(client.application.test_client(), "bernie@example.com").status_code == 401


def test_admin_cannot_remove_their_own_admin_role(client, db, make_user):
    admin = admin_client(client, make_user)
    token = csrf_token(client, f"/admin/users/{admin.id}")
    response = client.post(
        f"/admin/users/{admin.id}",
        data={"name": "Ada", "roles": ["agent"], "active": "y", "csrf_token": token},
    )
    assert response.status_code == 400
    assert "own admin role" in response.get_data(as_text=True)
    assert "admin" in db.get(User, admin.id).roles


def test_reset_link_lets_the_user_set_a_new_password_once(app, client, db, make_user):
    admin_client(client, make_user)
    bernie = make_user(email="bernie@example.com")
    token = csrf_token(client, f"/admin/users/{bernie.id}")
    page = client.post(
        f"/admin/users/{bernie.id}/reset-link", data={"reset-csrf_token": token}
    ).get_data(as_text=True)
    link = page.split('<pre class="copyable">')[1].split("</pre>")[0]
    path = link.split("respondr.test", 1)[1]
    visitor = app.test_client()
    form_token = csrf_token(visitor, path)
    response = visitor.post(
        path, data={"new_password": "a-fresh-password", "csrf_token": form_token}
    )
    assert response.status_code == 302
    assert db.get(User, bernie.id).check_password("a-fresh-password")
    assert visitor.get(path).status_code == 404  # the link worked once


def test_admin_adds_and_edits_a_channel(client, db, make_user):
    admin_client(client, make_user)
    token = csrf_token(client, "/admin/channels/new")
    response = client.post(
        "/admin/channels/new",
        data={
            "name": "Bernie the Bookworm",
            "kind": "facebook_page",
            "sla_minutes": "45",
            "connector": "manual",
            "active": "y",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    channel = db.scalar(select(Channel).where(Channel.name == "Bernie the Bookworm"))
    assert channel.sla_minutes == 45 and len(channel.inbound_secret) == 64
    response = client.post(
        f"/admin/channels/{channel.id}",
        data={
            "name": "Bernie the Bookworm",
            "kind": "facebook_page",
            "sla_minutes": "0",
            "connector": "manual",
            "csrf_token": token,
        },
    )
    assert response.status_code == 400
    assert db.get(Channel, channel.id).sla_minutes == 45


def test_unknown_channel_page_is_404(client, make_user):
    admin_client(client, make_user)
    assert client.get("/admin/channels/999999").status_code == 404


def test_audit_log_filters_by_who_what_and_when(client, db, make_user):
    admin = admin_client(client, make_user)
    bernie = make_user(email="bernie@example.com")
    old = datetime(2026, 1, 10, 12, tzinfo=UTC)
    audit.record(db, actor=admin, action="policy.update", target=bernie, now=old)
    audit.record(
        db, actor=bernie, action="token.create", target=bernie, now=old + timedelta(days=5)
    )
    db.commit()

    def shown(**query):
        page = client.get("/admin/audit", query_string=query).get_data(as_text=True)
        return {
            action
            for action in ("policy.update", "token.create", "user.create")
            if f"<code>{action}</code>" in page
        }

    assert shown() == {"policy.update", "token.create", "user.create"}
    assert shown(actor=str(bernie.id)) == {"token.create"}
    assert shown(action="policy.") == {"policy.update"}
    assert shown(since="2026-01-01", until="2026-01-10") == {"policy.update"}
    assert client.get("/admin/audit", query_string={"since": "tomorrow"}).status_code == 400


def test_admin_sets_a_webhook_connector_and_sees_its_secret_once(
    client, db, make_user, make_channel
):
    admin_client(client, make_user)
    channel = make_channel(name="@BerniesBooks", kind="twitter")
    form = {
        "name": "@BerniesBooks",
        "kind": "twitter",
        "sla_minutes": "60",
        "connector": "webhook",
        "connector_url": "https://hooks.example/replies",
        "active": "y",
    }
    token = csrf_token(client, f"/admin/channels/{channel.id}")
    page = client.post(f"/admin/channels/{channel.id}", data={**form, "csrf_token": token})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "shown this once" in html
    secret = html.split('<pre class="copyable">')[1].split("</pre>")[0]
    config = db.get(Channel, channel.id).connector_config
    assert config["url"] == "https://hooks.example/replies"
    assert config["secret"].startswith("fernet:") and secret not in str(config)
    assert secret not in str(db.scalars(select(AuditEntry.details)).all())

    # Changing only the URL keeps the secret, and shows nothing secret again.
    again = client.post(
        f"/admin/channels/{channel.id}",
        data={**form, "connector_url": "https://hooks.example/v2", "csrf_token": token},
    )
    assert again.status_code == 302
    assert db.get(Channel, channel.id).connector_config["secret"] == config["secret"]

    facebook = client.post(
        f"/admin/channels/{channel.id}",
        data={**form, "connector": "facebook", "connector_url": "", "csrf_token": token},
    )
    assert facebook.status_code == 400 and "page access token" in facebook.get_data(as_text=True)
    assert db.get(Channel, channel.id).connector == "webhook"


def test_admin_changes_the_organisation_settings_all_or_nothing(client, db, make_user):
    admin_client(client, make_user)
    token = csrf_token(client, "/admin/organisation")
    good = {
        "name": "Bernie's Books",
        "timezone": "Europe/London",
        "claim_lapse_minutes": "20",
        "sla_warning_minutes": "45",
        "csrf_token": token,
    }
    response = client.post("/admin/organisation", data=good)
    assert response.status_code == 302
    org = get_organisation(db)
    db.refresh(org)
    assert (org.name, org.timezone, org.claim_lapse_minutes, org.sla_warning_minutes) == (
        "Bernie's Books",
        "Europe/London",
        20,
        45,
    )
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "organisation.settings"))
    assert entry.details["timezone"] == ["UTC", "Europe/London"]
    assert entry.details["sla_warning_minutes"] == [30, 45]

    token = csrf_token(client, "/admin/organisation")
    response = client.post(
        "/admin/organisation",
        data={**good, "timezone": "Mars/Olympus", "sla_warning_minutes": "60", "csrf_token": token},
    )
    assert response.status_code == 400
    assert "not a timezone name" in response.get_data(as_text=True)
    db.refresh(org)
    assert (org.timezone, org.sla_warning_minutes) == ("Europe/London", 45)


def test_only_admins_may_change_the_organisation_settings(client, db, make_user):
    make_user(roles="manager", email="jerry@example.com")
    sign_in(client, "jerry@example.com")
    assert client.get("/admin/organisation").status_code == 403
