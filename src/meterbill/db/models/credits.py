"""Credit grants and what invoices took from them (contract extension "credits").

A grant's available_amount is what it can still pay; finalization takes from it under the
grant row's lock (SELECT ... FOR NO KEY UPDATE), so two workers finalizing invoices of one
customer never spend the same credit twice. What each invoice took is on the invoice row
(Invoice.credit_applications); voiding the invoice gives it back to the grants."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from meterbill.db import ids
from meterbill.db.fields import id_field, money_field


class CreditGrant(Model):
    id = id_field(ids.credit_grant_id)
    account_id: str
    account: Any = fields.ForeignKeyField(
        "models.Account", related_name=False, on_delete=fields.CASCADE
    )
    customer_id: str
    customer: Any = fields.ForeignKeyField(
        "models.Customer", related_name="credit_grants", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=200, null=True)
    category = fields.CharField(max_length=12)  # PAID or PROMOTIONAL
    currency = fields.CharField(max_length=3)
    amount = money_field()
    available_amount = money_field()
    # Space-separated price ids; empty: every metered price in the grant's currency.
    price_ids = fields.TextField(default="")
    priority = fields.IntField(default=50)
    effective_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(null=True)
    voided_at = fields.DatetimeField(null=True)
    # On the customer's clock (a test clock's frozen time), as the customer's own.
    created_at = fields.DatetimeField()
    # Wall clock: orders grants created at one test-clock instant.
    recorded_at = fields.DatetimeField()

    class Meta:
        table = "credit_grants"
        indexes = (("customer_id", "created_at"),)
