"""`action_offer_human`: the resident asks for a person; bot.handoff queues them for staff
or offers a call back when nobody can answer now."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action

from actions.catalog import catalog, now
from actions.common import language, send, sessions, settings
from bot.db import transaction
from bot.handoff import start_handoff


def _channel(tracker) -> str:  # type: ignore[no-untyped-def]
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    return str(metadata.get("channel") or "api")


class OfferHuman(Action):
    def name(self) -> str:
        return "action_offer_human"

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        with transaction(sessions()) as session:
            started = start_handoff(
                session,
                sender_id=tracker.sender_id,
                channel=_channel(tracker),
                language=language(tracker),
                catalog=catalog(),
                now=now(),
                always_open=settings().handoff_always_open,
            )
        send(dispatcher, started.reply)
        # The gateway pauses the conversation in Rasa once this action has finished (pausing
        # here would leave Rasa's dialogue state without its action_listen) and resumes it.
        return []
