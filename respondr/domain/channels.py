"""Channels: creation, settings and look-up by id or name."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from respondr.domain import audit
from respondr.domain.errors import NotFound, ValidationError
from respondr.models import CHANNEL_KINDS, CONNECTORS, Channel, User
from respondr.models.channels import new_inbound_secret


def find_channel(session: Session, ref: int | str) -> Channel:
    """A channel by id or by name; NotFound names what was asked for."""
    channel: Channel | None = None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        channel = session.get(Channel, int(ref))
    if channel is None and isinstance(ref, str):
        channel = session.scalar(select(Channel).where(Channel.name == ref.strip()))
    if channel is None:
        raise NotFound(f"There is no channel {ref!r}.", "channel")
    return channel


def _validate(
    session: Session,
    *,
    name: str,
    kind: str,
    sla_minutes: int,
    connector: str,
    channel: Channel | None,
) -> str:
    name = name.strip()
    if not name:
        raise ValidationError("Give the channel a name.", "name")
    if kind not in CHANNEL_KINDS:
        raise ValidationError(f"Kind must be one of {', '.join(CHANNEL_KINDS)}.", "kind")
    if connector not in CONNECTORS:
        raise ValidationError(f"Connector must be one of {', '.join(CONNECTORS)}.", "connector")
    if sla_minutes < 1:
        raise ValidationError("The SLA target must be at least one minute.", "sla_minutes")
    clash = session.scalar(select(Channel).where(Channel.name == name))
    if clash is not None and clash is not channel:
        raise ValidationError(f"A channel named {name!r} already exists.", "name")
    return name


def create_channel(
    session: Session,
    *,
    name: str,
    kind: str,
    sla_minutes: int = 60,
    connector: str = "manual",
    feed_url: str | None = None,
    actor: User | None,
    now: datetime,
) -> Channel:
    name = _validate(
        session, name=name, kind=kind, sla_minutes=sla_minutes, connector=connector, channel=None
    )
    channel = Channel(
        name=name,
        kind=kind,
        sla_minutes=sla_minutes,
        connector=connector,
        feed_url=feed_url or None,
        created_at=now,
    )
    session.add(channel)
    audit.record(
        session,
        actor=actor,
        action="channel.create",
        target=channel,
        details={"name": name, "kind": kind, "sla_minutes": sla_minutes, "connector": connector},
        now=now,
    )
    return channel


def update_channel(
    session: Session,
    channel: Channel,
    *,
    name: str,
    kind: str,
    sla_minutes: int,
    feed_url: str | None,
    active: bool,
    actor: User,
    now: datetime,
) -> None:
    """Edit a channel's settings; the connector changes through :func:`set_connector`."""
    name = _validate(
        session,
        name=name,
        kind=kind,
        sla_minutes=sla_minutes,
        connector=channel.connector,
        channel=channel,
    )
    wanted = {
        "name": name,
        "kind": kind,
        "sla_minutes": sla_minutes,
        "feed_url": feed_url or None,
        "active": active,
    }
    changes = {k: [getattr(channel, k), v] for k, v in wanted.items() if getattr(channel, k) != v}
    if not changes:
        return
    for key, (_, new) in changes.items():
        setattr(channel, key, new)
    audit.record(
        session, actor=actor, action="channel.update", target=channel, details=changes, now=now
    )


def set_connector(
    session: Session,
    channel: Channel,
    *,
    connector: str,
    url: str | None,
    token: str | None,
    page_id: str | None,
    secret_key: str,
    actor: User | None,
    now: datetime,
) -> str | None:
    """Choose how replies on ``channel`` are published. Tokens are stored encrypted and
    never shown again. For a webhook without ``token`` a signing secret is generated and
    returned (once), for the receiving side to check signatures with."""
    from respondr.crypto import encrypt

    if connector not in CONNECTORS:
        raise ValidationError(f"Connector must be one of {', '.join(CONNECTORS)}.", "connector")
    before = channel.connector_config or {}
    # The inbound Facebook settings stay; with the same connector, so do its secrets.
    config = {k: v for k, v in before.items() if k in ("verify_token", "app_secret")}
    kept = before if channel.connector == connector else {}
    generated = None
    if connector == "webhook":
        if not url or not url.startswith(("https://", "http://")):
            raise ValidationError("A webhook connector needs an http(s) URL.", "url")
        if token:
            config.update(url=url, secret=encrypt(secret_key, token))
        elif kept.get("secret"):
            config.update(url=url, secret=kept["secret"])
        else:
            generated = new_inbound_secret()
            config.update(url=url, secret=encrypt(secret_key, generated))
    elif connector == "facebook":
        if not token:
            raise ValidationError("A Facebook connector needs the page access token.", "token")
        if not page_id and not (channel.connector_config or {}).get("page_id"):
            raise ValidationError("A Facebook connector needs the page id.", "page_id")
        config.update(
            page_id=page_id or channel.connector_config["page_id"], token=encrypt(secret_key, token)
        )
        if url:
            config["base_url"] = url
    channel.connector = connector
    channel.connector_config = config
    audit.record(
        session,
        actor=actor,
        action="channel.connector",
        target=channel,
        details={
            "channel": channel.name,
            "connector": connector,
            "url": url,
            "token_changed": bool(token),
        },
        now=now,
    )
    return generated
