"""Opaque, prefixed, random ids (never sequential): cus_ + 24 base62 characters.

Model defaults must be module-level functions: Tortoise's migration writer cannot
serialize lambdas or partials."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


# Bytes below 248 (= 4 x 62) map uniformly onto the alphabet; the rest are dropped. One
# urandom call per id instead of one per character (secrets.choice): the billing cron makes
# thousands of ids per batch.
_UNIFORM = 4 * len(_ALPHABET)


def new_id(prefix: str, length: int = 24) -> str:
    chars: list[str] = []
    while len(chars) < length:
        chars += [
            _ALPHABET[b % len(_ALPHABET)] for b in secrets.token_bytes(length + 8) if b < _UNIFORM
        ]
    return f"{prefix}_" + "".join(chars[:length])


def account_id() -> str:
    return new_id("acct")


def api_key_id() -> str:
    return new_id("key")


def test_clock_id() -> str:
    return new_id("clock")


def customer_id() -> str:
    return new_id("cus")


def meter_id() -> str:
    return new_id("mtr")


def product_id() -> str:
    return new_id("prod")


def price_id() -> str:
    return new_id("price")


def subscription_id() -> str:
    return new_id("sub")


def subscription_item_id() -> str:
    return new_id("si")


def invoice_id() -> str:
    return new_id("in")


def invoice_line_id() -> str:
    return new_id("il")


def event_id() -> str:
    return new_id("evt")


def domain_event_id() -> str:
    return new_id("evt")


def webhook_endpoint_id() -> str:
    return new_id("we")


def webhook_delivery_id() -> str:
    return new_id("whd")


def balance_transaction_id() -> str:
    return new_id("cbtxn")


def credit_grant_id() -> str:
    return new_id("credgr")


def billing_alert_id() -> str:
    return new_id("alrt")
