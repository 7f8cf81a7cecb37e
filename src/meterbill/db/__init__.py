"""Persistence: Tortoise models, migrations, connection setup, hand-written SQL."""
