"""Alert evaluation (contract extension "alerts"), run by the aggregation worker right after
a fold commits: the ACTIVE alerts on the meters the batch touched are checked for the
customers it touched, so a trigger lands within the fold's latency of the crossing event.

Per folded batch, not per event: one query for the alerts (none: done), one for the
customers' clocks, one for their subscriptions' periods, one for the triggers already
recorded, then each remaining (alert, customer)'s period usage. Run after the commit, so
whichever of two workers folding one customer commits last sees both folds; the unique
(alert, customer, period_start) key then lets only one of them record the trigger
(services/lifecycle/alerts.py).

What is due is durable: the fold's transaction marks the (meter, customer) pairs of meters
with ACTIVE alerts in alert_checks_due, and an evaluation deletes the rows it read (unless a
later fold has marked them again). A worker that dies between its fold's commit and the
evaluation leaves the rows to sweep() (the worker's 5 s sweep), so a crossing is never
missed; evaluating a pair twice records nothing twice."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise import connections

from meterbill.billing.aggregation import month_start, next_month
from meterbill.db.alerts_sql import (
    CheckDue,
    TriggerRow,
    checks_due,
    clear_checks,
    subscription_periods,
)
from meterbill.db.models import BillingAlert, BillingAlertTrigger, Customer
from meterbill.db.usage_sql import Touched
from meterbill.services.lifecycle import alerts as lifecycle_alerts
from meterbill.services.now import as_utc, customer_times, utcnow
from meterbill.services.usage.summaries import meter_period_usage

log = logging.getLogger("meterbill.alerts")


def _plain(d: Decimal) -> str:
    n = d.normalize()
    return format(n.quantize(Decimal(1)) if n == n.to_integral_value() else n, "f")


async def evaluate(touched: Iterable[Touched]) -> list[TriggerRow]:
    """Record the triggers the folded usage of `touched` crossed; returns the new ones."""
    keys = set(touched)
    if not keys:
        return []
    meters = sorted({m for _, m, _ in keys})
    alerts = await BillingAlert.filter(meter_id__in=meters, status="ACTIVE").select_related("meter")
    if not alerts:
        return []
    pairs: list[tuple[BillingAlert, str]] = []
    for a in alerts:
        for account, meter, customer in keys:
            if (
                a.account_id == account
                and a.meter_id == meter
                and a.customer_id in (None, customer)
            ):
                pairs.append((a, customer))
    if not pairs:
        return []
    customer_ids = sorted({c for _, c in pairs})
    customers = await Customer.filter(id__in=customer_ids).only("id", "test_clock_id")
    now = await customer_times(customers)
    periods = await _periods(customer_ids, meters, now)
    due: list[tuple[BillingAlert, str, datetime, datetime]] = []
    for a, c in pairs:
        if c in now:
            start, end = periods.get((c, a.meter_id)) or _month(now[c])
            due.append((a, c, start, end))
    done = set(
        await BillingAlertTrigger.filter(
            alert_id__in=sorted({a.id for a, _, _, _ in due}),
            customer_id__in=customer_ids,
        ).values_list("alert_id", "customer_id", "period_start")
    )
    done = {(a, c, as_utc(p)) for a, c, p in done}
    rows: list[TriggerRow] = []
    usage: dict[tuple[str, str, datetime, datetime], Decimal] = {}
    for a, c, start, end in due:
        if (a.id, c, start) in done:
            continue
        k = (a.meter_id, c, start, end)
        if k not in usage:
            usage[k] = await meter_period_usage(a.meter, c, start, end)
        if usage[k] >= Decimal(a.threshold):
            rows.append(TriggerRow(a.account_id, a.id, c, start, _plain(usage[k]), utcnow()))
    return await lifecycle_alerts.trigger(rows, {a.id: a for a in alerts})


def _month(now: datetime) -> tuple[datetime, datetime]:
    return month_start(now), next_month(now)


async def _periods(
    customers: list[str], meters: list[str], now: dict[str, datetime]
) -> dict[tuple[str, str], tuple[datetime, datetime]]:
    """(customer, meter) -> the current period of the customer's subscription with a price
    on the meter (the one containing the customer's now, else the latest)."""
    out: dict[tuple[str, str], tuple[datetime, datetime]] = {}
    conn = connections.get("default")
    for c, m, start, end in await subscription_periods(conn, customers, meters):
        old = out.get((c, m))
        t = now.get(c)
        holds_now = t is not None and start <= t < end
        if old is None or holds_now or (not (old[0] <= (t or old[0]) < old[1]) and start > old[0]):
            out[(c, m)] = (start, end)
    return out


async def evaluate_due(touched: Iterable[Touched]) -> list[TriggerRow]:
    """For the worker after its fold committed: evaluate the pairs of `touched` still due
    (none: meters without ACTIVE alerts, or another worker's evaluation already read the
    fold), then clear what was read."""
    conn = connections.get("default")
    due = await checks_due(conn, sorted({(m, c) for _, m, c in touched}))
    return await _evaluate_rows(conn, due)


async def sweep(limit: int = 1000) -> int:
    """Evaluate up to `limit` pairs left due (their fold's evaluation was lost or failed);
    returns how many were evaluated."""
    conn = connections.get("default")
    due = await checks_due(conn, None, limit)
    await _evaluate_rows(conn, due)
    return len(due)


async def _evaluate_rows(conn: Any, due: list[CheckDue]) -> list[TriggerRow]:
    if not due:
        return []
    # The rows were read before the usage is: every fold they stand for is in what
    # evaluate() reads, so they can go (a fold since has raised `folds` and keeps its row).
    new = await evaluate((d.account_id, d.meter_id, d.customer_id) for d in due)
    await clear_checks(conn, due)
    return new


async def evaluate_quietly(touched: Iterable[Touched]) -> None:
    """evaluate_due(), for the worker after its fold committed: a failure is logged and does
    not fail the fold (the rows stay due: the sweep evaluates them again)."""
    try:
        await evaluate_due(touched)
    except Exception:  # noqa: BLE001 - the fold is committed; the sweep tries again
        log.exception("alert evaluation failed")


async def sweep_quietly() -> None:
    try:
        await sweep()
    except Exception:  # noqa: BLE001 - the rows stay due for the next sweep
        log.exception("alert sweep failed")
