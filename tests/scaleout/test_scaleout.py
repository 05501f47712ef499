"""Two of everything that scales, on one machine: 2 Rasa servers, 1 action server and
2 gateways, on a fresh PostgreSQL database (application and Rasa's tracker store) and a
Redis server of their own (the atomic lock store and the gateways' fan-out).

Gateway A talks to Rasa 1, gateway B to Rasa 2; a resident whose messages go through both
gateways is therefore answered by both Rasa processes, which share the conversation through
PostgreSQL and take turns through the lock store. Runs when TIEPDAN_TEST_POSTGRES_URL and
TIEPDAN_TEST_REDIS_URL are set (`.ci/run` sets both); the Redis server here is started on a
free port so the last test can stop it without disturbing anyone else.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from sqlalchemy import select

from bot.calendar import WorkingCalendar
from bot.db import make_engine, make_session_factory, transaction
from bot.handoff import Handoff
from bot.tickets import change_status, open_ticket
from bot.tickets.models import Ticket
from tests.scaleout import REDIS_ENV
from tests.scaleout.cluster import PASSWORD, Cluster, fresh_databases, running_cluster

POSTGRES_ENV = "TIEPDAN_TEST_POSTGRES_URL"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.skipif(
        not (os.environ.get(POSTGRES_ENV) and os.environ.get(REDIS_ENV)),
        reason=f"needs {POSTGRES_ENV} and {REDIS_ENV}",
    ),
]

CODE = re.compile(r"PA-\d{4}-[2-9A-HJ-NP-Z]{5}")


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


@pytest.fixture(scope="module")
def fresh_postgres() -> Iterator[tuple[str, str]]:
    """Two new databases; an unreachable server errors here (fails the run, never skips)."""
    with fresh_databases(os.environ[POSTGRES_ENV]) as urls:
        yield urls


@pytest.fixture(scope="module")
def cluster(
    trained_model: Path,
    fresh_postgres: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    database_url, tracker_url = fresh_postgres
    folder = tmp_path_factory.mktemp("scaleout")
    with running_cluster(trained_model, database_url, tracker_url, folder) as running:
        yield running
        print(f"\npeak memory: {running.memory()}")


def test_every_component_of_both_gateways_is_healthy_with_redis(cluster: Cluster) -> None:
    for url in cluster.gateways:
        body = requests.get(f"{url}/healthz", timeout=30).json()
        assert body["status"] == "ok", body
        assert body["components"]["redis"]["ok"] is True


def street_light_report(cluster: Cluster, sender: str, house: int) -> tuple[str, list[str]]:
    """A full report to its receipt, each message through the other gateway than the last;
    returns the code and what the resident said, in order."""
    said = [
        "đèn đường trước nhà tôi bị hỏng",
        f"trước số {house} Lê Lợi, phường 7",
        f"0905 123 {house:03d}",
        "/affirm",
        "/affirm",
    ]
    replies = [cluster.chat(n % 2, sender, message) for n, message in enumerate(said)]
    assert "ở đâu" in texts(replies[0]), replies[0]
    assert "đồng ý" in texts(replies[1] + replies[2]), replies[2]
    assert f"{house} Lê Lợi" in texts(replies[3]), replies[3]
    match = CODE.search(texts(replies[4]))
    assert match, replies[4]
    return match.group(), said


def test_concurrent_reports_through_both_gateways_lose_nothing_and_double_nothing(
    cluster: Cluster,
) -> None:
    residents = [f"so-{secrets.token_hex(3)}-{n}" for n in range(6)]
    results: dict[str, tuple[str, list[str]]] = {}
    errors: list[BaseException] = []

    def journey(n: int, sender: str) -> None:
        try:
            results[sender] = street_light_report(cluster, sender, 40 + n)
        except BaseException as error:  # reported below, with the resident
            errors.append(error)

    import threading

    threads = [threading.Thread(target=journey, args=(n, s)) for n, s in enumerate(residents)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not errors, errors[0]

    # One ticket per resident, with their own address, and no code twice.
    engine = make_engine(cluster.database_url)
    with make_session_factory(engine)() as session:
        tickets = session.execute(
            select(Ticket.sender_id, Ticket.code, Ticket.location).where(
                Ticket.sender_id.in_([f"api:{s}" for s in residents])
            )
        ).all()
    engine.dispose()
    assert sorted(t.sender_id for t in tickets) == sorted(f"api:{s}" for s in residents)
    assert {t.code for t in tickets} == {code for code, _ in results.values()}
    for n, sender in enumerate(residents):
        (location,) = [t.location for t in tickets if t.sender_id == f"api:{sender}"]
        assert f"{40 + n} Lê Lợi" in location

    # Rasa's shared history holds each message once, in the order it was sent, each
    # answered before the next one came in.
    for sender in residents:
        events = cluster.tracker(f"api:{sender}")["events"]
        user = [e["text"] for e in events if e["event"] == "user"]
        assert user == results[sender][1]
        assert_turns_do_not_interleave(events)


def assert_turns_do_not_interleave(events: list[dict[str, Any]]) -> None:
    """Between two resident messages Rasa finished the first turn (listened again)."""
    waiting_for_listen = False
    for event in events:
        if event["event"] == "user":
            assert not waiting_for_listen, "a message was processed inside another's turn"
            waiting_for_listen = True
        elif event["event"] == "action" and event.get("name") == "action_listen":
            waiting_for_listen = False


QUESTIONS = [
    ("làm giấy khai sinh cần giấy tờ gì", "Giấy chứng sinh"),
    ("dang ky tam tru can giay to gi vay", "tạm trú"),
    ("thứ bảy phường có làm việc không", "7h30"),
    ("who do I call about a broken street light", "Public Lighting"),
]


async def test_one_conversation_sent_to_both_rasa_processes_at_once_is_answered_turn_by_turn(
    cluster: Cluster,
) -> None:
    """Eight questions of one conversation at once, half to each Rasa process (straight to
    Rasa's REST channel: the gateways themselves hold a resident's later messages until the
    earlier ones are answered), for three conversations in turn. Every answer matches its
    own question, and Rasa's shared history holds each question once, one turn after the
    other: the lock store made the processes take turns. (Without it, with each Rasa on its
    own in-memory lock, this failed in two rounds of three.)"""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
        for _ in range(3):
            sender = f"burst-{secrets.token_hex(3)}"

            async def ask(n: int, sender: str = sender) -> tuple[str, str, list[dict[str, Any]]]:
                question, expected = QUESTIONS[n % len(QUESTIONS)]
                async with http.post(
                    f"{cluster.rasa[n % 2]}/webhooks/rest/webhook",
                    json={"sender": sender, "message": question},
                ) as response:
                    assert response.status == 200, await response.text()
                    return question, expected, await response.json()

            answers = await asyncio.gather(*(ask(n) for n in range(8)))
            for question, expected, messages in answers:
                assert expected in texts(messages), (question, messages)
            events = cluster.tracker(sender)["events"]
            user = [e["text"] for e in events if e["event"] == "user"]
            assert sorted(user) == sorted(q for q, _, _ in answers), "a message lost or doubled"
            assert_turns_do_not_interleave(events)


class Console:
    """A staff member's console on one gateway: logged in, with its live socket open."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""
        self.socket: aiohttp.ClientWebSocketResponse | None = None

    async def log_in(self, watch: int | None = None) -> None:
        page = await (await self.http.get("/console/login")).text()
        response = await self.http.post(
            "/console/login",
            data={"username": "lan", "password": PASSWORD, "csrf": csrf_in(page)},
            allow_redirects=False,
        )
        assert response.status == 302, await response.text()
        self.csrf = csrf_in(await (await self.http.get("/console/queue")).text())
        self.socket = await self.http.ws_connect("/console/ws", headers={"Origin": self.base})
        await self.socket.send_json({"type": "hello", "csrf": self.csrf, "watch": watch})
        assert (await self.socket.receive_json(timeout=10))["type"] == "ready"

    async def accept(self, handoff_id: int) -> None:
        response = await self.http.post(
            f"/console/handoffs/{handoff_id}/accept",
            data={"csrf": self.csrf},
            allow_redirects=False,
        )
        assert response.status == 302, await response.text()

    async def reply(self, handoff_id: int, text: str) -> None:
        assert self.socket is not None
        await self.socket.send_json({"type": "reply", "handoff_id": handoff_id, "text": text})

    async def next_message(self, timeout: float = 15) -> dict[str, Any]:
        assert self.socket is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = await self.socket.receive_json(timeout=deadline - time.monotonic())
            if frame["type"] == "message":
                return frame["message"]
        raise TimeoutError("no message on the console")

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        await self.http.close()


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the console page"
    return found.group(1)


