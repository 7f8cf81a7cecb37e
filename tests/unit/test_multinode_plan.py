"""The pure half of bench/multinode.py (the harness itself needs root and runs by hand):
the load plan it sends and the checks that judge what the nodes and the database did."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from bench.multinode_plan import (
    BULK_SIZE,
    GRAPHQL_SIZE,
    LICENSE_AMOUNT,
    LOADED_AT,
    START,
    UNIT_AMOUNT,
    InvoiceRow,
    Tally,
    event_counts,
    event_problems,
    invoice_problems,
    make_plan,
    tally_problems,
    usage_problems,
)


def test_the_plan_sends_every_event_once_then_replays_and_twins() -> None:
    plan = make_plan(events=10_000, subscriptions=40, clocks=4, seed=7)
    assert plan == make_plan(events=10_000, subscriptions=40, clocks=4, seed=7)
    assert plan != make_plan(events=10_000, subscriptions=40, clocks=4, seed=8)
    ids = [e.identifier for e in plan.events]
    assert len(set(ids)) == len(ids) == 10_000
    assert all(START <= e.timestamp < LOADED_AT and 1 <= e.value <= 50 for e in plan.events)
    first = [r for r in plan.requests if not r.replay]
    carried = Counter(i for r in first for i in r.events)
    assert set(carried) == set(range(10_000)) and set(carried.values()) == {1}
    # 80 % of the events in bulk bodies, 20 % in GraphQL batches, within the API's limits.
    kinds = Counter(r.kind for r in first for _ in r.events)
    assert kinds == {"bulk": 8000, "graphql": 2000}
    assert all(len(r.events) <= (BULK_SIZE if r.kind == "bulk" else GRAPHQL_SIZE) for r in first)
    # Replays: 5 % of the events, each on the other node than its first send, after the
    # first half of the schedule.
    node_of = {i: r.node for r in first for i in r.events}
    replays = [(k, r) for k, r in enumerate(plan.requests) if r.replay]
    replayed = [i for _, r in replays for i in r.events]
    assert len(replayed) == len(set(replayed)) == 500
    assert all(r.node != node_of[i] for _, r in replays for i in r.events)
    assert min(k for k, _ in replays) >= len(first) // 2
    twins = [r for r in plan.requests if r.twin]
    assert len(twins) == len(first) // 25 and all(not r.replay for r in twins)
    twin_events = sum(len(r.events) for r in twins)
    assert plan.sends == 10_000 + 500 + twin_events
    # Both nodes get a share of the first sends.
    assert {r.node for r in first} == {0, 1}


def test_expected_usage_counts_each_event_once() -> None:
    plan = make_plan(events=5000, subscriptions=30, clocks=3, seed=1)
    usage = plan.expected_usage()
    assert sum(n for n, _ in usage.values()) == 5000
    assert sum(v for _, v in usage.values()) == sum(e.value for e in plan.events)
    c = plan.events[0].customer
    mine = [e.value for e in plan.events if e.customer == c]
    assert usage[c] == (len(mine), sum(mine))
    assert {plan.clock_of(i) for i in range(30)} == {0, 1, 2}


def answers(plan: Any, *, lose: int = 0) -> Tally:
    """What the nodes answer when nothing goes wrong; `lose` first ACCEPTED answers of
    events that were then retried and came back DUPLICATE (an answer cut by a kill)."""
    tally, seen = Tally(), set()
    for r in plan.requests:
        for _ in range(2 if r.twin else 1):
            for i in r.events:
                ident = plan.events[i].identifier
                tally.add(ident, "DUPLICATE" if ident in seen else "ACCEPTED")
                seen.add(ident)
    for ident in list(tally.statuses)[:lose]:
        tally.statuses[ident]["ACCEPTED"] -= 1
        tally.statuses[ident]["DUPLICATE"] += 1
    return tally


def test_answers_show_each_identifier_accepted_exactly_once() -> None:
    plan = make_plan(events=3000, subscriptions=10, clocks=2, seed=3)
    assert tally_problems(plan, answers(plan), clean=True) == []
    twice = answers(plan)
    twice.add(plan.events[5].identifier, "ACCEPTED")
    assert any("ACCEPTED more than once" in p for p in tally_problems(plan, twice, clean=False))
    lost = answers(plan, lose=3)
    lost.failed_attempts = 1
    # With a node killed an answer may be lost after its commit: not a problem then ...
    assert tally_problems(plan, lost, clean=False) == []
    # ... but it is when no node died.
    assert any("ACCEPTED 2997 != 3000" in p for p in tally_problems(plan, lost, clean=True))
    gone = answers(plan)
    del gone.statuses[plan.events[9].identifier]
    assert any("1 identifiers got no answer" in p for p in tally_problems(plan, gone, clean=False))
    rejected = answers(plan)
    rejected.add(plan.events[1].identifier, "REJECTED")
    assert "1 events REJECTED" in tally_problems(plan, rejected, clean=False)


def test_usage_must_match_in_events_and_both_rollup_tables() -> None:
    expected = {"cus_a": (3, 60), "cus_b": (1, 7)}
    stored = {"cus_a": (3, Decimal(60)), "cus_b": (1, Decimal("7.000000000000"))}
    folded = {"usage_rollups": dict(stored), "usage_rollups_hourly": dict(stored)}
    assert usage_problems(expected, stored, folded) == []
    twice = {**folded, "usage_rollups_hourly": {**stored, "cus_b": (2, Decimal(14))}}
    assert usage_problems(expected, stored, twice) == [
        "cus_b: usage_rollups_hourly hold (2, Decimal('14')), sent (1, Decimal('7'))"
    ]
    lost = {"cus_a": (2, Decimal(40)), "cus_b": (1, Decimal(7))}
    assert [p.split(":")[0] for p in usage_problems(expected, lost, folded)] == ["cus_a"]
    stray = {**folded, "usage_rollups": {**stored, "cus_c": (1, Decimal(1))}}
    assert [p.split(":")[0] for p in usage_problems(expected, stored, stray)] == ["cus_c"]


def _invoices(usage: int) -> list[InvoiceRow]:
    return [
        InvoiceRow("sub_1", "SUBSCRIPTION_CREATE", START, "PAID", LICENSE_AMOUNT, Decimal(0)),
        InvoiceRow(
            "sub_1", "SUBSCRIPTION_CYCLE", START, "PAID",
            usage * UNIT_AMOUNT + LICENSE_AMOUNT, Decimal(usage),
        ),
    ]  # fmt: skip


def test_one_paid_invoice_per_subscription_and_reason_with_the_sent_usage() -> None:
    assert invoice_problems({"sub_1": 1234}, _invoices(1234)) == []
    assert invoice_problems({"sub_1": 1235}, _invoices(1234)) == [
        f"sub_1: cycle from {START} quantity 1234 total {1234 + LICENSE_AMOUNT}, "
        f"expected quantity 1235 total {1235 + LICENSE_AMOUNT}"
    ]
    doubled = _invoices(10) + _invoices(10)[1:]
    assert invoice_problems({"sub_1": 10}, doubled) == ["sub_1: 2 SUBSCRIPTION_CYCLE invoices"]
    assert invoice_problems({"sub_1": 10, "sub_2": 0}, _invoices(10)) == [
        "sub_2: 0 SUBSCRIPTION_CREATE invoices",
        "sub_2: 0 SUBSCRIPTION_CYCLE invoices",
    ]
    open_ = [
        _invoices(10)[0],
        InvoiceRow("sub_1", "SUBSCRIPTION_CYCLE", START, "OPEN", 510, Decimal(10)),
    ]
    assert invoice_problems({"sub_1": 10}, open_) == ["sub_1: SUBSCRIPTION_CYCLE invoice OPEN"]
    stray = [*_invoices(10), InvoiceRow("sub_9", "MANUAL", START, "PAID", 1, Decimal(0))]
    assert invoice_problems({"sub_1": 10}, stray) == ["sub_9: 1 unexpected MANUAL invoices"]


def test_one_domain_event_per_change() -> None:
    rows = [("customer.created", "cus_1"), ("customer.subscription.created", "sub_1")]
    rows += [(t, i) for i in ("in_1", "in_2") for t in ("invoice.created", "invoice.finalized")]
    rows += [("invoice.paid", "in_1"), ("invoice.paid", "in_2")]
    args = ({"cus_1"}, {"sub_1"}, {"in_1", "in_2"})
    assert event_problems(event_counts(rows), *args) == []
    [doubled] = event_problems(event_counts([*rows, ("invoice.paid", "in_2")]), *args)
    assert doubled.startswith("invoice.paid:") and "with more than one event 1" in doubled
    [missing] = event_problems(event_counts(rows[1:]), *args)
    assert missing.startswith("customer.created:") and "missing 1" in missing
    extra = event_counts([*rows, ("customer.subscription.updated", "sub_1")])
    assert event_problems(extra, *args) == [
        "unexpected events: {'customer.subscription.updated': 1}"
    ]
