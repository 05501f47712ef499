"""Zalo Official Account: residents chat with the city's OA; replies go through the OA v3
customer-service message API.

`POST /webhooks/zalo` checks the event's signature (`X-ZEvent-Signature`: sha256 of app id,
raw body, timestamp and the OA secret key) and its age, stores it (the message id makes
re-deliveries harmless), answers 200 at once and handles it in the background: text (a
pressed button arrives as text too), an image for the report, a shared location, a new
follower (greeted), an unfollow (no more messages). The OA access token lives 25 hours: it is
refreshed before it expires, and at once when Zalo calls it invalid; the rotating tokens are
kept in the database, not in `.env`.

Settings: ZALO_APP_ID, ZALO_OA_SECRET_KEY, ZALO_ACCESS_TOKEN, ZALO_REFRESH_TOKEN,
ZALO_APP_SECRET, ZALO_API_BASE_URL, ZALO_OAUTH_BASE_URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from bot import attachments
from bot.conversation import Button, Reply
from bot.db import transaction
from bot.rasa_client import RasaClient
from bot.settings import Settings
from channels.api import error, read_body
from channels.keys import HTTP, RASA, SESSIONS, SETTINGS
from channels.ratelimit import sender_wait
from channels.rendering import (
    DeliveryError,
    MessageRejected,
    PushChannel,
    RateLimited,
    RecipientUnreachable,
    Throttle,
    location_text,
    phrase,
    shorten,
    split_text,
)

log = logging.getLogger(__name__)

CHANNEL = "zalo"
WEBHOOK_PATH = "/webhooks/zalo"
SIGNATURE_HEADER = "X-ZEvent-Signature"
MAX_BODY = 256 * 1024
# Events older (or further in the future) than this are refused: a replayed capture.
MAX_EVENT_AGE = timedelta(minutes=5)
TEXT_LIMIT = 2000
MAX_BUTTONS = 5
BUTTON_TITLE_LIMIT = 100
BUTTON_PAYLOAD_LIMIT = 1000
SEND_TIMEOUT = aiohttp.ClientTimeout(total=15)
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=30)
# Refresh the access token this long before it expires; check this often.
REFRESH_MARGIN = timedelta(hours=1)
REFRESH_CHECK_EVERY = 15 * 60.0
SHUTDOWN_GRACE = 10.0
TOKEN_NAME = "zalo"

# Zalo answers HTTP 200 with an error code in the body.
TOKEN_ERRORS = {-216, -220, -124}  # invalid, expired or removed access token
UNREACHABLE_ERRORS = {-213, -217, -227, -230, -232, -244}  # unfollowed, banned, out of window
RATE_ERRORS = {-32, -211, -218}  # call rate, OA quota, per-user quota
REJECTED_ERRORS = {-201, -210, -233}  # the message itself is invalid
RATE_RETRY_AFTER = 60.0

# A pressed oa.query button comes back as user_send_text; user_click_button is taken as text
# too should Zalo send it under that name.
MESSAGE_EVENTS = {"user_send_text", "user_send_image", "user_send_location", "user_click_button"}
UNSUPPORTED_EVENTS = {
    "user_send_sticker",
    "user_send_gif",
    "user_send_audio",
    "user_send_video",
    "user_send_file",
    "user_send_link",
    "user_send_business_card",
}
FOLLOW_EVENTS = {"follow", "unfollow"}


def handled(event: str) -> bool:
    """Events from residents; delivery receipts, "seen" marks and OA echoes are not."""
    return event in MESSAGE_EVENTS | UNSUPPORTED_EVENTS | FOLLOW_EVENTS or event.startswith(
        "user_send_"
    )


@dataclass(frozen=True)
class ZaloConfig:
    app_id: str
    oa_secret_key: str
    access_token: str
    refresh_token: str
    app_secret: str
    api_base_url: str
    oauth_base_url: str
    uploads_dir: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> ZaloConfig:
        extra = settings.extra
        return cls(
            app_id=extra.get("ZALO_APP_ID", "").strip(),
            oa_secret_key=extra.get("ZALO_OA_SECRET_KEY", "").strip(),
            access_token=extra.get("ZALO_ACCESS_TOKEN", "").strip(),
            refresh_token=extra.get("ZALO_REFRESH_TOKEN", "").strip(),
            app_secret=extra.get("ZALO_APP_SECRET", "").strip(),
            api_base_url=(
                extra.get("ZALO_API_BASE_URL", "").strip() or "https://openapi.zalo.me"
            ).rstrip("/"),
            oauth_base_url=(
                extra.get("ZALO_OAUTH_BASE_URL", "").strip() or "https://oauth.zaloapp.com"
            ).rstrip("/"),
            uploads_dir=settings.var_dir / "uploads",
        )

    @property
    def can_refresh(self) -> bool:
        return bool(self.refresh_token and self.app_secret)

    def missing(self) -> list[str]:
        """What must still be set for the channel to work (empty: it is on)."""
        missing = [
            name
            for name, value in (
                ("ZALO_APP_ID", self.app_id),
                ("ZALO_OA_SECRET_KEY", self.oa_secret_key),
            )
            if not value
        ]
        if not self.access_token and not self.can_refresh:
            missing.append("ZALO_ACCESS_TOKEN (or ZALO_REFRESH_TOKEN with ZALO_APP_SECRET)")
        return missing


def signature(app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """Zalo's event MAC: hex sha256 of app id + raw body + timestamp + OA secret key."""
    digest = hashlib.sha256()
    for part in (app_id.encode(), raw_body, timestamp.encode(), oa_secret_key.encode()):
        digest.update(part)
    return digest.hexdigest()


