"""Card tokens for QR / IC cards: random secrets, stored only as SHA-256 (like API tokens)."""

from __future__ import annotations

import secrets

from shared.auth import hash_token

CARD_PREFIX = "nsc_"


def new_card_token() -> tuple[str, str]:
    """A fresh token and its hash. The token is shown once; only the hash is stored."""
    token = CARD_PREFIX + secrets.token_urlsafe(24)
    return token, hash_token(token)


def card_hash(token: str) -> str:
    return hash_token(token.strip())
