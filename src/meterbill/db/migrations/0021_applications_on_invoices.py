from tortoise import fields, migrations
from tortoise.migrations import operations as ops

# Issue 15: what each credit grant paid of an invoice moves from credit_applications (a row,
# a bigserial key and an invoice index entry per grant paid, written by every finalization
# that holds grants) onto the invoice row, which finalization writes anyway:
# invoices.credit_applications, "grant_id:amount ..." in the order paid. Voiding gives the
# credits back once because an invoice is voided once (returned_at is no longer needed).
# Online: a new column with a constant default rewrites nothing; the copy touches only
# invoices that took credits.

_COPY_PG = """UPDATE invoices i SET credit_applications = a.applied
FROM (SELECT invoice_id, string_agg(grant_id || ':' || amount, ' ' ORDER BY id) AS applied
      FROM credit_applications GROUP BY invoice_id) a
WHERE i.id = a.invoice_id"""

# SQLite's group_concat keeps the order of its input rows.
_COPY_SQLITE = """UPDATE invoices SET credit_applications = (
  SELECT group_concat(item, ' ') FROM (
    SELECT grant_id || ':' || amount AS item FROM credit_applications a
    WHERE a.invoice_id = invoices.id ORDER BY a.id))
WHERE id IN (SELECT invoice_id FROM credit_applications)"""

_BACK = (
    "INSERT INTO credit_applications (account_id, invoice_id, grant_id, amount, created_at) "
    "VALUES ({})"
)


async def _copy_to_invoices(apps, schema_editor) -> None:
    client = schema_editor.client
    pg = client.capabilities.dialect == "postgres"
    await client.execute_script(_COPY_PG if pg else _COPY_SQLITE)


async def _copy_back(apps, schema_editor) -> None:
    client = schema_editor.client
    pg = client.capabilities.dialect == "postgres"
    _, rows = await client.execute_query(
        "SELECT id, account_id, credit_applications, finalized_at FROM invoices "
        "WHERE credit_applications <> '' ORDER BY id"
    )
    sql = _BACK.format("$1, $2, $3, $4, $5" if pg else "?, ?, ?, ?, ?")
    for r in rows:
        for item in r["credit_applications"].split():
            grant_id, _, amount = item.rpartition(":")
            await client.execute_query(
                sql, [r["account_id"], r["id"], grant_id, int(amount), r["finalized_at"]]
            )


class Migration(migrations.Migration):
    dependencies = [('models', '0020_plain_rollup_keys')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Invoice',
            name='credit_applications',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
        ops.RunPython(_copy_to_invoices, _copy_back),
        ops.DeleteModel(name='CreditApplication'),
    ]