def user_of(recipient: str) -> str:
    """`zalo:<user id>` → the user id."""
    prefix, _, user = recipient.partition(":")
    if prefix != "zalo" or not user:
        raise MessageRejected(f"not a Zalo recipient: {recipient!r}")
    return user


class ZaloAuthError(DeliveryError):
    """No usable access token (refresh refused or impossible); the operator must act."""


class ZaloTokens:
    """The OA's access token: seeded from the settings once, then rotated through the OAuth
    refresh and kept in the database so restarts and replicas share the latest pair."""

    def __init__(self, config: ZaloConfig, sessions: sessionmaker, http: aiohttp.ClientSession):
        self.config = config
        self.sessions = sessions
        self.http = http
        self._lock = asyncio.Lock()
        self._current: attachments.Tokens | None = None

    @property
    def seed(self) -> str:
        configured = f"{self.config.access_token}\n{self.config.refresh_token}"
        return hashlib.sha256(configured.encode()).hexdigest()

    async def start(self) -> None:
        """Use the stored tokens, unless the operator configured new ones since."""

        def load_or_seed() -> attachments.Tokens:
            with transaction(self.sessions) as session:
                stored = attachments.load_tokens(session, TOKEN_NAME)
                if stored is not None and stored.seed == self.seed:
                    return stored
                seeded = attachments.Tokens(
                    self.config.access_token, self.config.refresh_token or None, None, self.seed
                )
                attachments.save_tokens(session, TOKEN_NAME, seeded)
                return seeded

        self._current = await asyncio.to_thread(load_or_seed)

    async def access_token(self) -> str:
        current = self._current
        if current is None:
            await self.start()
            current = self._current
        assert current is not None
        if not current.access_token or (
            current.refresh_token
            and current.expires_at is not None
            and current.expires_at - attachments.utcnow() < REFRESH_MARGIN
        ):
            return await self.refresh(current.access_token)
        return current.access_token

    async def refresh(self, stale: str) -> str:
        """A new access token instead of `stale` (refreshed once even when many senders
        found it stale at the same time)."""
        async with self._lock:

            def load() -> attachments.Tokens | None:
                with transaction(self.sessions) as session:
                    return attachments.load_tokens(session, TOKEN_NAME)

            stored = await asyncio.to_thread(load)
            if stored is not None and stored.access_token and stored.access_token != stale:
                self._current = stored  # refreshed meanwhile (here or by another replica)
                return stored.access_token
            refresh_token = (stored.refresh_token if stored else None) or ""
            if not refresh_token or not self.config.app_secret:
                raise ZaloAuthError(
                    "the Zalo access token was refused and cannot be refreshed: set "
                    "ZALO_REFRESH_TOKEN and ZALO_APP_SECRET (or a new ZALO_ACCESS_TOKEN)"
                )
            fresh = await self._exchange(refresh_token)

            def save() -> None:
                with transaction(self.sessions) as session:
                    attachments.save_tokens(session, TOKEN_NAME, fresh)

            await asyncio.to_thread(save)
            self._current = fresh
            log.info("Zalo access token refreshed; it expires at %s UTC", fresh.expires_at)
            return fresh.access_token

    async def _exchange(self, refresh_token: str) -> attachments.Tokens:
        url = f"{self.config.oauth_base_url}/v4/oa/access_token"
        form = {
            "refresh_token": refresh_token,
            "app_id": self.config.app_id,
            "grant_type": "refresh_token",
        }
        try:
            async with self.http.post(
                url, data=form, headers={"secret_key": self.config.app_secret}, timeout=SEND_TIMEOUT
            ) as response:
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise DeliveryError(f"Zalo OAuth unreachable: {type(exc).__name__}: {exc}") from exc
        if not isinstance(body, dict) or not body.get("access_token"):
            detail = (
                body.get("error_description") or body.get("error_name")
                if isinstance(body, dict)
                else body
            )
            raise ZaloAuthError(
                f"Zalo refused to refresh the access token ({detail}); authorise the app "
                "again and set the new ZALO_ACCESS_TOKEN and ZALO_REFRESH_TOKEN"
            )
        try:
            lifetime = timedelta(seconds=int(body.get("expires_in") or 0))
        except (TypeError, ValueError):
            lifetime = timedelta(0)
        return attachments.Tokens(
            access_token=str(body["access_token"]),
            refresh_token=str(body.get("refresh_token") or refresh_token),
            expires_at=attachments.utcnow() + lifetime if lifetime else None,
            seed=self.seed,
        )

    async def keep_fresh(self) -> None:
        """Refresh ahead of expiry even when nobody writes (a refresh token unused for three
        months expires too); an unknown expiry is learnt by refreshing once."""
        while True:
            current = self._current
            if (
                current is not None
                and self.config.app_secret
                and current.refresh_token
                and (
                    current.expires_at is None
                    or current.expires_at - attachments.utcnow() < REFRESH_MARGIN
                )
            ):
                try:
                    await self.refresh(current.access_token)
                except DeliveryError as exc:
                    log.error("Zalo: %s", exc)
            await asyncio.sleep(REFRESH_CHECK_EVERY)


