"""The OpenAPI document of /api/v1 is complete, and the API keeps to it under schemathesis.

Schemathesis generates requests for every documented operation (valid and odd bodies,
parameters and headers) and sends them in-process with a real bearer token for a user
holding every role, on a database seeded with one of everything. Each answer must not be
a 5xx, must use a documented status and content type, and must match its schema.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from respondr.domain import accounts
from respondr.models import ROLES, User
from respondr.timeutil import utcnow
from respondr.web.api.openapi import document
from tests import factories
from tests.conftest import make_app
from tests.url_map import seed

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def openapi_path(rule: str) -> str:
    """/api/v1/drafts/<int:draft_id> → /drafts/{draft_id}"""
    path = rule.removeprefix("/api/v1")
    while "<" in path:
        start, end = path.index("<"), path.index(">")
        name = path[start + 1 : end].split(":")[-1]
        path = path[:start] + "{" + name + "}" + path[end + 1 :]
    return path


def test_every_api_route_is_documented_and_nothing_else(app):
    documented = {
        (path, method.upper())
        for path, operations in document()["paths"].items()
        for method in operations
    }
    routes = {
        (openapi_path(rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes - documented == set(), "routes missing from respondr/web/api/openapi.py"
    assert documented - routes == set(), "documented operations the app does not have"


def test_the_document_is_served_and_valid_openapi(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    loaded = schemathesis.openapi.from_dict(response.get_json())
    assert len(list(loaded.get_all_operations())) == sum(
        len(ops) for ops in document()["paths"].values()
    )


@pytest.fixture
def api_app(database_url, tmp_path, db):
    """An app without SERVER_NAME (schemathesis calls it as localhost), on the test's
    rolled-back session, with one of everything and a token for a user with every role."""
    app = make_app(database_url, tmp_path, SERVER_NAME=None)
    seed(db)
    user = factories.create_user(db, roles=ROLES, email="api@example.com")
    app.config["TEST_TOKEN"] = accounts.create_api_token(db, user, actor=None, now=utcnow())
    db.commit()
    assert db.get(User, user.id) is not None
    return app


# Built from the same function that serves /api/v1/openapi.json (schemathesis's fixture
# loader does not work with this pytest); the test above checks the served copy loads.
schema = schemathesis.openapi.from_dict(document())


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_to_its_document(case, api_app):
    token = api_app.config["TEST_TOKEN"]
    case.call_and_validate(app=api_app, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


def test_a_report_over_centuries_is_a_400_not_an_outage(client, db):
    """Found by schemathesis: the day-by-day series of a 1,900-year period overflowed
    SQLite's bound-parameter limit and was answered as a database outage (503)."""
    user = factories.create_user(db, roles="manager")
    token = accounts.create_api_token(db, user, actor=None, now=utcnow())
    db.commit()
    response = client.get(
        "/api/v1/reports/latency?from=0116-01-05", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 400
    assert response.get_json()["field"] == "from"
