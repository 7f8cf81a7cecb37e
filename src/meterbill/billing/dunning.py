"""Dunning (pure): when a failed automatic payment is retried, and what happens when the last
retry fails (Stripe's custom retry schedule: "retry k+1 happens days[k] days after attempt
k+1 failed")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from meterbill.billing.errors import FieldError

SUBSCRIPTION_ACTIONS = ("CANCEL", "MARK_UNPAID", "LEAVE_PAST_DUE")
INVOICE_ACTIONS = ("LEAVE_OPEN", "MARK_UNCOLLECTIBLE")
MAX_RETRIES = 8
MAX_RETRY_DAYS = 30
# A subscription whose first payment failed is INCOMPLETE this long, then INCOMPLETE_EXPIRED.
INCOMPLETE_EXPIRY = timedelta(hours=23)


@dataclass(frozen=True)
class Settings:
    retry_days: tuple[int, ...] = (3, 5, 7)
    subscription_after: str = "CANCEL"
    invoice_after: str = "LEAVE_OPEN"


DEFAULT = Settings()


def next_attempt(attempt_count: int, failed_at: datetime, settings: Settings) -> datetime | None:
    """When to retry after automatic attempt number `attempt_count` (1-based) failed at
    `failed_at`; None when that was the last one."""
    k = attempt_count - 1
    if k < 0 or k >= len(settings.retry_days):
        return None
    return failed_at + timedelta(days=settings.retry_days[k])


def retry_day_errors(days: Sequence[int], path: tuple[str, ...]) -> list[FieldError]:
    """0 to MAX_RETRIES entries, each 1 to MAX_RETRY_DAYS."""
    if len(days) > MAX_RETRIES:
        msg = f"at most {MAX_RETRIES} retries"
        return [FieldError("OUT_OF_RANGE", msg, path)]
    return [
        FieldError("OUT_OF_RANGE", f"a retry is 1 to {MAX_RETRY_DAYS} days later", (*path, str(n)))
        for n, d in enumerate(days)
        if not 1 <= d <= MAX_RETRY_DAYS
    ]


def encode_days(days: Sequence[int]) -> str:
    return ",".join(str(d) for d in days)


def decode_days(text: str) -> tuple[int, ...]:
    return tuple(int(d) for d in text.split(",") if d)
