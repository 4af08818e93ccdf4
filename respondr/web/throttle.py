"""Sign-in throttling: failed sign-ins are counted per account and per address.

Flask-Limiter keeps the counters (a moving window): in Redis when ``REDIS_URL`` is set,
so every app server sees the same counts, else in this process's memory, which is right
for one server (``make run``) and counts per process behind several. Each app gets its
own limiter, so several apps in one process (the tests) never share counters.

Only failures count, and a successful sign-in forgets its account's failures: people who
mistype a few times and then get it right start afresh. While a limit is used up even the
right password is refused (that is what stops guessing), with ``Retry-After`` saying how
long. If the counter store is unreachable, sign-in goes on unthrottled and a warning is
logged: an outage of Redis must not lock everybody out.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse

EXTENSION = "respondr.sign_in_limiter"
DEFAULTS = {
    "SIGN_IN_LIMIT_ACCOUNT": "5 per 15 minutes",
    "SIGN_IN_LIMIT_ADDRESS": "20 per 15 minutes",
}


@dataclass(frozen=True)
class Refusal:
    """A sign-in refused unheard: which limit is used up, and for how many seconds."""

    scope: str  # "account" or "address"
    retry_after: int

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
        if self.scope == "account":
            return f"Too many failed sign-ins for this account. Try again in {wait}."
        return f"Too many failed sign-ins from your network. Try again in {wait}."


def init_app(app: Flask) -> None:
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.config.setdefault("RATELIMIT_ENABLED", True)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_STRATEGY", "moving-window")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "respondr-sign-in")
    app.extensions[EXTENSION] = Limiter(get_remote_address, app=app)


def _limits() -> list[tuple[str, RateLimitItem, str]]:
    """(scope, limit, key) for the sign-in being tried now."""
    email = (request.form.get("email") or "").strip().lower()
    # The account's counter is keyed by a digest: the store never holds email addresses.
    account = hashlib.sha256(email.encode()).hexdigest()
    return [
        ("account", parse(current_app.config["SIGN_IN_LIMIT_ACCOUNT"]), account),
        ("address", parse(current_app.config["SIGN_IN_LIMIT_ADDRESS"]), get_remote_address()),
    ]


def _limiter() -> Limiter | None:
    limiter: Limiter = current_app.extensions[EXTENSION]
    return limiter if limiter.enabled else None


@contextmanager
def _store_outage_tolerated() -> Iterator[None]:
    try:
        yield
    except Exception as error:  # the store is down: do not lock everybody out
        current_app.logger.warning("sign-in throttle unavailable: %s", type(error).__name__)


def refusal() -> Refusal | None:
    """Whether this sign-in must be refused before the password is even checked."""
    limiter = _limiter()
    if limiter is None:
        return None
    with _store_outage_tolerated():
        for scope, item, key in _limits():
            if not limiter.limiter.test(item, key):
                reset_at, _ = limiter.limiter.get_window_stats(item, key)
                return Refusal(scope, max(1, math.ceil(reset_at - time.time())))
    return None


def record_failure() -> None:
    limiter = _limiter()
    if limiter is not None:
        with _store_outage_tolerated():
            for _, item, key in _limits():
                limiter.limiter.hit(item, key)


def forget_account_failures() -> None:
    """After a successful sign-in: the account's earlier mistakes no longer count."""
    limiter = _limiter()
    if limiter is not None:
        with _store_outage_tolerated():
            _, item, key = _limits()[0]
            limiter.limiter.clear(item, key)
