from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# Backfill: every event no worker has folded yet (aggregated = false) becomes pending, before
# the flag goes. The same SQL on both backends. Run it with the API and the workers stopped:
# an event stored or folded by old code after this statement would be lost or folded twice.
_BACKFILL = (
    "INSERT INTO meter_events_pending (event_id) "
    "SELECT id FROM meter_events WHERE NOT aggregated ORDER BY id"
)


async def backfill_pending(apps, schema_editor) -> None:
    await schema_editor.client.execute_query(_BACKFILL)


class DropColumn(ops.RemoveField):
    """RemoveField as ALTER TABLE ... DROP COLUMN on both backends (SQLite 3.35+). Tortoise's
    RemoveField rebuilds a SQLite table (copy, drop, rename), which loses the unique
    (account, identifier) key and the indexes of meter_events; DROP COLUMN keeps them."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor is None:
            return
        model = old_state.apps.get_model(f"{app_label}.{self.model_name}")
        await state_editor._run_sql(f'ALTER TABLE "{model._meta.db_table}" DROP COLUMN "{self.name}"')


class Migration(migrations.Migration):
    dependencies = [('models', '0006_usage_rollups_hourly')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MeterEventPending',
            # generated=False written by hand: makemigrations left it out (a serial key, and
            # a change it would then detect on every run).
            fields=[
                ('event_id', fields.BigIntField(primary_key=True, generated=False, unique=True, db_index=True)),
            ],
            options={'table': 'meter_events_pending', 'app': 'models', 'pk_attr': 'event_id'},
            bases=['Model'],
        ),
        ops.RunPython(backfill_pending),
        ops.RemoveIndex(
            model_name='MeterEvent',
            name=None,
            fields=['aggregated', 'id'],
        ),
        # After the index on it is gone: SQLite cannot drop an indexed column.
        DropColumn(model_name='MeterEvent', name='aggregated'),
    ]
