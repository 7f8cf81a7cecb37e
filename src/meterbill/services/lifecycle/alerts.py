"""Alert triggers and their billing.alert.triggered events, in one transaction: the unique
(alert, customer, period_start) key decides which evaluation records a trigger, and only
that one writes the event (never two for one trigger, also with several workers)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tortoise.transactions import in_transaction

from meterbill.db.alerts_sql import TriggerRow, insert_triggers
from meterbill.db.models import BillingAlert
from meterbill.services.lifecycle import outbox

ALERT_FIELDS = ("id", "title", "meter_id", "customer_id", "threshold", "status", "created_at")
EVENT = "billing.alert.triggered"


def alert_snapshot(alert: BillingAlert) -> dict[str, Any]:
    return outbox.snapshot("billing.alert", alert, ALERT_FIELDS)


def trigger_snapshot(alert: BillingAlert, row: TriggerRow) -> dict[str, Any]:
    """Stripe's billing.alert.triggered data: the alert, the customer, the value."""
    return {
        "object": "billing.alert_triggered",
        "alert": alert_snapshot(alert),
        "customer": row.customer_id,
        "value": row.value,
        "periodStart": outbox.api_value(row.period_start),
        "triggeredAt": outbox.api_value(row.created_at),
    }


async def trigger(
    rows: Sequence[TriggerRow], alerts: Mapping[str, BillingAlert]
) -> list[TriggerRow]:
    """Record the triggers not recorded yet, each with its event; returns the new ones."""
    if not rows:
        return []
    async with in_transaction() as conn:
        inserted = await insert_triggers(conn, rows)
        if not inserted:
            return []
        await outbox.write(
            [
                outbox.event(
                    r.account_id, EVENT, r.alert_id, trigger_snapshot(alerts[r.alert_id], r)
                )
                for r in inserted
            ]
        )
    return inserted
