"""Alert evaluation against the real database (both backends): the period is the current
period of the customer's subscription on the meter (else the UTC calendar month of its
clock), concurrent evaluations of one crossing record one trigger and one event, and a
fold whose evaluation was lost (the worker died after its commit) is evaluated by the
sweep."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tortoise import connections

from meterbill.db.alerts_sql import checks_due, clear_checks
from meterbill.db.models import AlertCheckDue, BillingAlertTrigger, DomainEvent
from meterbill.services import alerts, catalog, test_clocks, usage
from meterbill.services.usage import EventInput, aggregate, alert_checks, record_events
from tests.integration.billing_setup import make_catalog, subscribe

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def ev(cus: str, value: object, minutes: int) -> EventInput:
    return EventInput(
        "tokens", {"customer_id": cus, "value": value}, None, NOW + timedelta(minutes=minutes)
    )


async def record(account: str, events: list[EventInput]) -> None:
    assert {r.status for r in await record_events(account, events)} == {"ACCEPTED"}


async def test_subscription_period_and_calendar_month(db):
    cat = await make_catalog()
    clock = await test_clocks.create_test_clock(cat.account_id, NOW, None)
    await subscribe(
        cat, catalog.CustomerSpec(name="sub", payment_method="pm_card_visa", test_clock_id=clock.id)
    )
    [subbed] = [c.id for c in await catalog.Customer.filter(account_id=cat.account_id)]
    plain = await catalog.create_customer(
        cat.account_id, catalog.CustomerSpec(name="plain", test_clock_id=clock.id)
    )
    alert = await alerts.create_alert(cat.account_id, "big", cat.meter_id, None, Decimal(100))
    # Usage before the subscription's period (Mar 1 - Mar 10 12:00) is in the calendar month
    # of the customer without one, not in the subscriber's period.
    await record(cat.account_id, [ev(subbed, 80, -60), ev(plain.id, 80, -60)])
    await usage.drain()
    await record(cat.account_id, [ev(subbed, 30, 1), ev(plain.id, 30, 1)])
    await usage.drain()
    got = await BillingAlertTrigger.filter(alert_id=alert.id)
    assert [(t.customer_id, t.period_start, t.value) for t in got] == [
        (plain.id, datetime(2025, 3, 1, tzinfo=UTC), "110")
    ]
    await record(cat.account_id, [ev(subbed, 70, 2)])
    await usage.drain()
    got = await BillingAlertTrigger.filter(alert_id=alert.id, customer_id=subbed)
    assert [(t.period_start, t.value) for t in got] == [(NOW, "100")]


async def test_concurrent_evaluations_record_one_trigger_and_one_event(db):
    cat = await make_catalog()
    cus = await catalog.create_customer(cat.account_id, catalog.CustomerSpec(name="c"))
    now = datetime.now(UTC)
    await record(
        cat.account_id, [EventInput("tokens", {"customer_id": cus.id, "value": 9}, None, now)]
    )
    await usage.drain()
    # Created after the fold: only the evaluations below can trigger it.
    alert = await alerts.create_alert(cat.account_id, "a", cat.meter_id, cus.id, Decimal(9))
    touched = [(cat.account_id, cat.meter_id, cus.id)]
    results = await asyncio.gather(*(alert_checks.evaluate(touched) for _ in range(4)))
    assert sum(len(r) for r in results) == 1
    assert await BillingAlertTrigger.filter(alert_id=alert.id).count() == 1
    assert (
        await DomainEvent.filter(
            account_id=cat.account_id, type="billing.alert.triggered", object_id=alert.id
        ).count()
        == 1
    )
    # And again later: the recorded trigger is skipped.
    assert await alert_checks.evaluate(touched) == []


async def test_a_fold_whose_evaluation_was_lost_is_evaluated_by_the_sweep(db):
    cat = await make_catalog()
    clock = await test_clocks.create_test_clock(cat.account_id, NOW, None)
    cus = await catalog.create_customer(
        cat.account_id, catalog.CustomerSpec(name="c", test_clock_id=clock.id)
    )
    alert = await alerts.create_alert(cat.account_id, "a", cat.meter_id, None, Decimal(10))
    await record(cat.account_id, [ev(cus.id, 6, -30), ev(cus.id, 5, -20)])
    # The worker dies after its fold commits, before it evaluates the alerts.
    taken, touched = await aggregate.fold_batch()
    assert taken == 2 and touched == {(cat.account_id, cat.meter_id, cus.id)}
    assert not await BillingAlertTrigger.filter(alert_id=alert.id).exists()
    assert await AlertCheckDue.filter(customer_id=cus.id).count() == 1

    assert await alert_checks.sweep() == 1
    got = await BillingAlertTrigger.filter(alert_id=alert.id)
    assert [(t.customer_id, t.period_start, t.value) for t in got] == [
        (cus.id, datetime(2025, 3, 1, tzinfo=UTC), "11")
    ]
    triggered = DomainEvent.filter(
        account_id=cat.account_id, type="billing.alert.triggered", object_id=alert.id
    )
    assert await triggered.count() == 1
    # Swept: nothing is due any more, and sweeping again adds nothing.
    assert not await AlertCheckDue.all().exists()
    assert await alert_checks.sweep() == 0
    # A later fold of the customer (lost evaluation again) is swept without a second trigger.
    await record(cat.account_id, [ev(cus.id, 50, -10)])
    await aggregate.fold_batch()
    assert await alert_checks.sweep() == 1
    assert await BillingAlertTrigger.filter(alert_id=alert.id).count() == 1
    assert await triggered.count() == 1


async def test_an_evaluation_clears_only_the_folds_it_read(db):
    cat = await make_catalog()
    cus = await catalog.create_customer(cat.account_id, catalog.CustomerSpec(name="c"))
    plain = await catalog.create_meter(cat.account_id, catalog.MeterSpec("Calls", "calls", "SUM"))
    await alerts.create_alert(cat.account_id, "a", cat.meter_id, cus.id, Decimal(10**9))
    now = datetime.now(UTC)
    await record(
        cat.account_id,
        [
            EventInput("tokens", {"customer_id": cus.id, "value": 1}, None, now),
            EventInput("calls", {"customer_id": cus.id, "value": 1}, None, now),
        ],
    )
    await aggregate.fold_batch()
    # Only the meter with an ACTIVE alert is due.
    conn = connections.get("default")
    read = await checks_due(conn, None)
    assert [(d.meter_id, d.customer_id, d.folds) for d in read] == [(cat.meter_id, cus.id, 1)]
    assert plain.id != cat.meter_id
    # A fold after the read marks the pair again: clearing what was read leaves it due.
    await record(
        cat.account_id, [EventInput("tokens", {"customer_id": cus.id, "value": 1}, None, now)]
    )
    await aggregate.fold_batch()
    await clear_checks(conn, read)
    assert [d.folds for d in await checks_due(conn, None)] == [2]
    # The worker's own path (fold, then evaluate) leaves nothing due.
    await record(
        cat.account_id, [EventInput("tokens", {"customer_id": cus.id, "value": 1}, None, now)]
    )
    await usage.drain()
    assert await checks_due(conn, None) == []
