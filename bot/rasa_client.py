"""A small client for the Rasa server: the REST channel and the token-protected HTTP API."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from yarl import URL

log = logging.getLogger(__name__)

# Called with (sender_id, text, metadata, nlu) after each answered message when Rasa returns
# its NLU result; `nlu` is {"intent", "confidence", "ranking", "language", "replies"} (the
# texts Rasa answered with). Must be quick: it runs before the resident gets the answer.
NluObserver = Callable[[str, str, dict[str, Any], dict[str, Any]], None]
NLU_OBSERVERS: list[NluObserver] = []


_JSON = {"Content-Type": "application/json"}


class RasaUnavailable(RuntimeError):
    """Rasa did not answer (down, hanging past the timeout, or answered with an error)."""


class RasaClient:
    def __init__(
        self, http: aiohttp.ClientSession, base_url: str, token: str, timeout: float = 30.0
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._webhook = URL(f"{self.base_url}/webhooks/rest/webhook")
        self._webhook_nlu = self._webhook.with_query(nlu="1")
        # When Rasa last refused a message because its tracker store failed (HTTP 503 from
        # our REST channel, bot.tracker_guard); the health check probes the store again.
        self.store_refused_at: float | None = None

    async def send_message(
        self, sender_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """One user message through the REST channel; returns Rasa's bot messages.

        With NLU observers registered (the trainers' inbox), Rasa is asked to return what it
        understood of the message too (bot.trainer.rasa_channel) and each observer is told.
        """
        payload = {"sender": sender_id, "message": text, "metadata": metadata or {}}
        try:
            # Every message's call: the URL parsed once, the body and the answer (de)coded
            # here rather than by aiohttp's payload and content-type machinery.
            async with self.http.post(
                self._webhook_nlu if NLU_OBSERVERS else self._webhook,
                data=json.dumps(payload, ensure_ascii=False).encode(),
                headers=_JSON,
                timeout=self.timeout,
            ) as response:
                if response.status == 503:
                    self.store_refused_at = time.monotonic()
                if response.status != 200:
                    raise RasaUnavailable(f"Rasa answered HTTP {response.status}")
                body = json.loads(await response.read())
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise RasaUnavailable(f"{type(error).__name__}: {error}") from error
        if not isinstance(body, dict):  # Rasa's plain REST channel: the messages alone
            return body
        nlu = body.get("nlu")
        messages = list(body.get("messages") or [])
        if isinstance(nlu, dict):
            seen = {**nlu, "replies": [str(m.get("text") or "") for m in messages]}
            for observer in NLU_OBSERVERS:
                try:
                    observer(sender_id, text, metadata or {}, seen)
                except Exception:  # an observer never costs the resident the answer
                    log.exception("NLU observer %r failed", observer)
        return messages

    async def status(self) -> dict[str, Any]:
        """Rasa's /status (needs the token): proves the API is up and a model is loaded."""
        try:
            async with self.http.get(
                f"{self.base_url}/status",
                params={"token": self.token},  # Rasa's token auth is a query parameter
                timeout=aiohttp.ClientTimeout(total=3),
            ) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"Rasa /status answered HTTP {response.status}")
                return await response.json()
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise RasaUnavailable(f"{type(error).__name__}: {error}") from error

    async def settled(self, sender_id: str, wait: float = 30.0) -> None:
        """Wait until Rasa has finished handling this conversation's messages (our REST
        channel's /settled); raises RasaUnavailable when it is still at it after `wait`
        seconds. A Rasa without that route (stock Rasa) is not waited for."""
        try:
            async with self.http.get(
                f"{self.base_url}/webhooks/rest/settled/{sender_id}",
                params={"token": self.token, "wait": str(wait)},
                timeout=aiohttp.ClientTimeout(total=wait + 5),
            ) as response:
                if response.status == 409:
                    raise RasaUnavailable(f"Rasa is still answering {sender_id}")
                if response.status not in (204, 200, 404):
                    raise RasaUnavailable(f"Rasa /settled answered HTTP {response.status}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise RasaUnavailable(f"{type(error).__name__}: {error}") from error

    async def _tracker_event(self, sender_id: str, event: str) -> None:
        try:
            async with self.http.post(
                f"{self.base_url}/conversations/{sender_id}/tracker/events",
                params={"token": self.token},
                json={"event": event},
                timeout=self.timeout,
            ) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"Rasa tracker events answered HTTP {response.status}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise RasaUnavailable(f"{type(error).__name__}: {error}") from error

    async def pause(self, sender_id: str) -> None:
        """Keep the assistant silent in this conversation (staff hold it)."""
        await self._tracker_event(sender_id, "pause")

    async def resume(self, sender_id: str) -> None:
        """Let the assistant answer again after a handoff."""
        await self._tracker_event(sender_id, "resume")
