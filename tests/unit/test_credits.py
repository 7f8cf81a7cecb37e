"""billing/credits: which grants pay for which lines, in Stripe's order (tables), and the
allocation's invariants for any grants and lines (properties)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterbill.billing.credits import (
    Bill,
    Charge,
    Grant,
    allocate,
    applications_from_text,
    applications_text,
    check_grant,
    in_effect,
    order_key,
    pay_lines,
    payable,
    pays_for,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AT = datetime(2026, 2, 1, 1, tzinfo=UTC)  # the finalization instant of the tables
USAGE, OTHER, LICENSE = "price_usage", "price_other", "price_license"


def grant(gid: str, available: int = 1000, **kw: object) -> Grant:
    base: dict[str, object] = {
        "id": gid,
        "customer_id": "cus_1",
        "currency": "usd",
        "category": "PAID",
        "priority": 50,
        "available": available,
        "price_ids": frozenset(),
        "effective_at": T0,
        "expires_at": None,
        "voided_at": None,
        "created_at": T0,
    }
    base.update(kw)
    return Grant(**base)  # type: ignore[arg-type]


def bill(*charges: Charge, total: int | None = None, bid: str = "in_1", currency: str = "usd"):
    t = sum(c.amount for c in charges) if total is None else total
    return Bill(bid, "cus_1", currency, t, charges)


def metered(amount: int, price: str = USAGE) -> Charge:
    return Charge(price, True, amount)


def applied(grants, bills) -> list[tuple[str, str, int]]:
    return [(a.invoice_id, a.grant_id, a.amount) for a in allocate(grants, bills, AT)]


# ---------------------------------------------------------------- tables


def test_the_alpaca_month_5000_paid_grant_pays_5000_of_the_8000_usage():
    lines = (metered(0), metered(8000), Charge(LICENSE, False, 10000))
    assert applied([grant("g", 5000)], [bill(*lines)]) == [("in_1", "g", 5000)]


def test_the_license_only_first_invoice_takes_nothing():
    assert applied([grant("g", 5000)], [bill(Charge(LICENSE, False, 10000))]) == []
    # CLASSIC's zero-amount usage line on the first invoice: nothing to pay either.
    assert applied([grant("g", 5000)], [bill(metered(0), Charge(LICENSE, False, 10000))]) == []


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # lower priority number first, whatever the rest
        (
            {"priority": 10, "expires_at": None, "category": "PAID"},
            {"priority": 20, "expires_at": AT + timedelta(days=1), "category": "PROMOTIONAL"},
        ),
        # same priority: the soonest expiry first
        ({"expires_at": AT + timedelta(days=1)}, {"expires_at": AT + timedelta(days=2)}),
        # an expiry before none
        ({"expires_at": AT + timedelta(days=300)}, {"expires_at": None}),
        # same priority and expiry: PROMOTIONAL before PAID
        ({"category": "PROMOTIONAL"}, {"category": "PAID", "created_at": T0 - timedelta(days=9)}),
        # then the oldest
        ({"created_at": T0}, {"created_at": T0 + timedelta(seconds=1)}),
        # created at one test-clock instant: the one recorded first
        ({"recorded_at": T0}, {"recorded_at": T0 + timedelta(microseconds=1)}),
    ],
)
def test_stripe_order(first, second):
    a, b = grant("g_b", 600, **second), grant("g_a", 600, **first)
    assert order_key(b) < order_key(a)
    # The usage is 1000: the first grant pays 600, the second the remaining 400.
    assert applied([a, b], [bill(metered(1000))]) == [("in_1", "g_a", 600), ("in_1", "g_b", 400)]


@pytest.mark.parametrize(
    "kw",
    [
        {"price_ids": frozenset({OTHER})},  # limited to other prices
        {"expires_at": AT},  # expired (expiresAt is exclusive)
        {"expires_at": AT - timedelta(days=1)},
        {"voided_at": T0 + timedelta(days=3)},
        {"effective_at": AT + timedelta(seconds=1)},  # not yet in effect
        {"currency": "eur"},
        {"customer_id": "cus_2"},  # another customer's
    ],
)
def test_grants_that_pay_nothing(kw):
    assert applied([grant("g", 5000, **kw)], [bill(metered(8000))]) == []


def test_in_effect_from_effective_at_inclusive_to_expires_at_exclusive():
    g = grant("g", effective_at=AT, expires_at=AT + timedelta(hours=1))
    assert in_effect(g, AT)
    assert not in_effect(g, AT - timedelta(microseconds=1))
    assert not in_effect(g, AT + timedelta(hours=1))


def test_a_grant_limited_to_a_price_pays_only_that_line():
    lines = (metered(3000, OTHER), metered(2000, USAGE))
    g = grant("g", 5000, price_ids=frozenset({USAGE}))
    assert applied([g], [bill(*lines)]) == [("in_1", "g", 2000)]


def test_an_invoice_never_takes_more_than_its_total():
    # 8000 of usage and a 9000 proration credit: nothing is due, nothing is taken.
    assert applied([grant("g", 5000)], [bill(metered(8000), total=-1000)]) == []
    assert applied([grant("g", 5000)], [bill(metered(8000), total=3000)]) == [("in_1", "g", 3000)]


def test_invoices_of_one_customer_share_a_grant_in_turn():
    bills = [bill(metered(3000), bid=f"in_{k}") for k in range(3)]
    assert applied([grant("g", 5000)], bills) == [("in_0", "g", 3000), ("in_1", "g", 2000)]


def test_pays_for_only_metered_positive_lines_in_its_currency():
    g = grant("g")
    assert pays_for(g, "usd", metered(1))
    assert not pays_for(g, "usd", metered(0))
    assert not pays_for(g, "usd", Charge(USAGE, False, 100))
    assert not pays_for(g, "eur", metered(100))


@pytest.mark.parametrize(
    ("kw", "field", "code"),
    [
        ({"amount": 0}, "amount", "INVALID"),
        ({"amount": -5}, "amount", "INVALID"),
        ({"amount": 10**15}, "amount", "INVALID"),
        ({"priority": -1}, "priority", "OUT_OF_RANGE"),
        ({"priority": 101}, "priority", "OUT_OF_RANGE"),
        ({"expires_at": T0}, "expiresAt", "INVALID"),
        ({"expires_at": T0 - timedelta(days=1)}, "expiresAt", "INVALID"),
        ({"name": "n" * 201}, "name", "INVALID"),
        ({"category": "FREE"}, "category", "INVALID"),
    ],
)
def test_check_grant_names_the_field(kw, field, code):
    args = {
        "amount": 100,
        "priority": 50,
        "effective_at": T0,
        "expires_at": None,
        "name": None,
        "category": "PAID",
    }
    args.update(kw)
    errs = check_grant(**args)  # type: ignore[arg-type]
    assert [(e.field, e.code) for e in errs] == [(("input", field), code)]


def test_check_grant_accepts_the_edges():
    assert check_grant(1, 0, T0, T0 + timedelta(seconds=1), "n" * 200, "PROMOTIONAL") == []
    assert check_grant(10**15 - 1, 100, T0, None, None, "PAID") == []


# ---------------------------------------------------------------- properties

_instants = st.integers(min_value=-5, max_value=5).map(lambda d: AT + timedelta(days=d))
_grants = st.builds(
    Grant,
    id=st.sampled_from([f"g{k}" for k in range(8)]),
    customer_id=st.sampled_from(["cus_1", "cus_2"]),
    currency=st.sampled_from(["usd", "eur"]),
    category=st.sampled_from(["PAID", "PROMOTIONAL"]),
    priority=st.integers(min_value=0, max_value=3),
    available=st.integers(min_value=0, max_value=5000),
    price_ids=st.frozensets(st.sampled_from([USAGE, OTHER]), max_size=2),
    effective_at=_instants,
    expires_at=st.none() | _instants,
    voided_at=st.none() | _instants,
    created_at=_instants,
    recorded_at=st.none() | _instants,
)
_charges = st.builds(
    Charge,
    price_id=st.sampled_from([USAGE, OTHER, LICENSE]),
    metered=st.booleans(),
    amount=st.integers(min_value=-500, max_value=4000),
)
_bills = st.builds(
    Bill,
    id=st.sampled_from([f"in_{k}" for k in range(4)]),
    customer_id=st.sampled_from(["cus_1", "cus_2"]),
    currency=st.sampled_from(["usd", "eur"]),
    total=st.integers(min_value=-2000, max_value=12000),
    charges=st.lists(_charges, max_size=5).map(tuple),
)
_cases = st.tuples(
    st.lists(_grants, max_size=6, unique_by=lambda g: g.id),
    st.lists(_bills, max_size=4, unique_by=lambda b: b.id),
)


@settings(max_examples=400, deadline=None)
@given(_cases)
def test_never_more_than_each_grant_has(case):
    grants, bills = case
    used: dict[str, int] = {}
    for a in allocate(grants, bills, AT):
        assert a.amount > 0
        used[a.grant_id] = used.get(a.grant_id, 0) + a.amount
    for g in grants:
        assert used.get(g.id, 0) <= g.available
        if not in_effect(g, AT):
            assert g.id not in used


@settings(max_examples=400, deadline=None)
@given(_cases)
def test_never_more_than_the_applicable_lines_and_the_total(case):
    grants, bills = case
    by_id = {g.id: g for g in grants}
    parts = pay_lines(grants, bills, AT)
    for b in bills:
        mine = [p for p in parts if p.invoice_id == b.id]
        assert sum(p.amount for p in mine) <= payable(b) <= max(b.total, 0)
        for k, c in enumerate(b.charges):
            on_line = [p for p in mine if p.line == k]
            assert sum(p.amount for p in on_line) <= max(c.amount, 0)
            for p in on_line:
                g = by_id[p.grant_id]
                assert pays_for(g, b.currency, c) and g.customer_id == b.customer_id
        for g in grants:
            paid_by_g = sum(p.amount for p in mine if p.grant_id == g.id)
            applicable = sum(max(c.amount, 0) for c in b.charges if pays_for(g, b.currency, c))
            assert paid_by_g <= applicable


@settings(max_examples=400, deadline=None)
@given(_cases)
def test_order_rule_an_earlier_grant_is_used_up_before_a_later_one_pays_its_lines(case):
    grants, bills = case
    parts = pay_lines(grants, bills, AT)
    used: dict[str, int] = {}
    for p in parts:
        used[p.grant_id] = used.get(p.grant_id, 0) + p.amount
    by_bill = {b.id: b for b in bills}
    for p in parts:
        b = by_bill[p.invoice_id]
        later = next(g for g in grants if g.id == p.grant_id)
        for h in grants:
            if (
                in_effect(h, AT)
                and order_key(h) < order_key(later)
                and h.customer_id == b.customer_id
                and pays_for(h, b.currency, b.charges[p.line])
            ):
                # h could have paid this line and comes first: it has nothing left.
                assert used.get(h.id, 0) == h.available, (h, later)


@settings(max_examples=200, deadline=None)
@given(_cases)
def test_as_much_as_possible_is_paid_when_every_grant_applies_everywhere(case):
    grants, bills = case
    # One customer, one currency, unrestricted grants in effect: the bills together take
    # min(credit, what they may take).
    grants = [
        Grant(
            g.id,
            "cus_1",
            "usd",
            g.category,
            g.priority,
            g.available,
            frozenset(),
            T0,
            None,
            None,
            g.created_at,
        )
        for g in grants
    ]
    bills = [Bill(b.id, "cus_1", "usd", b.total, b.charges) for b in bills]
    taken = sum(a.amount for a in allocate(grants, bills, AT))
    assert taken == min(sum(g.available for g in grants), sum(payable(b) for b in bills))


@settings(max_examples=200, deadline=None)
@given(_cases)
def test_an_invoices_applications_read_back_from_its_row_as_written(case):
    grants, bills = case
    applications = allocate(grants, bills, AT)
    for b in bills:
        mine = [a for a in applications if a.invoice_id == b.id]
        assert applications_from_text(b.id, applications_text(mine)) == mine


def test_applications_of_an_invoice_that_took_none():
    assert applications_text([]) == ""
    assert applications_from_text("in_1", "") == []
    assert applications_from_text("in_1", None) == []
