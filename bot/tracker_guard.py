"""Rasa without its silent fall-back to memory when the tracker store fails mid-run.

Stock Rasa wraps every tracker store in `FailSafeTrackerStore`: when the database fails,
`retrieve` answers "no such conversation" (the resident's form and history are gone, the
conversation starts over) and `save` writes to an in-memory store that no later request
reads. Both answer the resident from a conversation that is not theirs, and what was said
meanwhile never reaches the database. Measured with PostgreSQL stopped under load
(tests/faults, long form): messages were answered out of context, then handled a second
time once the database was back.

`StrictTrackerStore` raises `TrackerStoreDown` instead. Our REST channel
(bot.trainer.rasa_channel) answers such a message with 503, so the gateway holds it, tells
the resident it is recorded, and sends it again once Rasa's store is back; nothing is
answered from an empty conversation. A failed `save` happens after the actions ran: the
message is handled again later, which the ticket's idempotency key (the draft id, kept in
the tracker from an earlier turn) makes safe.

Installed by `bot.rasa_server` before the agent is created.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("tiepdan.rasa.tracker_store")


class TrackerStoreDown(RuntimeError):
    """Rasa's tracker store failed: the conversation can neither be read nor written."""


def _strict_class() -> type:
    from rasa.core.tracker_store import FailSafeTrackerStore

    class StrictTrackerStore(FailSafeTrackerStore):
        """Calls the primary store; an error is logged and raised, never hidden."""

        def _fail(self, what: str, error: Exception) -> TrackerStoreDown:
            log.error(
                "tracker store %s failed: %s: %s",
                what,
                type(error).__name__,
                str(error).splitlines()[0][:300] if str(error) else "",
            )
            return TrackerStoreDown(f"tracker store {what} failed: {type(error).__name__}")

        async def retrieve(self, sender_id: str) -> Any:
            try:
                return await self._tracker_store.retrieve(sender_id)
            except Exception as error:
                raise self._fail("read", error) from error

        async def retrieve_full_tracker(self, sender_id: str) -> Any:
            try:
                return await self._tracker_store.retrieve_full_tracker(sender_id)
            except Exception as error:
                raise self._fail("read", error) from error

        async def keys(self) -> Iterable[str]:
            try:
                return await self._tracker_store.keys()
            except Exception as error:
                raise self._fail("keys", error) from error

        async def save(self, tracker: Any) -> None:
            try:
                await self._tracker_store.save(tracker)
            except Exception as error:
                raise self._fail("write", error) from error

    return StrictTrackerStore


def install() -> None:
    """Every agent Rasa creates from now on gets the strict wrapper."""
    from rasa.core.agent import Agent
    from rasa.core.tracker_store import InMemoryTrackerStore

    strict = _strict_class()

    def create_tracker_store(store: Any, domain: Any) -> Any:
        if store is not None:
            store.domain = domain
        else:
            store = InMemoryTrackerStore(domain)
        return strict(store)

    Agent._create_tracker_store = staticmethod(create_tracker_store)
