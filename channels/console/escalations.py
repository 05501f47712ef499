"""The supervisors' escalations page: overdue tickets escalated by the gateway's duties and
low survey scores that started service recovery, for the supervisor's unit (admins: all),
each with a link to its ticket (or conversation) and an acknowledge / handled action that
goes to the audit log."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.orm import Session

from bot.console import record_action
from bot.console.escalations import (
    KINDS,
    SHOW,
    Escalation,
    EscalationNotFound,
    acknowledge,
    list_escalations,
    mark_handled,
)
from bot.reports.render import local
from bot.surveys import LABELS
from channels.console.dashboard import catalog_names, unit_label
from channels.console.views import _form, _viewer, in_transaction, render, row_id


async def escalations_page(request: web.Request) -> web.Response:
    viewer = await _viewer(request)
    show = request.query.get("show") if request.query.get("show") in SHOW else "open"
    kind = request.query.get("kind") if request.query.get("kind") in KINDS else None
    found = await in_transaction(request, lambda s: list_escalations(s, viewer, show, kind))
    names = catalog_names(request)
    return await render(
        request,
        "escalations.html",
        {
            "escalations": found,
            "show": show,
            "kind": kind,
            "score_label": lambda score, lang: LABELS["en" if lang == "en" else "vi"][score - 1],
            "unit_label": lambda unit, lang: unit_label(names, unit, lang),
            "local": local,
            "error": request.query.get("error"),
            "filter_link": lambda **change: (
                "?"
                + urlencode({k: v for k, v in {"show": show, "kind": kind, **change}.items() if v})
            ),
        },
    )


async def _act(request: web.Request, action: str) -> web.StreamResponse:
    viewer = await _viewer(request)
    form = await _form(request)
    kind, ref = request.match_info["kind"], request.match_info["id"]
    number = row_id(ref)
    if kind not in KINDS or number is None:
        raise web.HTTPNotFound(text="no such escalation")

    def work(session: Session) -> Escalation:
        if action == "escalation_handled":
            done = mark_handled(session, viewer, kind, number, form.get("note"))
        else:
            done = acknowledge(session, viewer, kind, number)
        record_action(
            session,
            actor=viewer.username,
            action=action,
            target=f"escalation:{kind}/{ref}",
            detail=_detail(done, form.get("note")),
        )
        return done

    try:
        await in_transaction(request, work)
    except EscalationNotFound as error:
        raise web.HTTPNotFound(text="no such escalation") from error
    back = form.get("back", "")
    raise web.HTTPFound(
        "/console/escalations" + (back if back.startswith("?") and "//" not in back else "")
    )


def _detail(escalation: Escalation, note: str | None) -> str:
    about = escalation.ticket_code or (
        f"handoff:{escalation.handoff_id}" if escalation.handoff_id else "conversation"
    )
    note = (note or "").strip()
    return about + (f" — {note[:200]}" if note else "")


async def escalation_acknowledge(request: web.Request) -> web.StreamResponse:
    return await _act(request, "escalation_ack")


async def escalation_handled(request: web.Request) -> web.StreamResponse:
    return await _act(request, "escalation_handled")


def setup_escalations(app: web.Application) -> None:
    add = app.router
    add.add_get("/console/escalations", escalations_page, name="console.escalations")
    add.add_post(
        "/console/escalations/{kind}/{id}/acknowledge",
        escalation_acknowledge,
        name="console.escalation_ack",
    )
    add.add_post(
        "/console/escalations/{kind}/{id}/handled",
        escalation_handled,
        name="console.escalation_handled",
    )
