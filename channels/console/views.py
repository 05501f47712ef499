"""The console's pages: log-in, queue, a conversation with a resident, tickets.

Views only translate HTTP into `bot` service calls inside one transaction and render the
result; every state change is written to the audit log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session, new_session
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import handoff as handoffs
from bot.calendar import VIETNAM
from bot.console import LoginRefused, authenticate, record_action
from bot.console.models import AuditEntry
from bot.console.tickets import TicketFilter, Viewer, add_internal_note, list_tickets, ticket_for
from bot.db import transaction
from bot.tickets import (
    CATEGORIES,
    CHANNELS,
    STATUSES,
    TRANSITIONS,
    TicketError,
    TicketNotFound,
    assign,
    change_status,
    list_open_for,
)
from bot.tickets.messages import category_name, status_name
from channels.console.auth import csrf_token, language_of, viewer_of
from channels.console.keys import TEMPLATES
from channels.keys import SESSIONS

T = TypeVar("T")
AUTHORS = {
    "resident": ("Người dân", "Resident"),
    "agent": ("Nhân viên", "Staff"),
    "system": ("Hệ thống", "System"),
}
# What the handoff's system lines (close reasons) say in the transcript.
SYSTEM_LINES = {
    "closed_by_staff": ("Nhân viên đã kết thúc trò chuyện.", "Staff closed the conversation."),
    "idle": ("Trò chuyện tự kết thúc vì im lặng lâu.", "Closed after a long silence."),
    "resident_cancelled": ("Người dân đã thôi chờ.", "The resident stopped waiting."),
    "requeued": (
        "Nhân viên rời đi; trò chuyện trở lại hàng chờ.",
        "The agent left; back in the queue.",
    ),
}


async def in_transaction(request: web.Request, work: Callable[[Session], T]) -> T:
    def run() -> T:
        with transaction(request.app[SESSIONS]) as session:
            return work(session)

    return await asyncio.to_thread(run)


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def local_time(moment: datetime | None, seconds: bool = False) -> str:
    """A stored (naive UTC) moment as staff read it: Vietnam time."""
    if moment is None:
        return ""
    shown = moment.replace(tzinfo=timezone.utc).astimezone(VIETNAM)
    return f"{shown:%d/%m/%Y %H:%M:%S}" if seconds else f"{shown:%d/%m/%Y %H:%M}"


async def render(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    session = await get_session(request)
    lang = language_of(request, session)
    viewer = await viewer_of(request)
    return aiohttp_jinja2.render_template(
        template,
        request,
        {
            **context,
            "lang": lang,
            "tr": (lambda vi, en: en if lang == "en" else vi),
            "viewer": viewer,
            "csrf": await csrf_token(request),
            "status_name": lambda s: status_name(s, lang),
            "category_name": lambda c: category_name(c, lang),
            "author_name": lambda a: (AUTHORS.get(a) or (a, a))[lang == "en"],
            "system_text": lambda code: (SYSTEM_LINES.get(code) or (code, code))[lang == "en"],
            "path": request.path,
            "local_time": local_time,
            # The other language, on the same page with the same filters.
            "other_lang_link": "?"
            + urlencode({**request.query, "lang": "vi" if lang == "en" else "en"}),
        },
        app_key=TEMPLATES,
        status=status,
    )


async def _viewer(request: web.Request) -> Viewer:
    viewer = await viewer_of(request)
    assert viewer is not None  # the guard let the request through
    return viewer


async def _form(request: web.Request) -> dict[str, str]:
    return {k: str(v) for k, v in (await request.post()).items()}


# ---- log-in -----------------------------------------------------------------------------


async def login_page(request: web.Request) -> web.Response:
    return await render(
        request, "login.html", {"error": None, "next": request.query.get("next", "")}
    )


def _safe_next(target: str) -> str:
    return target if target.startswith("/console/") and not target.startswith("//") else "/console/"


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    username, password = form.get("username", "").strip().lower(), form.get("password", "")

    def check(session: Session) -> tuple[dict[str, Any] | None, bool]:
        try:
            account = authenticate(session, username, password)
        except LoginRefused as refused:
            return None, refused.locked
        return {
            "username": account.username,
            "role": account.role,
            "unit_id": account.unit_id,
        }, False

    user, locked = await in_transaction(request, check)
    if user is None:
        error = "locked" if locked else "wrong"
        return await render(
            request,
            "login.html",
            {"error": error, "next": form.get("next", "")},
            status=403 if locked else 401,
        )
    lang = (await get_session(request)).get("lang")
    session = await new_session(request)  # a fresh session id and CSRF token after log-in
    session["user"] = user
    if lang:
        session["lang"] = lang
    await csrf_token(request)
    raise web.HTTPFound(_safe_next(form.get("next", "")))


async def logout(request: web.Request) -> web.StreamResponse:
    viewer = await _viewer(request)
    await in_transaction(
        request, lambda s: record_action(s, actor=viewer.username, action="logout")
    )
    (await get_session(request)).invalidate()
    raise web.HTTPFound("/console/login")


async def set_language(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    session = await get_session(request)
    session["lang"] = "en" if form.get("lang") == "en" else "vi"
    raise web.HTTPFound(_safe_next(form.get("next", "")))


async def home(request: web.Request) -> web.StreamResponse:
    viewer = await _viewer(request)
    if viewer.role == "trainer":
        return await render(request, "home.html", {})
    raise web.HTTPFound("/console/queue")


# ---- queue and conversations ------------------------------------------------------------


def _unit_scope(viewer: Viewer) -> str | None:
    return None if viewer.role == "admin" else viewer.unit_id or "-"


def _queue_rows(session: Session, viewer: Viewer) -> dict[str, list[dict[str, Any]]]:
    now = utcnow()
    scope = _unit_scope(viewer)

    def row(h: handoffs.Handoff) -> dict[str, Any]:
        return {
            "id": h.id,
            "sender_id": h.sender_id,
            "channel": h.channel,
            "language": h.language,
            "agent": h.agent,
            "status": h.status,
            "wait_minutes": int((now - h.requested_at).total_seconds() // 60),
            "wait_seconds": int((now - h.requested_at).total_seconds()),
        }

    return {
        "waiting": [row(h) for h in handoffs.waiting(session, scope)],
        "active": [row(h) for h in handoffs.active(session, scope)],
    }


async def queue_page(request: web.Request) -> web.Response:
    viewer = await _viewer(request)
    rows = await in_transaction(request, lambda s: _queue_rows(s, viewer))
    return await render(request, "queue.html", rows)


async def queue_json(request: web.Request) -> web.Response:
    viewer = await _viewer(request)
    return web.json_response(await in_transaction(request, lambda s: _queue_rows(s, viewer)))


def row_id(value: str) -> int | None:
    """A database id from a URL, or None for anything that cannot be one (too many digits
    would overflow the database's integer)."""
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def _handoff_for(session: Session, viewer: Viewer, handoff_id: str) -> handoffs.Handoff:
    number = row_id(handoff_id)
    handoff = handoffs.get_handoff(session, number) if number is not None else None
    if handoff is None or not viewer.sees_unit(handoff.unit_id):
        raise web.HTTPNotFound(text="no such conversation")
    return handoff


async def handoff_page(request: web.Request) -> web.Response:
    viewer = await _viewer(request)

    def load(session: Session) -> dict[str, Any]:
        handoff = _handoff_for(session, viewer, request.match_info["id"])
        return {
            "handoff": handoff,
            "transcript": handoffs.transcript(session, handoff),
            "tickets": list_open_for(session, handoff.sender_id, limit=10),
            "mine": handoff.status == handoffs.ACTIVE and handoff.agent == viewer.username,
        }

    return await render(request, "conversation.html", await in_transaction(request, load))


async def handoff_accept(request: web.Request) -> web.StreamResponse:
    viewer = await _viewer(request)

    def accept(session: Session) -> None:
        handoff = _handoff_for(session, viewer, request.match_info["id"])
        try:
            handoffs.accept(session, handoff, viewer.username)
        except handoffs.HandoffError as error:
            raise web.HTTPConflict(text=str(error)) from error
        record_action(
            session, actor=viewer.username, action="handoff_accept", target=f"handoff:{handoff.id}"
        )

    await in_transaction(request, accept)
    await _push_widget(request, request.match_info["id"])
    raise web.HTTPFound(f"/console/handoffs/{request.match_info['id']}")


async def handoff_close(request: web.Request) -> web.StreamResponse:
    viewer = await _viewer(request)

    def close(session: Session) -> str:
        handoff = _handoff_for(session, viewer, request.match_info["id"])
        if (
            handoff.status == handoffs.ACTIVE
            and handoff.agent != viewer.username
            and viewer.role == "agent"
        ):
            raise web.HTTPForbidden(text="another agent holds this conversation")
        handoffs.close(session, handoff, actor=viewer.username, reason="closed_by_staff")
        record_action(
            session, actor=viewer.username, action="handoff_close", target=f"handoff:{handoff.id}"
        )
        return handoff.sender_id

    await in_transaction(request, close)
    from channels.console.live import resume_closed

    await _push_widget(request, request.match_info["id"])
    await resume_closed(request.app)
    raise web.HTTPFound("/console/queue")


async def takeover(request: web.Request) -> web.StreamResponse:
    viewer = await _viewer(request)
    form = await _form(request)

    def take(session: Session) -> tuple[int, str]:
        ticket = ticket_for(session, viewer, form.get("ticket", ""))
        handoff = handoffs.take_over(
            session,
            sender_id=ticket.sender_id,
            channel=ticket.channel,
            language=ticket.language,
            agent=viewer.username,
            unit_id=viewer.unit_id or handoffs.CARE_UNIT,
        )
        record_action(
            session,
            actor=viewer.username,
            action="handoff_takeover",
            target=f"handoff:{handoff.id}",
            detail=ticket.code,
        )
        return handoff.id, handoff.sender_id

    try:
        handoff_id, _sender_id = await in_transaction(request, take)
    except TicketNotFound as error:
        raise web.HTTPNotFound(text=str(error)) from error
    from channels.console.live import pause_held

    await pause_held(request.app)  # the interceptor already holds the messages
    raise web.HTTPFound(f"/console/handoffs/{handoff_id}")


async def _push_widget(request: web.Request, handoff_id: str) -> None:
    from channels.console.live import push_to_resident

    await push_to_resident(request.app, int(handoff_id))


# ---- tickets ----------------------------------------------------------------------------


def _date(value: str | None) -> date | None:
    """A filter date; nonsense, and dates outside 2000–2100 (no ticket there), are ignored."""
    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    return day if day is not None and 2000 <= day.year <= 2100 else None


MAX_PAGE = 100_000


def _page(value: str) -> int:
    """The page asked for; anything that is not a sensible page number is the first page."""
    if not value.isascii() or not value.isdigit() or len(value) > 6:
        return 1
    return min(max(int(value), 1), MAX_PAGE)


async def tickets_page(request: web.Request) -> web.Response:
    viewer = await _viewer(request)
    q = request.query
    wanted = TicketFilter(
        status=q.get("status") if q.get("status") in STATUSES else None,
        category=q.get("category") if q.get("category") in CATEGORIES else None,
        unit_id=q.get("unit") or None,
        channel=q.get("channel") if q.get("channel") in CHANNELS else None,
        overdue=q.get("overdue") == "1",
        created_from=_date(q.get("from")),
        created_to=_date(q.get("to")),
        page=_page(q.get("page", "")),
    )
    today = datetime.now(VIETNAM).date()
    page = await in_transaction(request, lambda s: list_tickets(s, viewer, wanted, today))
    base = {k: v for k, v in q.items() if k != "page" and v}
    return await render(
        request,
        "tickets.html",
        {
            "page": page,
            "wanted": wanted,
            "query": q,
            "today": today,
            "statuses": STATUSES,
            "categories": CATEGORIES,
            "channels": CHANNELS,
            "page_link": lambda n: "?" + urlencode({**base, "page": n}),
        },
    )


async def ticket_page(request: web.Request) -> web.Response:
    viewer = await _viewer(request)

    def load(session: Session) -> dict[str, Any]:
        ticket = ticket_for(session, viewer, request.match_info["code"])
        return {
            "ticket": ticket,
            "events": list(ticket.events),
            "next_statuses": sorted(TRANSITIONS.get(ticket.status, ())),
            "handoff": handoffs.open_handoff_for(session, ticket.sender_id),
        }

    try:
        context = await in_transaction(request, load)
    except TicketNotFound as error:
        raise web.HTTPNotFound(text=str(error)) from error
    return await render(request, "ticket.html", {**context, "error": request.query.get("error")})


async def _ticket_change(
    request: web.Request, change: Callable[[Session, Viewer, dict[str, str]], str]
) -> web.StreamResponse:
    viewer = await _viewer(request)
    form = await _form(request)
    code = request.match_info["code"]

    def work(session: Session) -> None:
        ticket = ticket_for(session, viewer, code)
        detail = change(session, viewer, {**form, "code": ticket.code})
        record_action(
            session,
            actor=viewer.username,
            action=detail.split(":")[0],
            target=f"ticket:{ticket.code}",
            detail=detail,
        )

    try:
        await in_transaction(request, work)
    except TicketNotFound as error:
        raise web.HTTPNotFound(text=str(error)) from error
    except (TicketError, ValueError) as error:
        raise web.HTTPFound(
            # Shortened: the reason may quote what was typed, and a redirect must stay small.
            f"/console/tickets/{code}?" + urlencode({"error": str(error)[:300]})
        ) from error
    raise web.HTTPFound(f"/console/tickets/{code}")


async def ticket_status(request: web.Request) -> web.StreamResponse:
    def change(session: Session, viewer: Viewer, form: dict[str, str]) -> str:
        change_status(
            session,
            form["code"],
            form.get("to_status", ""),
            actor=viewer.actor,
            public_note=form.get("public_note"),
            internal_note=form.get("internal_note"),
        )
        return f"ticket_status:{form.get('to_status')}"

    return await _ticket_change(request, change)


async def ticket_assign(request: web.Request) -> web.StreamResponse:
    def change(session: Session, viewer: Viewer, form: dict[str, str]) -> str:
        target = form.get("assignee", "").strip()
        if not target:
            raise ValueError("say whom to assign it to")
        if not target.startswith("staff:") and viewer.role != "admin" and target != viewer.unit_id:
            raise ValueError("only an admin moves a ticket to another unit")
        assign(session, form["code"], target, viewer.actor, internal_note=form.get("internal_note"))
        return f"ticket_assign:{target}"

    return await _ticket_change(request, change)


async def ticket_note(request: web.Request) -> web.StreamResponse:
    def change(session: Session, viewer: Viewer, form: dict[str, str]) -> str:
        add_internal_note(
            session, ticket_for(session, viewer, form["code"]), viewer, form.get("note", "")
        )
        return "ticket_note"

    return await _ticket_change(request, change)


async def audit_page(request: web.Request) -> web.Response:
    entries = await in_transaction(
        request,
        lambda s: list(
            s.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(200)).scalars()
        ),
    )
    return await render(request, "audit.html", {"entries": entries})


