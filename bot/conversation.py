"""One resident message in, the assistant's replies out — the same path for every channel.

The message is stored before Rasa sees it (in the database, or when the database cannot take
it within a few seconds, in the on-disk spool). If Rasa has not answered within
`busy_after` seconds the resident gets a polite "busy, your message is recorded" reply in
their language; Rasa's answer, if it still comes, follows through the outbox. A message
Rasa could not answer at all stays in the log as failed and the recovery worker
(`bot.recovery`) answers it once Rasa is back, in order for each resident. `converse` does
both steps; channels that answer in the background call `accept_and_route` and `answer`
themselves.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import bindparam, exists, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Select

from bot import handoff as handoffs
from bot import inline_sqlite, messages, outbox, routing
from bot.db import core_transaction, transaction
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.replies import Button, Reply
from bot.routing import INTERCEPTORS, Inbound, Pending, intercept
from bot.text import has_diacritics

log = logging.getLogger(__name__)

BUSY = {
    "vi": "Dạ, hệ thống đang bận, tin nhắn của anh/chị đã được ghi nhận. "
    "Em sẽ trả lời anh/chị ngay khi hệ thống sẵn sàng ạ.",
    "en": "Sorry, the system is busy right now. Your message has been recorded, "
    "and I will answer it as soon as the system is ready.",
}


@dataclass(frozen=True)
class Policy:
    """How long a resident waits before the busy reply, how long the answering gateway owns
    a message, and where messages go when the database cannot take them."""

    busy_after: float = 4.0
    rasa_timeout: float = 30.0
    # A database write slower than this is given up for the spool (SQLite locked).
    store_timeout: float = 3.0
    spool: messages.Spool | None = None
    # Called when a message is left for the recovery worker, so it starts at once.
    wake: Callable[[], None] | None = None
    # Whether Rasa's action server answers (cached for a second). While it does not, Rasa
    # would take a message, fail its action and answer nothing: the message waits instead.
    # `fresh` asks again now instead of trusting the last second's answer.
    actions_ready: Callable[..., Awaitable[bool]] | None = None

    @property
    def lease(self) -> timedelta:
        # The live call gives up after rasa_timeout; past the lease the gateway is gone.
        return timedelta(seconds=self.rasa_timeout + 5)


POLICY = Policy()


def configure(policy: Policy) -> None:
    """Set by the gateway at start-up (settings, spool folder, recovery worker)."""
    global POLICY
    POLICY = policy


class SpoolFirst(Exception):
    """The spool holds messages not yet in the database: a new one goes behind them."""


class StoredForLater(Exception):
    """The database could not take the message; it is in the spool and will be answered
    once the database is back. Tell the resident "busy, recorded"."""

    def __init__(self, language: str) -> None:
        super().__init__("message spooled while the database is unavailable")
        self.language = language

    @property
    def reply(self) -> Reply:
        return Reply(BUSY[self.language])


@dataclass(frozen=True)
class Outcome:
    replies: list[Reply]
    answered: bool
    duplicate: bool = False
    # With `hold_replies`: each reply's outbox row, held for the caller to send and report
    # (None for a reply without text, which has no row).
    outbox_ids: list[int | None] | None = None


# How long a channel has to send an answer's replies itself before the outbox worker does:
# longer than the slowest send (a platform's "retry after" of up to 30 s is waited out).
HOLD_REPLIES = timedelta(seconds=60)

# Rasa calls still running after the resident was told "busy"; held so they finish.
_LATE: set[asyncio.Task[Any]] = set()
# The error recorded for a message Rasa took while its action server was down: Rasa has it
# in the tracker without the answer, so it is sent again rather than read back.
ACTIONS_DOWN = "action server down"


async def actions_down(fresh: bool = False) -> bool:
    ready = POLICY.actions_ready
    return ready is not None and not await ready(fresh=fresh)


def _wake() -> None:
    if POLICY.wake is not None:
        POLICY.wake()


def keep_for_later(entry: dict[str, Any]) -> None:
    """Put an entry the database could not take in the spool and wake the recovery worker.
    Inline, not in a thread: the threads may all be waiting on the locked database."""
    assert POLICY.spool is not None
    POLICY.spool.put(entry)
    _wake()


def reply_from_rasa(message: dict[str, Any]) -> Reply:
    buttons = [
        Button(str(b.get("title", "")), str(b.get("payload", "")))
        for b in message.get("buttons") or []
        if isinstance(b, dict)
    ]
    return Reply(text=message.get("text") or "", buttons=buttons, image=message.get("image"))


def busy_language(text: str, hint: str | None) -> str:
    if hint in BUSY:
        return hint
    return "vi" if has_diacritics(text) else "en" if text.isascii() and " " in text else "vi"


async def accept_and_route(
    sessions: sessionmaker,
    *,
    channel: str,
    sender_id: str,
    text: str,
    language_hint: str | None = None,
    external_id: str | None = None,
    resume: bool = False,
    rasa_text: str | None = None,
    route: bool = True,
) -> tuple[int | None, Route | None]:
    """Store the message before anything else and, in the same database transaction, work
    out the routing `answer` needs (a conversation held by staff, a survey answer, earlier
    messages still waiting): one trip to the database before Rasa. Returns the message's id
    (None for a re-delivery) and its route (None when it could not be worked out here, or
    with `route=False`; `answer` then works it out itself).

    With `resume`, a message already stored under `external_id` but never answered and no
    longer owned by a gateway (the one answering it stopped) is taken over and returned so
    it can be answered now. `rasa_text` is what Rasa reads when it differs from `text`.
    When the database fails or is slower than `store_timeout`, the message goes to the spool
    and StoredForLater is raised.
    """
    # Messages without a platform id get one, so a write that ends after we gave up on it
    # and its spooled copy are recognised as one message.
    generated = external_id is None
    external_id = external_id or f"gw-{uuid.uuid4().hex}"
    policy = POLICY

    def store() -> tuple[int | None, Route | None]:
        with transaction(sessions) as session:
            message_id, fresh = _store(session)
            if message_id is None or not route:
                return message_id, None
            if fresh and _nothing_pending(session, message_id, sender_id, rasa_text or text):
                return message_id, Route()
            try:
                with session.begin_nested():
                    return message_id, _route(
                        session,
                        message_id,
                        channel,
                        sender_id,
                        rasa_text or text,
                        language_hint,
                        fresh=fresh,
                    )
            except Exception:  # the message stays stored; `answer` routes it again
                log.exception("could not route message %s with its storing", message_id)
                return message_id, None

    def _message_values() -> dict[str, Any]:
        return {
            "channel": channel,
            "sender_id": sender_id,
            "text": text,
            "external_id": external_id,
            "language_hint": language_hint,
            "rasa_text": rasa_text,
            "lease": policy.lease,
        }

    def _store(session: Session) -> tuple[int | None, bool]:
        """The message's id (None: stored before) and whether it was stored just now."""
        message = _message_values()
        if generated:  # cannot have been stored before: no look-up
            return messages.insert_received(session, **message), True
        stored = messages.record_inbound(session, **message)
        if stored is not None:
            return stored.id, True
        if not resume:
            return None, False
        return messages.take_over(session, channel, external_id, policy.lease), False

    try:
        if policy.spool is not None and policy.spool.has_entries():
            # Earlier messages wait in the spool: this one queues behind them, so the recovery
            # worker stores them all in the order they came.
            raise SpoolFirst()
        writer = inline_sqlite.writer_for(sessions.kw["bind"])
        if writer is not None:
            message = _message_values()
            try:
                return writer.write(
                    lambda connection: _store_inline(
                        connection,
                        writer,
                        message,
                        looked_up=not generated,
                        resume=resume,
                        route=route,
                        read=rasa_text or text,
                    )
                )
            except inline_sqlite.NotInline:
                pass  # the lock is held (or a case the inline path leaves): as below
        return await asyncio.wait_for(asyncio.to_thread(store), policy.store_timeout)
    except (SQLAlchemyError, asyncio.TimeoutError, SpoolFirst) as error:
        if policy.spool is None:
            raise
        log.warning(
            "database unavailable (%s); %s message from %s kept in the spool",
            type(error).__name__,
            channel,
            sender_id,
        )
        entry = {
            "kind": "message",
            "channel": channel,
            "sender_id": sender_id,
            "text": text,
            "rasa_text": rasa_text,
            "language_hint": language_hint,
            "external_id": external_id,
            "received_at": messages.utcnow().isoformat(),
        }
        keep_for_later(entry)
        raise StoredForLater(busy_language(text, language_hint)) from error


