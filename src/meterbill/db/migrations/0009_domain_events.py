from tortoise import migrations
from tortoise.migrations import operations as ops
from meterbill.db.ids import domain_event_id
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0008_billing_claim_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DomainEvent',
            fields=[
                ('id', fields.CharField(primary_key=True, default=domain_event_id, unique=True, db_index=True, max_length=40)),
                ('account_id', fields.CharField(max_length=40)),
                ('type', fields.CharField(max_length=64)),
                ('object_id', fields.CharField(max_length=40)),
                ('data', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'domain_events', 'app': 'models', 'indexes': [Index(fields=['created_at', 'id']), Index(fields=['account_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
