"""Telegram: residents chat with the bot through python-telegram-bot (not Rasa's channel).

`POST /webhooks/telegram` checks Telegram's secret header, stores the update (its
`update_id` makes re-deliveries harmless), answers 200 at once and handles the update in
the background: text, a pressed button, a photo for the report, a shared location. Replies
go out within Telegram's limits (about 1 message/s per chat, 30/s overall); a reply that
cannot be sent now is left to the outbox worker. At start-up the webhook is registered
(retried in the background while Telegram is unreachable) and updates a crash interrupted
are handled again. Developers without a public address use long polling instead:
`python -m channels --telegram-polling`.

Settings (all optional but the token): TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET,
TELEGRAM_API_BASE_URL, TELEGRAM_FILE_BASE_URL, TELEGRAM_POLLING.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
import warnings
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker
from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from bot import attachments
from bot.conversation import Reply
from bot.db import transaction
from bot.rasa_client import RasaClient
from bot.settings import Settings, SettingsError
from channels.api import error, read_body
from channels.keys import RASA, SESSIONS, SETTINGS
from channels.ratelimit import sender_wait
from channels.rendering import (
    DeliveryError,
    MessageRejected,
    PushChannel,
    RateLimited,
    RecipientUnreachable,
    Throttle,
    language_from_code,
    location_text,
    phrase,
    shorten,
    split_text,
    write_soon,
)

log = logging.getLogger(__name__)

CHANNEL = "telegram"
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
MAX_BODY = 1024 * 1024
TEXT_LIMIT = 4096
BUTTON_TITLE_LIMIT = 64
# set_webhook / delete_webhook retries while Telegram is unreachable.
RETRY_FIRST_DELAY = 2.0
RETRY_MAX_DELAY = 300.0
POLL_TIMEOUT = 25
# A 429 asking to wait longer than this is not waited out inline: the outbox retries later.
MAX_INLINE_WAIT = 30.0
SHUTDOWN_GRACE = 10.0
# Telegram's own commands, said in our intents.
COMMANDS = {"/start": "/greet", "/help": "/ask_capabilities"}
_SECRET_FORMAT = re.compile(r"[A-Za-z0-9_-]{1,256}")
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class TelegramConfig:
    token: str
    webhook_secret: str
    webhook_url: str
    api_base_url: str
    file_base_url: str
    polling: bool
    uploads_dir: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> TelegramConfig | None:
        """None when no bot token is set (the channel is off)."""
        extra = settings.extra
        token = extra.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            return None
        secret = extra.get("TELEGRAM_WEBHOOK_SECRET", "").strip()
        if not secret:
            # Stable across restarts and unguessable without the token itself.
            secret = hashlib.sha256(f"tiepdan-telegram-webhook:{token}".encode()).hexdigest()
        elif not _SECRET_FORMAT.fullmatch(secret):
            raise SettingsError(
                "TELEGRAM_WEBHOOK_SECRET may contain only A-Z, a-z, 0-9, _ and - "
                "(1 to 256 characters); generate one with "
                '`python -c "import secrets; print(secrets.token_urlsafe(32))"`.'
            )
        return cls(
            token=token,
            webhook_secret=secret,
            webhook_url=settings.public_base_url.rstrip("/") + WEBHOOK_PATH,
            api_base_url=extra.get("TELEGRAM_API_BASE_URL", "").strip()
            or "https://api.telegram.org/bot",
            file_base_url=extra.get("TELEGRAM_FILE_BASE_URL", "").strip()
            or "https://api.telegram.org/file/bot",
            polling=extra.get("TELEGRAM_POLLING", "").strip().lower() in _TRUE,
            uploads_dir=settings.var_dir / "uploads",
        )


def chat_of(recipient: str) -> int:
    """`tg:<chat_id>` → the chat id."""
    prefix, _, chat = recipient.partition(":")
    if prefix != "tg" or not chat.lstrip("-").isdigit():
        raise MessageRejected(f"not a Telegram recipient: {recipient!r}")
    return int(chat)


def _seconds(retry_after: object) -> float:
    if isinstance(retry_after, timedelta):
        return retry_after.total_seconds()
    return float(retry_after)  # type: ignore[arg-type]


def retry_after_of(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the int will become a timedelta
        warnings.simplefilter("ignore")
        return _seconds(exc.retry_after)


class TelegramSender:
    """Sends replies to Telegram chats within its rate limits; raises the delivery errors
    of `channels.rendering` so callers (the conversation, the outbox worker) decide what
    to do."""

    channel = CHANNEL

    def __init__(
        self,
        bot: Bot,
        sessions: sessionmaker,
        *,
        per_chat: Throttle | None = None,
        overall: Throttle | None = None,
        max_inline_wait: float = MAX_INLINE_WAIT,
    ) -> None:
        self.bot = bot
        self.sessions = sessions
        self.per_chat = per_chat or Throttle(rate=1.0, burst=3)
        self.overall = overall or Throttle(rate=30.0, burst=30)
        self.max_inline_wait = max_inline_wait

    async def deliver(self, recipient: str, reply: Reply) -> None:
        await self.send_reply(chat_of(recipient), recipient, reply)

    async def send_reply(self, chat_id: int, sender_id: str, reply: Reply) -> None:
        markup = await self._keyboard(sender_id, reply) if reply.buttons else None
        if reply.image:
            await self.call(chat_id, self.bot.send_photo, chat_id=chat_id, photo=reply.image)
        pieces = split_text(reply.text, TEXT_LIMIT)
        if not pieces and markup is not None:
            pieces = ["👇"]  # Telegram shows a keyboard only under a text
        for number, piece in enumerate(pieces, start=1):
            await self.call(
                chat_id,
                self.bot.send_message,
                chat_id=chat_id,
                text=piece,
                reply_markup=markup if number == len(pieces) else None,
            )

    async def send_text(self, chat_id: int, text: str) -> None:
        await self.call(chat_id, self.bot.send_message, chat_id=chat_id, text=text)

    async def _keyboard(self, sender_id: str, reply: Reply) -> InlineKeyboardMarkup:
        buttons = [(b.title, b.payload) for b in reply.buttons]

        def remember() -> list[str]:
            with transaction(self.sessions) as session:
                return attachments.remember_buttons(session, sender_id=sender_id, buttons=buttons)

        tokens = await asyncio.to_thread(remember)
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(shorten(title, BUTTON_TITLE_LIMIT), callback_data=token)]
                for (title, _), token in zip(buttons, tokens, strict=True)
            ]
        )

    async def call(self, chat: int, method: Any, /, **kwargs: Any) -> Any:
        """One Bot API call to a chat: throttled, a short 429 waited out and retried."""
        for attempt in range(1, 5):
            await self.per_chat.wait(chat)
            await self.overall.wait()
            try:
                return await method(**kwargs)
            except RetryAfter as exc:
                wait = retry_after_of(exc)
                if wait > self.max_inline_wait or attempt == 4:
                    raise RateLimited(wait, f"Telegram: {exc}") from exc
                log.info("Telegram asks to wait %.0f s before writing to chat %s", wait, chat)
                await asyncio.sleep(wait)
            except Forbidden as exc:
                raise RecipientUnreachable(f"Telegram: {exc}") from exc
            except BadRequest as exc:
                if "chat not found" in str(exc).lower():
                    raise RecipientUnreachable(f"Telegram: {exc}") from exc
                raise MessageRejected(f"Telegram: {exc}") from exc
            except TelegramError as exc:  # network errors, timeouts, 5xx, a bad token
                raise DeliveryError(f"Telegram: {type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")


class TelegramChannel(PushChannel):
    """Handles stored Telegram updates: text, button presses, photos, locations."""

    channel = CHANNEL

    def __init__(
        self,
        config: TelegramConfig,
        bot: Bot,
        sender: TelegramSender,
        sessions: sessionmaker,
        rasa: RasaClient,
    ) -> None:
        super().__init__(sender, sessions, rasa, config.uploads_dir)
        self.config = config
        self.bot = bot

    def sender_of(self, data: dict[str, Any]) -> str | None:
        chat = _chat_id(data)
        return f"tg:{chat}" if chat is not None else None

    def language_hint_of(self, data: dict[str, Any]) -> str | None:
        for key in ("message", "edited_message", "callback_query"):
            user = (data.get(key) or {}).get("from") or {}
            if user:
                return language_from_code(user.get("language_code"))
        return None

    async def dispatch(self, data: dict[str, Any], external_id: str) -> None:
        update = Update.de_json(data, self.bot)
        if update.callback_query is not None:
            await self.on_callback_query(update.callback_query, external_id)
        elif update.edited_message is not None:
            await self.on_edited_message(update.edited_message)
        elif update.message is not None:
            await self.on_message(update.message, external_id)

    async def on_message(self, message: Message, update_id: str) -> None:
        if message.chat.type != "private":
            log.info("Telegram: ignoring a message from a %s chat", message.chat.type)
            return
        sender_id = f"tg:{message.chat.id}"
        hint = language_from_code(message.from_user.language_code if message.from_user else None)
        await self.unblock_soon(sender_id)
        if message.text:
            await self.converse(sender_id, _command(message.text), hint, update_id)
        elif message.photo or message.document:
            await self.on_image(message, sender_id, hint, update_id)
        elif message.location:
            text = location_text(message.location.latitude, message.location.longitude)
            await self.converse(sender_id, text, hint, update_id)
        else:  # stickers, voice, video, contacts, polls…
            await self.say(sender_id, "unsupported", hint)

    async def on_edited_message(self, message: Message) -> None:
        if message.chat.type == "private":
            user = message.from_user
            hint = language_from_code(user.language_code if user else None)
            await self.say(f"tg:{message.chat.id}", "edited", hint)

    async def on_callback_query(self, query: CallbackQuery, update_id: str) -> None:
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        sender_id = f"tg:{chat_id}"
        hint = language_from_code(query.from_user.language_code)
        token = query.data or ""

        def use() -> attachments.Choice | None:
            with transaction(self.sessions) as session:
                return attachments.use_button(
                    session, token, sender_id=sender_id, used_by=update_id
                )

        # Used once, by this update (using it again is harmless): the update can be handled
        # again from the spool should the database not take the write now.
        choice = await write_soon(use)
        if choice is None:
            language = await self.language(sender_id, hint)
            expired = phrase("button_expired", language)
            await _quietly(self.bot.answer_callback_query(query.id, text=expired))
            await self._remove_keyboard(query)
            return
        await _quietly(self.bot.answer_callback_query(query.id))
        await self._remove_keyboard(query)
        await self.converse(sender_id, choice.payload, hint, update_id, said=choice.title)

    async def _remove_keyboard(self, query: CallbackQuery) -> None:
        if query.message is None:
            return
        await _quietly(
            self.bot.edit_message_reply_markup(
                chat_id=query.message.chat.id,
                message_id=query.message.message_id,
                reply_markup=None,
            )
        )

    async def on_image(
        self, message: Message, sender_id: str, hint: str | None, update_id: str
    ) -> None:
        if message.photo:
            fitting = [p for p in message.photo if (p.file_size or 0) <= attachments.MAX_BYTES]
            if not fitting:
                await self.say(sender_id, "photo_too_large", hint)
                return
            best = max(fitting, key=lambda p: (p.file_size or 0, p.width * p.height))
            file_id, name = best.file_id, None
        else:
            document = message.document
            assert document is not None
            if document.mime_type not in attachments.IMAGE_TYPES:
                await self.say(sender_id, "photo_wrong_type", hint)
                return
            if (document.file_size or 0) > attachments.MAX_BYTES:
                await self.say(sender_id, "photo_too_large", hint)
                return
            file_id, name = document.file_id, document.file_name
        try:
            remote = await self.bot.get_file(file_id)
            if (remote.file_size or 0) > attachments.MAX_BYTES:
                await self.say(sender_id, "photo_too_large", hint)
                return
            data = bytes(await remote.download_as_bytearray())
        except TelegramError as exc:
            log.warning("Telegram: could not download a photo from %s: %s", sender_id, exc)
            await self.say(sender_id, "photo_failed", hint)
            return
        kept = await self.keep_photo(sender_id, data, name, update_id, hint)
        if kept and message.caption:
            await self.converse(sender_id, message.caption, hint, update_id)

    # -- connecting to Telegram ----------------------------------------------------------

    async def keep_webhook(self) -> None:
        """Register the webhook; while Telegram is unreachable, retry with back-off."""
        await self._until_done(
            lambda: self.bot.set_webhook(
                url=self.config.webhook_url,
                secret_token=self.config.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            ),
            what="set the webhook",
        )

    async def poll(self) -> None:
        """Long polling for development: the same path as the webhook after get_updates."""
        if not await self._until_done(
            lambda: self.bot.delete_webhook(drop_pending_updates=False), what="delete the webhook"
        ):
            return
        offset: int | None = None
        delay = RETRY_FIRST_DELAY
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES
                )
            except Conflict as exc:
                log.error("Telegram polling conflicts with another poller or a webhook: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_DELAY)
                continue
            except TelegramError as exc:
                log.warning("Telegram polling failed (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_DELAY)
                continue
            delay = RETRY_FIRST_DELAY
            for update in updates:
                offset = max(offset or 0, update.update_id + 1)
                await self.accept_update(str(update.update_id), update.to_dict())

    async def _until_done(self, call: Any, *, what: str) -> bool:
        delay, warned = RETRY_FIRST_DELAY, False
        while True:
            try:
                await call()
            except (BadRequest, Forbidden, InvalidToken) as exc:
                log.error(
                    "Telegram refused to %s: %s. Check TELEGRAM_BOT_TOKEN and PUBLIC_BASE_URL "
                    "(Telegram needs a public https address; without one, run "
                    "`tiepdan run --telegram-polling`).",
                    what,
                    exc,
                )
                return False
            except TelegramError as exc:
                if isinstance(exc, RetryAfter):
                    delay = max(delay, retry_after_of(exc))
                if not warned:
                    log.warning(
                        "Telegram cannot be reached to %s (%s); the gateway serves anyway "
                        "and retries in the background.",
                        what,
                        exc,
                    )
                    warned = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_DELAY)
                continue
            log.info("Telegram: done: %s (%s)", what, self.config.webhook_url)
            return True


def _chat_id(data: dict[str, Any]) -> int | None:
    for key in ("message", "edited_message"):
        chat = (data.get(key) or {}).get("chat") or {}
        if isinstance(chat.get("id"), int):
            return chat["id"]
    query = data.get("callback_query") or {}
    chat = ((query.get("message") or {}).get("chat")) or {}
    if isinstance(chat.get("id"), int):
        return chat["id"]
    sender = query.get("from") or {}
    return sender.get("id") if isinstance(sender.get("id"), int) else None


def _command(text: str) -> str:
    """Telegram's own commands ("/start", "/start@OurBot x") said as the intents they mean."""
    first, _, _ = text.strip().partition(" ")
    command = first.split("@", 1)[0].lower()
    return COMMANDS.get(command, text)


