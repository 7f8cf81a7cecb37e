"""Subscriptions, invoices, their lines, pending proration items and payment attempts."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from meterbill.db import ids
from meterbill.db.fields import decimal_text_field, id_field, money_field


class Subscription(Model):
    id = id_field(ids.subscription_id)
    account_id: str
    account: Any = fields.ForeignKeyField(
        "models.Account", related_name=False, on_delete=fields.CASCADE
    )
    customer_id: str
    customer: Any = fields.ForeignKeyField(
        "models.Customer", related_name="subscriptions", on_delete=fields.RESTRICT
    )
    # Copied from the customer (whose clock never changes) so the clock's work is one filter.
    test_clock_id = fields.CharField(max_length=40, null=True)
    status = fields.CharField(max_length=20, default="ACTIVE")
    billing_mode = fields.CharField(max_length=10)
    collection_method = fields.CharField(max_length=22)
    days_until_due = fields.IntField(null=True)
    currency = fields.CharField(max_length=3)
    interval = fields.CharField(max_length=5)
    interval_count = fields.IntField()
    billing_cycle_anchor = fields.DatetimeField()
    start_date = fields.DatetimeField()
    current_period_start = fields.DatetimeField()
    current_period_end = fields.DatetimeField()
    cancel_at_period_end = fields.BooleanField(default=False)
    canceled_at = fields.DatetimeField(null=True)
    latest_invoice_id = fields.CharField(max_length=40, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "subscriptions"
        indexes = (("status", "current_period_end"), ("test_clock_id", "current_period_end"))


class SubscriptionItem(Model):
    id = id_field(ids.subscription_item_id)
    account_id: str
    account: Any = fields.ForeignKeyField(
        "models.Account", related_name=False, on_delete=fields.CASCADE
    )
    subscription_id: str
    subscription: Any = fields.ForeignKeyField(
        "models.Subscription", related_name="items", on_delete=fields.CASCADE
    )
    price_id: str
    price: Any = fields.ForeignKeyField(
        "models.Price", related_name=False, on_delete=fields.RESTRICT
    )
    quantity = fields.IntField(default=1)
    position = fields.IntField(default=0)
    created_at = fields.DatetimeField()
    # A metered item whose price changed mid-period bills its usage from here (the usage
    # before it was billed at the old price); null: from the period's start.
    usage_from = fields.DatetimeField(null=True)

    class Meta:
        table = "subscription_items"
        unique_together = (("subscription", "price"),)


class Invoice(Model):
    id = id_field(ids.invoice_id)
    account_id: str
    account: Any = fields.ForeignKeyField(
        "models.Account", related_name=False, on_delete=fields.CASCADE
    )
    customer_id: str
    customer: Any = fields.ForeignKeyField(
        "models.Customer", related_name="invoices", on_delete=fields.RESTRICT
    )
    subscription_id: str | None
    subscription: Any = fields.ForeignKeyField(
        "models.Subscription", related_name="invoices", null=True, on_delete=fields.RESTRICT
    )
    test_clock_id = fields.CharField(max_length=40, null=True)
    number = fields.CharField(max_length=40, null=True)
    status = fields.CharField(max_length=14, default="DRAFT")
    billing_reason = fields.CharField(max_length=20)
    collection_method = fields.CharField(max_length=22)
    days_until_due = fields.IntField(null=True)
    currency = fields.CharField(max_length=3)
    period_start = fields.DatetimeField()
    period_end = fields.DatetimeField()
    subtotal = money_field(default=0)
    total = money_field(default=0)
    amount_due = money_field(default=0)
    amount_paid = money_field(default=0)
    # What credit grants paid at finalization (contract extension "credits").
    total_credits_applied = money_field(default=0, db_default=0)
    # Which grants paid it, billing/credits.applications_text ("grant_id:amount ..."). On the
    # invoice row, written with it: a table of applications cost a row and two index
    # entries per grant paid, in every finalization holding grants.
    credit_applications = fields.TextField(default="", db_default="")
    # True from finalization until the payment method on file has been tried once.
    collection_pending = fields.BooleanField(default=False)
    payment_failed = fields.BooleanField(default=False)
    created_at = fields.DatetimeField()
    automatically_finalizes_at = fields.DatetimeField(null=True)
    finalized_at = fields.DatetimeField(null=True)
    paid_at = fields.DatetimeField(null=True)
    due_date = fields.DatetimeField(null=True)
    # The customer balance this invoice took at finalization (services/lifecycle/balances).
    starting_balance = money_field(default=0, db_default=0)
    ending_balance = money_field(null=True)
    # Dunning: automatic attempts made, and when the next one is due (null: none is).
    attempt_count = fields.IntField(default=0, db_default=0)
    next_payment_attempt = fields.DatetimeField(null=True)

    class Meta:
        table = "invoices"
        # The billing clock's idempotency: a period closes into at most one invoice per reason.
        unique_together = (
            ("subscription", "period_start", "billing_reason"),
            ("account", "number"),
        )
        indexes = (
            ("status", "automatically_finalizes_at"),
            ("collection_pending", "status"),
            ("account_id", "created_at"),
            ("next_payment_attempt",),
        )


class InvoiceLine(Model):
    id = id_field(ids.invoice_line_id)
    invoice_id: str
    invoice: Any = fields.ForeignKeyField(
        "models.Invoice", related_name="lines", on_delete=fields.CASCADE
    )
    position = fields.IntField()
    type = fields.CharField(max_length=12)  # SUBSCRIPTION or PRORATION
    # LICENSED / METERED: metered lines are re-priced from rollups until finalization.
    usage_type = fields.CharField(max_length=8)
    description = fields.CharField(max_length=500)
    price_id = fields.CharField(max_length=40, null=True)
    tier = fields.IntField(null=True)
    quantity = decimal_text_field()
    unit_amount_decimal = decimal_text_field(null=True)
    amount = money_field()
    period_start = fields.DatetimeField()
    period_end = fields.DatetimeField()

    class Meta:
        table = "invoice_lines"
        indexes = (("invoice_id", "position"),)


class PendingItem(Model):
    """A proration waiting for the subscription's next invoice (Stripe's pending invoice item)."""

    # Autoincrement: the order of creation is the order of the lines (credit before charge).
    id = fields.BigIntField(primary_key=True)
    account_id: str
    account: Any = fields.ForeignKeyField(
        "models.Account", related_name=False, on_delete=fields.CASCADE
    )
    subscription_id: str
    subscription: Any = fields.ForeignKeyField(
        "models.Subscription", related_name="pending_items", on_delete=fields.CASCADE
    )
    price_id = fields.CharField(max_length=40)
    # LICENSED (a proration) or METERED (usage up to a metered price's change).
    usage_type = fields.CharField(max_length=8, default="LICENSED", db_default="LICENSED")
    description = fields.CharField(max_length=500)
    quantity = decimal_text_field()
    amount = money_field()
    period_start = fields.DatetimeField()
    period_end = fields.DatetimeField()
    # Set in the transaction that copies it onto an invoice: it is billed exactly once.
    invoice_id = fields.CharField(max_length=40, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "pending_items"
        indexes = (("subscription_id", "invoice_id"),)


class PaymentAttempt(Model):
    """One charge of an invoice through the payment provider."""

    id = fields.BigIntField(primary_key=True)
    invoice_id: str
    invoice: Any = fields.ForeignKeyField(
        "models.Invoice", related_name="attempts", on_delete=fields.CASCADE
    )
    attempt = fields.IntField()
    amount = money_field()
    currency = fields.CharField(max_length=3)
    payment_method = fields.CharField(max_length=100)
    succeeded = fields.BooleanField()
    failure_message = fields.CharField(max_length=300, null=True)
    # The processor's error code and decline code (Stripe's card_declined /
    # insufficient_funds ...), kept for dunning and for people reading the attempt.
    failure_code = fields.CharField(max_length=100, null=True)
    decline_code = fields.CharField(max_length=100, null=True)
    # The payment needs the customer (3-D Secure): retrying without them will not succeed.
    needs_customer_action = fields.BooleanField(default=False, db_default=False)
    provider_reference = fields.CharField(max_length=100, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "payment_attempts"
        # Two workers collecting the same invoice cannot both record attempt n.
        unique_together = (("invoice", "attempt"),)


class CustomerBalanceTransaction(Model):
    """One change of a customer's balance (Stripe's customer balance transaction)."""

    id = id_field(ids.balance_transaction_id)
    account_id = fields.CharField(max_length=40)
    customer_id = fields.CharField(max_length=40)
    type = fields.CharField(max_length=20)
    amount = money_field()
    currency = fields.CharField(max_length=3)
    ending_balance = money_field()
    # Not a foreign key: finalization at period close writes it before the invoice row.
    invoice_id = fields.CharField(max_length=40, null=True)
    description = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "customer_balance_transactions"
        indexes = (("customer_id", "created_at"),)


class BillingSettings(Model):
    """An account's dunning settings (an account without a row has the defaults)."""

    account_id = fields.CharField(primary_key=True, max_length=40)
    # Comma-separated days, e.g. "3,5,7"; "" turns retries off.
    payment_retry_days = fields.CharField(max_length=100)
    subscription_after_retries = fields.CharField(max_length=16)
    invoice_after_retries = fields.CharField(max_length=20)

    class Meta:
        table = "billing_settings"
