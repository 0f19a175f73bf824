"""Password rules (NIST SP 800-63B) and Argon2id hashing.

- Length: at least ``AUTH_PASSWORD_MIN_LENGTH`` characters (default 8), administrators at least
  ``AUTH_ADMIN_PASSWORD_MIN_LENGTH`` (default 15, as 800-63B asks of a single-factor password);
  at most 128 characters, counted as Unicode code points after NFKC normalisation. Spaces and
  every printable character are allowed; there are **no composition rules** (no "one digit, one
  capital"), as 800-63B advises.
- Refused when it is in the shipped list of common/breached passwords (``data/common-passwords.txt``,
  compared case-insensitively) or contains the local part of the account's email (4+ characters).
- Stored as Argon2id (argon2-cffi's RFC 9106 low-memory profile: t=3, m=64 MiB, p=4), hashed in a
  worker thread so a sign-in never stalls the event loop; hashes made with older parameters are
  re-hashed at the next successful sign-in.
"""

from __future__ import annotations

import asyncio
import unicodedata
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from services.netsugen_booking.accounts.exceptions import WeakPassword

MAX_LENGTH = 128
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "data" / "common-passwords.txt"

_hasher = PasswordHasher()
#: Verified against when the email is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password-only-for-timing")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip())


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_password(password: str, *, email: str, min_length: int) -> None:
    """Raise :class:`WeakPassword` (422) with the reason when the password breaks a rule."""
    value = normalise(password)
    if len(value) < min_length:
        raise WeakPassword(
            f"The password needs at least {min_length} characters.",
            detail_ja=f"パスワードは {min_length} 文字以上にしてください。",
            reason="too_short",
        )
    if len(value) > MAX_LENGTH:
        raise WeakPassword(
            f"The password may have at most {MAX_LENGTH} characters.",
            detail_ja=f"パスワードは {MAX_LENGTH} 文字以内にしてください。",
            reason="too_long",
        )
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise WeakPassword(
            "The password may not contain control characters.",
            detail_ja="パスワードに制御文字は使えません。",
            reason="control_characters",
        )
    lowered = value.lower()
    if lowered in common_passwords():
        raise WeakPassword(
            "This password is on the list of common or breached passwords; choose another.",
            detail_ja="このパスワードはよく使われているか、漏えいしたものです。別のパスワードにしてください。",
            reason="common",
        )
    local = email.split("@", 1)[0].lower()
    if len(local) >= 4 and local in lowered:
        raise WeakPassword(
            "The password may not contain your email address's name.",
            detail_ja="パスワードにメールアドレスの名前部分を含めないでください。",
            reason="contains_email",
        )


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, normalise(password))


def _verify(hashed: str | None, password: str) -> bool:
    try:
        return _hasher.verify(hashed or _DUMMY_HASH, normalise(password)) and hashed is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(hashed: str | None, password: str) -> bool:
    """True when ``password`` matches; with ``hashed=None`` a dummy is verified (same time, False)."""
    return await asyncio.to_thread(_verify, hashed, password)


def needs_rehash(hashed: str) -> bool:
    return _hasher.check_needs_rehash(hashed)
