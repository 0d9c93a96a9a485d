"""Webhook secrets and signatures, and which URLs may receive events.

Each endpoint has its own secret (`whsec_` and 43 URL-safe characters), shown once
when the endpoint is created. The signature needs the secret in clear, so it is
stored encrypted (Fernet: AES-128-CBC with an HMAC-SHA256) under a key derived with
HKDF-SHA256 from SECRET_KEY; changing SECRET_KEY makes the stored secrets unreadable
(the deliveries fail with "secret cannot be decrypted": create the endpoints again).

A delivery carries `X-KeyPulse-Signature: t=<unix seconds>,v1=<hex>` where hex is
HMAC-SHA256(secret, f"{t}.{body}") — the scheme Stripe uses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from survey.errors import InvalidInputError

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SIGNATURE_HEADER = "X-KeyPulse-Signature"
MAX_URL_LENGTH = 500


class SecretUnreadableError(Exception):
    """The stored secret cannot be decrypted with this SECRET_KEY."""


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"keypulse webhook secrets v1"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(secret: str, secret_key: str) -> str:
    return _fernet(secret_key).encrypt(secret.encode()).decode("ascii")


def decrypt_secret(token: str, secret_key: str) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise SecretUnreadableError(
            "the endpoint's secret cannot be decrypted (SECRET_KEY changed?)"
        ) from None


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """hex HMAC-SHA256(secret, "<timestamp>.<body>")."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_http_loopback: bool) -> str:
    """The URL, cleaned, if events may be posted to it: https://, or http:// to a
    loopback address when `allow_http_loopback` (development and tests). Raises
    InvalidInputError otherwise."""
    url = (url or "").strip()
    if not url:
        raise InvalidInputError("The URL is required.", field="url")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInputError(f"The URL is longer than {MAX_URL_LENGTH} characters.", field="url")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        raise InvalidInputError("The URL is not valid.", field="url") from None
    if not host or parts.username or parts.password:
        raise InvalidInputError("The URL needs a host and no user name or password.", field="url")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and allow_http_loopback and _is_loopback(host):
        return url
    if parts.scheme == "http" and allow_http_loopback:
        raise InvalidInputError(
            "Use https://, or http:// to a loopback address (127.0.0.1, localhost).", field="url"
        )
    raise InvalidInputError("The URL must start with https://.", field="url")


__all__ = [
    "SECRET_PREFIX",
    "SIGNATURE_HEADER",
    "SecretUnreadableError",
    "check_url",
    "decrypt_secret",
    "encrypt_secret",
    "new_secret",
    "signature",
    "signature_header",
]
