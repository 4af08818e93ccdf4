"""Error pages for people and JSON errors for the API; never a stack trace."""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from respondr.extensions import db

TITLES = {
    400: "Bad request",
    401: "Sign-in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}

# Seconds a client is asked to wait while the database is away (``/healthz`` says the same).
RETRY_AFTER = "5"
DATABASE_DOWN_MESSAGE = "The database is not answering. Try again in a moment."


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def error_response(status: int, message: str, field: str | None = None):
    if wants_json():
        body: dict[str, object] = {"error": message}
        if field:
            body["field"] = field
        return jsonify(body), status
    title = TITLES.get(status, "Error")
    return render_template("error.html", status=status, title=title, message=message), status


def database_unavailable_response() -> Response:
    """503 with ``Retry-After``, built without touching the database: the usual page
    layout reads the signed-in user and badge counts, which would fail all over again."""
    if wants_json():
        response = jsonify(error=DATABASE_DOWN_MESSAGE)
    else:
        page = current_app.jinja_env.get_template("unavailable.html")
        response = Response(page.render(message=DATABASE_DOWN_MESSAGE), mimetype="text/html")
    response.status_code = 503
    response.headers["Retry-After"] = RETRY_AFTER
    return response


def is_database_down(error: BaseException) -> bool:
    """Lost or refused connections, a server shutting down or starting up, and a pool
    with no connection free in time; not constraint violations or bad SQL."""
    if isinstance(error, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def _forget_transaction() -> None:
    """Roll back the request's session; on a dead connection the rollback itself may fail,
    and the pool then replaces that connection (pre-ping) when the database is back."""
    try:
        db.session.rollback()
    except SQLAlchemyError:
        db.session.close()


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return error_response(
            400,
            "The form has expired or was not sent from respondr. Reload the page and try again.",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        message = error.description or TITLES.get(error.code or 500, "Error")
        if error.code == 413:
            message = "The request body is larger than the 1 MiB limit."
        return error_response(error.code or 500, message)

    @app.errorhandler(SQLAlchemyError)
    def database_error(error: SQLAlchemyError):
        _forget_transaction()
        if is_database_down(error):
            # The exception's type only: its text can carry the connection string.
            app.logger.warning("database unavailable: %s", type(error).__name__)
            return database_unavailable_response()
        app.logger.exception("database error")
        return error_response(500, "Something went wrong on our side; nothing was saved.")

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        _forget_transaction()
        app.logger.exception("unhandled error")
        return error_response(500, "Something went wrong on our side; nothing was saved.")
