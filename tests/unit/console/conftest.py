"""Fixtures for the console tests: the real gateway app on a test server, a database with
staff accounts, and a stand-in for Rasa that records tracker events (pause / resume)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import db
from bot.calendar import WorkingCalendar
from bot.console import create_staff
from bot.db import make_engine, make_session_factory, transaction
from bot.settings import PROJECT_ROOT, load_settings
from bot.tickets import open_ticket
from channels.app import create_app

PASSWORD = "correct-horse-battery"
STAFF = {
    "agent": ("an", "customer_care"),
    "supervisor": ("sen", "customer_care"),
    "trainer": ("tra", None),
    "admin": ("ada", None),
}


@dataclass
class RasaProbe:
    port: int = 0
    events: list[tuple[str, str, str | None]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
async def rasa_probe():
    probe = RasaProbe()

    async def tracker_events(request: web.Request) -> web.Response:
        body = await request.json()
        probe.events.append(
            (request.match_info["sender"], body["event"], request.query.get("token"))
        )
        return web.json_response({"sender_id": request.match_info["sender"]})

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        probe.messages.append(body)
        return web.json_response([{"recipient_id": body["sender"], "text": "Dạ, em chào anh/chị."}])

    app = web.Application()
    app.router.add_post("/conversations/{sender}/tracker/events", tracker_events)
    app.router.add_post("/webhooks/rest/webhook", webhook)
    server = TestServer(app)
    await server.start_server()
    probe.port = server.port
    yield probe
    await server.close()


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once, with the staff accounts (argon2 is slow on purpose); copied per test."""
    path = tmp_path_factory.mktemp("console-db") / "tiepdan.db"
    url = f"sqlite:///{path}"
    db.upgrade(url)
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        for role, (username, unit) in STAFF.items():
            create_staff(session, username=username, password=PASSWORD, role=role, unit_id=unit)
        create_staff(
            session, username="wa", password=PASSWORD, role="agent", unit_id="water_company"
        )
        create_staff(
            session, username="thuy", password=PASSWORD, role="supervisor", unit_id="water_company"
        )
    engine.dispose()
    return path


@pytest.fixture
def settings(tmp_path: Path, rasa_probe: RasaProbe, template_database: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "var").mkdir()
    shutil.copy(template_database, tmp_path / "var" / "tiepdan.db")
    return load_settings(
        {
            "TIEPDAN_HOME": str(tmp_path),
            "TIEPDAN_SECRET_KEY": "console-test-secret-0123456789",
            "RASA_PORT": str(rasa_probe.port),
            "RASA_TOKEN": "rasa-token-0123456789",
            "TIEPDAN_HANDOFF_ALWAYS_OPEN": "1",
            "TIEPDAN_CATALOG_DIR": str(PROJECT_ROOT / "catalog"),
        }
    )


@pytest.fixture
def sessions(settings):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
async def client(settings):  # type: ignore[no-untyped-def]
    test_client = TestClient(TestServer(create_app(settings)))
    await test_client.start_server()
    yield test_client
    await test_client.close()


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def log_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Logs in; returns the CSRF token of the new session."""
    page = await client.get("/console/login")
    token = csrf_in(await page.text())
    response = await client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf": token},
        allow_redirects=False,
    )
    assert response.status == 302, await response.text()
    page = await client.get("/console/queue" if username != "tra" else "/console/")
    return csrf_in(await page.text())


def make_ticket(
    session,
    *,
    unit: str = "customer_care",
    sender: str = "web:abc",
    channel: str = "widget",
    description: str = "Nước sinh hoạt bị đục suốt ba ngày nay ở đầu hẻm",
    now: datetime = datetime(2026, 11, 20, 3, 0),
) -> str:  # type: ignore[no-untyped-def]
    ticket = open_ticket(
        session,
        kind="complaint",
        category="water_supply",
        description=description,
        location="Hẻm 12 Lê Lợi",
        sender_id=sender,
        channel=channel,
        language="vi",
        calendar=WorkingCalendar(),
        unit_for_category=lambda _c: unit,
        now=now,
    )
    return ticket.code


TODAY = date(2026, 11, 21)
