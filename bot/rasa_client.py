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


class KeptAlive:
    """POSTs of JSON to one plain-HTTP server over a few kept-alive HTTP/1.1 connections:
    the one call on every message's path (the REST webhook), made with a fraction of the
    code aiohttp's client runs per request. The gateway is idle while Rasa answers, and on
    a small virtual machine code idle for a while runs several times slower than in a loop:
    measured (bench/README.md, session 7) 2.5 ms for a request through aiohttp's client
    against 1.6 ms this way. Everything else (status, tracker, settling) stays on aiohttp.

    A connection goes back to the pool only after a whole response was read; one that
    failed, timed out or was told "Connection: close" is closed. An idle connection is not
    used again after `IDLE_FOR` seconds, well inside Rasa's keep-alive of 120 s, so Rasa
    never closes one just as a message is written to it."""

    IDLE_FOR = 60.0
    POOL = 16

    def __init__(self, url: URL) -> None:
        self.host = url.host or "127.0.0.1"
        self.port = url.port or 80
        self._head = f"Host: {url.host}:{self.port}\r\nContent-Type: application/json\r\n"
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def post(self, target: str, body: bytes, timeout: float) -> tuple[int, bytes]:
        """The response's status and body; OSError, EOFError, ValueError (a response that
        is not HTTP) or asyncio.TimeoutError when there is none."""
        return await asyncio.wait_for(self._post(target, body), timeout)

    async def _post(self, target: str, body: bytes) -> tuple[int, bytes]:
        reader, writer = self._take() or await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(
                f"POST {target} HTTP/1.1\r\n{self._head}Content-Length: {len(body)}\r\n\r\n".encode(
                    "latin-1"
                )
                + body
            )
            status, keep, payload = await _response(reader)
        except BaseException:
            writer.close()
            raise
        if keep and len(self._idle) < self.POOL:
            self._idle.append((reader, writer, time.monotonic()))
        else:
            writer.close()
        return status, payload

    def _take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        now = time.monotonic()
        while self._idle:
            reader, writer, since = self._idle.pop()
            if now - since < self.IDLE_FOR and not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()
        return None

    def close(self) -> None:
        while self._idle:
            self._idle.pop()[1].close()


async def _response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    """Status, whether the connection may be used again, and body of one HTTP/1.1 response
    (a body sized by Content-Length, sent chunked, or ended by the connection closing)."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    version, _, rest = head[0].partition(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1 response: {head[0][:40]!r}")
    status = int(rest[:3])
    fields = {}
    for line in head[1:]:
        name, colon, value = line.partition(":")
        if colon:
            fields[name.strip().lower()] = value.strip().lower()
    keep = version == "HTTP/1.1" and fields.get("connection") != "close"
    if "chunked" in fields.get("transfer-encoding", ""):
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                return status, keep, b"".join(parts)
            parts.append((await reader.readexactly(size + 2))[:-2])
    if "content-length" in fields:
        return status, keep, await reader.readexactly(int(fields["content-length"]))
    if status in (204, 304) or 100 <= status < 200:
        return status, keep, b""
    return status, False, await reader.read()


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
        # Plain HTTP (Rasa beside the gateway): the webhook through kept-alive connections
        # of our own; through aiohttp otherwise (https).
        self._kept = KeptAlive(self._webhook) if self._webhook.scheme == "http" else None
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
        # Every message's call: the URL parsed once, the body and the answer (de)coded here.
        data = json.dumps(payload, ensure_ascii=False).encode()
        url = self._webhook_nlu if NLU_OBSERVERS else self._webhook
        try:
            if self._kept is not None:
                status, raw = await self._kept.post(url.raw_path_qs, data, self.timeout.total)
            else:
                async with self.http.post(
                    url, data=data, headers=_JSON, timeout=self.timeout
                ) as response:
                    status, raw = response.status, await response.read()
            if status == 503:
                self.store_refused_at = time.monotonic()
            if status != 200:
                raise RasaUnavailable(f"Rasa answered HTTP {status}")
            body = json.loads(raw)
        except (
            aiohttp.ClientError,
            OSError,
            EOFError,  # asyncio.IncompleteReadError: the connection ended mid-response
            asyncio.LimitOverrunError,
            asyncio.TimeoutError,
            ValueError,
        ) as error:
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

    def close(self) -> None:
        """Close the kept-alive connections (the aiohttp session is its owner's to close)."""
        if self._kept is not None:
            self._kept.close()

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
