"""Webhook signing secrets encrypted at rest (security finding 12).

``notifier.webhook_endpoint.secret`` and ``previous_secret`` hold Fernet tokens (AES-128-CBC +
HMAC-SHA256, ``cryptography``), never the ``whsec_…`` secret itself. The keys come from
``WEBHOOK_SECRET_KEYS``: comma-separated Fernet keys, the first encrypts, every one decrypts
(``MultiFernet``), so a key rotation is: put a new key first, keep the old one after it, restart,
run ``gunma notifier rotate-webhook-key`` (re-encrypts every row with the first key), then drop the
old key.

Where the keys come from when ``WEBHOOK_SECRET_KEYS`` is not set (explicit, per environment):

- ``production``: nowhere. The notifier (API, worker, migration with rows to encrypt) refuses to start;
- ``development`` (``make run``): a key generated once into ``.data/webhook-secret-keys``
  (``GUNMA_DATA_DIR``), git-ignored, kept with the embedded database it protects;
- ``test``: :data:`TEST_KEY`, a fixed public key (never use it for real data).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

#: The fixed key of ENVIRONMENT=test. Public: it protects nothing real.
TEST_KEY = "dGVzdC1vbmx5LXdlYmhvb2stc2VjcmV0LWtleS0wMDA="
DEV_KEY_FILE = "webhook-secret-keys"
#: Decrypted secrets kept per process (a few hundred endpoints at most).
CACHE_SIZE = 1024


class MissingKey(RuntimeError):
    pass


class UndecryptableSecret(ValueError):
    """No configured key decrypts the stored secret (a key was dropped too early)."""


def parse_keys(value: str) -> list[str]:
    """The comma-separated keys; ValueError when one is not a Fernet key (32 url-safe base64 bytes)."""
    keys = [k.strip() for k in value.split(",") if k.strip()]
    if not keys:
        raise ValueError("WEBHOOK_SECRET_KEYS holds no key")
    for i, key in enumerate(keys, 1):
        try:
            Fernet(key.encode("ascii"))
        except (ValueError, UnicodeError) as exc:
            raise ValueError(
                f"WEBHOOK_SECRET_KEYS: key {i} is not a Fernet key (generate one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
            ) from exc
    return keys


def dev_key_file() -> Path:
    from shared.settings import data_dir

    return data_dir() / DEV_KEY_FILE


def development_keys() -> list[str]:
    """The generated development key (created on first use, mode 0600). The API and the worker of
    `make run` may both create it at once: the file appears complete or not at all (written aside,
    then hard-linked into place; the loser of the race reads the winner's)."""
    path = dev_key_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(Fernet.generate_key().decode("ascii") + "\n")
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
        finally:
            aside.unlink()
    return parse_keys(path.read_text())


def resolve_keys(configured: str | None, environment: str) -> list[str]:
    """The keys for ``WEBHOOK_SECRET_KEYS`` (``configured``) in ``environment``, see the module doc."""
    if configured:
        return parse_keys(configured)
    if environment == "production":
        raise MissingKey(
            "WEBHOOK_SECRET_KEYS is required in production: webhook secrets are stored encrypted with it "
            "(see services/notifier/README.md, 'Webhook secrets at rest')."
        )
    if environment == "test":
        return [TEST_KEY]
    return development_keys()


class SecretBox:
    """Encrypts with the first key, decrypts with any; decrypted secrets are cached per process."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise MissingKey("no webhook secret key")
        self.keys = list(keys)
        self._fernet = MultiFernet([Fernet(k.encode("ascii")) for k in self.keys])
        self._cache: OrderedDict[str, str] = OrderedDict()

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        try:
            secret = self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise UndecryptableSecret(
                "no configured WEBHOOK_SECRET_KEYS key decrypts this webhook secret"
            ) from exc
        self._cache[token] = secret
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return secret

    def rotate(self, token: str) -> str:
        """The token re-encrypted with the first key (UndecryptableSecret when no key opens it)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError) as exc:
            raise UndecryptableSecret(
                "no configured WEBHOOK_SECRET_KEYS key decrypts this webhook secret"
            ) from exc

    def is_current(self, token: str) -> bool:
        """Whether the first key decrypts ``token`` (nothing to rotate)."""
        try:
            Fernet(self.keys[0].encode("ascii")).decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True


def box_from_environment() -> SecretBox:
    """For the migration and the CLI: ``WEBHOOK_SECRET_KEYS`` and ``ENVIRONMENT`` (or `.env`) as the
    notifier reads them."""
    from services.notifier.settings import NotifierSettings

    settings = NotifierSettings()
    return settings.secret_box()
