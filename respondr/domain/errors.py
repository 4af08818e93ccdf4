"""Domain errors: each carries a message for people and, where it fits, the field at fault."""

from __future__ import annotations


class DomainError(Exception):
    """Something the user asked for cannot be done; ``str(error)`` says why."""

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(DomainError):
    """Bad input: ``field`` names what to correct."""


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    """The state moved on (a claim lost, a stale version): 409."""

    status = 409
