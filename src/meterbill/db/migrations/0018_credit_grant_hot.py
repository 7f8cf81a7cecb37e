from tortoise import migrations
from tortoise.migrations import operations as ops

# Issue 15: a finalizing batch updates available_amount (not indexed) of every grant that
# pays, usually all the grants on a page at once. At fillfactor 70 a page's free room holds
# new versions of fewer than half its rows (a grant row is ~190 bytes), so most of those
# updates left the page: a new entry in both of the grants' indexes each, about twice the
# WAL. At 45 every row of a page has room for its new version (HOT). PostgreSQL only;
# pages written from now on keep the room.


async def _room_for_every_row(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(
            "ALTER TABLE credit_grants SET (fillfactor = 45)"
        )


async def _room_for_some(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(
            "ALTER TABLE credit_grants SET (fillfactor = 70)"
        )


class Migration(migrations.Migration):
    dependencies = [('models', '0017_unique_folds')]

    initial = False

    operations = [ops.RunPython(_room_for_every_row, _room_for_some)]
