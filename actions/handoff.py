"""`action_offer_human`: what the resident gets on asking for a person (bot.handoff)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action

from actions.catalog import catalog, now
from actions.common import language, send
from bot.handoff import offer_human


class OfferHuman(Action):
    def name(self) -> str:
        return "action_offer_human"

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        send(dispatcher, offer_human(catalog(), language(tracker), now()))
        return []