class WidgetResident:
    def __init__(self, base: str, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.base = base
        self.socket = socket
        self.bubbles: list[dict[str, Any]] = []

    async def say(self, text: str, payload: str | None = None) -> None:
        frame = {"type": "message", "id": secrets.token_hex(8), "text": text, "lang": "vi"}
        if payload:
            frame["payload"] = payload
        await self.socket.send_json(frame)

    async def wait_for(self, needle: str, timeout: float = 30) -> dict[str, Any]:
        """The assistant's or staff's bubble containing `needle`, pushed over the socket."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for bubble in self.bubbles:
                if bubble["author"] != "resident" and needle in bubble["text"]:
                    return bubble
            try:
                frame = await self.socket.receive_json(timeout=deadline - time.monotonic())
            except asyncio.TimeoutError:
                break
            if frame["type"] == "message":
                self.bubbles.append(frame["bubble"])
        raise AssertionError(f"{needle!r} never reached the resident: {self.bubbles}")


def handoff_of(database_url: str, channel: str = "widget") -> Handoff:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            handoff = session.scalars(
                select(Handoff).where(Handoff.channel == channel).order_by(Handoff.id.desc())
            ).first()
            if handoff is not None:
                session.expunge(handoff)
            return handoff
    finally:
        engine.dispose()


async def test_staff_reply_and_status_change_reach_the_widget_resident_on_the_other_gateway(
    cluster: Cluster,
) -> None:
    gateway_a, gateway_b = cluster.gateways
    staff_on_b = Console(gateway_b)
    staff_on_a = Console(gateway_a)
    async with aiohttp.ClientSession() as http:
        await staff_on_b.log_in()  # an open console: someone is online for the queue
        socket = await http.ws_connect(f"{gateway_a}/widget/ws", headers={"Origin": gateway_a})
        await socket.send_json({"type": "hello", "session": None, "after": 0, "lang": "vi"})
        welcome = await socket.receive_json(timeout=10)
        assert welcome["type"] == "welcome"
        resident = WidgetResident(gateway_a, socket)
        try:
            await resident.say("Gặp nhân viên", payload="/request_human")
            await resident.wait_for("vị trí số 1", timeout=60)
            handoff = handoff_of(cluster.database_url)
            assert handoff is not None and handoff.status == "waiting"

            # The same agent also has the conversation open on gateway A's console.
            await staff_on_a.log_in(watch=handoff.id)
            await staff_on_b.accept(handoff.id)
            await resident.wait_for("nhân viên đã tham gia", timeout=15)

            reply = f"Dạ, em là Lan, em hỗ trợ anh/chị ạ ({secrets.token_hex(2)})."
            started = time.monotonic()
            await staff_on_b.reply(handoff.id, reply)
            bubble = await resident.wait_for(reply, timeout=15)
            delivered_in = time.monotonic() - started
            assert bubble["author"] != "resident"
            # ... and gateway A's console shows what was written on B.
            seen_on_a = await staff_on_a.next_message()
            assert seen_on_a["text"] == reply
            print(f"\nstaff reply B → resident on A in {delivered_in * 1000:.0f} ms")

            # The resident's answer, written on A, reaches a console watching it on B.
            staff_on_b_watching = Console(gateway_b)
            await staff_on_b_watching.log_in(watch=handoff.id)
            await resident.say("Cảm ơn chị, nhà tôi ở phường 7")
            seen_on_b = await staff_on_b_watching.next_message()
            assert seen_on_b["text"] == "Cảm ơn chị, nhà tôi ở phường 7"
            await staff_on_b_watching.close()

            # A status change made away from gateway A (here in the shared database, as
            # staff on B or a unit's own system would) reaches the resident on A too.
            engine = make_engine(cluster.database_url)
            with transaction(make_session_factory(engine)) as session:
                code = open_ticket(
                    session,
                    kind="complaint",
                    category="street_lighting",
                    description="Đèn đường trước số 42 Lê Lợi không sáng",
                    location="Trước số 42 Lê Lợi, phường 7",
                    sender_id=handoff.sender_id,
                    channel="widget",
                    language="vi",
                    calendar=WorkingCalendar(),
                    unit_for_category=lambda _c: "public_lighting",
                ).code
            with transaction(make_session_factory(engine)) as session:
                change_status(session, code, "assigned", actor="staff:lan")
            engine.dispose()
            status = await resident.wait_for("Đã chuyển đơn vị xử lý", timeout=20)
            assert code in status["text"]
        finally:
            await socket.close()
            await staff_on_a.close()
            await staff_on_b.close()


def test_when_redis_stops_both_gateways_keep_answering_and_health_says_degraded(
    cluster: Cluster,
) -> None:
    cluster.redis.stop()
    deadline = time.monotonic() + 30
    bodies: list[dict[str, Any]] = []
    for url in cluster.gateways:
        while True:
            response = requests.get(f"{url}/healthz", timeout=30)
            body = response.json()
            if body.get("degraded") == ["redis"] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert response.status_code == 200, body  # still serving: not taken out of rotation
        assert body["status"] == "degraded" and body["degraded"] == ["redis"], body
        bodies.append(body)
    sender = f"outage-{secrets.token_hex(3)}"
    for gateway, (question, expected) in enumerate(QUESTIONS[:2]):
        assert expected in texts(cluster.chat(gateway, sender, question))
    user = [e["text"] for e in cluster.tracker(f"api:{sender}")["events"] if e["event"] == "user"]
    assert user == [q for q, _ in QUESTIONS[:2]]
