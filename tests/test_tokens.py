"""Survey link tokens: unguessable, stored only as a hash, re-derivable with the key."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from survey.tokens import (
    NONCE_BYTES,
    TOKEN_LENGTH,
    derive_token,
    hash_token,
    looks_like_token,
    new_nonce,
)


def test_token_is_hmac_of_nonce_and_differs_per_key():
    nonce = new_nonce()
    assert len(bytes.fromhex(nonce)) == NONCE_BYTES
    token = derive_token("key-one", nonce)
    assert len(token) == TOKEN_LENGTH and looks_like_token(token)
    assert derive_token("key-one", nonce) == token
    assert derive_token("key-two", nonce) != token
    assert derive_token("key-one", new_nonce()) != token


def test_only_the_sha256_is_stored():
    token = derive_token("k", "00" * 16)
    assert hash_token(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token not in hash_token(token)


@given(st.text(max_size=80))
def test_shape_check_never_crashes_and_rejects_odd_strings(text):
    ok = looks_like_token(text)
    assert ok == (
        len(text) == TOKEN_LENGTH and all(c.isascii() and (c.isalnum() or c in "-_") for c in text)
    )
    hash_token(text)  # never raises, even on lone surrogates
