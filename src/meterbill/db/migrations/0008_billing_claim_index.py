from tortoise import migrations
from tortoise.migrations import operations as ops

# The wall-clock billing claim (services/billing_steps.close_due): live subscriptions not on
# a test clock whose period has ended, oldest end first, LIMIT batch FOR UPDATE SKIP LOCKED.
# PostgreSQL cannot read that order from the (test_clock_id, current_period_end) index
# (IS NULL is no equality for ordering), so it scanned and sorted every subscription for
# each batch (~5 ms at 10,000 due); this partial index gives it the batch's rows in order.
# Canceled and test-clock subscriptions never enter it. Raw SQL: Tortoise's PartialIndex
# takes only equality conditions. PostgreSQL only: SQLite already searches the composite
# index for this query (IS NULL counts as equality there).
_INDEX = "subscriptions_wall_clock_due"


async def _create(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(
            f"CREATE INDEX IF NOT EXISTS {_INDEX} ON subscriptions (current_period_end) "
            "WHERE test_clock_id IS NULL AND status IN ('ACTIVE', 'PAST_DUE')"
        )


async def _drop(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(f"DROP INDEX IF EXISTS {_INDEX}")


class Migration(migrations.Migration):
    dependencies = [('models', '0007_meter_events_pending')]

    initial = False

    operations = [
        ops.RunPython(_create, _drop),
    ]
