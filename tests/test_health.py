from respondr import create_app


def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "up"}


def test_healthz_is_503_when_the_database_is_gone(tmp_path):
    # A PostgreSQL URL on a port where nothing listens: the database does not answer.
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "x",
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json["database"] == "down"
