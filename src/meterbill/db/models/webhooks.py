"""Webhook endpoints, their deliveries, and the fan-out queue between the event log and
the deliveries (contract extension "events").

webhook_pending holds one row per domain event not yet fanned out: written by the same
transaction as the event (services/lifecycle/outbox.py), deleted by the transaction that
creates the event's deliveries (services/webhooks/fanout.py). A worker killed in between
leaves the row for the next pass: every event is fanned out exactly once, whatever order
concurrent transactions commit in (a cursor over domain_events.created_at would skip an
event whose transaction committed after a later one's)."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from meterbill.db import ids
from meterbill.db.fields import id_field


class WebhookEndpoint(Model):
    id = id_field(ids.webhook_endpoint_id)
    account: Any = fields.ForeignKeyField(
        "models.Account", related_name="webhook_endpoints", on_delete=fields.CASCADE
    )
    url = fields.CharField(max_length=2048)
    description = fields.CharField(max_length=500, null=True)
    # JSON list of event types; ["*"] means every type.
    enabled_events = fields.TextField()
    status = fields.CharField(max_length=16, default="ENABLED")
    # The whsec_ signing key, encrypted (AES-GCM, services/webhooks/secrets.py): signing
    # needs the key itself, so it cannot be kept as a hash.
    secret_encrypted = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "webhook_endpoints"
        indexes = (("account_id", "created_at"),)


class WebhookDelivery(Model):
    id = id_field(ids.webhook_delivery_id)
    # Plain columns: deliveries are written in batches by one INSERT.
    account_id = fields.CharField(max_length=40)
    event_id = fields.CharField(max_length=40)
    endpoint: Any = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name="deliveries", on_delete=fields.CASCADE
    )
    status = fields.CharField(max_length=16, default="PENDING")  # PENDING, SUCCEEDED, FAILED
    attempt_count = fields.IntField(default=0)
    last_attempt_at = fields.DatetimeField(null=True)
    # When a worker may (next) take it: the retry time, or, while an attempt is in flight,
    # the end of that attempt's lease (a worker killed mid-attempt leaves it due then).
    next_attempt_at = fields.DatetimeField(null=True)
    last_response_status = fields.IntField(null=True)
    last_error = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "webhook_deliveries"
        indexes = (
            ("status", "next_attempt_at"),
            ("endpoint_id", "created_at", "id"),
            ("event_id",),
        )


class WebhookPending(Model):
    event_id = fields.CharField(primary_key=True, max_length=40)
    created_at = fields.DatetimeField()

    class Meta:
        table = "webhook_pending"
        indexes = (("created_at",),)
