"""One resident message in, the assistant's replies out — the same path for every channel.

The message is stored before Rasa sees it; if Rasa cannot answer, the resident gets a polite
"busy" reply in their language and the stored message says it failed. `converse` does both
steps; channels that answer in the background call `accept` and `answer` themselves.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import messages
from bot.db import transaction
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.replies import Button, Reply
from bot.routing import INTERCEPTORS, Inbound, intercept
from bot.text import has_diacritics

BUSY = {
    "vi": "Dạ, hệ thống đang bận, tin nhắn của anh/chị đã được ghi nhận. "
    "Anh/chị vui lòng thử lại sau ít phút ạ.",
    "en": "Sorry, the system is busy right now. Your message has been recorded; "
    "please try again in a few minutes.",
}


@dataclass(frozen=True)
class Outcome:
    replies: list[Reply]
    answered: bool
    duplicate: bool = False


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


async def accept(
    sessions: sessionmaker,
    *,
    channel: str,
    sender_id: str,
    text: str,
    language_hint: str | None = None,
    external_id: str | None = None,
    resume: bool = False,
) -> int | None:
    """Store the message before anything else; returns its id, or None for a re-delivery.

    With `resume`, a message already stored under `external_id` but never answered (the
    gateway stopped in between) is returned again so it can be answered now.
    """

    def store() -> int | None:
        with transaction(sessions) as session:
            stored = messages.record_inbound(
                session,
                channel=channel,
                sender_id=sender_id,
                text=text,
                external_id=external_id,
                language_hint=language_hint,
            )
            if stored is not None:
                return stored.id
            if not resume or external_id is None:
                return None
            return session.execute(
                select(messages.InboundMessage.id).where(
                    messages.InboundMessage.channel == channel,
                    messages.InboundMessage.external_id == external_id,
                    messages.InboundMessage.status == messages.RECEIVED,
                )
            ).scalar_one_or_none()

    return await asyncio.to_thread(store)


async def answer(
    rasa: RasaClient,
    sessions: sessionmaker,
    message_id: int,
    *,
    channel: str,
    sender_id: str,
    text: str,
    language_hint: str | None = None,
) -> Outcome:
    """Ask Rasa about a stored message and record the outcome; never raises for Rasa being
    down. `text` is what Rasa reads (a button's payload where the log keeps its title)."""

    def route() -> list[Reply] | None:
        with transaction(sessions) as session:
            inbound = Inbound(
                message_id,
                channel,
                sender_id,
                text,
                resident_language(session, sender_id, language_hint),
            )
            return intercept(session, inbound)

    if INTERCEPTORS:
        replies = await asyncio.to_thread(route)
        if replies is not None:
            await asyncio.to_thread(_finish, sessions, message_id, None)
            return Outcome(replies=replies, answered=True)
    metadata = (
        {"lang": language_hint, "channel": channel} if language_hint else {"channel": channel}
    )
    try:
        rasa_messages = await rasa.send_message(sender_id, text, metadata)
    except RasaUnavailable as error:
        await asyncio.to_thread(_finish, sessions, message_id, str(error))
        return Outcome(replies=[Reply(BUSY[busy_language(text, language_hint)])], answered=False)
    await asyncio.to_thread(_finish, sessions, message_id, None)
    return Outcome(replies=[reply_from_rasa(m) for m in rasa_messages], answered=True)


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
    """Store the message, ask Rasa, store the outcome; never raises for Rasa being down."""
    message_id = await accept(
        sessions,
        channel=channel,
        sender_id=sender_id,
        text=text,
        language_hint=language_hint,
        external_id=external_id,
    )
    if message_id is None:
        return Outcome(replies=[], answered=True, duplicate=True)
    return await answer(
        rasa,
        sessions,
        message_id,
        channel=channel,
        sender_id=sender_id,
        text=text,
        language_hint=language_hint,
    )


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


def _finish(sessions: sessionmaker, message_id: int, error: str | None) -> None:
    with transaction(sessions) as session:
        if error is None:
            messages.mark_answered(session, message_id)
        else:
            messages.mark_failed(session, message_id, error)
