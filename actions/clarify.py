"""`action_clarify`: the answer to a low-confidence message (see bot.dialogue)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import language, send, user_intents
from bot.dialogue import clarify, consecutive_fallbacks


class ActionClarify(Action):
    def name(self) -> str:
        return "action_clarify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        ranking = tracker.latest_message.get("intent_ranking") or []
        failures = consecutive_fallbacks(user_intents(tracker))
        send(dispatcher, clarify(ranking, language(tracker), failures))
        return []
