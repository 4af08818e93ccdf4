"""Facebook Page webhooks: the subscription check, and page feed changes as messages.

Facebook calls one URL per channel (``/api/v1/channels/<id>/facebook``) whose settings
live in ``Channel.connector_config``: ``verify_token`` (chosen when subscribing, echoed
back by the ``GET`` check), ``app_secret`` (keys the ``X-Hub-Signature-256`` HMAC of every
delivery) and ``page_id`` (optional: entries for other pages are ignored).
A delivery looks like::

    {"object": "page",
     "entry": [{"id": "<page id>", "time": 1591374234,
                "changes": [{"field": "feed",
                             "value": {"item": "comment", "verb": "add",
                                       "comment_id": "<post>_<comment>",
                                       "post_id": "<page>_<post>",
                                       "parent_id": "<page>_<post>",
                                       "from": {"id": "<user id>", "name": "..."},
                                       "message": "...", "created_time": 1591374234}}]}]}

Each comment or post added becomes an API-shaped message and goes through
:func:`respondr.domain.ingest.ingest_batch`, so Facebook's retries are idempotent too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from respondr.domain.errors import Forbidden, NotFound, ValidationError
from respondr.domain.ingest import ItemResult, constant_time_equal, ingest_batch
from respondr.models import Channel

# Feed items that carry what a fan wrote: comments and the kinds of post.
FACEBOOK_ITEMS = frozenset({"comment", "post", "status", "photo", "video"})


def facebook_setting(channel: Channel, key: str) -> str:
    """One of the channel's Facebook settings (``connector_config``: ``verify_token``,
    ``app_secret``, ``page_id``); a channel without it is no Facebook endpoint (404)."""
    config = channel.connector_config if isinstance(channel.connector_config, dict) else {}
    value = config.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise NotFound(
            f"The channel {channel.name!r} is not set up for Facebook (its {key} is missing)."
        )
    return value


def facebook_challenge(channel: Channel, args: Mapping[str, str]) -> str:
    """Answer Facebook's subscription check: the ``hub.challenge`` to echo back, when
    ``hub.mode`` is ``subscribe`` and ``hub.verify_token`` is the channel's."""
    verify_token = facebook_setting(channel, "verify_token")
    challenge = args.get("hub.challenge")
    if args.get("hub.mode") != "subscribe" or not challenge:
        raise ValidationError(
            "This is not a Facebook verification request: expected hub.mode=subscribe "
            "with hub.challenge and hub.verify_token.",
            "hub.mode",
        )
    given = args.get("hub.verify_token") or ""
    if not constant_time_equal(verify_token, given):
        raise Forbidden("The verify token is not this channel's.", "hub.verify_token")
    return challenge


def _unix_time(value: Any) -> datetime | None:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = value / 1000 if value > 10**11 else value  # entry times may be in ms
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _facebook_time(created_time: Any, entry_time: Any, now: datetime) -> str:
    """An ISO time for ``posted_at`` from Facebook's ``created_time`` (Unix seconds, or
    sometimes an ISO string), else the entry's time, else ``now``."""
    if isinstance(created_time, str) and created_time and not created_time.isdigit():
        return created_time  # ISO, checked as posted_at
    when = _unix_time(created_time) or _unix_time(entry_time) or now
    return when.isoformat()


def facebook_items(
    payload: Any, *, page_id: str | None, now: datetime
) -> tuple[list[dict[str, Any]], list[str], int]:
    """Translate a Facebook Page webhook delivery into API-shaped messages.

    Returns the messages, a label for each (``entry[0].changes[1]``, used in field
    errors) and how many changes were ignored. Only ``feed`` changes adding a comment
    or a post (``verb: add``) become messages; edits, removals, reactions, likes, other
    pages' entries (when ``page_id`` is set) and the page's own posts and replies are
    ignored. The thread is the post (``post_id``); a comment replies to ``parent_id``.
    Facebook may leave out ``from`` (an app without permission to read users'
    content): the message is kept, from an unknown fan.
    """
    if not isinstance(payload, Mapping) or not isinstance(payload.get("entry"), list):
        raise ValidationError("Expected a Facebook webhook delivery with an entry list.", "entry")
    messages: list[dict[str, Any]] = []
    labels: list[str] = []
    ignored = 0
    if payload.get("object") != "page":
        return messages, labels, sum(1 for _ in payload["entry"])
    for e, entry in enumerate(payload["entry"]):
        changes = entry.get("changes") if isinstance(entry, Mapping) else None
        if not isinstance(changes, list):
            continue
        entry_page = str(entry.get("id", ""))
        if page_id and entry_page != page_id:
            ignored += len(changes)
            continue
        own_ids = {entry_page, page_id} if page_id else {entry_page}
        for c, change in enumerate(changes):
            value = change.get("value") if isinstance(change, Mapping) else None
            if (
                not isinstance(value, Mapping)
                or change.get("field") != "feed"
                or str(value.get("item")) not in FACEBOOK_ITEMS
                or value.get("verb") != "add"
            ):
                ignored += 1
                continue
            sender = value.get("from")
            author: Mapping[str, Any] = sender if isinstance(sender, Mapping) else {}
            if str(author.get("id", "")) in own_ids:
                ignored += 1  # the page's own post or reply
                continue
            messages.append(_facebook_message(entry, value, author, now))
            labels.append(f"entry[{e}].changes[{c}]")
    return messages, labels, ignored


def _facebook_message(
    entry: Mapping[str, Any], value: Mapping[str, Any], author: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    is_comment = value.get("item") == "comment"
    post = value.get("post")
    link = post.get("permalink_url") if isinstance(post, Mapping) else None
    return {
        "external_id": value.get("comment_id") if is_comment else value.get("post_id"),
        "author": {
            "handle": author.get("id") or "unknown",
            "name": author.get("name") or "Facebook user",
        },
        "text": value.get("message") or "",
        "posted_at": _facebook_time(value.get("created_time"), entry.get("time"), now),
        "url": link if isinstance(link, str) and link.startswith("https://") else None,
        "thread_id": value.get("post_id"),
        "in_reply_to": value.get("parent_id") if is_comment else None,
    }


def receive_facebook(
    session: Session, channel: Channel, payload: Any, *, now: datetime
) -> tuple[list[ItemResult], int]:
    """Ingest a Facebook delivery on ``channel``: the result of each comment or post it
    added, and how many changes were ignored. A bad item is reported, never retried."""
    page_id = (channel.connector_config or {}).get("page_id")
    messages, labels, ignored = facebook_items(
        payload, page_id=str(page_id) if page_id else None, now=now
    )
    results = ingest_batch(session, messages, channel=channel, actor=None, now=now, labels=labels)
    return results, ignored
