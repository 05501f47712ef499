"""What the push channels (Telegram, Zalo OA) share: the bilingual sentences the adapters say
themselves, text splitting, the delivery errors the outbox worker understands, a send
throttle, and `PushChannel`, the path every platform update takes after its webhook stored it
(handled in the background, one at a time per resident, replies sent or left to the outbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from bot import attachments, conversation, outbox
from bot.conversation import (
    BUSY,
    Button,
    Reply,
    StoredForLater,
    accept_and_route,
    answer,
    resident_language,
)
from bot.db import transaction
from bot.rasa_client import RasaClient
from bot.text import resident_text
from channels.sent_journal import SentJournal, SentMarks

log = logging.getLogger(__name__)

LANGUAGES = ("vi", "en")

# What the adapters say without asking Rasa (VOICE.md: polite, short, both languages).
PHRASES: dict[str, dict[str, str]] = {
    "photo_received": {
        "vi": "Dạ, em đã nhận ảnh. Ảnh sẽ được đính kèm vào phản ánh anh/chị đang gửi ạ.",
        "en": "Got your photo. It will be attached to the report you are filing.",
    },
    "photo_too_large": {
        "vi": "Dạ, ảnh này lớn hơn 10 MB nên em chưa nhận được. Anh/chị gửi ảnh nhỏ hơn giúp em ạ.",
        "en": "That photo is larger than 10 MB, so I couldn't take it. Please send a smaller one.",
    },
    "photo_wrong_type": {
        "vi": "Dạ, em chỉ nhận được ảnh dạng JPG, PNG hoặc WEBP. "
        "Anh/chị gửi lại ảnh theo một trong các dạng này giúp em ạ.",
        "en": "I can only take photos in JPG, PNG or WEBP format. "
        "Please send the photo in one of these.",
    },
    "photo_failed": {
        "vi": "Dạ, em xin lỗi, em chưa tải được ảnh này. Anh/chị gửi lại giúp em ạ.",
        "en": "Sorry, I couldn't download that photo. Please send it again.",
    },
    "unsupported": {
        "vi": "Dạ, em chưa đọc được loại tin nhắn này. "
        "Anh/chị nhắn bằng chữ, gửi ảnh hoặc gửi vị trí giúp em ạ.",
        "en": "Sorry, I can't read this kind of message yet. "
        "Please write to me, or send a photo or your location.",
    },
    "edited": {
        "vi": "Dạ, em chưa xử lý được tin nhắn đã chỉnh sửa. "
        "Anh/chị gửi nội dung mới thành một tin nhắn khác giúp em ạ.",
        "en": "I can't act on edited messages. Please send the corrected text as a new message.",
    },
    # Shown by Telegram as a small pop-up: at most 200 characters.
    "button_expired": {
        "vi": "Dạ, lựa chọn này đã hết hạn. Anh/chị nhắn lại giúp em ạ.",
        "en": "This choice has expired. Please type your message instead.",
    },
    "slow_down": {
        "vi": "Dạ, anh/chị gửi tin nhắn nhanh quá nên em chưa kịp xử lý. Anh/chị chờ khoảng "
        "một phút rồi nhắn lại giúp em ạ.",
        "en": "You are sending messages faster than I can handle. Please wait about a minute "
        "and write again.",
    },
    "greeting": {
        "vi": "Dạ, Tiếp Dân xin chào anh/chị! Em là trợ lý tự động: em giúp anh/chị hỏi thủ tục, "
        "gửi phản ánh và theo dõi kết quả xử lý. Anh/chị cần gì cứ nhắn em ạ. "
        "(You can also write to me in English.)",
        "en": "Hello, this is Tiếp Dân, an automated assistant: I can answer questions about "
        "public services, take your reports and tell you how they are progressing. "
        "(Anh/chị có thể nhắn tiếng Việt.)",
    },
}


SLOW_DOWN_NOTICE_EVERY = 60.0


def phrase(key: str, language: str | None) -> str:
    return PHRASES[key]["en" if language == "en" else "vi"]


def language_from_code(code: str | None) -> str | None:
    """A platform's language tag ("vi", "en-US") as our language, None for others."""
    if not code:
        return None
    base = code.strip().lower()[:2]
    return base if base in LANGUAGES else None


def location_text(latitude: float, longitude: float) -> str:
    """A shared location as the text the complaint form's location question accepts."""
    return f"{latitude:.6f}, {longitude:.6f}"


