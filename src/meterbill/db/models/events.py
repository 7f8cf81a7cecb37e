"""Domain events: one row per state change of an invoice, subscription or customer, written
in the transaction of the change (services/lifecycle). It is the outbox a webhook worker
delivers from: it reads rows in the order they were written, (created_at, id)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from meterbill.db import ids
from meterbill.db.fields import id_field


class DomainEvent(Model):
    id = id_field(ids.domain_event_id)
    # A plain column, not a foreign key: events are written in batches by one INSERT and
    # never joined back to the account.
    account_id = fields.CharField(max_length=40)
    # e.g. invoice.paid, customer.subscription.updated (contract README, section "events").
    type = fields.CharField(max_length=64)
    object_id = fields.CharField(max_length=40)
    # JSON text of the object's snapshot: text on both backends, so a batch binds plain
    # strings (an unnest over jsonb[] would need a codec on PostgreSQL only).
    data = fields.TextField()
    # Wall-clock time of the write (also for test-clock changes): delivery goes by it.
    created_at = fields.DatetimeField()

    class Meta:
        table = "domain_events"
        indexes = (("created_at", "id"), ("account_id", "created_at"))
