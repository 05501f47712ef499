"""A small client for the Rasa server: the REST channel and the token-protected HTTP API."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp


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

    async def send_message(
        self, sender_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """One user message through the REST channel; returns Rasa's bot messages."""
        payload = {"sender": sender_id, "message": text, "metadata": metadata or {}}
        try:
            async with self.http.post(
                f"{self.base_url}/webhooks/rest/webhook", json=payload, timeout=self.timeout
            ) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"Rasa answered HTTP {response.status}")
                return await response.json()
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise RasaUnavailable(f"{type(error).__name__}: {error}") from error

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