async def _quietly(call: Awaitable[Any]) -> None:
    """Cosmetic calls (answering a button press, removing a used keyboard) must not stop
    the message from being handled."""
    try:
        await call
    except TelegramError as exc:
        log.debug("Telegram: cosmetic call failed: %s", exc)


# ---------------------------------------------------------------------------------------------
# The webhook and the wiring

TELEGRAM = web.AppKey("telegram", TelegramChannel)


async def webhook(request: web.Request) -> web.Response:
    channel = request.app[TELEGRAM]
    supplied = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
    if not hmac.compare_digest(supplied, channel.config.webhook_secret.encode()):
        return error(403, "forbidden", f"Missing or wrong {SECRET_HEADER}.")
    raw = await read_body(request, MAX_BODY)
    if isinstance(raw, web.Response):
        return raw
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, a 5,000-digit number
        return error(400, "malformed_json", "The body is not a JSON Telegram update.")
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        return error(400, "invalid_update", "A Telegram update needs an integer update_id.")
    try:
        Update.de_json(data, channel.bot)
    except Exception:  # any shape PTB cannot read is the sender's error, not ours
        return error(400, "invalid_update", "The body is not a Telegram update.")
    try:
        await channel.accept_update(str(data["update_id"]), data)
    except SQLAlchemyError:
        log.exception("Telegram: could not store update %s", data["update_id"])
        return error(503, "unavailable", "The update could not be stored; send it again.")
    return web.json_response({"ok": True})


