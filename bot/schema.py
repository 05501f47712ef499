"""Imports every module that defines tables, so `Base.metadata` is complete for Alembic."""

import bot.attachments  # noqa: F401  (pending attachments, channel state)
import bot.surveys  # noqa: F401  (satisfaction surveys)
import bot.tickets  # noqa: F401  (ticket tables; bot.tickets imports bot.outbox, the outbox table)
import bot.trainer.inbox  # noqa: F401  (NLU inbox)
import bot.trainer.release  # noqa: F401  (model releases)
from bot import (
    handoff,  # noqa: F401  (handoff, handoff_message; imports bot.console: staff, audit)
    messages,  # noqa: F401
    widget_messages,  # noqa: F401
)
