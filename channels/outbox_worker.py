"""The outbox worker: delivers what must reach Telegram and Zalo residents later (ticket
status changes, survey invitations, replies that could not go out at once).

Every second it claims the due rows of the push channels this gateway can send to (the API
and the web widget deliver their own rows), sends each through that channel's sender and
marks it sent, failed (retried with back-off, or after the platform's `retry_after`) or
undeliverable (the resident blocked the bot or unfollowed the OA). A claimed row is leased:
if the gateway dies mid-send the lease expires and the row is sent again (at least once);
a row marked sent is never sent again. Once an hour it also forgets old channel state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.orm import sessionmaker

from bot import attachments, outbox
from bot.db import transaction
from channels import sent_journal
from channels.keys import SESSIONS, SETTINGS
from channels.rendering import (
    DeliveryError,
    MessageRejected,
    RateLimited,
    RecipientUnreachable,
    Sender,
    reply_from_body,
)
from channels.sent_journal import SentJournal, SentMarks
from channels.telegram import TELEGRAM
from channels.zalo import ZALO

log = logging.getLogger(__name__)

INTERVAL = 1.0
BATCH = 20
# Longer than the slowest batch: 20 messages to one chat at Telegram's 1 message/s.
LEASE_SECONDS = 120
MAX_ATTEMPTS = 8
HOUSEKEEPING_EVERY = 3600.0


@dataclass(frozen=True)
class Delivery:
    id: int
    channel: str
    recipient: str
    body: dict[str, Any]


class OutboxWorker:
    def __init__(
        self,
        sessions: sessionmaker,
        senders: Mapping[str, Sender],
        *,
        batch: int = BATCH,
        lease_seconds: int = LEASE_SECONDS,
        max_attempts: int = MAX_ATTEMPTS,
        retry_base: timedelta = outbox.BACKOFF_BASE,
        journal: SentJournal | None = None,
        marks: SentMarks | None = None,
    ) -> None:
        self.sessions = sessions
        self.senders = dict(senders)
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self._in_flight: set[int] = set()
        self.journal = journal
        # Rows a channel sent whose commit is still on its way (not to be sent again).
        self.marks = marks

    async def run(self, interval: float = INTERVAL) -> None:
        last_housekeeping = 0.0
        while True:
            try:
                await self.deliver_due()
                if time.monotonic() - last_housekeeping > HOUSEKEEPING_EVERY:
                    last_housekeeping = time.monotonic()
                    await asyncio.to_thread(self.housekeeping)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end delivery for good
                log.exception("outbox worker: this round failed; trying again")
            await asyncio.sleep(interval)

    async def deliver_due(self, now: datetime | None = None) -> int:
        """Claim and send one batch; returns how many rows were sent."""
        due = await asyncio.to_thread(self._claim, now)
        by_resident: dict[tuple[str, str], list[Delivery]] = {}
        for delivery in due:
            by_resident.setdefault((delivery.channel, delivery.recipient), []).append(delivery)
        # Residents in parallel; one resident's messages in the order they were queued.
        sent = await asyncio.gather(
            *(self._deliver_in_order(group, now) for group in by_resident.values())
        )
        return sum(sent)

    def _claim(self, now: datetime | None) -> list[Delivery]:
        with transaction(self.sessions) as session:
            rows = outbox.claim_due(
                session,
                now,
                limit=self.batch,
                lease_seconds=self.lease_seconds,
                max_attempts=self.max_attempts,
                channels=self.senders,
            )
            due = []
            for row in rows:
                if row.id in self._in_flight:
                    continue  # still being sent by this worker (its lease ran out meanwhile)
                if self.marks is not None and row.id in self.marks.pending:
                    continue  # sent by a channel here; its mark is still being committed
                if attachments.is_blocked(session, row.channel, row.recipient):
                    outbox.mark_undeliverable(session, row.id, "the resident blocked the channel")
                    continue
                due.append(Delivery(row.id, row.channel, row.recipient, dict(row.body or {})))
            return due

    async def _deliver_in_order(self, deliveries: list[Delivery], now: datetime | None) -> int:
        sent = 0
        for position, delivery in enumerate(deliveries):
            outcome = await self._deliver(delivery, now)
            sent += outcome == "sent"
            if outcome == "blocked":  # nothing else will reach this resident either
                await asyncio.to_thread(
                    self._finish_rest,
                    deliveries[position + 1 :],
                    "the resident blocked the channel",
                )
                break
        return sent

    async def _deliver(self, delivery: Delivery, now: datetime | None) -> str:
        sender = self.senders[delivery.channel]
        self._in_flight.add(delivery.id)
        if self.journal is not None:
            self.journal.sending(delivery.id)
        try:
            await sender.deliver(delivery.recipient, reply_from_body(delivery.body))
        except RecipientUnreachable as exc:
            await asyncio.to_thread(self._blocked, delivery, str(exc))
            return "blocked"
        except MessageRejected as exc:
            log.error("outbox %s: %s refused it for good: %s", delivery.id, delivery.channel, exc)
            await asyncio.to_thread(self._undeliverable, delivery.id, str(exc))
            return "rejected"
        except DeliveryError as exc:
            retry_after = (
                timedelta(seconds=exc.retry_after) if isinstance(exc, RateLimited) else None
            )
            await asyncio.to_thread(self._failed, delivery.id, str(exc), now, retry_after)
            return "failed"
        except Exception as exc:  # a bug in a sender must not leave the row leased for nothing
            log.exception("outbox %s: unexpected error while sending", delivery.id)
            await asyncio.to_thread(self._failed, delivery.id, repr(exc), now, None)
            return "failed"
        finally:
            self._in_flight.discard(delivery.id)
        if self.journal is not None:
            self.journal.record(delivery.id)
        await asyncio.to_thread(self._sent, delivery.id, now)
        return "sent"

    def _sent(self, message_id: int, now: datetime | None) -> None:
        with transaction(self.sessions) as session:
            outbox.mark_sent(session, message_id, now)

    def _failed(
        self, message_id: int, reason: str, now: datetime | None, retry_after: timedelta | None
    ) -> None:
        with transaction(self.sessions) as session:
            row = outbox.mark_failed(
                session,
                message_id,
                reason,
                now,
                self.max_attempts,
                retry_after=retry_after,
                base=self.retry_base,
            )
            if row.status == outbox.FAILED:
                log.error("outbox %s: given up: %s", message_id, row.last_error)
            else:
                log.info(
                    "outbox %s: will retry at %s UTC: %s", message_id, row.next_attempt_at, reason
                )

    def _undeliverable(self, message_id: int, reason: str) -> None:
        with transaction(self.sessions) as session:
            outbox.mark_undeliverable(session, message_id, reason)

    def _blocked(self, delivery: Delivery, reason: str) -> None:
        log.info("outbox %s: %s cannot be reached: %s", delivery.id, delivery.recipient, reason)
        with transaction(self.sessions) as session:
            attachments.record_blocked(session, delivery.channel, delivery.recipient, reason)
            outbox.mark_undeliverable(session, delivery.id, reason)

    def _finish_rest(self, deliveries: list[Delivery], reason: str) -> None:
        with transaction(self.sessions) as session:
            for delivery in deliveries:
                outbox.mark_undeliverable(session, delivery.id, reason)

    def housekeeping(self) -> None:
        with transaction(self.sessions) as session:
            stale_files = attachments.housekeeping(session)
        for path in stale_files:
            with contextlib.suppress(OSError):
                Path(path).unlink(missing_ok=True)


OUTBOX_WORKER = web.AppKey("outbox_worker", OutboxWorker)


def setup_worker(app: web.Application) -> None:
    """Start the worker after the channels (it sends through their senders)."""

    async def worker(app: web.Application) -> AsyncIterator[None]:
        senders: dict[str, Sender] = {}
        if TELEGRAM in app:
            senders["telegram"] = app[TELEGRAM].sender
        if ZALO in app:
            senders["zalo"] = app[ZALO].sender
        if not senders:
            log.info("Outbox worker is off: neither Telegram nor Zalo is configured.")
            yield
            return
        retry_base = timedelta(seconds=app[SETTINGS].outbox_retry_seconds)
        # Replies a stopped gateway handed over but never marked sent are not sent again.
        folder = app[SETTINGS].var_dir / "run" / "sent"
        await asyncio.to_thread(sent_journal.replay, folder, app[SESSIONS])
        journal = sent_journal.SentJournal(folder)
        marks = sent_journal.SentMarks(app[SESSIONS])
        for key in (TELEGRAM, ZALO):
            if key in app:
                app[key].journal = journal
                app[key].marks = marks
        app[OUTBOX_WORKER] = OutboxWorker(
            app[SESSIONS], senders, retry_base=retry_base, journal=journal, marks=marks
        )
        task = asyncio.create_task(app[OUTBOX_WORKER].run())
        log.info("Outbox worker delivers to: %s", ", ".join(sorted(senders)))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # Sent rows not committed yet stay in the journal, for the next start to mark.
        journal.close(keep=not await marks.close(timeout=5.0))

    app.cleanup_ctx.append(worker)
