"""Accounts, API keys, customers, test clocks, meters, products and prices."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from meterbill.db import ids
from meterbill.db.fields import decimal_text_field, id_field, money_field


class Account(Model):
    id = id_field(ids.account_id)
    name = fields.CharField(max_length=200)
    # Invoice numbers are PREFIX-0001 per account; next_invoice_seq is bumped under a row lock.
    invoice_prefix = fields.CharField(max_length=16)
    next_invoice_seq = fields.BigIntField(default=1)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "accounts"


class ApiKey(Model):
    id = id_field(ids.api_key_id)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="api_keys", on_delete=fields.CASCADE
    )
    account_id: str
    name = fields.CharField(max_length=200)
    # Space-separated scope names; the set is tiny and never filtered in SQL.
    scopes = fields.CharField(max_length=100)
    prefix = fields.CharField(max_length=20)
    secret_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_keys"


class TestClock(Model):
    __test__ = False  # not a pytest test class (its name starts with Test)

    id = id_field(ids.test_clock_id)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="test_clocks", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200, null=True)
    frozen_time = fields.DatetimeField()
    # Where the worker has billed up to; frozen_time is where it is asked to go.
    status = fields.CharField(max_length=20, default="READY")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "test_clocks"


class Customer(Model):
    id = id_field(ids.customer_id)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="customers", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200, null=True)
    email = fields.CharField(max_length=320, null=True)
    description = fields.CharField(max_length=1000, null=True)
    external_id = fields.CharField(max_length=200, null=True)
    default_payment_method = fields.CharField(max_length=100, null=True)
    # Stripe's ids for this customer and its saved payment method: what the Stripe
    # provider charges (MB_PAYMENT_PROVIDER=stripe).
    stripe_customer_id = fields.CharField(max_length=255, null=True)
    stripe_payment_method_id = fields.CharField(max_length=255, null=True)
    # Stripe's customer balance (minor units of balance_currency): negative is credit.
    balance = money_field(default=0, db_default=0)
    balance_currency = fields.CharField(max_length=3, null=True)
    test_clock_id: str | None
    test_clock: fields.ForeignKeyNullableRelation[TestClock] = fields.ForeignKeyField(
        "models.TestClock", related_name="customers", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "customers"
        unique_together = (("account", "external_id"),)


class Meter(Model):
    id = id_field(ids.meter_id)
    account_id: str
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="meters", on_delete=fields.CASCADE
    )
    display_name = fields.CharField(max_length=200)
    event_name = fields.CharField(max_length=100)
    aggregation = fields.CharField(max_length=20)
    customer_mapping_type = fields.CharField(max_length=20, default="BY_ID")
    customer_payload_key = fields.CharField(max_length=100, default="customer_id")
    value_payload_key = fields.CharField(max_length=100, default="value")
    dimension_keys: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    status = fields.CharField(max_length=10, default="ACTIVE")
    created_at = fields.DatetimeField(auto_now_add=True)
    deactivated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "meters"
        unique_together = (("account", "event_name"),)


class Product(Model):
    id = id_field(ids.product_id)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="products", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    description = fields.CharField(max_length=1000, null=True)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "products"


class Price(Model):
    id = id_field(ids.price_id)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="prices", on_delete=fields.CASCADE
    )
    product_id: str
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "models.Product", related_name="prices", on_delete=fields.RESTRICT
    )
    currency = fields.CharField(max_length=3)
    nickname = fields.CharField(max_length=200, null=True)
    active = fields.BooleanField(default=True)
    billing_scheme = fields.CharField(max_length=10)
    unit_amount_decimal = decimal_text_field(null=True)
    tiers_mode = fields.CharField(max_length=10, null=True)
    transform_divide_by = fields.IntField(null=True)
    transform_round = fields.CharField(max_length=4, null=True)
    interval = fields.CharField(max_length=5)
    interval_count = fields.IntField(default=1)
    usage_type = fields.CharField(max_length=8)
    meter_id: str | None
    meter: fields.ForeignKeyNullableRelation[Meter] = fields.ForeignKeyField(
        "models.Meter", related_name="prices", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    tiers: fields.ReverseRelation[PriceTier]

    class Meta:
        table = "prices"


class PriceTier(Model):
    id = fields.BigIntField(primary_key=True)
    price_id: str
    price: fields.ForeignKeyRelation[Price] = fields.ForeignKeyField(
        "models.Price", related_name="tiers", on_delete=fields.CASCADE
    )
    position = fields.IntField()  # 1-based
    up_to = money_field(null=True)
    unit_amount_decimal = decimal_text_field(null=True)
    flat_amount_decimal = decimal_text_field(null=True)

    class Meta:
        table = "price_tiers"
        unique_together = (("price", "position"),)
