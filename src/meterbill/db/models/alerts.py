"""Usage alerts (contract extension "alerts") and the triggers they fired."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from meterbill.db import ids
from meterbill.db.fields import decimal_text_field, id_field

if TYPE_CHECKING:
    from meterbill.db.models.catalog import Account, Customer, Meter


class BillingAlert(Model):
    id = id_field(ids.billing_alert_id)
    account_id: str
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name=False, on_delete=fields.CASCADE
    )
    title = fields.CharField(max_length=200)
    meter_id: str
    meter: fields.ForeignKeyRelation[Meter] = fields.ForeignKeyField(
        "models.Meter", related_name=False, on_delete=fields.CASCADE
    )
    # NULL: every customer of the meter.
    customer_id: str | None
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name=False, null=True, on_delete=fields.CASCADE
    )
    threshold = decimal_text_field()
    status = fields.CharField(max_length=10, default="ACTIVE")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "billing_alerts"
        # The aggregation worker's lookup: the ACTIVE alerts of the meters it just folded.
        indexes = (("meter_id", "status"),)


# The unique (alert, customer, period_start) key decides "at most once per customer and
# period", also for two workers evaluating the same customer at once.
class BillingAlertTrigger(Model):
    id = fields.BigIntField(primary_key=True)
    account_id: str
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name=False, on_delete=fields.CASCADE
    )
    alert_id: str
    alert: fields.ForeignKeyRelation[BillingAlert] = fields.ForeignKeyField(
        "models.BillingAlert", related_name=False, on_delete=fields.CASCADE
    )
    customer_id: str
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name=False, on_delete=fields.CASCADE
    )
    period_start = fields.DatetimeField()
    value = decimal_text_field()
    # When it triggered (the API's triggeredAt); named for services/pages.paginate.
    created_at = fields.DatetimeField()

    class Meta:
        table = "billing_alert_triggers"
        unique_together = (("alert", "customer", "period_start"),)
        indexes = (("alert_id", "created_at"),)


class AlertCheckDue(Model):
    """A (meter, customer) whose folded usage has alerts to evaluate: written by the
    aggregation claim in the fold's transaction (only for meters with ACTIVE alerts), deleted
    once an evaluation that read it has run. A worker that dies between its fold's commit and
    the evaluation leaves it to the sweep (services/usage/alert_checks.sweep). `folds` grows
    with every fold, so an evaluation deletes only the row it read, not one a later fold
    wrote meanwhile. Plain ids, no foreign keys: the claim writes it with the events'."""

    id = fields.BigIntField(primary_key=True)
    account_id = fields.CharField(max_length=40)
    meter_id = fields.CharField(max_length=40)
    customer_id = fields.CharField(max_length=40)
    folds = fields.BigIntField(default=1)

    class Meta:
        table = "alert_checks_due"
        unique_together = (("meter_id", "customer_id"),)
