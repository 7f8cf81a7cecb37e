from tortoise import migrations
from tortoise.migrations import operations as ops

# Issue 15: every finalization that credit grants pay updates their available_amount (not
# indexed). With free room in each page those updates stay on the page (HOT: no new entry
# in the grants' two indexes). PostgreSQL only (SQLite has no fillfactor); pages written
# from now on keep the room.


async def _room_for_updates(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(
            "ALTER TABLE credit_grants SET (fillfactor = 70)"
        )


async def _no_room(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script("ALTER TABLE credit_grants RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [('models', '0015_partitions')]

    initial = False

    operations = [ops.RunPython(_room_for_updates, _no_room)]
