"""The pure half of bench/multinode.py: what the load sends, what must come out of it, and
the checks that compare the two. No I/O, so tests/unit/test_multinode_plan.py pins it.

A plan is deterministic in its seed: N_EVENTS distinct events (identifier, customer, integer
value, timestamp inside January) cut into requests over two API nodes, 80 % of the events
in bulk NDJSON bodies and 20 % in GraphQL batches, then some events sent again: replays on
the other node than their first send, and twins (one request sent to both nodes at once, so
the database's unique key decides the race). Every identifier counts once whatever happens,
so the expected usage of a customer is the sum over its distinct events."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

START = datetime(2026, 1, 1, tzinfo=UTC)  # the clocks' frozen time and the periods' start
LOADED_AT = datetime(2026, 1, 31, 12, tzinfo=UTC)  # the clocks while the load runs
BILLED_AT = datetime(2026, 2, 1, 1, 1, tzinfo=UTC)  # past period end + the 1 h grace
PERIOD_END = datetime(2026, 2, 1, tzinfo=UTC)
EVENT_NAME = "mn_tokens"
LICENSE_AMOUNT = 500  # cents a month, in advance: the first invoice and the cycle's next month
UNIT_AMOUNT = 1  # cents per unit of usage, in arrears
# A bulk body of 4,000 is two of the endpoint's chunks (2,500 each, http/bulk.py): the first
# is committed and answered while the second is stored, so a kill can cut an answer midway.
BULK_SIZE, GRAPHQL_SIZE = 4000, 250
# One round of the request pattern: a bulk body, then four GraphQL batches (80 % / 20 %).
ROUND = ("bulk",) + ("graphql",) * 4
# Invoices per subscription: the first (license for January) and the cycle (usage of
# January + license for February).
REASONS = ("SUBSCRIPTION_CREATE", "SUBSCRIPTION_CYCLE")
INVOICE_EVENTS = ("invoice.created", "invoice.finalized", "invoice.paid")


@dataclass(frozen=True)
class Event:
    identifier: str
    customer: int  # index into the plan's customers
    value: int
    timestamp: datetime


@dataclass(frozen=True)
class Request:
    kind: str  # bulk | graphql
    node: int  # 0 or 1: the API node it goes to first
    events: tuple[int, ...]  # indexes into Plan.events
    twin: bool = False  # also sent to the other node at the same moment
    replay: bool = False  # a second send of events that an earlier request carried


@dataclass
class Plan:
    subscriptions: int
    clocks: int
    events: list[Event]
    requests: list[Request]

    @property
    def sends(self) -> int:
        """Event sends in all (twins count twice): what the API nodes answer for."""
        return sum(len(r.events) * (2 if r.twin else 1) for r in self.requests)

    def expected_usage(self) -> dict[int, tuple[int, int]]:
        """customer index -> (events, sum of values), each identifier once."""
        out: dict[int, list[int]] = {}
        for e in self.events:
            acc = out.setdefault(e.customer, [0, 0])
            acc[0] += 1
            acc[1] += e.value
        return {c: (n, total) for c, (n, total) in out.items()}

    def clock_of(self, customer: int) -> int:
        return customer % self.clocks


def make_plan(
    *,
    events: int = 100_000,
    subscriptions: int = 1000,
    clocks: int = 10,
    replay_fraction: float = 0.05,
    twin_every: int = 25,
    seed: int = 18,
    tag: str = "mn",
) -> Plan:
    rng = random.Random(seed)
    span = int((LOADED_AT - START).total_seconds())
    evs = [
        Event(
            identifier=f"{tag}-{k:07d}",
            customer=rng.randrange(subscriptions),
            value=rng.randint(1, 50),
            timestamp=START + timedelta(seconds=rng.randrange(span)),
        )
        for k in range(events)
    ]
    requests: list[Request] = []
    k = 0
    while k < events:
        kind = ROUND[len(requests) % len(ROUND)]
        size = BULK_SIZE if kind == "bulk" else GRAPHQL_SIZE
        n = len(requests)
        twin = twin_every > 0 and n % twin_every == twin_every - 1
        requests.append(Request(kind, n % 2, tuple(range(k, min(k + size, events))), twin=twin))
        k += size
    # Replays: a sample of events sent again in GraphQL batches, each on the other node than
    # its first send, spread through the second half of the schedule (some race their first
    # send, some come long after it).
    node_of = {i: r.node for r in requests for i in r.events}
    sample = sorted(rng.sample(range(events), int(events * replay_fraction)))
    by_node: dict[int, list[int]] = {0: [], 1: []}
    for i in sample:
        by_node[1 - node_of[i]].append(i)
    replays = [
        Request("graphql", node, tuple(ids[j : j + GRAPHQL_SIZE]), replay=True)
        for node, ids in by_node.items()
        for j in range(0, len(ids), GRAPHQL_SIZE)
    ]
    rng.shuffle(replays)
    half = len(requests) // 2
    for j, r in enumerate(replays):
        at = half + (j * (len(requests) - half)) // max(1, len(replays)) + j
        requests.insert(at, r)
    return Plan(subscriptions, clocks, evs, requests)


# ---------------------------------------------------------------- what the nodes answered


@dataclass
class Tally:
    """Every answer the load got, per identifier: ACCEPTED / DUPLICATE / REJECTED."""

    statuses: dict[str, Counter[str]] = field(default_factory=dict)
    failed_attempts: int = 0  # requests that got no complete answer (then retried)

    def add(self, identifier: str, status: str) -> None:
        self.statuses.setdefault(identifier, Counter())[status] += 1

    def count(self, status: str) -> int:
        return sum(c[status] for c in self.statuses.values())


def tally_problems(plan: Plan, tally: Tally, *, clean: bool) -> list[str]:
    """What the answers must show. Clean (no node died): each identifier ACCEPTED exactly
    once and every other send DUPLICATE. With a node killed, an answer can be lost after
    its commit, so the retry says DUPLICATE where no ACCEPTED was seen: then each identifier
    is ACCEPTED at most once and answered at least once; the database counts decide."""
    problems: list[str] = []
    planned = {e.identifier for e in plan.events}
    unknown = set(tally.statuses) - planned
    if unknown:
        problems.append(f"{len(unknown)} answers for identifiers never sent")
    rejected = tally.count("REJECTED")
    if rejected:
        problems.append(f"{rejected} events REJECTED")
    unanswered = [i for i in planned if i not in tally.statuses]
    if unanswered:
        problems.append(f"{len(unanswered)} identifiers got no answer (e.g. {unanswered[0]})")
    twice = [i for i, c in tally.statuses.items() if c["ACCEPTED"] > 1]
    if twice:
        problems.append(f"{len(twice)} identifiers ACCEPTED more than once (e.g. {twice[0]})")
    if clean:
        if tally.count("ACCEPTED") != len(plan.events):
            problems.append(f"ACCEPTED {tally.count('ACCEPTED')} != {len(plan.events)} events")
        answers = tally.count("ACCEPTED") + tally.count("DUPLICATE")
        if answers != plan.sends or tally.failed_attempts:
            problems.append(
                f"{answers} answers for {plan.sends} sends, "
                f"{tally.failed_attempts} failed attempts without a node killed"
            )
    return problems


# ---------------------------------------------------------------- what the database holds


@dataclass(frozen=True)
class InvoiceRow:
    subscription: str
    reason: str
    period_start: datetime
    status: str
    total: int
    usage_quantity: Decimal  # sum of the invoice's METERED lines' quantities


def usage_problems(
    expected: Mapping[str, tuple[int, int]],
    stored: Mapping[str, tuple[int, Decimal]],
    folded: Mapping[str, Mapping[str, tuple[int, Decimal]]],
) -> list[str]:
    """Per customer id: (events, sum) expected; (event rows, sum of values) stored in
    meter_events; and (count, sum) folded into each rollup table (minute and hour). All must
    agree exactly: an event lost, stored twice or folded twice shows."""
    problems = []
    customers = set(expected) | set(stored)
    for table in folded.values():
        customers |= set(table)
    for cus in sorted(customers):
        n, total = expected.get(cus, (0, 0))
        want = (n, Decimal(total))
        if stored.get(cus, (0, Decimal(0))) != want:
            problems.append(f"{cus}: meter_events hold {stored.get(cus)}, sent {want}")
        for name, table in folded.items():
            if table.get(cus, (0, Decimal(0))) != want:
                problems.append(f"{cus}: {name} hold {table.get(cus)}, sent {want}")
    return problems


def invoice_problems(
    subscription_usage: Mapping[str, int], invoices: Iterable[InvoiceRow]
) -> list[str]:
    """Exactly one invoice per subscription per reason (the first and January's cycle),
    each PAID; the cycle's usage quantity is what was sent and its total is that usage at
    UNIT_AMOUNT plus February's license."""
    problems = []
    seen: dict[tuple[str, str], list[InvoiceRow]] = {}
    for inv in invoices:
        seen.setdefault((inv.subscription, inv.reason), []).append(inv)
    for sub, usage in sorted(subscription_usage.items()):
        for reason in REASONS:
            rows = seen.pop((sub, reason), [])
            if len(rows) != 1:
                problems.append(f"{sub}: {len(rows)} {reason} invoices")
                continue
            inv = rows[0]
            if inv.status != "PAID":
                problems.append(f"{sub}: {reason} invoice {inv.status}")
            if reason == "SUBSCRIPTION_CYCLE":
                want = usage * UNIT_AMOUNT + LICENSE_AMOUNT
                if inv.period_start != START or inv.usage_quantity != usage or inv.total != want:
                    problems.append(
                        f"{sub}: cycle from {inv.period_start} quantity {inv.usage_quantity} "
                        f"total {inv.total}, expected quantity {usage} total {want}"
                    )
            elif inv.total != LICENSE_AMOUNT:
                problems.append(f"{sub}: first invoice total {inv.total} != {LICENSE_AMOUNT}")
    for (sub, reason), rows in sorted(seen.items()):
        problems.append(f"{sub}: {len(rows)} unexpected {reason} invoices")
    return problems


def event_problems(
    events: Mapping[tuple[str, str], int],
    customers: set[str],
    subscriptions: set[str],
    invoices: set[str],
) -> list[str]:
    """One domain event per change: (type, object id) -> rows. Every customer created
    once, every subscription created once, every invoice created, finalized and paid once;
    no other event (nothing else changed)."""
    problems = []
    want: dict[str, set[str]] = {
        "customer.created": customers,
        "customer.subscription.created": subscriptions,
        **{t: invoices for t in INVOICE_EVENTS},
    }
    for kind, ids in want.items():
        got = {obj: n for (t, obj), n in events.items() if t == kind}
        missing = ids - set(got)
        extra = set(got) - ids
        doubled = {obj for obj, n in got.items() if n != 1}
        if missing or extra or doubled:
            problems.append(
                f"{kind}: {len(got)} objects for {len(ids)} expected; missing {len(missing)}, "
                f"unexpected {len(extra)}, with more than one event {len(doubled)}"
            )
    others = Counter(t for (t, _), n in events.items() if t not in want for _ in range(n))
    if others:
        problems.append(f"unexpected events: {dict(others)}")
    return problems


def event_counts(rows: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(type, object id) rows of domain_events -> how many of each."""
    return dict(Counter(rows))
