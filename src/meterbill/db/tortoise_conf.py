"""Config for Tortoise's own CLI: `python -m tortoise -c meterbill.db.tortoise_conf.TORTOISE_ORM
makemigrations` (what scripts/makemigrations runs)."""

from meterbill.config import Settings
from meterbill.db.setup import tortoise_config

TORTOISE_ORM = tortoise_config(Settings())