# A handoff the sender ended themselves (stopped waiting) that left Rasa paused.
_ENDED_HANDOFF = (
    handoffs.Handoff.sender_id == bindparam("sender"),
    handoffs.Handoff.status == handoffs.CLOSED,
    handoffs.Handoff.resumed_at.is_(None),
)


def _pending_query(declared: tuple[Pending, ...]) -> Select:
    """One row of truth values: each interceptor's condition, then whether earlier messages
    of the sender wait and whether a handoff the resident ended left Rasa paused."""
    return select(
        *(pending.condition for pending in declared),
        exists().where(*messages.UNANSWERED_BEFORE),
        exists().where(*_ENDED_HANDOFF),
    )


_PENDING_QUERIES: dict[tuple[Pending, ...], Select] = {}


def _pending_check(
    message_id: int, sender_id: str, text: str
) -> tuple[tuple[Pending, ...], dict[str, Any]] | None:
    """The one-query check for a message stored just now (the declarations it is built
    from, and its parameters), or None when the message must go through `_route`: an
    interceptor without a declaration, or a text that calls for one."""
    declared = routing.declared()
    if declared is None or any(pending.by_text(text) for pending in declared):
        return None
    params: dict[str, Any] = {"sender": sender_id, "before": message_id}
    for pending in declared:
        params.update(pending.params())
    return tuple(declared), params


