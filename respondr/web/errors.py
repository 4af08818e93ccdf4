"""Error pages for people and JSON errors for the API; never a stack trace."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
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

    @app.errorhandler(OperationalError)
    def database_unavailable(error: DBAPIError):
        db.session.rollback()
        app.logger.warning("database unavailable: %s", type(error.orig).__name__)
        response = error_response(503, "The database is not answering. Try again in a moment.")
        response[0].headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error")
        return error_response(500, "Something went wrong on our side; nothing was saved.")