def split_text(text: str, limit: int) -> list[str]:
    """Cut a long text into pieces of at most `limit` characters, at a paragraph, line or
    word boundary where there is one."""
    text = text.strip()
    pieces: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut < limit // 2:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def reply_from_body(body: Mapping[str, Any]) -> Reply:
    """An outbox row's body (`{"text", "buttons"}`) as a reply to render."""
    buttons = [
        Button(str(b.get("title", "")), str(b.get("payload", "")))
        for b in body.get("buttons") or []
        if isinstance(b, Mapping)
    ]
    return Reply(text=str(body.get("text") or ""), buttons=buttons, image=body.get("image"))


# ---------------------------------------------------------------------------------------------
# Delivery


class DeliveryError(Exception):
    """The platform did not take the message; worth trying again later."""


class RateLimited(DeliveryError):
    def __init__(self, retry_after: float, detail: str = "") -> None:
        super().__init__(detail or f"rate limited; retry after {retry_after:.0f} s")
        self.retry_after = retry_after


class RecipientUnreachable(DeliveryError):
    """The resident blocked the bot, unfollowed the OA or no longer exists: never retry."""


class MessageRejected(DeliveryError):
    """The platform refuses this message itself (malformed, too long): retrying won't help."""


class DatabaseBusy(Exception):
    """A write an update needs before anything is said did not get the database in time
    (locked or down): the update is handled again from the spool, the resident told
    "busy, recorded" meanwhile. Raised only where handling it again is harmless."""


async def write_soon(work: Callable[[], Any]) -> Any:
    """`work` (a database write) in a worker thread within the store timeout, or
    DatabaseBusy."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(work), conversation.POLICY.store_timeout)
    except (SQLAlchemyError, asyncio.TimeoutError) as error:
        raise DatabaseBusy(type(error).__name__) from error


class Sender(Protocol):
    channel: str

    async def deliver(self, recipient: str, reply: Reply) -> None:
        """Send one reply to a recipient (`tg:…`, `zalo:…`); raises DeliveryError."""


class Throttle:
    """At most `rate` sends per second for each key, with bursts of up to `burst`."""

    def __init__(self, rate: float, burst: int, max_keys: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: dict[object, tuple[float, float]] = {}

    async def wait(self, key: object = None) -> None:
        while True:
            now = time.monotonic()
            tokens, stamp = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                self._forget_idle(now)
                return
            self._buckets[key] = (tokens, now)
            await asyncio.sleep((1 - tokens) / self.rate)

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) <= self.max_keys:
            return
        full_after = self.burst / self.rate
        for key, (_, stamp) in list(self._buckets.items()):
            if now - stamp > full_after:
                del self._buckets[key]


# ---------------------------------------------------------------------------------------------
# Background work


class BackgroundTasks:
    """Tasks started by a webhook after it answered; held so they are not garbage-collected
    and drained when the gateway stops."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s background task failed", self.name, exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def idle(self) -> None:
        """Wait until every task (and any task they started) has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def drain(self, timeout: float) -> None:
        """Let running work finish for up to `timeout` seconds, then cancel the rest (their
        updates stay unprocessed and are picked up at the next start)."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(list(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if pending:
            log.warning(
                "%s: %d unfinished task(s) cancelled at shutdown; they resume at the next start",
                self.name,
                len(pending),
            )


# ---------------------------------------------------------------------------------------------
# The path of a platform update


