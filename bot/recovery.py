"""The recovery worker: answers the messages the assistant could not answer when they came.

A message is left for it when Rasa was down or hanging (the resident was told "busy, your
message is recorded"), when the database could not take it (it waits in the spool), or when
the gateway answering it stopped (its lease ran out). Every second, and at once when woken:

1. spooled messages and platform updates are moved into the database, oldest first;
2. if Rasa has answered its status for `settle` seconds in a row, each waiting resident's
   messages are answered in the order they came: a message Rasa already handled (its id is
   in the tracker's metadata) is read back from the tracker rather than sent twice; the
   replies go to the outbox in the same transaction that marks the message answered, with
   keys made of the message id, so they reach the resident once.

Nothing here needs a person: the worker starts with the gateway and stops with it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from bot import conversation, messages
from bot.conversation import (
    ACTIONS_DOWN,
    actions_down,
    ask_rasa,
    deliver_later,
    resident_language,
)
from bot.db import transaction
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.replies import Reply
from bot.routing import Inbound, intercept

log = logging.getLogger(__name__)

INTERVAL = 1.0
# Rasa must have answered /status for this long before messages are sent to it again: a
# call that timed out while Rasa hung is finished by Rasa first, and then found in the tracker.
SETTLE = 3.0
GIVE_UP_AFTER = timedelta(hours=24)
# Residents answered in parallel (each one's messages in order).
PARALLEL = 4

# Spooled platform updates ("kind": "update") are handed back to their channel.
UpdateImporter = Callable[[str, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    sender_id: str
    text: str
    rasa_text: str
    language_hint: str | None
    attempts: int
    error: str | None


class RecoveryWorker:
    def __init__(
        self,
        sessions: sessionmaker,
        rasa: RasaClient,
        spool: messages.Spool,
        *,
        lease: timedelta,
        importers: dict[str, UpdateImporter] | None = None,
        settle: float = SETTLE,
    ) -> None:
        self.sessions = sessions
        self.rasa = rasa
        self.spool = spool
        self.lease = lease
        self.importers = dict(importers or {})
        self.settle = settle
        self._wake = asyncio.Event()
        self._rasa_up_since: float | None = None
        self.recovered = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self, interval: float = INTERVAL) -> None:
        while True:
            self._wake.clear()
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except SQLAlchemyError as error:
                log.warning("recovery: the database is not available yet (%s)", error)
            except Exception:  # one bad round must not end recovery for good
                log.exception("recovery: this round failed; trying again")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            except asyncio.TimeoutError:
                pass

    async def run_once(self) -> int:
        """One round; returns how many messages were answered."""
        await self.import_spool()
        senders = await asyncio.to_thread(self._senders)
        if not senders or not await self.rasa_ready():
            return 0
        queue: asyncio.Queue[str] = asyncio.Queue()
        for sender in senders:
            queue.put_nowait(sender)
        answered = 0

        async def work() -> None:
            nonlocal answered
            while not queue.empty():
                answered += await self.recover_sender(queue.get_nowait())

        await asyncio.gather(*(work() for _ in range(min(PARALLEL, len(senders)))))
        if answered:
            log.info("recovery: answered %d message(s) left unanswered", answered)
        self.recovered += answered
        return answered

    async def rasa_ready(self) -> bool:
        """Rasa and its action server both answer, and have for `settle` seconds."""
        try:
            await self.rasa.status()
            if await actions_down():
                raise RasaUnavailable(ACTIONS_DOWN)
        except RasaUnavailable:
            self._rasa_up_since = None
            return False
        now = time.monotonic()
        if self._rasa_up_since is None:
            self._rasa_up_since = now
        return now - self._rasa_up_since >= self.settle

    # -- the spool -----------------------------------------------------------------------

    async def import_spool(self) -> int:
        entries = await asyncio.to_thread(self.spool.entries)
        imported = 0
        for path, entry in entries:
            if entry.get("kind") == "update":
                importer = self.importers.get(str(entry.get("channel")))
                if importer is None:
                    continue  # its channel is off in this gateway; left for one where it is on
                await importer(str(entry["external_id"]), dict(entry["payload"]))
            else:
                await asyncio.to_thread(self._import_message, entry)
            path.unlink(missing_ok=True)
            imported += 1
        if imported:
            log.info("recovery: %d spooled message(s) moved into the database", imported)
        return imported

    def _import_message(self, entry: dict[str, Any]) -> None:
        with transaction(self.sessions) as session:
            messages.import_spooled_message(session, entry)

    # -- answering -----------------------------------------------------------------------

    def _senders(self) -> list[str]:
        with transaction(self.sessions) as session:
            messages.expire_older_than(session, messages.utcnow() - GIVE_UP_AFTER)
            return messages.senders_waiting(session, messages.utcnow() - GIVE_UP_AFTER)

    def _claim(self, sender_id: str) -> tuple[Claimed | None, list[Reply] | None]:
        """The sender's next message, and the replies of an interceptor that took it (a
        conversation held by staff, a survey answer)."""
        with transaction(self.sessions) as session:
            row = messages.claim_next(
                session, sender_id, self.lease, answered=conversation.UNRECORDED
            )
            if row is None:
                return None, None
            claimed = Claimed(
                row.id,
                row.channel,
                row.sender_id,
                row.text,
                row.text_for_rasa,
                row.language_hint,
                row.attempts,
                row.error,
            )
            language = resident_language(session, sender_id, row.language_hint)
            replies = intercept(
                session, Inbound(row.id, row.channel, row.sender_id, row.text_for_rasa, language)
            )
            if replies is not None:
                deliver_later(session, row.id, row.channel, sender_id, replies, row.language_hint)
            return claimed, replies

    async def recover_sender(self, sender_id: str) -> int:
        """Answer this sender's waiting messages in order; stops at the first Rasa failure."""
        answered = 0
        while True:
            claimed, intercepted = await asyncio.to_thread(self._claim, sender_id)
            if claimed is None:
                return answered
            if intercepted is not None:
                answered += 1
                continue
            try:
                replies = await ask_rasa(
                    self.rasa,
                    claimed.id,
                    sender_id=sender_id,
                    text=claimed.rasa_text,
                    channel=claimed.channel,
                    language_hint=claimed.language_hint,
                    check_tracker=True,
                    resend_if_silent=(claimed.error or "").startswith(ACTIONS_DOWN),
                )
                if not replies and await actions_down(fresh=True):
                    raise RasaUnavailable(ACTIONS_DOWN)
            except RasaUnavailable as error:
                self._rasa_up_since = None
                await asyncio.to_thread(self._failed, claimed.id, str(error))
                return answered
            await asyncio.to_thread(self._answered, claimed, replies)
            answered += 1

    def _answered(self, claimed: Claimed, replies: list[Reply]) -> None:
        with transaction(self.sessions) as session:
            deliver_later(
                session,
                claimed.id,
                claimed.channel,
                claimed.sender_id,
                replies,
                claimed.language_hint,
            )

    def _failed(self, message_id: int, error: str) -> None:
        with transaction(self.sessions) as session:
            messages.mark_failed(session, message_id, error)
