"""Operational tables: worker liveness."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class WorkerHeartbeat(Model):
    """Written by the housekeeping cron: proves a worker (embedded or separate) is running
    its crons against this database."""

    worker = fields.CharField(primary_key=True, max_length=100)
    beats = fields.BigIntField(default=0)
    beat_at = fields.DatetimeField()

    class Meta:
        table = "worker_heartbeats"
