"""Every route × every role gets the answer its declared permission promises.

The routes come from the URL map, so a new view is covered the day it is added, and a
view that declares no permission fails here.
"""

from __future__ import annotations

import pytest

from respondr.domain import drafting, stock
from respondr.domain.presets import ensure_presets
from respondr.models import ROLES
from respondr.timeutil import utcnow
from tests.conftest import csrf_token, sign_in
from tests.url_map import routes

PERSONAS = ("anonymous", *ROLES)


def test_every_view_declares_who_may_use_it(app):
    undeclared = [
        rule.rule
        for rule, _ in routes(app)
        if not hasattr(app.view_functions[rule.endpoint], "required_roles")
    ]
    assert undeclared == [], "views without @public or @requires(...)"


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_role_gets_the_declared_answer_on_every_route(
    app, client, db, make_user, make_channel, make_message, persona
):
    target_user = make_user(roles="agent")
    channel = make_channel()
    message = make_message(channel)
    draft = drafting.save_draft(
        db, make_message(channel), author=target_user, text="Hello", version=None, now=utcnow()
    )
    response = stock.create(
        db,
        title="Thanks",
        text="Thank you!",
        category=None,
        pre_approved=True,
        actor=None,
        now=utcnow(),
    )
    risk_based = ensure_presets(db, now=utcnow())["risk-based"]
    db.commit()
    values = {
        "draft_id": draft.id,
        "response_id": response.id,
        "user_id": target_user.id,
        "channel_id": channel.id,
        "message_id": message.id,
        "token": "not-a-token",
        "policy_id": risk_based.id,
        "number": 1,
    }
    if persona != "anonymous":
        make_user(roles=persona, email=f"{persona}@example.com")
        assert sign_in(client, f"{persona}@example.com").status_code == 302
    token = csrf_token(client, "/login" if persona == "anonymous" else "/account")

    wrong = []
    for rule, method in routes(app):
        required = app.view_functions[rule.endpoint].required_roles
        url = rule.build({k: values[k] for k in rule.arguments}, append_unknown=False)[1]
        response = client.open(url, method=method, data={"csrf_token": token})
        status = response.status_code
        if required is None:
            ok = status not in (401, 403) and status < 500
        elif persona == "anonymous":
            ok = status in (302, 401) and (status == 401 or "/login" in response.location)
        elif required and persona not in required:
            ok = status == 403
        else:
            ok = status not in (401, 403) and status < 500
        if not ok:
            wrong.append(f"{method} {rule.rule} -> {status}")
        if persona != "anonymous" and rule.endpoint == "auth.logout":
            sign_in(client, f"{persona}@example.com")  # signing out was allowed: sign in again
            token = csrf_token(client, "/account")
    assert wrong == []
