"""Signing secrets: made here, shown once, kept encrypted.

Standard Webhooks signs with HMAC-SHA256, so the worker needs the key itself at every
delivery: a hash (as for API keys) could not sign. Each secret is encrypted with AES-256-GCM
(the `cryptography` package) under a key derived by HKDF from MB_SECRET_KEY, with the
endpoint's id as associated data, so a ciphertext copied onto another endpoint's row does not
decrypt. Without MB_SECRET_KEY, the embedded (SQLite) deployment makes a random key file
beside its database on first use (mode 0600); PostgreSQL deployments must set MB_SECRET_KEY,
the same in every process. Rotating MB_SECRET_KEY makes existing secrets unreadable: the
endpoints then need new ones."""

from __future__ import annotations

import base64
import os
import secrets as _random
import time
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from meterbill.services.webhooks import config

PREFIX = "whsec_"
_VERSION = "v1"
_SECRET_BYTES = 32
_NONCE_BYTES = 12


class SecretKeyMissing(RuntimeError):
    """The deployment has no key to encrypt signing secrets with (an operator's mistake)."""


def new_secret() -> str:
    """whsec_ + base64 of 32 random bytes (Standard Webhooks' format)."""
    return PREFIX + base64.b64encode(_random.token_bytes(_SECRET_BYTES)).decode()


def _read_or_make(path: Path) -> str:
    """The key file's content; made (0600) when missing. O_EXCL: of two processes starting
    together, one writes and both read what it wrote."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(_random.token_bytes(32)).decode())
    for _ in range(50):  # the other process may still be writing it
        text = path.read_text().strip()
        if text:
            return text
        time.sleep(0.01)
    raise SecretKeyMissing(f"key file {path} is empty")


@lru_cache(maxsize=4)
def _aead(master: str) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"meterbill webhook secrets v1"
    ).derive(master.encode())
    return AESGCM(key)


def _cipher() -> AESGCM:
    conf = config()
    if conf.secret_key:
        return _aead(conf.secret_key)
    if conf.key_file is None:
        raise SecretKeyMissing(
            "MB_SECRET_KEY must be set to store webhook secrets (the same in every process)"
        )
    return _aead(_read_or_make(conf.key_file))


def encrypt(secret: str, endpoint_id: str) -> str:
    nonce = _random.token_bytes(_NONCE_BYTES)
    sealed = _cipher().encrypt(nonce, secret.encode(), endpoint_id.encode())
    return f"{_VERSION}:" + base64.b64encode(nonce + sealed).decode()


def decrypt(stored: str, endpoint_id: str) -> str:
    version, _, body = stored.partition(":")
    if version != _VERSION:
        raise ValueError("unknown secret format")
    raw = base64.b64decode(body)
    try:
        plain = _cipher().decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], endpoint_id.encode())
    except InvalidTag as exc:
        raise SecretKeyMissing(
            "the endpoint's secret does not decrypt with this MB_SECRET_KEY"
        ) from exc
    return plain.decode()
