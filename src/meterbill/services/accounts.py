"""Accounts and API keys. Secrets are shown once; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import string
import time
from dataclasses import dataclass

from meterbill.billing.errors import DomainError, FieldError, not_found
from meterbill.db.models import Account, ApiKey
from meterbill.services import queue
from meterbill.services.now import utcnow

log = logging.getLogger("meterbill.auth")
SCOPES = ("ADMIN", "READ", "USAGE_WRITE")
_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Principal:
    account_id: str
    key_id: str
    scopes: frozenset[str]


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret() -> str:
    return "mb_sk_" + "".join(secrets.choice(_ALPHABET) for _ in range(40))


def _invoice_prefix(name: str) -> str:
    letters = re.sub(r"[^A-Za-z0-9]", "", name).upper()[:8]
    return letters or "INV"


async def create_account(name: str) -> tuple[Account, str]:
    if not name.strip():
        raise DomainError([FieldError("REQUIRED", "name must not be empty", ("name",))])
    account = await Account.create(name=name.strip(), invoice_prefix=_invoice_prefix(name))
    _key, secret = await create_api_key(account.id, "default", ["ADMIN"])
    return account, secret


async def create_api_key(account_id: str, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    errors = []
    if not name.strip():
        errors.append(FieldError("REQUIRED", "name must not be empty", ("input", "name")))
    elif len(name) > 200:
        errors.append(
            FieldError("INVALID", "name must be at most 200 characters", ("input", "name"))
        )
    if not scopes:
        errors.append(FieldError("REQUIRED", "at least one scope is required", ("input", "scopes")))
    bad = [s for s in scopes if s not in SCOPES]
    if bad:
        errors.append(FieldError("INVALID", f"unknown scopes: {bad}", ("input", "scopes")))
    if errors:
        raise DomainError(errors)
    secret = _new_secret()
    ordered = [s for s in SCOPES if s in scopes]
    key = await ApiKey.create(
        account_id=account_id,
        name=name.strip(),
        scopes=" ".join(ordered),
        prefix=secret[:12],
        secret_hash=hash_secret(secret),
    )
    return key, secret


async def revoke_api_key(account_id: str, key_id: str) -> ApiKey:
    key = await ApiKey.get_or_none(id=key_id, account_id=account_id)
    if key is None:
        raise not_found(f"no API key {key_id}", "input", "id")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await key.save(update_fields=["revoked_at"])
    forget_key(key.id)
    await _announce_revoked(key.id)
    return key


async def list_api_keys(account_id: str) -> list[ApiKey]:
    return await ApiKey.filter(account_id=account_id).order_by("-created_at", "id")


# Valid keys are remembered per process for AUTH_CACHE_SECONDS, so a request costs no key
# lookup (one query per request was ~9% of the API's CPU for single events; one per key and
# second is nothing). Revoking drops the key from every process's cache at once
# (services/key_revocations.py); the lifetime bounds the window to 1 s should an
# announcement be lost. Unknown or revoked secrets are never cached.
AUTH_CACHE_SECONDS = 1.0
_AUTH_CACHE_MAX = 10_000
_auth_cache: dict[str, tuple[Principal, float]] = {}


def cached_principal(secret: str) -> Principal | None:
    """The key's principal if this process validated it within AUTH_CACHE_SECONDS."""
    hit = _auth_cache.get(hash_secret(secret))
    return hit[0] if hit is not None and hit[1] > time.monotonic() else None


async def authenticate(secret: str) -> Principal | None:
    if not secret.startswith("mb_sk_"):
        return None
    digest = hash_secret(secret)
    now = time.monotonic()
    hit = _auth_cache.get(digest)
    if hit is not None and hit[1] > now:
        return hit[0]
    key = await ApiKey.get_or_none(secret_hash=digest, revoked_at=None)
    if key is None:
        _auth_cache.pop(digest, None)
        return None
    principal = Principal(key.account_id, key.id, frozenset(key.scopes.split()))
    if len(_auth_cache) >= _AUTH_CACHE_MAX:
        _auth_cache.clear()
    _auth_cache[digest] = (principal, now + AUTH_CACHE_SECONDS)
    return principal


# Every API process listens (services/key_revocations.py) and forgets the key at once.
REVOKED_CHANNEL = "meterbill:api_key_revoked"


async def _announce_revoked(key_id: str) -> None:
    """Best effort: should Redis be down, AUTH_CACHE_SECONDS bounds the window."""
    pool = queue.get_pool()
    if pool is None:
        return
    try:
        await pool.publish(REVOKED_CHANNEL, key_id)
    except Exception as exc:  # noqa: BLE001 - any Redis failure
        log.warning("announcing a key revocation failed (%s)", type(exc).__name__)


def forget_key(key_id: str) -> None:
    for digest, (principal, _) in list(_auth_cache.items()):
        if principal.key_id == key_id:
            _auth_cache.pop(digest, None)


def forget_all_keys() -> None:
    _auth_cache.clear()
