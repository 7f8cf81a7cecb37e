from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# The Stripe payment provider (issue 19): a customer's Stripe ids, and what a failed payment
# attempt keeps of the processor's answer (error code, decline code, needs the customer).
# Added nullable or with a default: existing rows need no backfill.

class Migration(migrations.Migration):
    dependencies = [('models', '0010_webhooks')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Customer',
            name='stripe_customer_id',
            field=fields.CharField(null=True, max_length=255),
        ),
        ops.AddField(
            model_name='Customer',
            name='stripe_payment_method_id',
            field=fields.CharField(null=True, max_length=255),
        ),
        ops.AddField(
            model_name='PaymentAttempt',
            name='decline_code',
            field=fields.CharField(null=True, max_length=100),
        ),
        ops.AddField(
            model_name='PaymentAttempt',
            name='failure_code',
            field=fields.CharField(null=True, max_length=100),
        ),
        ops.AddField(
            model_name='PaymentAttempt',
            name='needs_customer_action',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
