"""Typed configuration, read once from the environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    secret_key: str
    instance_path: Path
    host: str = "127.0.0.1"
    port: int = 5000
    # Session cookies carry ``Secure`` on every HTTPS request; this forces it on plain
    # HTTP too (TLS ended by a proxy that sends no X-Forwarded-Proto).
    secure_cookies: bool = False
    # How many reverse proxies in front of us to believe X-Forwarded-For/-Proto from.
    trust_proxy_hops: int = 0
    smtp_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def flask_config(self) -> dict[str, Any]:
        return {
            "SECRET_KEY": self.secret_key,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "REDIS_URL": self.redis_url,
            "SMTP_URL": self.smtp_url,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.secure_cookies,
            "REMEMBER_COOKIE_HTTPONLY": True,
            "REMEMBER_COOKIE_SAMESITE": "Lax",
            "REMEMBER_COOKIE_SECURE": self.secure_cookies,
            "TRUST_PROXY_HOPS": self.trust_proxy_hops,
            "MAX_CONTENT_LENGTH": 1024 * 1024,
            "WTF_CSRF_TIME_LIMIT": None,
            **self.extra,
        }


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, or one generated once and kept in the instance folder."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # Create with owner-only permissions; never printed.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def default_instance_path() -> Path:
    return Path(os.environ.get("RESPONDR_INSTANCE", Path.cwd() / "instance")).resolve()


def database_url_for(instance_path: Path) -> str:
    return os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'respondr.db'}"


def load_settings(instance_path: Path | None = None) -> Settings:
    instance_path = instance_path or default_instance_path()
    url = database_url_for(instance_path)
    # Heroku-style URLs name the old scheme; psycopg 3 is the driver we ship.
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return Settings(
        database_url=url,
        redis_url=os.environ.get("REDIS_URL") or None,
        secret_key=_secret_key(instance_path),
        instance_path=instance_path,
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "5000")),
        secure_cookies=os.environ.get("SECURE_COOKIES", "") == "1",
        trust_proxy_hops=int(os.environ.get("TRUST_PROXY_HOPS", "0") or 0),
        smtp_url=os.environ.get("SMTP_URL") or None,
    )
