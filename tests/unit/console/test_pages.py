"""The console over HTTP: log-in and lock-out, CSRF, escaping of resident text, tickets
(status change notifies the resident, other units' tickets stay hidden), the audit log, and
the live conversation over the WebSocket."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from bot import handoff as handoffs
from bot.catalog import load_catalog
from bot.console import mark_seen
from bot.console.models import AuditEntry, StaffAccount
from bot.db import transaction
from bot.outbox import OutboxMessage
from bot.routing import Inbound, intercept
from bot.tickets import get_ticket
from tests.unit.console.conftest import PASSWORD, csrf_in, log_in, make_ticket

XSS = "<script>alert(1)</script>"


async def test_login_page_is_vietnamese_by_default_and_english_on_request(client) -> None:
    assert "Đăng nhập" in await (await client.get("/console/login")).text()
    assert "Log in" in await (await client.get("/console/login?lang=en")).text()
    assert "Log in" in await (await client.get("/console/login")).text()  # kept in the session


async def test_session_cookie_is_httponly_and_strict(client) -> None:
    page = await client.get("/console/login")
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie


async def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(client, sessions) -> None:
    for _ in range(5):
        page = await client.get("/console/login")
        response = await client.post(
            "/console/login",
            data={
                "username": "an",
                "password": "wrong-password",
                "csrf": csrf_in(await page.text()),
            },
            allow_redirects=False,
        )
        assert response.status in (401, 403)
    page = await client.get("/console/login")
    response = await client.post(
        "/console/login",
        data={"username": "an", "password": PASSWORD, "csrf": csrf_in(await page.text())},
        allow_redirects=False,
    )
    assert response.status == 403 and "khóa 15 phút" in await response.text()
    with sessions() as session:
        account = session.execute(
            select(StaffAccount).where(StaffAccount.username == "an")
        ).scalar_one()
        delta = account.locked_until - datetime.now(timezone.utc).replace(tzinfo=None)
        assert 14 * 60 < delta.total_seconds() <= 15 * 60
        actions = (
            session.execute(select(AuditEntry.action).where(AuditEntry.actor == "an"))
            .scalars()
            .all()
        )
    assert actions.count("login_failed") == 5 and "login_locked" in actions


async def test_login_without_the_csrf_token_is_refused(client) -> None:
    await client.get("/console/login")
    response = await client.post(
        "/console/login", data={"username": "an", "password": PASSWORD}, allow_redirects=False
    )
    assert response.status == 403


async def test_state_changes_without_or_with_a_wrong_csrf_token_are_refused(
    client, sessions
) -> None:
    with transaction(sessions) as session:
        code = make_ticket(session)
    csrf = await log_in(client, "an")
    path = f"/console/tickets/{code}/status"
    for data in ({"to_status": "assigned"}, {"to_status": "assigned", "csrf": "forged"}):
        response = await client.post(path, data=data, allow_redirects=False)
        assert response.status == 403
    with sessions() as session:
        assert get_ticket(session, code).status == "received"
    response = await client.post(
        path, data={"to_status": "assigned", "csrf": csrf}, allow_redirects=False
    )
    assert response.status == 302


async def test_status_change_with_a_public_note_notifies_the_resident_and_is_audited(
    client, sessions
) -> None:
    with transaction(sessions) as session:
        code = make_ticket(session, sender="web:resident1")
    csrf = await log_in(client, "an")
    response = await client.post(
        f"/console/tickets/{code}/status",
        data={
            "to_status": "assigned",
            "public_note": "Đã chuyển đội kỹ thuật",
            "internal_note": "gọi anh Bảo",
            "csrf": csrf,
        },
        allow_redirects=False,
    )
    assert response.status == 302
    with sessions() as session:
        rows = (
            session.execute(select(OutboxMessage).where(OutboxMessage.recipient == "web:resident1"))
            .scalars()
            .all()
        )
        audit = session.execute(
            select(AuditEntry).where(AuditEntry.action == "ticket_status")
        ).scalar_one()
    assert rows and rows[-1].channel == "widget" and "Đã chuyển đội kỹ thuật" in rows[-1].text
    assert (audit.actor, audit.target) == ("an", f"ticket:{code}")
    page = await (await client.get(f"/console/tickets/{code}")).text()
    assert "gọi anh Bảo" in page and "staff:an" in page


async def test_illegal_status_change_shows_why_and_changes_nothing(client, sessions) -> None:
    with transaction(sessions) as session:
        code = make_ticket(session)
    csrf = await log_in(client, "an")
    response = await client.post(
        f"/console/tickets/{code}/status", data={"to_status": "closed", "csrf": csrf}
    )
    assert "cannot move" in await response.text()
    with sessions() as session:
        assert get_ticket(session, code).status == "received"


async def test_agents_see_only_their_units_tickets(client, sessions) -> None:
    with transaction(sessions) as session:
        ours = make_ticket(session)
        theirs = make_ticket(session, unit="water_company", sender="web:w")
    await log_in(client, "an")
    listing = await (await client.get("/console/tickets")).text()
    assert ours in listing and theirs not in listing
    assert (await client.get(f"/console/tickets/{theirs}")).status == 404


async def test_ticket_filters_and_paging(client, sessions) -> None:
    with transaction(sessions) as session:
        codes = [make_ticket(session, sender=f"web:{i}") for i in range(30)]
        telegram = make_ticket(session, sender="tg:1", channel="telegram")
    await log_in(client, "ada")
    first = await (await client.get("/console/tickets")).text()
    assert "1/2" in first
    filtered = await (await client.get("/console/tickets?channel=telegram")).text()
    assert telegram in filtered and codes[0] not in filtered
    overdue = await (await client.get("/console/tickets?overdue=1&status=received")).text()
    assert "(0)" in overdue  # due in working days from 20/11/2026: not overdue yet


async def test_dates_staff_pick_and_read_are_vietnam_dates(client, sessions) -> None:
    with transaction(sessions) as session:
        # 19/11 18:30 UTC is 20/11 01:30 in Vietnam; 20/11 17:30 UTC is already 21/11.
        early = make_ticket(session, sender="web:e", now=datetime(2026, 11, 19, 18, 30))
        late = make_ticket(session, sender="web:l", now=datetime(2026, 11, 20, 17, 30))
    await log_in(client, "ada")
    day = await (await client.get("/console/tickets?from=2026-11-20&to=2026-11-20")).text()
    assert early in day and late not in day
    next_day = await (await client.get("/console/tickets?from=2026-11-21")).text()
    assert late in next_day and early not in next_day
    history = await (await client.get(f"/console/tickets/{early}")).text()
    assert "20/11/2026 01:30" in history and "UTC" not in history
    audit = await (await client.get("/console/audit")).text()
    with sessions() as session:
        login = (
            session.execute(
                select(AuditEntry.at)
                .where(AuditEntry.action == "login")
                .order_by(AuditEntry.id.desc())
            )
            .scalars()
            .first()
        )
    assert f"{login + timedelta(hours=7):%d/%m/%Y %H:%M:%S}" in audit  # Vietnam time


async def test_resident_text_is_escaped_in_ticket_and_conversation_pages(client, sessions) -> None:
    with transaction(sessions) as session:
        code = make_ticket(session, description=f"Mất nước cả ngày {XSS} ở phường 7")
        mark_seen(session, "an")
        started = handoffs.start_handoff(
            session,
            sender_id="web:x",
            channel="widget",
            language="vi",
            catalog=load_catalog(),
            now=datetime.now(timezone.utc),
            always_open=True,
        )
        intercept(session, Inbound(1, "widget", "web:x", XSS, "vi"))
    await log_in(client, "an")
    for path in (f"/console/tickets/{code}", f"/console/handoffs/{started.handoff_id}"):
        page = await (await client.get(path)).text()
        assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path


async def test_live_conversation_over_the_websocket(client, sessions) -> None:
    with transaction(sessions) as session:
        mark_seen(session, "an")
        handoff_id = handoffs.start_handoff(
            session,
            sender_id="web:live",
            channel="widget",
            language="vi",
            catalog=load_catalog(),
            now=datetime.now(timezone.utc),
            always_open=True,
        ).handoff_id
    csrf = await log_in(client, "an")
    response = await client.post(
        f"/console/handoffs/{handoff_id}/accept", data={"csrf": csrf}, allow_redirects=False
    )
    assert response.status == 302
    origin = f"http://{client.host}:{client.port}"
    ws = await client.ws_connect("/console/ws", headers={"Origin": origin})
    await ws.send_json({"type": "hello", "csrf": csrf, "watch": handoff_id})
    assert (await ws.receive_json(timeout=20))["type"] == "ready"

    def resident_writes() -> None:
        with transaction(sessions) as session:
            intercept(
                session, Inbound(1, "widget", "web:live", "Cho tôi hỏi hóa đơn tháng 10", "vi")
            )

    await asyncio.to_thread(resident_writes)
    frame = await ws.receive_json(timeout=20)
    while frame["type"] != "message":
        frame = await ws.receive_json(timeout=20)
    assert frame["message"]["text"] == "Cho tôi hỏi hóa đơn tháng 10"
    await ws.send_json(
        {"type": "reply", "handoff_id": handoff_id, "text": "Dạ, em kiểm tra ngay ạ."}
    )
    for _ in range(100):
        with sessions() as session:
            texts = [
                m.text
                for m in session.execute(
                    select(OutboxMessage).where(OutboxMessage.recipient == "web:live")
                ).scalars()
            ]
        if "Dạ, em kiểm tra ngay ạ." in texts:
            break
        await asyncio.sleep(0.1)
    assert "Dạ, em kiểm tra ngay ạ." in texts
    await ws.close()


async def test_console_socket_refuses_another_origin_and_a_missing_token(client) -> None:
    csrf = await log_in(client, "an")
    response = await client.get(
        "/console/ws",
        headers={
            "Origin": "https://evil.example",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert response.status == 403
    ws = await client.ws_connect(
        "/console/ws", headers={"Origin": f"http://{client.host}:{client.port}"}
    )
    await ws.send_json({"type": "hello", "csrf": csrf + "x"})
    message = await ws.receive(timeout=5)
    assert ws.closed or message.type.name in ("CLOSE", "CLOSED")
