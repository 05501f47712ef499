"""Fixtures for the channel tests: a stand-in for Rasa's REST webhook, the fake Telegram and
Zalo servers, and a gateway started with settings pointing at them."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.orm import Session

from bot import db
from bot.settings import Settings, load_settings
from channels import telegram, zalo
from channels.app import create_app
from channels.keys import SESSIONS
from tests.fakes import zalo_oa_api
from tests.fakes.telegram_bot_api import FakeTelegram

TOKEN = "123456:TEST-telegram-token"
SECRET = "webhook-secret_0123456789"


@dataclass
class RasaStandIn:
    """Answers like Rasa's REST channel (`respond(body)` → bot messages) and records calls."""

    received: list[dict[str, Any]] = field(default_factory=list)
    respond: Callable[[dict[str, Any]], list[dict[str, Any]]] = lambda body: [
        {"recipient_id": body["sender"], "text": "Dạ, em chào anh/chị."}
    ]
    down: bool = False
    # Seconds Rasa takes to answer (a busy model).
    delay: float = 0.0
    port: int = 0

    def messages(self, sender: str | None = None) -> list[str]:
        return [r["message"] for r in self.received if sender is None or r["sender"] == sender]


@pytest.fixture
async def rasa() -> AsyncIterator[RasaStandIn]:
    stand_in = RasaStandIn()

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(stand_in.delay)
        if stand_in.down:
            return web.Response(status=500)
        stand_in.received.append(body)
        return web.json_response(stand_in.respond(body))

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    server = TestServer(app)
    await server.start_server()
    stand_in.port = server.port or 0
    yield stand_in
    await server.close()


@pytest.fixture
async def telegram_api() -> AsyncIterator[FakeTelegram]:
    api = await FakeTelegram(TOKEN).start()
    yield api
    await api.close()


@pytest.fixture
async def zalo_api() -> AsyncIterator[zalo_oa_api.FakeZalo]:
    api = await zalo_oa_api.FakeZalo().start()
    yield api
    await api.close()


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Back-off starts at a tenth of a second instead of seconds."""
    monkeypatch.setattr(telegram, "RETRY_FIRST_DELAY", 0.1)
    monkeypatch.setattr(telegram, "RETRY_MAX_DELAY", 0.2)


@dataclass
class Gateway:
    client: TestClient
    settings: Settings

    @property
    def app(self) -> web.Application:
        return self.client.server.app  # type: ignore[return-value]

    def session(self) -> Session:
        return self.app[SESSIONS]()

    async def settle(self) -> None:
        """Wait until every update accepted so far has been handled."""
        for key in (telegram.TELEGRAM, zalo.ZALO):
            if key in self.app:
                await self.app[key].tasks.idle()
                if self.app[key].marks is not None:  # replies sent, marked in the background
                    await self.app[key].marks.idle()

    async def post_update(
        self, update: dict[str, Any], secret: str | None = SECRET
    ) -> tuple[int, Any]:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        response = await self.client.post(telegram.WEBHOOK_PATH, json=update, headers=headers)
        return response.status, await response.json()

    async def post_event(self, raw: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        response = await self.client.post(zalo.WEBHOOK_PATH, data=io.BytesIO(raw), headers=headers)
        return response.status, await response.json()


def telegram_settings(api: FakeTelegram) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "TELEGRAM_FILE_BASE_URL": api.base_file_url,
    }


def zalo_settings(api: zalo_oa_api.FakeZalo, **overrides: str) -> dict[str, str]:
    values = {
        "ZALO_APP_ID": zalo_oa_api.APP_ID,
        "ZALO_OA_SECRET_KEY": zalo_oa_api.OA_SECRET_KEY,
        "ZALO_ACCESS_TOKEN": "access-0",
        "ZALO_REFRESH_TOKEN": "refresh-0",
        "ZALO_APP_SECRET": zalo_oa_api.APP_SECRET,
        "ZALO_API_BASE_URL": api.base_url,
        "ZALO_OAUTH_BASE_URL": api.base_url,
    }
    values.update(overrides)
    return values


@pytest.fixture
async def start_gateway(tmp_path: Path, rasa: RasaStandIn) -> AsyncIterator[Callable[..., Any]]:
    """`await start_gateway(extra_settings)` → a running Gateway (stopped after the test).
    Several calls with the same folder share the database: a restart."""
    clients: list[TestClient] = []

    async def start(extra: dict[str, str], *, upgrade: bool = True) -> Gateway:
        environ = {
            "TIEPDAN_HOME": str(tmp_path),
            "TIEPDAN_API_TOKEN": "unit-test-token-123456",
            "RASA_PORT": str(rasa.port),
            "PUBLIC_BASE_URL": "https://tiepdan.example.gov.vn",
            **extra,
        }
        settings = load_settings(environ)
        if upgrade:
            # "heads": also while two new revisions await being chained.
            db.upgrade(settings.database_url, "heads")
        client = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        clients.append(client)
        return Gateway(client, settings)

    yield start
    for client in reversed(clients):
        await client.close()