def setup_routes(app: web.Application, static_dir: str) -> None:
    add = app.router
    add.add_get("/console/login", login_page, name="console.login")
    add.add_post("/console/login", login_submit, name="console.login_submit")
    add.add_post("/console/logout", logout, name="console.logout")
    add.add_post("/console/language", set_language, name="console.language")
    add.add_get("/console/", home, name="console.home")
    add.add_get("/console/queue", queue_page, name="console.queue")
    add.add_get("/console/queue.json", queue_json, name="console.queue_json")
    add.add_get("/console/handoffs/{id}", handoff_page, name="console.handoff")
    add.add_post("/console/handoffs/{id}/accept", handoff_accept, name="console.handoff_accept")
    add.add_post("/console/handoffs/{id}/close", handoff_close, name="console.handoff_close")
    add.add_post("/console/takeover", takeover, name="console.takeover")
    add.add_get("/console/tickets", tickets_page, name="console.tickets")
    add.add_get("/console/tickets/{code}", ticket_page, name="console.ticket")
    add.add_post("/console/tickets/{code}/status", ticket_status, name="console.ticket_status")
    add.add_post("/console/tickets/{code}/assign", ticket_assign, name="console.ticket_assign")
    add.add_post("/console/tickets/{code}/note", ticket_note, name="console.ticket_note")
    add.add_get("/console/audit", audit_page, name="console.audit")
    add.add_static("/console/static", static_dir, name="console.static")