def _nothing_pending(session: Session, message_id: int, sender_id: str, text: str) -> bool:
    """True when a message stored just now goes straight to Rasa with nothing before it: no
    interceptor may answer it, no earlier message waits, Rasa is not left paused. One query
    for what `_route` finds in four or more (it is every message's path); False sends the
    message through `_route`, as does an interceptor without a `Pending` declaration."""
    check = _pending_check(message_id, sender_id, text)
    if check is None:
        return False
    key, params = check
    return not any(session.execute(_pending_query_for(key), params).one())


def _pending_query_for(key: tuple[Pending, ...]) -> Select:
    query = _PENDING_QUERIES.get(key)
    if query is None:
        query = _PENDING_QUERIES[key] = _pending_query(key)
    return query


def _store_inline(
    connection: sqlite3.Connection,
    writer: inline_sqlite.InlineWriter,
    message: dict[str, Any],
    *,
    looked_up: bool,
    resume: bool,
    route: bool,
    read: str,
) -> tuple[int | None, Route | None]:
    """`accept_and_route`'s store on the event loop (bot.inline_sqlite): the same statements
    as its threaded path, sent straight to SQLite. A message with something pending gets
    no route here (`answer` routes it in a worker thread); taking over a message stored
    before (`resume`) is left to the threaded path."""
    if looked_up:
        lookup = writer.prepared(messages.STORED_ID)
        if connection.execute(lookup.sql, lookup.parameters(message)).fetchone() is not None:
            if resume:
                raise inline_sqlite.NotInline("a message stored before: taken over in a thread")
            return None, None
    insert = writer.prepared(messages.INSERT_RECEIVED)
    try:
        cursor = connection.execute(
            insert.sql, insert.parameters(messages.received_values(**message))
        )
    except sqlite3.IntegrityError:  # a concurrent re-delivery stored it first
        if resume:
            raise inline_sqlite.NotInline(
                "a message stored before: taken over in a thread"
            ) from None
        return None, None
    message_id = int(cursor.lastrowid)
    check = _pending_check(message_id, message["sender_id"], read) if route else None
    if check is None:
        return message_id, None
    key, params = check
    query = writer.prepared(_pending_query_for(key))
    pending = connection.execute(query.sql, query.parameters(params)).fetchone()
    return message_id, (None if any(pending) else Route())


