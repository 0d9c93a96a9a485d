"""Personal, unguessable link tokens.

A token is `base64url(HMAC-SHA256(secret_key, "invitation:" + nonce))`: 256 bits
that nobody can guess. The database keeps the random nonce and the SHA-256 of
the token, never the token. Whoever holds the secret key can print a campaign's
links again (`flask campaign links`); a copy of the database alone opens no
survey. Rotating SECRET_KEY invalidates every outstanding link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable

NONCE_BYTES = 16  # 128 bits of randomness per invitation
TOKEN_LENGTH = 43  # base64url of 32 bytes, without padding
#: ASCII letters, digits, "-" and "_" only (no other Unicode letter or digit).
_TOKEN_SHAPE = re.compile(f"[A-Za-z0-9_-]{{{TOKEN_LENGTH}}}")


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def new_nonces(count: int) -> list[str]:
    """`count` nonces as `new_nonce` makes them, from one call for all their randomness."""
    step = 2 * NONCE_BYTES
    text = secrets.token_hex(NONCE_BYTES * count)
    return [text[i : i + step] for i in range(0, len(text), step)]


def derive_token(secret_key: str | bytes, nonce: str) -> str:
    key = secret_key.encode() if isinstance(secret_key, str) else secret_key
    digest = hmac.digest(key, f"invitation:{nonce}".encode(), "sha256")
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def hash_token(token: str) -> str:
    """The lookup key stored in `invitations.token_hash` (hex SHA-256)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_hashes(secret_key: str | bytes, nonces: Iterable[str]) -> list[str]:
    """`hash_token(derive_token(secret_key, nonce))` for each nonce: what a launch stores
    for thousands of invitations, with one-shot HMACs."""
    key = secret_key.encode() if isinstance(secret_key, str) else secret_key
    hashes = []
    for nonce in nonces:
        mac = hmac.digest(key, f"invitation:{nonce}".encode(), "sha256")
        hashes.append(hashlib.sha256(base64.urlsafe_b64encode(mac).rstrip(b"=")).hexdigest())
    return hashes


def looks_like_token(token: str) -> bool:
    """Cheap shape check before touching the database."""
    return _TOKEN_SHAPE.fullmatch(token) is not None
