"""Usage alerts (contract extension "alerts"): create, archive, list; their triggers. The
worker evaluates them (services/usage/alert_checks.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from meterbill.billing.errors import DomainError, FieldError, not_found
from meterbill.billing.events import MAX_DECIMAL_PLACES, MAX_INTEGER_DIGITS
from meterbill.db.models import BillingAlert, BillingAlertTrigger, Customer, Meter
from meterbill.services.pages import Page, paginate

MAX_TITLE = 200


def _threshold_errors(threshold: Any) -> list[FieldError]:
    path = ("input", "threshold")
    if not isinstance(threshold, Decimal) or not threshold.is_finite():
        return [FieldError("INVALID", "threshold must be a decimal number", path)]
    if threshold <= 0:
        return [FieldError("INVALID", "threshold must be greater than 0", path)]
    exponent = threshold.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > MAX_DECIMAL_PLACES or threshold.adjusted() >= MAX_INTEGER_DIGITS:
        msg = (
            f"threshold must be below 10^{MAX_INTEGER_DIGITS} with at most "
            f"{MAX_DECIMAL_PLACES} decimal places (as meter values)"
        )
        return [FieldError("OUT_OF_RANGE", msg, path)]
    return []


def _plain(d: Decimal) -> str:
    n = d.normalize()
    return format(n.quantize(Decimal(1)) if n == n.to_integral_value() else n, "f")


async def create_alert(
    account_id: str, title: str, meter_id: str, customer_id: str | None, threshold: Any
) -> BillingAlert:
    """Every problem at once, nothing stored while there is one."""
    errors: list[FieldError] = []
    if not isinstance(title, str) or not title.strip():
        errors.append(FieldError("REQUIRED", "title is required", ("input", "title")))
    elif len(title) > MAX_TITLE:
        msg = f"title must be at most {MAX_TITLE} characters"
        errors.append(FieldError("INVALID", msg, ("input", "title")))
    errors += _threshold_errors(threshold)
    if not await Meter.exists(id=meter_id, account_id=account_id):
        errors.append(FieldError("NOT_FOUND", f"no meter {meter_id}", ("input", "meterId")))
    if customer_id is not None and not await Customer.exists(id=customer_id, account_id=account_id):
        msg = f"no customer {customer_id}"
        errors.append(FieldError("NOT_FOUND", msg, ("input", "customerId")))
    if errors:
        raise DomainError(errors)
    return await BillingAlert.create(
        account_id=account_id,
        title=title.strip(),
        meter_id=meter_id,
        customer_id=customer_id,
        threshold=_plain(threshold),
    )


async def archive_alert(account_id: str, alert_id: str) -> BillingAlert:
    """ARCHIVED alerts no longer trigger (archiving twice is a no-op, as in Stripe)."""
    alert = await BillingAlert.get_or_none(id=alert_id, account_id=account_id)
    if alert is None:
        raise not_found(f"no billing alert {alert_id}", "input", "id")
    if alert.status != "ARCHIVED":
        alert.status = "ARCHIVED"
        await alert.save(update_fields=["status"])
    return alert


async def list_alerts(account_id: str) -> list[BillingAlert]:
    """Newest first."""
    return list(await BillingAlert.filter(account_id=account_id).order_by("-created_at", "-id"))


async def get_alert(account_id: str, alert_id: str) -> BillingAlert | None:
    return await BillingAlert.get_or_none(id=alert_id, account_id=account_id)


async def list_triggers(account_id: str, alert_id: str, first: int, after: str | None) -> Page[Any]:
    """Newest first; an unknown (or another account's) alert has none."""
    qs = BillingAlertTrigger.filter(account_id=account_id, alert_id=alert_id)
    return await paginate(qs, first, after)