class ZaloSender:
    """Sends replies through the OA v3 customer-service message API."""

    channel = CHANNEL

    def __init__(
        self,
        config: ZaloConfig,
        tokens: ZaloTokens,
        http: aiohttp.ClientSession,
        throttle: Throttle | None = None,
    ) -> None:
        self.config = config
        self.tokens = tokens
        self.http = http
        self.throttle = throttle or Throttle(rate=10.0, burst=10)

    async def deliver(self, recipient: str, reply: Reply) -> None:
        user_id = user_of(recipient)
        if reply.image:
            await self.send_message(user_id, image_message(reply.image))
        pieces = split_text(reply.text, TEXT_LIMIT)
        if not pieces and reply.buttons:
            pieces = ["👇"]
        for number, piece in enumerate(pieces, start=1):
            buttons = reply.buttons if number == len(pieces) else []
            await self.send_message(user_id, text_message(piece, buttons))

    async def send_message(self, user_id: str, message: dict[str, Any]) -> None:
        body = {"recipient": {"user_id": user_id}, "message": message}
        token = await self.tokens.access_token()
        code, detail = await self._post(token, body)
        if code in TOKEN_ERRORS:
            log.info("Zalo called the access token invalid (%s); refreshing", code)
            token = await self.tokens.refresh(token)
            code, detail = await self._post(token, body)
        if code == 0:
            return
        text = f"Zalo error {code}: {detail}"
        if code in UNREACHABLE_ERRORS:
            raise RecipientUnreachable(text)
        if code in RATE_ERRORS:
            raise RateLimited(RATE_RETRY_AFTER, text)
        if code in REJECTED_ERRORS:
            raise MessageRejected(text)
        raise DeliveryError(text)

    async def _post(self, token: str, body: dict[str, Any]) -> tuple[int, str]:
        await self.throttle.wait()
        url = f"{self.config.api_base_url}/v3.0/oa/message/cs"
        try:
            async with self.http.post(
                url, json=body, headers={"access_token": token}, timeout=SEND_TIMEOUT
            ) as response:
                if response.status == 429:
                    raise RateLimited(RATE_RETRY_AFTER, "Zalo answered HTTP 429")
                if response.status != 200:
                    raise DeliveryError(f"Zalo answered HTTP {response.status}")
                result = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise DeliveryError(f"Zalo unreachable: {type(exc).__name__}: {exc}") from exc
        if not isinstance(result, dict):
            raise DeliveryError("Zalo answered something other than a JSON object")
        try:
            code = int(result.get("error", 0))
        except (TypeError, ValueError):
            code = -1
        return code, str(result.get("message", ""))[:300]


