"""Outgoing mail over SMTP (``SMTP_URL``: ``smtp://user:password@host:port``, or
``smtps://`` for implicit TLS; ``?from=address``). Mail is sent after the transaction
that decided it has committed, never inside it."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)


def send(smtp_url: str | None, *, to: tuple[str, ...], subject: str, body: str) -> bool:
    """Send one message; False (logged, without credentials) when it could not go."""
    if not smtp_url or not to:
        return False
    url = urlsplit(smtp_url)
    sender = parse_qs(url.query).get("from", ["respondr@localhost"])[0]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(body)
    connect = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    try:
        with connect(url.hostname or "localhost", url.port or 25, timeout=10) as smtp:
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        log.warning("mail to %d recipient(s) not sent: %s", len(to), type(error).__name__)
        return False
    return True
