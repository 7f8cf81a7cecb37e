"""Raw meter events and their per-minute and per-hour rollups."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from meterbill.db.models.catalog import Account, Customer, Meter

# NUMERIC(40, 12) on PostgreSQL (exact SQL arithmetic); exact decimal text on SQLite.
DIGITS, PLACES = 40, 12


class MeterEvent(Model):
    # The autoincrement id is the arrival order (LAST breaks timestamp ties with it).
    id = fields.BigIntField(primary_key=True)
    account_id: str
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name=False, on_delete=fields.CASCADE
    )
    meter_id: str
    meter: fields.ForeignKeyRelation[Meter] = fields.ForeignKeyField(
        "models.Meter", related_name="events", on_delete=fields.CASCADE
    )
    customer_id: str
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="events", on_delete=fields.CASCADE
    )
    identifier = fields.CharField(max_length=100)
    event_name = fields.CharField(max_length=100)
    value = fields.DecimalField(max_digits=DIGITS, decimal_places=PLACES)
    timestamp = fields.DatetimeField()
    # billing.aggregation.canonical_dimensions(): filterable by string containment.
    dimensions_key = fields.CharField(max_length=2000, default="")
    status = fields.CharField(max_length=10, default="ACCEPTED")
    created_at = fields.DatetimeField(auto_now_add=True)
    canceled_at = fields.DatetimeField(null=True)
    # UNIQUE_COUNT meters: the value payload key's text (billing.aggregation.dimension_text);
    # NULL for the other formulas.
    unique_value = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "meter_events"
        # SQLite. On PostgreSQL meter_events is partitioned by timestamp (migration 0015) and
        # the identifiers of the last 35 days are unique in meter_event_ids instead.
        unique_together = (("account", "identifier"),)
        # (meter, customer, timestamp): rebuilding one bucket after a cancel, and the partial
        # minutes at the ends of a billing period.
        # (meter, customer, created_at): listing a customer's events, newest first.
        indexes = (
            ("meter_id", "customer_id", "created_at"),
            ("meter_id", "customer_id", "timestamp"),
        )


# An event not yet folded into its rollups: written in the same statement or transaction as
# the event, deleted by the worker's transaction that folds it (or by the cancel of an event
# no worker has taken). A queue of rows instead of a flag on the wide event row, so folding
# does not write a new version of every event and its index entries. No foreign key: its
# check would cost ~4 us per event on PostgreSQL, and on SQLite a rebuild of meter_events (a
# future RemoveField) would cascade-delete every pending row.
# On PostgreSQL the row carries what the fold reads (account .. unique_value): meter_events
# is partitioned by timestamp, and a join by id alone would probe every partition
# (ARCHITECTURE.md "Event storage at scale"). SQLite leaves them NULL and reads the event.
# Retention never drops an event that still has its pending row.
class MeterEventPending(Model):
    event_id = fields.BigIntField(primary_key=True, generated=False)
    account_id = fields.CharField(max_length=40, null=True)
    meter_id = fields.CharField(max_length=40, null=True)
    customer_id = fields.CharField(max_length=40, null=True)
    timestamp = fields.DatetimeField(null=True)
    dimensions_key = fields.CharField(max_length=2000, null=True)
    value = fields.DecimalField(max_digits=DIGITS, decimal_places=PLACES, null=True)
    unique_value = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "meter_events_pending"


# SUM, COUNT and LAST of the events of one minute [bucket, bucket + 1 min).
class UsageRollup(Model):
    id = fields.BigIntField(primary_key=True)
    account_id: str
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name=False, on_delete=fields.CASCADE
    )
    meter_id: str
    meter: fields.ForeignKeyRelation[Meter] = fields.ForeignKeyField(
        "models.Meter", related_name="rollups", on_delete=fields.CASCADE
    )
    customer_id: str
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="rollups", on_delete=fields.CASCADE
    )
    bucket = fields.DatetimeField()
    dimensions_key = fields.CharField(max_length=2000, default="")
    sum = fields.DecimalField(max_digits=DIGITS, decimal_places=PLACES, default=0)
    count = fields.BigIntField(default=0)
    last_value = fields.DecimalField(max_digits=DIGITS, decimal_places=PLACES, null=True)
    last_ts = fields.DatetimeField(null=True)
    last_seq = fields.BigIntField(null=True)
    max_value = fields.DecimalField(max_digits=DIGITS, decimal_places=PLACES, null=True)

    class Meta:
        table = "usage_rollups"
        unique_together = (("meter", "customer", "bucket", "dimensions_key"),)


# The merge of the minute rollups of one hour [bucket, bucket + 1 h), kept by the same
# transactions that change them (services/usage/aggregate.py): a month of one customer is 720
# rows to read instead of 43,200. (No docstrings on models: they become table comments.)
class UsageRollupHourly(Model):
    id = fields.BigIntField(primary_key=True)
    account_id: str
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name=False, on_delete=fields.CASCADE
    )
    meter_id: str
    meter: fields.ForeignKeyRelation[Meter] = fields.ForeignKeyField(
        "models.Meter", related_name=False, on_delete=fields.CASCADE
    )
    customer_id: str
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name=False, on_delete=fields.CASCADE
    )
    bucket = fields.DatetimeField()
    dimensions_key = fields.CharField(max_length=2000, default="")
    sum = fields.DecimalField(max_digits=DIGITS, decimal_places=PLACES, default=0)
    count = fields.BigIntField(default=0)
    last_value = fields.DecimalField(max_digits=DIGITS, decimal_places=PLACES, null=True)
    last_ts = fields.DatetimeField(null=True)
    last_seq = fields.BigIntField(null=True)
    max_value = fields.DecimalField(max_digits=DIGITS, decimal_places=PLACES, null=True)

    class Meta:
        table = "usage_rollups_hourly"
        unique_together = (("meter", "customer", "bucket", "dimensions_key"),)


# UNIQUE_COUNT: one row per (meter, customer, grain, bucket, value, dimension set) seen, where
# the grain is "day" or "month" (UTC) and bucket its start. A month row's `events` counts
# the value's day rows in that month (the row goes at 0); a day row's is not kept (a cancel
# reads the events: db/usage_sql.take_back_unique). A month's count
# is the number of its rows (an index range), not a scan of its raw events; why both grains:
# ARCHITECTURE.md "Distinct values". Kept by the aggregation workers with the rollups.
class UsageUniqueValue(Model):
    id = fields.BigIntField(primary_key=True)
    # Plain ids, no foreign keys: the fold writes up to two rows per value and batch, and
    # each key's check would cost about as much as the row (as for meter_events_pending).
    account_id = fields.CharField(max_length=40)
    meter_id = fields.CharField(max_length=40)
    customer_id = fields.CharField(max_length=40)
    grain = fields.CharField(max_length=5)
    bucket = fields.DatetimeField()
    value = fields.CharField(max_length=200)
    dimensions_key = fields.CharField(max_length=2000, default="")
    events = fields.BigIntField(default=0)

    class Meta:
        table = "usage_unique_values"
        # Key order: a bucket's values in order, so distinct values are an index range.
        unique_together = (
            ("meter_id", "customer_id", "grain", "bucket", "value", "dimensions_key"),
        )


# How many rows of usage_unique_values each (meter, customer, grain, bucket, dimension set)
# has: the distinct values of that day or month, kept by the transactions that add or delete
# those rows. A meter without dimension keys has one set (""), so its month's or day's count
# is this one row, whatever the number of values (db/stores/uniques.py).
class UsageUniqueCount(Model):
    id = fields.BigIntField(primary_key=True)
    # Plain ids, no foreign keys: the fold writes up to two rows per value and batch, and
    # each key's check would cost about as much as the row (as for meter_events_pending).
    account_id = fields.CharField(max_length=40)
    meter_id = fields.CharField(max_length=40)
    customer_id = fields.CharField(max_length=40)
    grain = fields.CharField(max_length=5)
    bucket = fields.DatetimeField()
    dimensions_key = fields.CharField(max_length=2000, default="")
    distinct_values = fields.BigIntField(default=0)

    class Meta:
        table = "usage_unique_counts"
        unique_together = (("meter_id", "customer_id", "grain", "bucket", "dimensions_key"),)