def text_message(text: str, buttons: list[Button]) -> dict[str, Any]:
    """A text, with its buttons as a template attachment (Zalo shows at most five)."""
    message: dict[str, Any] = {"text": text}
    if buttons:
        message["attachment"] = {
            "type": "template",
            "payload": {
                "buttons": [
                    {
                        # An intent payload ("/inform{…}") would read as gibberish in the
                        # chat: sent hidden. Plain-words payloads are shown as the resident's.
                        "type": "oa.query.hide" if b.payload.startswith("/") else "oa.query.show",
                        "title": shorten(b.title, BUTTON_TITLE_LIMIT),
                        "payload": b.payload[:BUTTON_PAYLOAD_LIMIT],
                    }
                    for b in buttons[:MAX_BUTTONS]
                ]
            },
        }
    return message


def image_message(url: str) -> dict[str, Any]:
    return {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "media",
                "elements": [{"media_type": "image", "url": url}],
            },
        }
    }


class ZaloChannel(PushChannel):
    """Handles stored Zalo events."""

    channel = CHANNEL

    def __init__(
        self,
        config: ZaloConfig,
        sender: ZaloSender,
        sessions: sessionmaker,
        rasa: RasaClient,
        http: aiohttp.ClientSession,
    ) -> None:
        super().__init__(sender, sessions, rasa, config.uploads_dir)
        self.config = config
        self.http = http

    def sender_of(self, data: dict[str, Any]) -> str | None:
        user = _user_id(data)
        return f"zalo:{user}" if user else None

    async def dispatch(self, data: dict[str, Any], external_id: str) -> None:
        event = data.get("event_name")
        sender_id = self.sender_of(data)
        if sender_id is None:
            return
        message = data.get("message") if isinstance(data.get("message"), dict) else {}
        if event == "follow":
            await self.unblock_soon(sender_id)
            await self.send_replies(sender_id, [Reply(phrase("greeting", "vi"))], "vi")
            return
        if event == "unfollow":
            await asyncio.to_thread(self.record_blocked, sender_id, "unfollowed the OA")
            return
        await self.unblock_soon(sender_id)
        if event == "user_send_image":
            await self.on_image(sender_id, message, external_id)
        elif event == "user_send_location":
            where = _coordinates(message)
            if where is None:
                await self.say(sender_id, "unsupported", None)
            else:
                await self.converse(sender_id, location_text(*where), None, external_id)
        elif event not in UNSUPPORTED_EVENTS and _text(message):
            # Text, and a pressed button (Zalo sends its payload as the resident's text).
            await self.converse(sender_id, _text(message), None, external_id)
        else:  # stickers, voice, files, and kinds Zalo may add
            await self.say(sender_id, "unsupported", None)

    async def on_image(self, sender_id: str, message: dict[str, Any], external_id: str) -> None:
        url = _image_url(message)
        if url is None:
            await self.say(sender_id, "photo_failed", None)
            return
        try:
            data = await self._download(url)
        except DeliveryError as exc:
            log.warning("Zalo: could not download an image from %s: %s", sender_id, exc)
            await self.say(sender_id, "photo_failed", None)
            return
        if data is None:
            await self.say(sender_id, "photo_too_large", None)
            return
        kept = await self.keep_photo(sender_id, data, None, external_id, None)
        caption = message.get("text")
        if kept and isinstance(caption, str) and caption.strip():
            await self.converse(sender_id, caption.strip(), None, external_id)

    async def _download(self, url: str) -> bytes | None:
        """The image's bytes; None when it is larger than the limit."""
        try:
            async with self.http.get(url, timeout=DOWNLOAD_TIMEOUT) as response:
                if response.status != 200:
                    raise DeliveryError(f"HTTP {response.status}")
                if (response.content_length or 0) > attachments.MAX_BYTES:
                    return None
                data = await response.content.read(attachments.MAX_BYTES + 1)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        return None if len(data) > attachments.MAX_BYTES else data


def _user_id(data: dict[str, Any]) -> str | None:
    party = data.get("follower") if data.get("event_name") in FOLLOW_EVENTS else data.get("sender")
    user = party.get("id") if isinstance(party, dict) else None
    return str(user) if isinstance(user, (str, int)) and str(user).strip() else None


def _text(message: dict[str, Any]) -> str:
    text = message.get("text")
    return text.strip() if isinstance(text, str) else ""


def _attachments(message: dict[str, Any]) -> list[dict[str, Any]]:
    items = message.get("attachments")
    return [a for a in items if isinstance(a, dict)] if isinstance(items, list) else []


def _image_url(message: dict[str, Any]) -> str | None:
    for item in _attachments(message):
        payload = item.get("payload") if isinstance(item.get("payload"), dict) else {}
        url = payload.get("url")
        if item.get("type") == "image" and isinstance(url, str) and url.startswith("http"):
            return url
    return None


