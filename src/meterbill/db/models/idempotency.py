"""Idempotency keys: (account, key) -> the request's fingerprint and the stored response."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class IdempotencyKey(Model):
    id = fields.BigIntField(primary_key=True)
    account_id: str
    account: fields.ForeignKeyRelation = fields.ForeignKeyField(  # type: ignore[type-arg]
        "models.Account", related_name=False, on_delete=fields.CASCADE
    )
    key = fields.CharField(max_length=255)
    # SHA-256 of the query, variables and operation name: "the same request".
    fingerprint = fields.CharField(max_length=64)
    # IN_FLIGHT while the first request runs; DONE once its response is stored.
    status = fields.CharField(max_length=10)
    response = fields.TextField(null=True)
    # When the running request took the key; an IN_FLIGHT row older than the lease is
    # taken over (its process died before finishing).
    locked_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "idempotency_keys"
        # The unique key is what makes two concurrent requests run the mutation once.
        unique_together = (("account", "key"),)
        indexes = (("expires_at",),)
