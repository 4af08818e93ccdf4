"""Publish connectors: one class per kind, chosen per channel.

Each takes a :class:`Reply` and answers with an
:class:`~respondr.domain.publishing.Outcome`. Connectors do HTTP only; recording what
happened is :mod:`respondr.domain.publishing`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import requests

from respondr.domain.ingest import sign  # the same scheme as inbound webhooks
from respondr.domain.publishing import Outcome

TIMEOUT = (5, 20)  # seconds to connect, to read
RETRYABLE_STATUS = {408, 429}


@dataclass(frozen=True)
class Reply:
    draft_id: int
    idempotency_key: str
    text: str
    message_id: int
    message_external_id: str
    thread_id: str | None
    channel_name: str


class Connector(Protocol):
    def publish(self, reply: Reply, *, outcome_unknown: bool) -> Outcome: ...


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds, from either of its forms (seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _from_error_status(response: requests.Response, error: str) -> Outcome:
    if response.status_code in RETRYABLE_STATUS or response.status_code >= 500:
        return Outcome(
            "retry",
            error=error,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    return Outcome("failed", error=error)


class WebhookConnector:
    """POSTs the reply as JSON, signed, with an ``Idempotency-Key`` unique to the draft."""

    def __init__(self, url: str, secret: str, *, timeout: float | None = None) -> None:
        self.url = url
        self.secret = secret
        self.timeout = (TIMEOUT[0], timeout) if timeout else TIMEOUT
        self.http = requests.Session()

    def publish(self, reply: Reply, *, outcome_unknown: bool) -> Outcome:
        # The same key goes with every attempt: the receiver recognises a repeat.
        body = json.dumps(
            {
                "draft_id": reply.draft_id,
                "text": reply.text,
                "in_reply_to": reply.message_external_id,
                "thread_id": reply.thread_id,
                "channel": reply.channel_name,
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": reply.idempotency_key,
            "X-Respondr-Signature": sign(self.secret, body, timestamp=int(time.time())),
        }
        try:
            response = self.http.post(self.url, data=body, headers=headers, timeout=self.timeout)
        except requests.Timeout:
            return Outcome("retry", error="the webhook did not answer in time", maybe_sent=True)
        except requests.ConnectionError:
            return Outcome("retry", error="could not connect to the webhook")
        if 200 <= response.status_code < 300:
            answer = _json(response)
            reply_id = answer.get("id") or answer.get("reply_id")
            return Outcome(
                "published", external_id=str(reply_id) if reply_id else None, url=answer.get("url")
            )
        return _from_error_status(
            response, f"webhook answered {response.status_code}: {response.text[:300]}"
        )


class FacebookConnector:
    """Replies to a comment with the Graph API: ``POST /{comment-id}/comments``.

    Facebook takes no idempotency key, so after an attempt whose outcome is unknown (a
    timeout once the request was sent) it first reads the comment's replies and
    recognises our own (from the page, with the same text) before posting again.
    """

    def __init__(
        self,
        *,
        base_url: str,
        page_id: str,
        token: str,
        api_version: str = "v21.0",
        timeout: float | None = None,
    ) -> None:
        self.base = f"{base_url.rstrip('/')}/{api_version}"
        self.page_id = page_id
        self.token = token
        self.timeout = (TIMEOUT[0], timeout) if timeout else TIMEOUT
        self.http = requests.Session()

    def _already_posted(self, reply: Reply) -> Outcome | None:
        try:
            response = self.http.get(
                f"{self.base}/{reply.message_external_id}/comments",
                params={"fields": "id,message,from", "limit": 100, "access_token": self.token},
                timeout=self.timeout,
            )
        except requests.RequestException:
            return Outcome("retry", error="could not read the comment's replies")
        if response.status_code != 200:
            return _from_error_status(response, _graph_error(response))
        for comment in _json(response).get("data", []):
            author = (comment.get("from") or {}).get("id")
            if author == self.page_id and comment.get("message") == reply.text:
                return Outcome("published", external_id=comment.get("id"))
        return None

    def publish(self, reply: Reply, *, outcome_unknown: bool) -> Outcome:
        if outcome_unknown:
            found = self._already_posted(reply)
            if found is not None:
                return found
        try:
            response = self.http.post(
                f"{self.base}/{reply.message_external_id}/comments",
                data={"message": reply.text, "access_token": self.token},
                timeout=self.timeout,
            )
        except requests.Timeout:
            return Outcome("retry", error="Facebook did not answer in time", maybe_sent=True)
        except requests.ConnectionError:
            return Outcome("retry", error="could not connect to Facebook")
        if response.status_code == 200 and "id" in _json(response):
            comment_id = str(_json(response)["id"])
            return Outcome(
                "published", external_id=comment_id, url=f"https://www.facebook.com/{comment_id}"
            )
        return _from_error_status(response, _graph_error(response))


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _graph_error(response: requests.Response) -> str:
    """Facebook's documented error shape: ``{"error": {"message", "type", "code", ...}}``."""
    error = _json(response).get("error") or {}
    if not isinstance(error, dict):
        error = {}
    return (
        f"Facebook {response.status_code}: {error.get('message', response.text[:200])}"
        f" ({error.get('type', 'error')}, code {error.get('code', '?')})"
    )


def for_channel(channel: Any, secret_key: str) -> Connector | None:
    """The channel's connector, its secrets decrypted; None for the manual connector."""
    from respondr.crypto import decrypt

    config = channel.connector_config or {}
    if channel.connector == "webhook":
        return WebhookConnector(
            config["url"],
            decrypt(secret_key, config["secret"]),
            timeout=config.get("timeout_seconds"),
        )
    if channel.connector == "facebook":
        return FacebookConnector(
            base_url=config.get("base_url", "https://graph.facebook.com"),
            api_version=config.get("api_version", "v21.0"),
            page_id=str(config["page_id"]),
            token=decrypt(secret_key, config["token"]),
            timeout=config.get("timeout_seconds"),
        )
    return None
