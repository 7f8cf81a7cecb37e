"""Meters, products and customers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from meterbill.billing.aggregation import FORMULAS
from meterbill.billing.errors import BadUserInput, DomainError, FieldError, not_found, required
from meterbill.db.models import Customer, Meter, Product, TestClock
from meterbill.services.lifecycle import customers as lifecycle_customers
from meterbill.services.now import utcnow
from meterbill.services.pages import Page, paginate

AGGREGATIONS = tuple(FORMULAS)
MAPPINGS = ("BY_ID", "BY_EXTERNAL_ID")
TEST_PAYMENT_METHODS = ("pm_card_visa", "pm_card_chargeDeclined")


def _text(value: str | None, name: str, limit: int, *, must: bool = False) -> list[FieldError]:
    path = ("input", name)
    if value is None or not value.strip():
        return [FieldError("REQUIRED", f"{name} is required", path)] if must else []
    if len(value) > limit:
        return [FieldError("INVALID", f"{name} must be at most {limit} characters", path)]
    return []


# ------------------------------------------------------------------ meters


@dataclass
class MeterSpec:
    display_name: str
    event_name: str
    aggregation: str
    customer_mapping_type: str = "BY_ID"
    customer_payload_key: str = "customer_id"
    value_payload_key: str = "value"
    dimension_keys: list[str] = field(default_factory=list)


def _meter_errors(spec: MeterSpec) -> list[FieldError]:
    errors = _text(spec.display_name, "displayName", 200, must=True)
    errors += _text(spec.event_name, "eventName", 100, must=True)
    errors += _text(spec.customer_payload_key, "customerPayloadKey", 100, must=True)
    errors += _text(spec.value_payload_key, "valuePayloadKey", 100, must=True)
    keys = spec.dimension_keys
    path = ("input", "dimensionKeys")
    if len(keys) > 10:
        errors.append(FieldError("INVALID", "at most 10 dimensionKeys", path))
    if len(set(keys)) != len(keys):
        errors.append(FieldError("INVALID", "dimensionKeys must be distinct", path))
    reserved = {spec.customer_payload_key, spec.value_payload_key}
    for i, k in enumerate(keys):
        if not k or len(k) > 100 or k in reserved:
            msg = "a dimension key must be 1-100 characters and not the customer or value key"
            errors.append(FieldError("INVALID", msg, (*path, str(i))))
    return errors


async def create_meter(account_id: str, spec: MeterSpec) -> Meter:
    errors = _meter_errors(spec)
    if errors:
        raise DomainError(errors)
    try:
        async with in_transaction():
            return await Meter.create(
                account_id=account_id,
                display_name=spec.display_name.strip(),
                event_name=spec.event_name.strip(),
                aggregation=spec.aggregation,
                customer_mapping_type=spec.customer_mapping_type,
                customer_payload_key=spec.customer_payload_key,
                value_payload_key=spec.value_payload_key,
                dimension_keys=list(spec.dimension_keys),
            )
    except IntegrityError as exc:
        msg = f"a meter with eventName {spec.event_name!r} already exists"
        raise DomainError([FieldError("ALREADY_EXISTS", msg, ("input", "eventName"))]) from exc


async def _own_meter(account_id: str, meter_id: str) -> Meter:
    meter = await Meter.get_or_none(id=meter_id, account_id=account_id)
    if meter is None:
        raise not_found(f"no meter {meter_id}", "input", "id")
    return meter


async def update_meter(account_id: str, meter_id: str, display_name: str) -> Meter:
    errors = _text(display_name, "displayName", 200, must=True)
    if errors:
        raise DomainError(errors)
    meter = await _own_meter(account_id, meter_id)
    meter.display_name = display_name.strip()
    await meter.save(update_fields=["display_name"])
    return meter


async def set_meter_active(account_id: str, meter_id: str, active: bool) -> Meter:
    meter = await _own_meter(account_id, meter_id)
    meter.status = "ACTIVE" if active else "INACTIVE"
    meter.deactivated_at = None if active else (meter.deactivated_at or utcnow())
    await meter.save(update_fields=["status", "deactivated_at"])
    return meter


async def get_meter(account_id: str, meter_id: str) -> Meter | None:
    return await Meter.get_or_none(id=meter_id, account_id=account_id)


async def list_meters(
    account_id: str, first: int, after: str | None, status: str | None
) -> Page[Any]:
    qs = Meter.filter(account_id=account_id)
    if status:
        qs = qs.filter(status=status)
    return await paginate(qs, first, after)


# ------------------------------------------------------------------ products


async def create_product(account_id: str, name: str, description: str | None) -> Product:
    errors = _text(name, "name", 200, must=True) + _text(description, "description", 1000)
    if errors:
        raise DomainError(errors)
    return await Product.create(account_id=account_id, name=name.strip(), description=description)


async def get_product(account_id: str, product_id: str) -> Product | None:
    return await Product.get_or_none(id=product_id, account_id=account_id)


async def list_products(
    account_id: str, first: int, after: str | None, active: bool | None = None
) -> Page[Any]:
    qs = Product.filter(account_id=account_id)
    if active is not None:
        qs = qs.filter(active=active)
    return await paginate(qs, first, after)


# ------------------------------------------------------------------ customers


@dataclass
class CustomerSpec:
    name: str | None = None
    email: str | None = None
    description: str | None = None
    external_id: str | None = None
    payment_method: str | None = None
    test_clock_id: str | None = None
    stripe_customer_id: str | None = None
    stripe_payment_method_id: str | None = None


def _payment_method_errors(pm: str | None, path: tuple[str, ...]) -> list[FieldError]:
    if pm is None or pm in TEST_PAYMENT_METHODS:
        return []
    msg = f"unknown payment method {pm!r}; test methods: {', '.join(TEST_PAYMENT_METHODS)}"
    return [FieldError("INVALID", msg, path)]


# Stripe's ids: a prefix, then letters, digits and underscores (test-mode tokens such as
# pm_card_visa included); at most 255 characters, the columns' size.
_STRIPE_IDS = {
    "stripeCustomerId": ("cus_", re.compile(r"cus_[A-Za-z0-9_]+")),
    "stripePaymentMethodId": ("pm_", re.compile(r"pm_[A-Za-z0-9_]+")),
}


def _stripe_id_errors(value: str | None, name: str) -> list[FieldError]:
    if value is None:
        return []
    prefix, pattern = _STRIPE_IDS[name]
    if len(value) > 255 or not pattern.fullmatch(value):
        msg = f"{name} must be a Stripe id: {prefix} then letters, digits or _ (at most 255)"
        return [FieldError("INVALID", msg, ("input", name))]
    return []


def _stripe_errors(
    stripe_customer: str | None, stripe_pm: str | None, customer_on_file: str | None
) -> list[FieldError]:
    errors = _stripe_id_errors(stripe_customer, "stripeCustomerId")
    errors += _stripe_id_errors(stripe_pm, "stripePaymentMethodId")
    if stripe_pm is not None and stripe_customer is None and customer_on_file is None:
        # Stripe charges a saved payment method off-session only with its customer.
        msg = "stripeCustomerId is required with stripePaymentMethodId"
        errors.append(FieldError("REQUIRED", msg, ("input", "stripeCustomerId")))
    return errors


async def create_customer(account_id: str, spec: CustomerSpec) -> Customer:
    errors = _text(spec.name, "name", 200) + _text(spec.email, "email", 320)
    errors += _text(spec.description, "description", 1000)
    errors += _text(spec.external_id, "externalId", 200)
    if spec.email and "@" not in spec.email:
        errors.append(FieldError("INVALID", "email is not an email address", ("input", "email")))
    errors += _payment_method_errors(spec.payment_method, ("input", "paymentMethod"))
    errors += _stripe_errors(spec.stripe_customer_id, spec.stripe_payment_method_id, None)
    clock = None
    if spec.test_clock_id is not None:
        clock = await TestClock.get_or_none(id=spec.test_clock_id, account_id=account_id)
        if clock is None:
            msg = f"no test clock {spec.test_clock_id}"
            errors.append(FieldError("NOT_FOUND", msg, ("input", "testClockId")))
    if errors:
        raise DomainError(errors)
    try:
        return await lifecycle_customers.create(
            # Stripe: a customer on a test clock was created at the clock's time.
            None if clock is None else clock.frozen_time,
            account_id=account_id,
            name=spec.name,
            email=spec.email,
            description=spec.description,
            external_id=spec.external_id or None,
            default_payment_method=spec.payment_method,
            stripe_customer_id=spec.stripe_customer_id,
            stripe_payment_method_id=spec.stripe_payment_method_id,
            test_clock_id=spec.test_clock_id,
        )
    except IntegrityError as exc:
        msg = f"a customer with externalId {spec.external_id!r} already exists"
        raise DomainError([FieldError("ALREADY_EXISTS", msg, ("input", "externalId"))]) from exc


@dataclass
class PaymentMethodSpec:
    """attachPaymentMethod: a test card, Stripe's ids, or both; None leaves a field as is."""

    payment_method: str | None = None
    stripe_customer_id: str | None = None
    stripe_payment_method_id: str | None = None