def _answered_inline(sessions: sessionmaker, message_id: int) -> bool | None:
    """`_finish` for an answered message on the event loop (bot.inline_sqlite): False when
    it was answered already; None when it must be recorded in a worker thread instead."""
    writer = inline_sqlite.writer_for(sessions.kw["bind"])
    if writer is None:
        return None
    mark = writer.prepared(messages.MARK_ANSWERED)
    values = {"message_id": message_id, "now": messages.utcnow()}
    try:
        return writer.write(
            lambda connection: connection.execute(mark.sql, mark.parameters(values)).rowcount == 1
        )
    except inline_sqlite.NotInline:
        return None


_ENDED_HANDOFFS = select(handoffs.Handoff.id).where(*_ENDED_HANDOFF)


def _ended_handoffs(session: Session, sender_id: str) -> tuple[int, ...]:
    """Handoffs the resident ended themselves (stopped waiting) that left Rasa paused until
    the gateway's next round resumes it."""
    return tuple(session.scalars(_ENDED_HANDOFFS, {"sender": sender_id}))


async def _resume_after_handoff(
    rasa: RasaClient, sessions: sessionmaker, sender_id: str, ids: tuple[int, ...]
) -> None:
    """The message that follows a handoff the resident ended must not meet a silent
    assistant: Rasa is resumed first."""
    if not ids:
        return
    try:
        await rasa.resume(sender_id)
    except RasaUnavailable as error:
        log.warning("could not resume %s after a handoff: %s", sender_id, error)
        return

    def done() -> None:
        with transaction(sessions) as session:
            for handoff_id in ids:
                handoffs.mark_resumed(session, handoff_id)

    await asyncio.to_thread(done)


@dataclass(frozen=True)
class Route:
    """Where a stored message goes before Rasa: worked out in one transaction, with its
    storing when it can be (`accept_and_route`)."""

    # An interceptor took it and recorded it answered (a conversation held by staff, a
    # survey answer): these are its replies.
    replies: list[Reply] | None = None
    # Earlier messages of the resident are still unanswered: it waits behind them.
    waiting: bool = False
    attempts: int = 1
    error: str | None = None
    # Handoffs to resume Rasa after before it reads this message.
    ended_handoffs: tuple[int, ...] = ()


def _route(
    session: Session,
    message_id: int,
    channel: str,
    sender_id: str,
    text: str,
    language_hint: str | None,
    fresh: bool = False,
) -> Route:
    if INTERCEPTORS:
        # The resident's language is looked up only if an interceptor answers.
        inbound = Inbound(
            message_id,
            channel,
            sender_id,
            text,
            lambda: resident_language(session, sender_id, language_hint),
        )
        replies = intercept(session, inbound)
        if replies is not None:
            messages.mark_answered(session, message_id)
            return Route(replies=replies)
    if messages.unanswered_before(session, sender_id, message_id):
        messages.mark_failed(session, message_id, "waiting for earlier messages")
        return Route(waiting=True)
    if fresh:  # stored just now, in this transaction: first attempt, no error yet
        attempts, error = 1, None
    else:
        attempts, error = session.execute(
            select(messages.InboundMessage.attempts, messages.InboundMessage.error).where(
                messages.InboundMessage.id == message_id
            )
        ).one()
    return Route(attempts=attempts, error=error, ended_handoffs=_ended_handoffs(session, sender_id))


@dataclass(frozen=True)
class _Answer:
    """What answering a message came to, before it is recorded."""

    replies: list[Reply] | None = None
    # Already recorded as answered (an interceptor took it in its own transaction).
    recorded: bool = False
    # Rasa could not answer: recorded as failed, for the recovery worker.
    error: str | None = None


def _keep(work: Any) -> None:
    task = asyncio.ensure_future(work)
    _LATE.add(task)
    task.add_done_callback(_LATE.discard)