def setup_channel(app: web.Application) -> None:
    """Mount the webhook and open the bot when TELEGRAM_BOT_TOKEN is set."""
    config = TelegramConfig.from_settings(app[SETTINGS])
    if config is None:

        async def off(app: web.Application) -> None:
            log.info("Telegram channel is off: TELEGRAM_BOT_TOKEN is not set.")

        app.on_startup.append(off)
        return
    app.router.add_post(WEBHOOK_PATH, webhook)

    async def telegram(app: web.Application) -> AsyncIterator[None]:
        request = HTTPXRequest(
            connection_pool_size=32, connect_timeout=10, read_timeout=20, write_timeout=20
        )
        updates_request = HTTPXRequest(
            connection_pool_size=1, connect_timeout=10, read_timeout=POLL_TIMEOUT + 10
        )
        bot = Bot(
            config.token,
            base_url=config.api_base_url,
            base_file_url=config.file_base_url,
            request=request,
            get_updates_request=updates_request,
        )
        sender = TelegramSender(bot, app[SESSIONS])
        channel = TelegramChannel(config, bot, sender, app[SESSIONS], app[RASA])
        channel.sender_wait = partial(sender_wait, app)
        app[TELEGRAM] = channel
        if config.polling:
            log.info("Telegram channel is on (long polling).")
            connection = asyncio.create_task(channel.poll())
        else:
            log.info("Telegram channel is on: webhook %s", config.webhook_url)
            connection = asyncio.create_task(channel.keep_webhook())
        await channel.recover()
        yield
        connection.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await connection
        await channel.tasks.drain(SHUTDOWN_GRACE)
        await request.shutdown()
        await updates_request.shutdown()

    app.cleanup_ctx.append(telegram)
