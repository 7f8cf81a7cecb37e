"""An account's billing settings (dunning): read with defaults, updated with validation."""

from __future__ import annotations

from collections.abc import Sequence

from meterbill.billing import dunning
from meterbill.billing.errors import DomainError, FieldError
from meterbill.db.models import BillingSettings


def _of(row: BillingSettings | None) -> dunning.Settings:
    if row is None:
        return dunning.DEFAULT
    return dunning.Settings(
        dunning.decode_days(row.payment_retry_days),
        row.subscription_after_retries,
        row.invoice_after_retries,
    )


async def get_settings(account_id: str) -> dunning.Settings:
    return _of(await BillingSettings.get_or_none(account_id=account_id))


async def settings_of(account_ids: Sequence[str]) -> dict[str, dunning.Settings]:
    """Each account's settings (the defaults for an account without a row): one query."""
    found = {
        r.account_id: _of(r)
        for r in await BillingSettings.filter(account_id__in=list(set(account_ids)))
    }
    return {a: found.get(a, dunning.DEFAULT) for a in account_ids}


async def update_settings(
    account_id: str,
    retry_days: list[int] | None,
    subscription_after: str | None,
    invoice_after: str | None,
) -> dunning.Settings:
    errors: list[FieldError] = []
    if retry_days is not None:
        errors += dunning.retry_day_errors(retry_days, ("input", "paymentRetryDays"))
    if subscription_after is not None and subscription_after not in dunning.SUBSCRIPTION_ACTIONS:
        errors.append(
            FieldError("INVALID", "unknown action", ("input", "subscriptionAfterRetries"))
        )
    if invoice_after is not None and invoice_after not in dunning.INVOICE_ACTIONS:
        errors.append(FieldError("INVALID", "unknown action", ("input", "invoiceAfterRetries")))
    if errors:
        raise DomainError(errors)
    now = await get_settings(account_id)
    new = dunning.Settings(
        now.retry_days if retry_days is None else tuple(retry_days),
        subscription_after or now.subscription_after,
        invoice_after or now.invoice_after,
    )
    await BillingSettings.update_or_create(
        defaults={
            "payment_retry_days": dunning.encode_days(new.retry_days),
            "subscription_after_retries": new.subscription_after,
            "invoice_after_retries": new.invoice_after,
        },
        account_id=account_id,
    )
    return new
