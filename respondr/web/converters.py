"""URL converters shared by every route."""

from __future__ import annotations

from typing import Any

from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # ids are the database's INTEGER


class DatabaseId(IntegerConverter):
    """``<int:…>`` everywhere: a number past the database's integer is nobody's id, so it
    is a 404 at once, instead of an overflow inside the database driver (a 500)."""

    def to_python(self, value: str) -> int:
        number = int(super().to_python(value))
        if number > MAX_ID:
            raise NotFound(f"Nothing has the number {number}.")
        return number


def init_app(app: Any) -> None:
    """Before the blueprints are registered: their rules take the converter when added."""
    app.url_map.converters["int"] = DatabaseId
