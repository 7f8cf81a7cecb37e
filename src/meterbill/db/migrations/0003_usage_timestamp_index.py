from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_usage')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='MeterEvent',
            index=Index(fields=['meter_id', 'customer_id', 'timestamp']),
        ),
    ]