class PushChannel:
    """Base of the Telegram and Zalo adapters: an update stored by the webhook is handled in
    the background, one at a time per resident and in arrival order; replies are sent at
    once, and what cannot be sent now is queued in the outbox for the worker."""

    channel = ""
    # Updates accepted but not handled before a stop are handled at the next start if younger.
    recover_within = timedelta(hours=1)

    def __init__(
        self, sender: Sender, sessions: sessionmaker, rasa: RasaClient, uploads_dir: Path
    ) -> None:
        self.sender = sender
        self.sessions = sessions
        self.rasa = rasa
        self.uploads_dir = uploads_dir
        self.tasks = BackgroundTasks(self.channel)
        self._locks: dict[str | None, asyncio.Lock] = {}
        # Seconds a resident must wait before sending again (channels.ratelimit); no limit
        # until the gateway sets it.
        self.sender_wait: Callable[[str], float] = lambda _sender: 0.0
        self._slowed: dict[str, float] = {}
        # Where a reply the platform accepted is written down before the database hears of
        # it, and what marks it sent there in the background (set by the gateway together,
        # see channels.sent_journal).
        self.journal: SentJournal | None = None
        self.marks: SentMarks | None = None

    # Subclasses say who an update is from and what to do with it.
    def sender_of(self, data: dict[str, Any]) -> str | None:
        raise NotImplementedError

    async def dispatch(self, data: dict[str, Any], external_id: str) -> None:
        raise NotImplementedError

    async def accept_update(self, external_id: str, data: dict[str, Any]) -> bool:
        """Store the update and start handling it; False for a re-delivery. When the
        database cannot take it in time, the update goes to the spool (the recovery worker
        hands it back through `import_spooled`) and the resident is told "busy, recorded"."""

        def record() -> bool:
            with transaction(self.sessions) as session:
                return attachments.record_update(
                    session,
                    channel=self.channel,
                    external_id=external_id,
                    sender_id=self.sender_of(data),
                    payload=data,
                )

        policy = conversation.POLICY  # set at start-up
        try:
            if policy.spool is not None and policy.spool.has_entries():
                # Earlier messages wait in the spool: this one queues behind them.
                raise conversation.SpoolFirst()
            stored = await asyncio.wait_for(asyncio.to_thread(record), policy.store_timeout)
        except (SQLAlchemyError, asyncio.TimeoutError, conversation.SpoolFirst) as error:
            if policy.spool is None:
                raise
            self.spool_update(external_id, data, error)
            return True
        if stored:
            self.tasks.spawn(self.process(external_id, data))
        return stored

    def spool_update(self, external_id: str, data: dict[str, Any], error: BaseException) -> None:
        """The database cannot take the update now: it waits in the spool (the recovery
        worker hands it back through `import_spooled`) and the resident is told "busy,
        recorded"."""
        log.warning("%s: database unavailable (%r); update spooled", self.channel, error)
        entry = {"kind": "update", "channel": self.channel, "external_id": external_id}
        conversation.keep_for_later({**entry, "payload": data})
        sender_id = self.sender_of(data)
        if sender_id is not None:
            self.tasks.spawn(self.say_busy(sender_id, self.language_hint_of(data)))

    async def import_spooled(self, external_id: str, data: dict[str, Any]) -> None:
        """An update spooled while the database was unavailable, handled now. One whose
        write went through after all but was never handled is handled too."""

        def record() -> bool:
            with transaction(self.sessions) as session:
                if attachments.record_update(
                    session,
                    channel=self.channel,
                    external_id=external_id,
                    sender_id=self.sender_of(data),
                    payload=data,
                ):
                    return True
                pending = attachments.unprocessed_updates(
                    session, self.channel, self.recover_within
                )
                return any(update.external_id == external_id for update in pending)

        if await asyncio.to_thread(record):
            self.tasks.spawn(self.process(external_id, data))

    def language_hint_of(self, data: dict[str, Any]) -> str | None:
        """The platform's language tag of an update, when it has one."""
        return None

    async def say_busy(self, sender_id: str, hint: str | None) -> None:
        """The busy reply, sent without the database (it is the one that is down)."""
        try:
            await self.sender.deliver(sender_id, Reply(BUSY["en" if hint == "en" else "vi"]))
        except DeliveryError as exc:
            log.warning(
                "%s: could not tell %s the system is busy: %s", self.channel, sender_id, exc
            )

    async def recover(self) -> int:
        """Handle again the updates a stop interrupted (accepted, never finished)."""

        def load() -> list[attachments.StoredUpdate]:
            with transaction(self.sessions) as session:
                return attachments.unprocessed_updates(session, self.channel, self.recover_within)

        stored = await asyncio.to_thread(load)
        for update in stored:
            self.tasks.spawn(self.process(update.external_id, update.payload))
        if stored:
            log.info("%s: handling %d update(s) a stop interrupted", self.channel, len(stored))
        return len(stored)

    async def process(self, external_id: str, data: dict[str, Any]) -> None:
        try:
            async with self._lock(self.sender_of(data)):
                await self.dispatch(data, external_id)
        except asyncio.CancelledError:
            raise  # stopping: left unprocessed, handled at the next start
        except DatabaseBusy as error:
            if conversation.POLICY.spool is not None:
                # Left unprocessed: handled again from the spool once the database is back.
                self.spool_update(external_id, data, error.__cause__ or error)
                return
            log.exception("%s update %s could not be handled", self.channel, external_id)
        except Exception:
            log.exception("%s update %s could not be handled", self.channel, external_id)

        def done() -> None:
            with transaction(self.sessions) as session:
                attachments.mark_update_processed(session, self.channel, external_id)

        await asyncio.to_thread(done)

    def _lock(self, key: str | None) -> asyncio.Lock:
        if len(self._locks) > 1000:
            self._locks = {k: v for k, v in self._locks.items() if v.locked()}
        return self._locks.setdefault(key, asyncio.Lock())

    # -- the conversation ------------------------------------------------------------------

    async def converse(
        self,
        sender_id: str,
        text: str,
        hint: str | None,
        external_id: str,
        said: str | None = None,
    ) -> None:
        """One message to Rasa and its replies back; `said` is what the message log keeps
        when Rasa reads something else (a button's title while its payload goes to Rasa)."""
        if self.sender_wait(sender_id):
            await self.slow_down(sender_id, hint)
            return
        text = resident_text(text, strict=False)  # never a control character or bad Unicode
        said = resident_text(said, strict=False) if said else None
        try:
            message_id, routed = await accept_and_route(
                self.sessions,
                channel=self.channel,
                sender_id=sender_id,
                text=said or text,
                language_hint=hint,
                external_id=external_id,
                resume=True,
                rasa_text=text,
            )
        except StoredForLater:
            await self.say_busy(sender_id, hint)
            return
        if message_id is None:
            return
        outcome = await answer(
            self.rasa,
            self.sessions,
            message_id,
            channel=self.channel,
            sender_id=sender_id,
            text=text,
            language_hint=hint,
            hold_replies=True,
            routed=routed,
        )
        if outcome.outbox_ids is not None:
            await self.send_held(sender_id, outcome.replies, outcome.outbox_ids)
        else:
            await self.send_replies(sender_id, outcome.replies, hint)

    async def slow_down(self, sender_id: str, hint: str | None) -> None:
        """Over the per-resident limit: the message is dropped (a flood, not a person typing)
        and the resident is told once a minute, not once per dropped message."""
        log.warning(
            "%s: %s is over the message rate limit; message dropped", self.channel, sender_id
        )
        now = time.monotonic()
        if now - self._slowed.get(sender_id, -SLOW_DOWN_NOTICE_EVERY) < SLOW_DOWN_NOTICE_EVERY:
            return
        if len(self._slowed) > 10_000:
            self._slowed.clear()
        self._slowed[sender_id] = now
        await self.say(sender_id, "slow_down", hint)

    async def language(self, sender_id: str, hint: str | None) -> str:
        def find() -> str:
            with transaction(self.sessions) as session:
                return resident_language(session, sender_id, hint)

        return await asyncio.to_thread(find)

    async def say(self, sender_id: str, key: str, hint: str | None) -> None:
        """One of the adapter's own sentences, in the resident's language."""
        language = await self.language(sender_id, hint)
        await self.send_replies(sender_id, [Reply(phrase(key, language))], language)

    async def send_replies(
        self, sender_id: str, replies: list[Reply], language: str | None
    ) -> None:
        """Send now; what cannot be sent now goes to the outbox, in order."""
        for position, reply in enumerate(replies):
            try:
                await self.sender.deliver(sender_id, reply)
            except RecipientUnreachable as exc:
                log.info("%s: %s cannot be reached: %s", self.channel, sender_id, exc)
                await asyncio.to_thread(self.record_blocked, sender_id, str(exc))
                return
            except MessageRejected as exc:
                log.error("%s refused a reply to %s: %s", self.channel, sender_id, exc)
            except DeliveryError as exc:
                log.warning("%s: reply to %s queued for later: %s", self.channel, sender_id, exc)
                delay = exc.retry_after if isinstance(exc, RateLimited) else 0.0
                await asyncio.to_thread(
                    self._queue, sender_id, replies[position:], language or "vi", delay
                )
                return

    async def send_held(
        self, sender_id: str, replies: list[Reply], outbox_ids: list[int | None]
    ) -> None:
        """Send an answer whose replies are already in the outbox, held for us: each one sent
        is marked sent; from the first that fails, the outbox worker takes over, in order.
        Should the gateway stop in between, the worker sends what is left when the hold
        ends, so no reply is lost."""
        journal = self.journal
        # Marked sent in the background once written in the journal (SentMarks); without
        # them (a gateway stopping, or no journal) each row is committed before the next.
        marks = self.marks
        if journal is None or journal.closed or marks is None or marks.closed:
            marks = None
        sent: list[int] = []
        try:
            for position, (reply, row) in enumerate(zip(replies, outbox_ids, strict=True)):
                if journal is not None:
                    journal.sending(row)
                try:
                    await self.sender.deliver(sender_id, reply)
                except RecipientUnreachable as exc:
                    log.info("%s: %s cannot be reached: %s", self.channel, sender_id, exc)
                    await asyncio.to_thread(
                        self._give_up, sender_id, outbox_ids[position:], str(exc)
                    )
                    return
                except MessageRejected as exc:
                    log.error("%s refused a reply to %s: %s", self.channel, sender_id, exc)
                    if row is not None:
                        await asyncio.to_thread(self._undeliverable, [row], str(exc))
                    continue
                except DeliveryError as exc:
                    log.warning(
                        "%s: reply to %s left to the outbox: %s", self.channel, sender_id, exc
                    )
                    delay = exc.retry_after if isinstance(exc, RateLimited) else 0.0
                    await asyncio.to_thread(self._release, outbox_ids[position:], delay)
                    return
                if row is not None:
                    if journal is not None:
                        journal.record(row)
                    if marks is not None:
                        sent.append(row)
                    else:
                        await asyncio.to_thread(self._sent, row)
        finally:
            if sent and marks is not None:
                marks.add(sent)

    def _sent(self, row: int) -> None:
        with transaction(self.sessions) as session:
            outbox.mark_sent(session, row)

    def _release(self, rows: list[int | None], delay: float) -> None:
        not_before = attachments.utcnow() + timedelta(seconds=delay)
        with transaction(self.sessions) as session:
            outbox.release(session, [row for row in rows if row is not None], not_before)

    def _undeliverable(self, rows: list[int | None], reason: str) -> None:
        with transaction(self.sessions) as session:
            for row in rows:
                if row is not None:
                    outbox.mark_undeliverable(session, row, reason)

    def _give_up(self, sender_id: str, rows: list[int | None], reason: str) -> None:
        self.record_blocked(sender_id, reason)
        self._undeliverable(rows, reason)

    def _queue(self, sender_id: str, replies: list[Reply], language: str, delay: float) -> None:
        not_before = attachments.utcnow() + timedelta(seconds=delay) if delay else None
        with transaction(self.sessions) as session:
            for reply in replies:
                if reply.text.strip():
                    outbox.enqueue(
                        session,
                        channel=self.channel,
                        recipient=sender_id,
                        language=language,
                        kind="reply",
                        text=reply.text,
                        buttons=[{"title": b.title, "payload": b.payload} for b in reply.buttons],
                        not_before=not_before,
                    )

    # -- residents and their files ---------------------------------------------------------

    def record_blocked(self, sender_id: str, reason: str) -> None:
        with transaction(self.sessions) as session:
            attachments.record_blocked(session, self.channel, sender_id, reason)

    def unblock(self, sender_id: str) -> None:
        with transaction(self.sessions) as session:
            attachments.unblock(session, self.channel, sender_id)

    async def unblock_soon(self, sender_id: str) -> None:
        """A resident who writes is reachable again; not worth keeping them waiting for a
        slow database (the write goes on, or is done at their next message)."""
        try:
            await asyncio.wait_for(asyncio.to_thread(self.unblock, sender_id), 1.0)
        except (asyncio.TimeoutError, SQLAlchemyError) as error:
            log.warning("%s: could not mark %s reachable yet: %r", self.channel, sender_id, error)

    async def keep_photo(
        self, sender_id: str, data: bytes, name: str | None, external_id: str, hint: str | None
    ) -> bool:
        """Check a downloaded image and stash it for the sender's report; tells the resident
        either way. True when it was kept."""
        if len(data) > attachments.MAX_BYTES:
            await self.say(sender_id, "photo_too_large", hint)
            return False
        content_type = attachments.sniff_image(data)
        if content_type is None:
            await self.say(sender_id, "photo_wrong_type", hint)
            return False

        def keep() -> None:
            path = attachments.save_upload(self.uploads_dir, data, content_type)
            with transaction(self.sessions) as session:
                kept = attachments.stash(
                    session,
                    sender_id=sender_id,
                    path=path,
                    content_type=content_type,
                    size=len(data),
                    original_name=name,
                    source_key=f"{self.channel}:{external_id}",
                )
            if kept.uri != str(path):  # the same message handled twice: keep the first copy
                path.unlink(missing_ok=True)

        await asyncio.to_thread(keep)
        await self.say(sender_id, "photo_received", hint)
        return True
