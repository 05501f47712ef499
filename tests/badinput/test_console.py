"""Console forms and pages against hostile input: log-in fields, ticket notes and status
changes, filters and paging in the query string, ticket codes in the path. No 5xx, resident
and staff text always shown escaped, and a refused change leaves the ticket as it was."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.db import transaction
from bot.tickets.models import Ticket, TicketEvent
from channels.app import create_app
from tests.badinput.conftest import corpus_strings
from tests.unit.console import conftest as console
from tests.unit.console.conftest import csrf_in, log_in, make_ticket

# The console tests' fixtures: the real app, a migrated database with staff accounts.
rasa_probe = console.rasa_probe
template_database = console.template_database
settings = console.settings
sessions = console.sessions

STRINGS = corpus_strings()
HOSTILE = [c["text"] for c in STRINGS if c["kind"] in ("html", "sql", "bidi", "format", "path")]
RAW_TAG = re.compile(r"<(script|img|svg|iframe|style|meta|details|math)\b", re.I)


async def started(settings) -> TestClient:
    unlimited = settings.with_overrides(rate_limit_login=0, rate_limit_per_address=0)
    client = TestClient(TestServer(create_app(unlimited)))
    await client.start_server()
    return client


def encodable(text: str) -> bool:
    """What a browser can send at all (not lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def no_raw_tags(page: str) -> None:
    """Tags only where our templates put them: none of the hostile ones."""
    body = page.split("<body", 1)[-1]
    assert not RAW_TAG.search(body.replace("<script src=", "")), RAW_TAG.search(body)


async def test_hostile_log_in_fields_are_refused_plainly(settings) -> None:
    client = await started(settings)
    try:
        # One text of each kind (each attempt costs a memory-hard hash on purpose).
        firsts = {c["kind"]: c["text"] for c in reversed(STRINGS) if encodable(c["text"])}
        typed = list(firsts.values())
        for text in typed + ["an' --", "an\x00", "AN", " an "]:
            page = await client.get("/console/login")
            token = csrf_in(await page.text())
            response = await client.post(
                "/console/login",
                data={"username": text, "password": text, "csrf": token},
                allow_redirects=False,
            )
            assert response.status < 500, repr(text[:40])
            assert response.status != 302, repr(text[:40])  # never logged in
            no_raw_tags(await response.text())
    finally:
        await client.close()


async def test_hostile_notes_and_statuses_are_stored_as_text_and_shown_escaped(
    settings,
    sessions,
) -> None:
    with transaction(sessions) as session:
        code = make_ticket(session, description="<script>alert('resident')</script> nước đục")
        status_before = session.scalar(select(Ticket.status).where(Ticket.code == code))
    client = await started(settings)
    try:
        csrf = await log_in(client, "an")
        for text in HOSTILE:
            response = await client.post(
                f"/console/tickets/{code}/note",
                data={"note": text, "csrf": csrf},
                allow_redirects=False,
            )
            assert response.status in (302, 303), repr(text[:40])
        for status in ["resolved' OR 1=1", "<b>closed</b>", "", "x" * 5000, "in_progress\x00"]:
            response = await client.post(
                f"/console/tickets/{code}/status",
                data={"to_status": status, "public_note": "<script>x</script>", "csrf": csrf},
                allow_redirects=False,
            )
            assert response.status in (302, 303), repr(status[:40])
            assert "error=" in response.headers["Location"]
        for assignee in ["../../admin", "<script>", "' OR 1=1 --", "x" * 5000]:
            response = await client.post(
                f"/console/tickets/{code}/assign",
                data={"assignee": assignee, "csrf": csrf},
                allow_redirects=False,
            )
            assert response.status < 500, assignee[:40]
        page = await (await client.get(f"/console/tickets/{code}")).text()
        no_raw_tags(page)
        assert "&lt;script&gt;alert(" in page  # the resident's description, as text
        with sessions() as session:
            ticket = session.scalar(select(Ticket).where(Ticket.code == code))
            assert ticket.status == status_before  # no refused status change went through
            notes = session.scalars(
                select(TicketEvent.internal_note).where(TicketEvent.ticket_id == ticket.id)
            ).all()
        stored = {note for note in notes if note}
        assert sum(text.strip() in stored for text in HOSTILE if text.strip()) >= len(HOSTILE) - 5
    finally:
        await client.close()


async def test_hostile_filters_and_paths_never_cause_a_server_error(
    settings,
    sessions,
) -> None:
    with transaction(sessions) as session:
        make_ticket(session)
    client = await started(settings)
    try:
        await log_in(client, "ada")
        queries = [
            {"page": "-1"},
            {"page": "0"},
            {"page": "9" * 5000},
            {"page": str(10**20)},
            {"page": "1.5"},
            {"from": "2026-13-45"},
            {"from": "' OR 1=1 --", "to": "<script>alert(1)</script>"},
            {"to": "9999-12-31"},
            {"from": "0001-01-01"},
            {"unit": "<script>alert(1)</script>"},
            {"unit": "../../etc/passwd"},
            {"status": "' OR '1'='1"},
            {"category": "{{7*7}}"},
            {"channel": "\u202etelegram"},
            {"overdue": "1; DROP TABLE tickets"},
            {"q": "x" * 5000},
        ]
        for query in queries:
            response = await client.get("/console/tickets", params=query)
            assert response.status == 200, query
            no_raw_tags(await response.text())
        for code in [
            "../../etc/passwd",
            "PA-2611-ABCDE' OR '1'='1",
            "<script>alert(1)</script>",
            "%00",
            "x" * 3000,
            "PA-0000-00000",
        ]:
            response = await client.get(f"/console/tickets/{code}")
            assert response.status in (400, 404), code[:40]
            no_raw_tags(await response.text())
        for path in ["/console/handoffs/<script>", "/console/handoffs/99999999999999999999999"]:
            response = await client.get(path)
            assert response.status in (400, 404), path
    finally:
        await client.close()


async def test_state_changes_without_the_csrf_token_are_refused(settings, sessions) -> None:
    with transaction(sessions) as session:
        code = make_ticket(session)
    client = await started(settings)
    try:
        csrf = await log_in(client, "an")
        for token in [None, "", "x", csrf[:-1], csrf + "x", "' OR 1=1 --"]:
            data = {"note": "ghi chú"} if token is None else {"note": "ghi chú", "csrf": token}
            response = await client.post(
                f"/console/tickets/{code}/note", data=data, allow_redirects=False
            )
            assert response.status == 403, token
        with sessions() as session:
            ticket = session.scalar(select(Ticket).where(Ticket.code == code))
            notes = session.scalars(
                select(TicketEvent.internal_note).where(TicketEvent.ticket_id == ticket.id)
            ).all()
        assert "ghi chú" not in notes
    finally:
        await client.close()


PATH_VALUES = ["99999999999999999999999", "-1", "0", "<script>", "' OR 1=1 --", "%2e%2e", "ạ"]


async def test_every_console_route_takes_hostile_path_values(settings) -> None:
    """Table-driven over the router, so a new page with an id in its path is covered too."""
    client = await started(settings)
    try:
        csrf = await log_in(client, "ada")
        routes = [
            (route.method, route.resource.canonical)
            for route in client.server.app.router.routes()
            if route.resource is not None
            and route.resource.canonical.startswith("/console/")
            and "{" in route.resource.canonical
            and route.method in ("GET", "POST")
        ]
        assert len(routes) >= 5
        for method, pattern in routes:
            for value in PATH_VALUES:
                path = re.sub(r"\{[^}]+\}", value, pattern)
                if method == "GET":
                    response = await client.get(path, allow_redirects=False)
                else:
                    response = await client.post(
                        path, data={"csrf": csrf, "note": "x"}, allow_redirects=False
                    )
                assert response.status < 500, (method, path)
    finally:
        await client.close()
