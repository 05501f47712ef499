"""Service questions answered from the catalog: which papers, what fee, who, when open.

The actions only adapt: they read the resident's words, entities and slots and call the
catalog service in `bot.catalog`, which decides what to say.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import language, send, settings
from bot.calendar import VIETNAM
from bot.catalog import Catalog, answer_unit_question, cached_catalog, service_turn


def catalog() -> Catalog:
    return cached_catalog(settings().catalog_dir)


def latest_entity(tracker: Tracker, name: str) -> str | None:
    return next(tracker.get_latest_entity_values(name), None)


def now() -> datetime:
    return datetime.now(VIETNAM)


class ActionAnswerService(Action):
    def name(self) -> str:
        return "action_answer_service"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        entity = latest_entity(tracker, "service")
        previous = tracker.get_slot("service")
        reply, service_id = service_turn(
            catalog(),
            tracker.latest_message.get("text") or "",
            language(tracker),
            now(),
            entity=entity,
            previous=previous if previous != entity else None,
            facet=latest_entity(tracker, "facet"),
        )
        send(dispatcher, reply)
        return [SlotSet("service", service_id or previous)]


class ActionAnswerContact(Action):
    hours = False

    def name(self) -> str:
        return "action_answer_contact"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        reply = answer_unit_question(
            catalog(),
            tracker.latest_message.get("text") or "",
            language(tracker),
            now(),
            hours=self.hours,
            unit=latest_entity(tracker, "unit"),
            category=latest_entity(tracker, "category"),
            service=latest_entity(tracker, "service"),
        )
        send(dispatcher, reply)
        return []


class ActionAnswerHours(ActionAnswerContact):
    hours = True

    def name(self) -> str:
        return "action_answer_hours"