def _coordinates(message: dict[str, Any]) -> tuple[float, float] | None:
    places = [message.get("location")]
    for item in _attachments(message):
        payload = item.get("payload") if isinstance(item.get("payload"), dict) else {}
        places.append(payload.get("coordinates"))
    for place in places:
        if not isinstance(place, dict):
            continue
        try:
            latitude, longitude = float(place["latitude"]), float(place["longitude"])
        except (KeyError, TypeError, ValueError):
            continue
        if -90 <= latitude <= 90 and -180 <= longitude <= 180:
            return latitude, longitude
    return None


def external_id_of(data: dict[str, Any], user: str) -> str:
    """The message id; events without one (follow, unfollow) are keyed by what they are."""
    message = data.get("message")
    msg_id = message.get("msg_id") if isinstance(message, dict) else None
    if isinstance(msg_id, (str, int)) and str(msg_id).strip():
        return str(msg_id)[:128]
    return f"{data.get('event_name')}:{user}:{data.get('timestamp')}"[:128]


# ---------------------------------------------------------------------------------------------
# The webhook and the wiring

ZALO = web.AppKey("zalo", ZaloChannel)


async def webhook(request: web.Request) -> web.Response:
    channel = request.app[ZALO]
    raw = await read_body(request, MAX_BODY)
    if isinstance(raw, web.Response):
        return raw
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, a 5,000-digit number
        return error(400, "malformed_json", "The body is not a JSON Zalo event.")
    if not isinstance(data, dict):
        return error(400, "invalid_event", "A Zalo event is a JSON object.")
    timestamp = data.get("timestamp")
    if isinstance(timestamp, bool) or not str(timestamp).isdigit() or len(str(timestamp)) > 16:
        return error(400, "invalid_event", "A Zalo event needs a timestamp in milliseconds.")
    supplied = request.headers.get(SIGNATURE_HEADER, "").strip()
    if supplied[:4].lower() == "mac=":
        supplied = supplied[4:]
    expected = signature(channel.config.app_id, raw, str(timestamp), channel.config.oa_secret_key)
    if not hmac.compare_digest(supplied.lower().encode("utf-8", "replace"), expected.encode()):
        return error(403, "forbidden", f"Missing or wrong {SIGNATURE_HEADER}.")
    age_ms = abs(time.time() * 1000 - int(str(timestamp)))
    if age_ms > MAX_EVENT_AGE.total_seconds() * 1000:
        return error(403, "stale_event", "The event's timestamp is too old or in the future.")
    event = data.get("event_name")
    if not isinstance(event, str):
        return error(400, "invalid_event", "A Zalo event needs an event_name.")
    if not handled(event):
        return web.json_response({"ok": True, "ignored": event})  # delivery receipts, OA echoes
    user = _user_id(data)
    if user is None:
        return error(400, "invalid_event", "The event names no sender (or follower) id.")
    try:
        await channel.accept_update(external_id_of(data, user), data)
    except SQLAlchemyError:
        log.exception("Zalo: could not store event %s", event)
        return error(503, "unavailable", "The event could not be stored; send it again.")
    return web.json_response({"ok": True})


def setup_channel(app: web.Application) -> None:
    """Mount the webhook and connect to the OA API when the Zalo settings are complete."""
    config = ZaloConfig.from_settings(app[SETTINGS])
    missing = config.missing()
    if missing:
        configured = bool(config.app_id or config.access_token or config.refresh_token)

        async def off(app: web.Application) -> None:
            if configured:
                log.warning("Zalo channel is off: set %s.", ", ".join(missing))
            else:
                log.info("Zalo channel is off: ZALO_APP_ID and the OA keys are not set.")

        app.on_startup.append(off)
        return
    app.router.add_post(WEBHOOK_PATH, webhook)

    async def zalo(app: web.Application) -> AsyncIterator[None]:
        tokens = ZaloTokens(config, app[SESSIONS], app[HTTP])
        await tokens.start()
        sender = ZaloSender(config, tokens, app[HTTP])
        channel = ZaloChannel(config, sender, app[SESSIONS], app[RASA], app[HTTP])
        channel.sender_wait = partial(sender_wait, app)
        app[ZALO] = channel
        log.info("Zalo channel is on: webhook %s", app[SETTINGS].public_base_url + WEBHOOK_PATH)
        refresher = asyncio.create_task(tokens.keep_fresh())
        await channel.recover()
        yield
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await refresher
        await channel.tasks.drain(SHUTDOWN_GRACE)

    app.cleanup_ctx.append(zalo)
