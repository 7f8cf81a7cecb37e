"""record_event (recordMeterEvent's service) answers as record_events(batch=False) does,
including where PostgreSQL takes the shortcut of services/usage/single.py: remembered
meters and customers, and one INSERT shared by concurrent calls."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from tortoise import connections

from meterbill.db.models import MeterEvent
from meterbill.db.usage_sql import EventRow
from meterbill.services import catalog
from meterbill.services.now import utcnow
from meterbill.services.test_clocks import create_test_clock
from meterbill.services.usage import EventInput, record_event, single
from tests import services as svc
from tests.integration.usage_support import event, setup_meter


async def test_concurrent_events_are_each_stored_once(db):
    account, meter, cus = await setup_meter()
    await record_event(account, event(cus, 1, ident="warm"))  # the meter is now remembered
    distinct = [record_event(account, event(cus, i, ident=f"e{i}")) for i in range(30)]
    same = [record_event(account, event(cus, 100 + i, ident="same")) for i in range(5)]
    results = await asyncio.gather(*distinct, *same)
    assert [r.status for r in results[:30]] == ["ACCEPTED"] * 30
    assert [r.event.value for r in results[:30] if r.event] == list(range(30))
    tail = results[30:]
    assert sorted(r.status for r in tail) == ["ACCEPTED"] + ["DUPLICATE"] * 4
    # Every answer for "same" is the one stored event, with the winner's value.
    ids = {r.event.id for r in tail if r.event}
    stored = await MeterEvent.get(account_id=account, identifier="same")
    assert ids == {stored.id}
    winner = next(r for r in tail if r.status == "ACCEPTED")
    assert winner.event is not None and winner.event.value == stored.value
    assert await MeterEvent.filter(account_id=account).count() == 32


async def test_unstorable_text_is_rejected_and_fails_nothing_else(db):
    account, _, cus = await setup_meter()
    await record_event(account, event(cus, 1, ident="warm"))
    # A lone surrogate cannot be encoded for the database: that event is rejected naming
    # its field; the others (queued into the same statement on PostgreSQL) are stored.
    calls = [record_event(account, event(cus, 1, ident=f"ok{i}")) for i in range(10)]
    calls.insert(5, record_event(account, event(cus, 1, ident="bad\ud800")))
    results = await asyncio.gather(*calls)
    bad = results.pop(5)
    assert bad.status == "REJECTED"
    assert [(e.code, e.field) for e in bad.errors] == [("INVALID", ("input", "identifier"))]
    assert [r.status for r in results] == ["ACCEPTED"] * 10
    assert await MeterEvent.filter(account_id=account).count() == 11


async def test_a_failing_row_fails_only_its_own_call(db):
    """A row that fails the shared statement (validation let nothing like it through any
    more, so this one bypasses it) fails its own call alone: the others are retried each on
    their own and stored."""
    svc.require_pg()
    account, meter, cus = await setup_meter()
    await record_event(account, event(cus, 1, ident="warm"))
    now = utcnow()
    row = EventRow(account, meter, cus, "bad\ud800", "tokens", Decimal(1), now, "{}", now)
    writer = single.writer_for(connections.get("default"))
    calls = [record_event(account, event(cus, 1, ident=f"ok{i}")) for i in range(10)]
    calls.insert(5, writer.write(single.Pending(row, None)))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[5], Exception)
    assert [r.status for r in results if not isinstance(r, Exception)] == ["ACCEPTED"] * 10
    assert await MeterEvent.filter(account_id=account).count() == 11


async def test_a_remembered_meter_deactivated_answers_inactive(db):
    account, meter, cus = await setup_meter()
    assert (await record_event(account, event(cus, 1))).status == "ACCEPTED"
    await catalog.set_meter_active(account, meter, False)
    r = await record_event(account, event(cus, 1))
    assert r.status == "REJECTED"
    assert [(e.code, e.field) for e in r.errors] == [("INACTIVE", ("input", "eventName"))]
    await catalog.set_meter_active(account, meter, True)
    assert (await record_event(account, event(cus, 1))).status == "ACCEPTED"
    assert await MeterEvent.filter(account_id=account).count() == 2


async def test_external_ids_and_other_accounts(db):
    account, _, _ = await setup_meter()
    spec = catalog.MeterSpec("Calls", "calls", "COUNT", customer_mapping_type="BY_EXTERNAL_ID")
    await catalog.create_meter(account, spec)
    alice = await catalog.create_customer(account, catalog.CustomerSpec(external_id="alice"))
    other, _, other_cus = await setup_meter()
    for _ in range(3):
        r = await record_event(account, EventInput("calls", {"customer_id": "alice"}))
        assert r.status == "ACCEPTED" and r.event is not None
        assert r.event.customer_id == alice.id
    # The other account's customer id is unknown to this account, remembered or not.
    for _ in range(2):
        assert (await record_event(other, event(other_cus, 1))).status == "ACCEPTED"
        r = await record_event(account, event(other_cus, 1))
        assert [e.code for e in r.errors] == ["NOT_FOUND"]


async def test_a_customer_on_a_test_clock_lives_at_the_clock(db):
    account, _, _ = await setup_meter()
    frozen = utcnow().replace(microsecond=0) - timedelta(days=100)
    clock = await create_test_clock(account, frozen, None)
    spec = catalog.CustomerSpec(test_clock_id=clock.id)
    cus = await catalog.create_customer(account, spec)
    for _ in range(2):
        r = await record_event(account, event(cus.id, 1))
        assert r.status == "ACCEPTED" and r.event is not None
        assert r.event.timestamp == frozen
