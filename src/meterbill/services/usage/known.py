"""Facts about an account's meters and customers that never change once true, remembered
per process for usage reads (summaries, period usage, live usage).

What a read needs of a meter (account, id, event name, aggregation, customer and value keys,
dimension keys) never changes after createMeter: updateMeter changes only displayName,
deactivation only status, and a meter is never deleted. A customer, once created, always
belongs to its account (customers are never deleted). So a remembered answer is the one the
database would give, and a dashboard's chart and live value cost no lookup of either.
Readers of remembered meter rows use only the fields above."""

from __future__ import annotations

from meterbill.db.models import Customer, Meter

_MAX = 10_000
_meters: dict[tuple[str, str], Meter] = {}
_customers: set[tuple[str, str]] = set()


async def meter_definition(account_id: str, meter_id: str) -> Meter | None:
    key = (account_id, meter_id)
    hit = _meters.get(key)
    if hit is not None:
        return hit
    meter = await Meter.get_or_none(id=meter_id, account_id=account_id)
    if meter is not None:
        if len(_meters) >= _MAX:
            _meters.clear()
        _meters[key] = meter
    return meter


async def customer_exists(account_id: str, customer_id: str) -> bool:
    key = (account_id, customer_id)
    if key in _customers:
        return True
    if not await Customer.exists(id=customer_id, account_id=account_id):
        return False
    if len(_customers) >= _MAX:
        _customers.clear()
    _customers.add(key)
    return True
