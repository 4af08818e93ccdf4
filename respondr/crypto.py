"""Secrets at rest (connector tokens and signing secrets) with Fernet (AES-128-CBC +
HMAC-SHA256, from the well-kept ``cryptography`` package).

The key is ``RESPONDR_ENCRYPTION_KEY`` (a Fernet key) when set, else derived from
``SECRET_KEY`` with HKDF — so rotating SECRET_KEY without setting the former makes stored
connector secrets unreadable, and the connector says so instead of posting.
"""

from __future__ import annotations

import base64
import os

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ENCRYPTED_PREFIX = "fernet:"


class UnreadableSecret(Exception):
    """A stored secret could not be decrypted with the configured key."""


def _fernet(secret_key: str) -> Fernet:
    explicit = os.environ.get("RESPONDR_ENCRYPTION_KEY")
    if explicit:
        return Fernet(explicit.encode())
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"respondr-connector-secrets", info=b"fernet"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(secret_key: str, plaintext: str) -> str:
    return ENCRYPTED_PREFIX + _fernet(secret_key).encrypt(plaintext.encode()).decode()


def decrypt(secret_key: str, stored: str) -> str:
    if not stored.startswith(ENCRYPTED_PREFIX):
        raise UnreadableSecret("the stored secret is not encrypted")
    try:
        return _fernet(secret_key).decrypt(stored[len(ENCRYPTED_PREFIX) :].encode()).decode()
    except InvalidToken:
        raise UnreadableSecret("the stored secret does not decrypt with this key") from None
