"""The stock response pages: managers add and edit responses; what the library refuses is
shown beside the field, and nothing is saved."""

from __future__ import annotations

from sqlalchemy import select

from respondr.models import StockResponse
from tests.conftest import csrf_token, sign_in


def as_manager(client, make_user) -> dict[str, str]:
    """Sign a manager in; the form fields every post sends (title, category, active, token)."""
    make_user(roles="manager", email="jerry@example.com")
    sign_in(client, "jerry@example.com")
    token = csrf_token(client, "/stock/new")
    return {"title": "Thanks", "category": "", "active": "y", "csrf_token": token}


def test_manager_adds_a_response_and_a_stray_brace_is_a_field_error(client, db, make_user):
    fields = as_manager(client, make_user)
    refused = client.post("/stock/new", data={**fields, "text": "Thanks {fan_name"})
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert 'class="field-error" id="text-error"' in page
    assert "opens no placeholder" in page
    assert db.scalars(select(StockResponse)).all() == []

    added = client.post("/stock/new", data={**fields, "text": "Thanks {fan_name}!"})
    assert added.status_code == 302
    assert db.scalars(select(StockResponse.text)).all() == ["Thanks {fan_name}!"]


def test_an_edit_the_library_refuses_changes_nothing(client, db, make_user):
    fields = as_manager(client, make_user)
    client.post("/stock/new", data={**fields, "text": "Thank you!"})
    response_id = db.scalar(select(StockResponse.id))

    refused = client.post(f"/stock/{response_id}", data={**fields, "text": "Thank you }"})
    assert refused.status_code == 400
    assert "closes no placeholder" in refused.get_data(as_text=True)
    assert db.scalar(select(StockResponse.text)) == "Thank you!"

    saved = client.post(f"/stock/{response_id}", data={**fields, "text": "Thanks, {fan_name}!"})
    assert saved.status_code == 302
    assert db.scalar(select(StockResponse.text)) == "Thanks, {fan_name}!"