async def answer(
    rasa: RasaClient,
    sessions: sessionmaker,
    message_id: int,
    *,
    channel: str,
    sender_id: str,
    text: str,
    language_hint: str | None = None,
    hold_replies: bool = False,
    routed: Route | None = None,
) -> Outcome:
    """Ask Rasa about a stored message and record the outcome; never raises for Rasa or the
    database being down. `text` is what Rasa reads (a button's payload where the log keeps
    its title); `routed`, the route `accept_and_route` found while storing it.

    With `hold_replies` (push channels), the answer is recorded with its replies in the
    outbox, held for the caller to send at once: if the gateway stops before they are sent,
    the outbox worker sends them, so no answer is lost between Rasa and the platform.

    Within `busy_after` seconds the resident has either the answer or the busy reply, whatever
    is slow (Rasa, its action server, a locked database); a later answer goes to the outbox,
    a message Rasa could not answer to the recovery worker. A message with earlier ones of the
    same resident still unanswered waits for them (the recovery worker answers it after
    them), so a conversation never runs out of order.
    """
    policy = POLICY
    started = asyncio.get_running_loop().time()
    busy = Outcome(replies=[Reply(BUSY[busy_language(text, language_hint)])], answered=False)
    work = asyncio.ensure_future(
        _work(
            rasa,
            sessions,
            message_id,
            channel=channel,
            sender_id=sender_id,
            text=text,
            language_hint=language_hint,
            routed=routed,
        )
    )
    done, _ = await asyncio.wait({work}, timeout=policy.busy_after)
    if work not in done:
        _keep(_answer_late(work, sessions, message_id, channel, sender_id, language_hint))
        return busy
    result = work.result()
    if result.recorded:
        return Outcome(replies=result.replies or [], answered=True)
    if result.replies is None:
        if result.error is not None:
            _keep(asyncio.to_thread(_finish, sessions, message_id, result.error))
        _wake()
        return busy
    if hold_replies:
        return await _record_held(
            sessions, message_id, channel, sender_id, result.replies, language_hint, started, busy
        )
    # Rasa answered in time: record it, but do not hold the answer back for a slow database
    # (the write goes on; if it never lands, the recovery worker finds the answer in the
    # tracker).
    answered = _answered_inline(sessions, message_id)
    if answered is not None:
        if not answered:
            return Outcome(replies=[], answered=True, duplicate=True)
        return Outcome(replies=result.replies, answered=True)
    record = asyncio.ensure_future(asyncio.to_thread(_finish, sessions, message_id, None))
    left = policy.busy_after - (asyncio.get_running_loop().time() - started)
    done, _ = await asyncio.wait({record}, timeout=max(left, 0.5))
    if record in done and record.exception() is None:
        if record.result() is False:
            return Outcome(replies=[], answered=True, duplicate=True)
    else:  # the resident gets the answer now; its record lands later
        UNRECORDED.add(message_id)  # at once: before the recovery worker can look
        _keep(_record_given(sessions, message_id, record))
    return Outcome(replies=result.replies, answered=True)


# Messages whose answer went back to the resident (in the response to their request) before
# the database recorded it (locked, or down): the record is written again until it lands,
# and meanwhile this gateway's recovery worker leaves them alone. Without that, a message
# whose lease ran out first would be read back from Rasa's tracker and sent again.
UNRECORDED: set[int] = set()
# How long a given answer's record is tried again (past it, the recovery worker has given
# up on the message too: `bot.recovery.GIVE_UP_AFTER`).
RECORD_FOR = timedelta(hours=24)


