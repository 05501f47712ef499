"""Imports every module that defines tables, so `Base.metadata` is complete for Alembic."""

import bot.tickets  # noqa: F401  (ticket tables; bot.tickets imports bot.outbox, the outbox table)
from bot import messages  # noqa: F401