async def attach_payment_method(
    account_id: str, customer_id: str, spec: PaymentMethodSpec
) -> Customer:
    if not spec.payment_method and spec.stripe_payment_method_id is None:
        msg = "paymentMethod is required (or stripePaymentMethodId)"
        raise required(msg, "input", "paymentMethod")
    errors = _payment_method_errors(spec.payment_method, ("input", "paymentMethod"))
    errors += _stripe_id_errors(spec.stripe_customer_id, "stripeCustomerId")
    errors += _stripe_id_errors(spec.stripe_payment_method_id, "stripePaymentMethodId")
    if errors:
        raise DomainError(errors)
    customer = await Customer.get_or_none(id=customer_id, account_id=account_id)
    if customer is None:
        raise not_found(f"no customer {customer_id}", "input", "customerId")
    errors = _stripe_errors(
        spec.stripe_customer_id, spec.stripe_payment_method_id, customer.stripe_customer_id
    )
    if errors:
        raise DomainError(errors)
    changed = []
    for name in ("stripe_customer_id", "stripe_payment_method_id"):
        if getattr(spec, name) is not None:
            setattr(customer, name, getattr(spec, name))
            changed.append(name)
    if spec.payment_method:
        customer.default_payment_method = spec.payment_method
        changed.append("default_payment_method")
    await customer.save(update_fields=changed)
    return customer


async def get_customer(account_id: str, customer_id: str) -> Customer | None:
    return await Customer.get_or_none(id=customer_id, account_id=account_id)


SEARCH_MAX = 200


async def list_customers(
    account_id: str, first: int, after: str | None, search: str | None = None
) -> Page[Any]:
    """Newest first; `search` matches part of the name, email or externalId, any case."""
    qs = Customer.filter(account_id=account_id)
    text = (search or "").strip()
    if len(text) > SEARCH_MAX:
        raise BadUserInput(f"search must be at most {SEARCH_MAX} characters", ("search",))
    if text:
        qs = qs.filter(
            Q(name__icontains=text) | Q(email__icontains=text) | Q(external_id__icontains=text)
        )
    return await paginate(qs, first, after)


async def get_test_clock(account_id: str, clock_id: str) -> TestClock | None:
    return await TestClock.get_or_none(id=clock_id, account_id=account_id)
