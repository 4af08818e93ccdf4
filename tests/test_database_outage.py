"""While the database is away every request answers 503 with Retry-After, never a 500.

The app here points at a PostgreSQL port where nothing listens. The restart-in-the-middle
drill against a real server is in ``tests/drills/test_fault_drills.py``.
"""

from __future__ import annotations

import pytest

from respondr import create_app, tasks


@pytest.fixture
def unreachable(tmp_path):
    previous = tasks.huey.storage  # create_app rebinds the queue; other tests keep theirs
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "x",
        }
    )
    yield app.test_client()
    tasks.huey.storage = previous


def test_a_signed_in_page_shows_a_503_page_not_a_stack_trace(unreachable):
    with unreachable.session_transaction() as session:
        session["_user_id"] = "some-session-token"  # loading the user needs the database
    response = unreachable.get("/")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Temporarily unavailable" in page and "The database is not answering" in page
    assert "Traceback" not in page and "psycopg" not in page and "127.0.0.1:1" not in page


def test_the_api_answers_json_503(unreachable):
    response = unreachable.get("/api/v1/messages", headers={"Authorization": "Bearer rsp_x"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json == {"error": "The database is not answering. Try again in a moment."}


def test_a_webhook_delivery_is_refused_with_503_so_the_sender_retries(unreachable):
    response = unreachable.post("/api/v1/channels/1/webhook", data=b"{}")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