async def _record_given(
    sessions: sessionmaker, message_id: int, first: asyncio.Future[bool]
) -> None:
    """Wait for the record of an answer the resident has (`first`) and write it again until
    it lands; the message is in `UNRECORDED` until then."""
    loop = asyncio.get_running_loop()
    until = loop.time() + RECORD_FOR.total_seconds()
    delay = 0.5
    write: Awaitable[bool] = first
    try:
        while True:
            try:
                await write
                return
            except Exception as error:  # noqa: BLE001 - any failure: the record is retried
                if loop.time() + delay > until:
                    log.error("gave up recording the answer to message %s: %r", message_id, error)
                    return
                log.warning(
                    "could not record the answer to message %s yet (%s); trying again in %.1f s",
                    message_id,
                    type(error).__name__,
                    delay,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
            write = asyncio.to_thread(_finish, sessions, message_id, None)
    finally:
        UNRECORDED.discard(message_id)


async def _record_held(
    sessions: sessionmaker,
    message_id: int,
    channel: str,
    sender_id: str,
    replies: list[Reply],
    language_hint: str | None,
    started: float,
    busy: Outcome,
) -> Outcome:
    """Record the answer with its replies held in the outbox for the caller; if the database
    is too slow for that, the resident is told "busy" and the worker sends them later."""
    policy = POLICY

    def record() -> list[int | None] | None:
        with transaction(sessions) as session:
            return deliver_later(
                session, message_id, channel, sender_id, replies, language_hint, hold=HOLD_REPLIES
            )

    write = asyncio.ensure_future(asyncio.to_thread(record))
    left = policy.busy_after - (asyncio.get_running_loop().time() - started)
    done, _ = await asyncio.wait({write}, timeout=max(left, 0.5))
    if write in done and write.exception() is None:
        ids = write.result()
        if ids is None:
            return Outcome(replies=[], answered=True, duplicate=True)
        return Outcome(replies=replies, answered=True, outbox_ids=ids)
    if write in done:  # the database refused: the recovery worker reads the tracker later
        log.warning("could not record the answer to %s: %r", message_id, write.exception())
        _wake()
        return busy

    async def release_when_written() -> None:
        ids = await write
        if ids:

            def release() -> None:
                with transaction(sessions) as session:
                    outbox.release(session, [i for i in ids if i is not None])

            await asyncio.to_thread(release)

    _keep(release_when_written())
    return busy


async def _work(
    rasa: RasaClient,
    sessions: sessionmaker,
    message_id: int,
    *,
    channel: str,
    sender_id: str,
    text: str,
    language_hint: str | None,
    routed: Route | None = None,
) -> _Answer:
    def route() -> Route:
        with transaction(sessions) as session:
            return _route(session, message_id, channel, sender_id, text, language_hint)

    if routed is None:
        try:
            routed = await asyncio.to_thread(route)
        except SQLAlchemyError:
            # Stored, but the database went away: the recovery worker answers it later.
            log.exception("database error while answering message %s", message_id)
            return _Answer()
    if routed.replies is not None:
        return _Answer(replies=routed.replies, recorded=True)
    if routed.waiting:
        return _Answer()
    if await actions_down():
        return _Answer(error=ACTIONS_DOWN)
    await _resume_after_handoff(rasa, sessions, sender_id, routed.ended_handoffs)
    try:
        rasa_replies = await ask_rasa(
            rasa,
            message_id,
            sender_id=sender_id,
            text=text,
            channel=channel,
            language_hint=language_hint,
            check_tracker=routed.attempts > 1,
            resend_if_silent=(routed.error or "").startswith(ACTIONS_DOWN),
        )
    except RasaUnavailable as error:
        return _Answer(error=str(error))
    if not rasa_replies and await actions_down(fresh=True):
        return _Answer(error=ACTIONS_DOWN)
    return _Answer(replies=rasa_replies)


async def ask_rasa(
    rasa: RasaClient,
    message_id: int,
    *,
    sender_id: str,
    text: str,
    channel: str,
    language_hint: str | None,
    check_tracker: bool,
    resend_if_silent: bool = False,
) -> list[Reply]:
    """Rasa's replies to a stored message. The message's id travels in the metadata, so a
    message Rasa already handled (its answer lost with a stopped gateway, a timed-out call
    Rasa finished later) is read back from the tracker instead of being handled twice —
    unless Rasa took it while its action server was down and answered nothing
    (`resend_if_silent`): then it is sent again, and handled, once, by working actions."""
    if check_tracker:
        # A call that timed out may still be running in Rasa: what it did is only in the
        # tracker once Rasa has let go of the conversation.
        await rasa.settled(sender_id)
        events = await tracker_events(rasa, sender_id)
        known = replies_in_tracker(events, message_id)
        if known is not None and (known or not resend_if_silent):
            return known
        if known is not None and _last_user_message(events) == message_id:
            # Rasa took it while its action server was down and answered nothing; that turn
            # is undone (its failed action may have left a form half-way), so the message is
            # handled once more from the state it found.
            await _undo_last_turn(rasa, sender_id)
    metadata: dict[str, Any] = {"channel": channel, "inbound_id": message_id}
    if language_hint:
        metadata["lang"] = language_hint
    return [reply_from_rasa(m) for m in await rasa.send_message(sender_id, text, metadata)]


async def tracker_events(rasa: RasaClient, sender_id: str) -> list[dict[str, Any]]:
    """Every event of a conversation as Rasa's tracker store holds it (none when the server
    does not know the conversation)."""
    try:
        async with rasa.http.get(
            f"{rasa.base_url}/conversations/{sender_id}/tracker",
            params={"token": rasa.token, "include_events": "ALL"},
            timeout=rasa.timeout,
        ) as response:
            if response.status == 404:
                return []
            if response.status != 200:
                raise RasaUnavailable(f"Rasa tracker answered HTTP {response.status}")
            tracker = await response.json()
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        raise RasaUnavailable(f"{type(error).__name__}: {error}") from error
    return list(tracker.get("events") or [])


def _last_user_message(events: list[dict[str, Any]]) -> object:
    for event in reversed(events):
        if event.get("event") == "user":
            return (event.get("metadata") or {}).get("inbound_id")
    return None


async def _undo_last_turn(rasa: RasaClient, sender_id: str) -> None:
    # A rewind also removes the listen before the message; the listen is put back so the
    # message comes again where it came the first time.
    events = [{"event": "rewind"}, {"event": "action", "name": "action_listen"}]
    try:
        async with rasa.http.post(
            f"{rasa.base_url}/conversations/{sender_id}/tracker/events",
            params={"token": rasa.token},
            json=events,
            timeout=rasa.timeout,
        ) as response:
            if response.status != 200:
                raise RasaUnavailable(f"Rasa refused to undo a turn: HTTP {response.status}")
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        raise RasaUnavailable(f"{type(error).__name__}: {error}") from error


def replies_in_tracker(events: list[dict[str, Any]], message_id: int) -> list[Reply] | None:
    """The bot's replies to the stored message `message_id` as Rasa's tracker recorded
    them, or None when Rasa never handled it."""
    replies: list[Reply] | None = None
    for event in events:
        kind = event.get("event")
        if kind == "user":
            if replies is not None:
                break
            if (event.get("metadata") or {}).get("inbound_id") == message_id:
                replies = []
        elif kind == "bot" and replies is not None:
            data = event.get("data") or {}
            replies.append(
                reply_from_rasa({"text": event.get("text"), "buttons": data.get("buttons"), **data})
            )
    return replies


async def _answer_late(
    work: asyncio.Future[_Answer],
    sessions: sessionmaker,
    message_id: int,
    channel: str,
    sender_id: str,
    language_hint: str | None,
) -> None:
    """The answer came after the resident was told "busy": it goes through the outbox; or
    there was none: the message is left to the recovery worker."""
    try:
        result = await work
    except Exception as error:  # never leave the message leased for nothing
        log.exception("late answer to message %s failed", message_id)
        result = _Answer(error=repr(error))
    if result.replies is None:
        if result.error is not None:
            await asyncio.to_thread(_finish, sessions, message_id, result.error)
        _wake()
        return
    replies = result.replies

    def record() -> None:
        with transaction(sessions) as session:
            deliver_later(
                session,
                message_id,
                channel,
                sender_id,
                replies,
                language_hint,
                recorded=result.recorded,
            )

    await asyncio.to_thread(record)


def deliver_later(
    session: Session,
    message_id: int,
    channel: str,
    sender_id: str,
    replies: list[Reply],
    language_hint: str | None = None,
    *,
    recorded: bool = False,
    hold: timedelta | None = None,
) -> list[int | None] | None:
    """Mark a message answered and queue its replies in the outbox, in one transaction; each
    reply has a key made of the message's id, so they are queued at most once. Returns each
    reply's row id (None for a reply without text); None when the message was answered
    already (unless the caller `recorded` that itself). With `hold`, the rows are leased to
    the caller, who sends them now (see `outbox.enqueue`)."""
    if not messages.mark_answered(session, message_id) and not recorded:
        return None
    language = resident_language(session, sender_id, language_hint)
    ids: list[int | None] = []
    for position, reply in enumerate(replies):
        if not reply.text.strip():
            ids.append(None)
            continue
        row = outbox.enqueue(
            session,
            channel=channel,
            recipient=sender_id,
            language=language,
            kind="reply",
            text=reply.text,
            buttons=[{"title": b.title, "payload": b.payload} for b in reply.buttons],
            dedupe_key=f"reply:{message_id}:{position}",
            hold=hold,
        )
        ids.append(row.id)
    return ids


async def converse(
    rasa: RasaClient,
    sessions: sessionmaker,
    *,
    channel: str,
    sender_id: str,
    text: str,
    language_hint: str | None = None,
    external_id: str | None = None,
) -> Outcome:
    """Store the message, ask Rasa, store the outcome; never raises for Rasa or the
    database being down (the resident is told "busy, recorded")."""
    try:
        message_id, routed = await accept_and_route(
            sessions,
            channel=channel,
            sender_id=sender_id,
            text=text,
            language_hint=language_hint,
            external_id=external_id,
        )
    except StoredForLater as stored:
        return Outcome(replies=[stored.reply], answered=False)
    if message_id is None:
        return await _answer_again(rasa, sessions, channel, external_id, text, language_hint)
    return await answer(
        rasa,
        sessions,
        message_id,
        channel=channel,
        sender_id=sender_id,
        text=text,
        language_hint=language_hint,
        routed=routed,
    )


async def _answer_again(
    rasa: RasaClient,
    sessions: sessionmaker,
    channel: str,
    external_id: str | None,
    text: str,
    language_hint: str | None,
) -> Outcome:
    """A client sent a message again (it never got the answer): the answer Rasa gave, read
    back from the tracker, or "busy" while it is still being answered."""
    busy = Outcome(
        replies=[Reply(BUSY[busy_language(text, language_hint)])], answered=False, duplicate=True
    )

    def find() -> tuple[int, str, str] | None:
        with sessions() as session:
            row = session.execute(
                select(
                    messages.InboundMessage.id,
                    messages.InboundMessage.sender_id,
                    messages.InboundMessage.status,
                ).where(
                    messages.InboundMessage.channel == channel,
                    messages.InboundMessage.external_id == external_id,
                )
            ).first()
            return tuple(row) if row else None  # type: ignore[return-value]

    try:
        found = await asyncio.wait_for(asyncio.to_thread(find), POLICY.store_timeout)
    except (SQLAlchemyError, asyncio.TimeoutError):
        return busy
    if found is None or found[2] != messages.ANSWERED:
        return busy
    try:
        replies = replies_in_tracker(await tracker_events(rasa, found[1]), found[0])
    except RasaUnavailable:
        return busy
    return Outcome(replies=replies or [], answered=True, duplicate=True)


def resident_language(session: Session, sender_id: str, hint: str | None = None) -> str:
    """The language to speak to a resident in when there is no Rasa reply to follow (a
    sticker, a photo): the last message's if it is clearly Vietnamese, else the channel's
    hint, else a guess from the last message, else Vietnamese."""
    last = session.execute(
        select(messages.InboundMessage.text, messages.InboundMessage.language_hint)
        .where(messages.InboundMessage.sender_id == sender_id)
        .order_by(messages.InboundMessage.id.desc())
        .limit(1)
    ).first()
    text = last[0] if last else ""
    if text and has_diacritics(text):
        return "vi"
    if hint in BUSY:
        return hint
    if last and last[1] in BUSY:
        return str(last[1])
    return busy_language(text, None) if text else "vi"


def _finish(sessions: sessionmaker, message_id: int, error: str | None) -> bool:
    if error is None:  # every answered message: one statement, no ORM session
        with core_transaction(sessions) as connection:
            return messages.mark_answered(connection, message_id)
    with transaction(sessions) as session:
        messages.mark_failed(session, message_id, error)
        return False
