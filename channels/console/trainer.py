"""The trainers' console pages: the NLU inbox, the intent list, and (admins) the model page.

The inbox shows what the assistant probably misunderstood (bot.trainer.inbox); a trainer
accepts a message, possibly edited, as an example of an intent, marks it out of scope or
ignores it (bot.trainer.review). Accepted examples go into the data folder's files
(settings NLU_DATA_DIR). The model page shows the live model and runs `tiepdan model
release` / `restore` in the background, with their output on the page.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import rasa_client
from bot.messages import InboundMessage
from bot.rasa_client import RasaUnavailable
from bot.trainer import inbox as inboxes
from bot.trainer import release as releases
from bot.trainer.masking import mask_personal_data
from bot.trainer.nlu_files import (
    DataFileError,
    intent_catalogue,
    plain_example,
    search_intents,
)
from bot.trainer.review import ReviewError, accept, ignore, mark_out_of_scope
from channels.console.auth import language_of, viewer_of
from channels.console.views import _page, in_transaction, render, row_id
from channels.keys import RASA, SESSIONS, SETTINGS

OBSERVER = web.AppKey("nlu_inbox_observer", inboxes.InboxObserver)
JOB = web.AppKey("model_job", dict)
PAGE_SIZE = 50
REASONS = {
    inboxes.FALLBACK: ("Không hiểu", "Not understood"),
    inboxes.LOW_CONFIDENCE: ("Độ tin cậy thấp", "Low confidence"),
    inboxes.BEFORE_HANDOFF: ("Trước khi gọi nhân viên", "Before asking for staff"),
    inboxes.LOW_SURVEY: ("Đánh giá 1–2 sao", "Survey score 1–2"),
}
STATUS_NAMES = {
    inboxes.PENDING: ("Chờ xử lý", "Pending"),
    inboxes.ACCEPTED: ("Đã nhận", "Accepted"),
    inboxes.OUT_OF_SCOPE: ("Ngoài phạm vi", "Out of scope"),
    inboxes.IGNORED: ("Bỏ qua", "Ignored"),
}


async def _actor(request: web.Request) -> str:
    viewer = await viewer_of(request)
    assert viewer is not None  # the guard let the request through
    return viewer.username


async def _lang(request: web.Request) -> str:
    from aiohttp_session import get_session

    return language_of(request, await get_session(request))


async def _render(request: web.Request, template: str, context: dict[str, Any], status: int = 200):
    lang = await _lang(request)
    pick = 1 if lang == "en" else 0
    return await render(
        request,
        template,
        {
            **context,
            "reason_name": lambda r: (REASONS.get(r) or (r, r))[pick],
            "inbox_status_name": lambda s: (STATUS_NAMES.get(s) or (s, s))[pick],
            "describe": lambda info: info.description[pick],
            "plain": plain_example,
        },
        status=status,
    )


def _data_dir(request: web.Request) -> Path:
    return Path(request.app[SETTINGS].nlu_data_dir)


def _item_id(request: web.Request) -> int:
    number = row_id(request.match_info["id"])
    if number is None:
        raise web.HTTPNotFound(text="no such inbox item")
    return number


# ---- inbox ------------------------------------------------------------------------------


async def inbox_page(request: web.Request) -> web.Response:
    q = request.query
    page = _page(q.get("page", ""))
    wanted = inboxes.InboxQuery(
        status=q.get("status") if q.get("status") in inboxes.STATUSES else inboxes.PENDING,
        order="frequent" if q.get("order") == "frequent" else "recent",
        search=q.get("q", "")[:200],
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )

    def load(session: Session) -> dict[str, Any]:
        inboxes.harvest_low_surveys(session)
        items, total = inboxes.list_items(session, wanted)
        return {"items": items, "total": total, "counts": inboxes.counts_by_status(session)}

    context = await in_transaction(request, load)
    pages = max(1, -(-context["total"] // PAGE_SIZE))
    base = {k: v for k, v in q.items() if k != "page" and v}
    return await _render(
        request,
        "trainer_inbox.html",
        {
            **context,
            "wanted": wanted,
            "page": page,
            "pages": pages,
            "page_link": lambda n: "?" + urlencode({**base, "page": n}),
            "statuses": inboxes.STATUSES,
            "done": q.get("done"),
        },
    )


async def item_page(request: web.Request) -> web.Response:
    item_id = _item_id(request)
    item = await in_transaction(request, lambda s: inboxes.get_item(s, item_id))
    if item is None:
        raise web.HTTPNotFound(text="no such inbox item")
    search = request.query.get("q", "")[:200]
    try:
        catalogue = intent_catalogue(_data_dir(request))
    except DataFileError as error:
        return await _render(
            request, "trainer_item.html", _item_context(item, {}, [], search, str(error))
        )
    shown = search_intents(catalogue, search)
    return await _render(
        request,
        "trainer_item.html",
        _item_context(item, catalogue, shown, search, request.query.get("error")),
    )


def _item_context(
    item: inboxes.InboxItem,
    catalogue: dict[str, Any],
    shown: list[Any],
    search: str,
    error: str | None,
) -> dict[str, Any]:
    chosen = item.resolved_intent or (item.intent if item.intent in catalogue else None)
    return {
        "item": item,
        "intents": shown,
        "all_intents": list(catalogue),
        "chosen": chosen,
        "search": search,
        "error": error,
    }


async def _decide(request: web.Request, decide) -> web.StreamResponse:  # type: ignore[no-untyped-def]
    item_id = _item_id(request)
    form = {k: str(v) for k, v in (await request.post()).items()}
    actor = await _actor(request)
    lang = await _lang(request)
    data_dir = _data_dir(request)
    try:
        decision = await in_transaction(
            request, lambda s: decide(s, item_id, form, actor, data_dir)
        )
    except ReviewError as error:
        raise web.HTTPFound(
            f"/console/trainer/inbox/{item_id}?" + urlencode({"error": error.say(lang)})
        ) from error
    done = decision.status
    if decision.file:
        done += f":{decision.file}:{decision.line_number}"
    raise web.HTTPFound("/console/trainer/inbox?" + urlencode({"done": done}))


async def item_accept(request: web.Request) -> web.StreamResponse:
    def decide(session: Session, item_id: int, form: dict[str, str], actor: str, data_dir: Path):  # type: ignore[no-untyped-def]
        return accept(
            session,
            item_id,
            intent=form.get("intent", "").strip(),
            text=form.get("text", ""),
            actor=actor,
            data_dir=data_dir,
            language=form.get("language"),
        )

    return await _decide(request, decide)


async def item_out_of_scope(request: web.Request) -> web.StreamResponse:
    def decide(session: Session, item_id: int, form: dict[str, str], actor: str, data_dir: Path):  # type: ignore[no-untyped-def]
        return mark_out_of_scope(
            session, item_id, actor=actor, data_dir=data_dir, text=form.get("text") or None
        )

    return await _decide(request, decide)


async def item_ignore(request: web.Request) -> web.StreamResponse:
    def decide(session: Session, item_id: int, form: dict[str, str], actor: str, data_dir: Path):  # type: ignore[no-untyped-def]
        return ignore(session, item_id, actor=actor)

    return await _decide(request, decide)


async def conversation_page(request: web.Request) -> web.Response:
    """The resident's messages around the inbox item's latest sighting, masked."""
    item_id = _item_id(request)

    def load(session: Session) -> dict[str, Any]:
        item = inboxes.get_item(session, item_id)
        if item is None or not item.sender_id:
            raise web.HTTPNotFound(text="no conversation for this item")
        query = select(InboundMessage).where(InboundMessage.sender_id == item.sender_id)
        if item.message_id is not None:
            query = query.where(InboundMessage.id <= item.message_id + 10)
        rows = list(session.execute(query.order_by(InboundMessage.id.desc()).limit(30)).scalars())
        lines = [
            {
                "at": row.received_at,
                "text": mask_personal_data(row.text),
                "this": row.id == item.message_id,
            }
            for row in reversed(rows)
        ]
        return {"item": item, "lines": lines, "channel": item.sender_id.split(":", 1)[0]}

    return await _render(request, "trainer_conversation.html", await in_transaction(request, load))


async def intents_page(request: web.Request) -> web.Response:
    search = request.query.get("q", "")[:200]
    try:
        catalogue = intent_catalogue(_data_dir(request))
        error = None
    except DataFileError as problem:
        catalogue, error = {}, str(problem)
    return await _render(
        request,
        "trainer_intents.html",
        {"intents": search_intents(catalogue, search), "search": search, "error": error},
    )


# ---- model (admins) ---------------------------------------------------------------------


def _job_state(app: web.Application) -> dict[str, Any]:
    job = app[JOB]
    process: subprocess.Popen | None = job.get("process")
    log_path: Path | None = job.get("log")
    tail = ""
    if log_path is not None and log_path.exists():
        tail = "".join(log_path.read_text(errors="replace").splitlines(keepends=True)[-40:])
    return {
        "running": process is not None and process.poll() is None,
        "exit_code": None if process is None else process.poll(),
        "kind": job.get("kind"),
        "log_tail": tail,
    }


async def model_page(request: web.Request) -> web.Response:
    def load(session: Session) -> dict[str, Any]:
        live = releases.live_release(session)
        return {"live": live, "history": releases.history(session)}

    context = await in_transaction(request, load)
    try:
        served = (await request.app[RASA].status()).get("model_file")
    except RasaUnavailable:
        served = None
    live = context["live"]
    figures = live.figures_dict if live is not None else {}
    return await _render(
        request,
        "trainer_model.html",
        {
            **context,
            "served": served,
            "figures": figures,
            "job": _job_state(request.app),
            "margin": request.app[SETTINGS].release_max_f1_drop,
            "error": request.query.get("error"),
            "restored": request.query.get("restored") == "1",
        },
    )


def _child_env(settings: Any) -> dict[str, str]:
    """The release runs as `tiepdan model release` in a child process (it trains and loads
    TensorFlow); it must see the same settings as this gateway."""
    return {
        **os.environ,
        "TIEPDAN_HOME": str(settings.root),
        "TIEPDAN_VAR_DIR": str(settings.var_dir),
        "TIEPDAN_MODELS_DIR": str(settings.models_dir),
        "TIEPDAN_DATABASE_URL": settings.database_url,
        "RASA_PORT": str(settings.rasa_port),
        "RASA_TOKEN": settings.rasa_token,
        "NLU_DATA_DIR": str(settings.nlu_data_dir),
        "RELEASE_MAX_F1_DROP": str(settings.release_max_f1_drop),
    }


def _start_release(app: web.Application, argv: list[str]) -> None:
    settings = app[SETTINGS]
    log_path = Path(settings.var_dir) / "logs" / "model-release.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "model", "release", *argv],
            cwd=settings.root,
            env=_child_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    app[JOB].update(process=process, log=log_path, kind="release")


async def _audit(request: web.Request, actor: str, action: str, detail: str | None) -> None:
    from bot.console import record_action

    await in_transaction(
        request, lambda s: record_action(s, actor=actor, action=action, detail=detail)
    )


async def model_release(request: web.Request) -> web.StreamResponse:
    if _job_state(request.app)["running"]:
        raise web.HTTPFound("/console/model")
    form = {k: str(v) for k, v in (await request.post()).items()}
    actor = await _actor(request)
    argv = ["--actor", actor, *(["--force"] if form.get("force") == "1" else [])]
    await _audit(request, actor, "model_release", "force" if "--force" in argv else None)
    _start_release(request.app, argv)
    raise web.HTTPFound("/console/model")


async def model_restore(request: web.Request) -> web.StreamResponse:
    """Quick (no training, no evaluation): done here, in a worker thread."""
    actor = await _actor(request)
    settings = request.app[SETTINGS]
    server = releases.RasaServer(settings.rasa_url, settings.rasa_token)

    try:
        restored = await asyncio.to_thread(
            releases.restore, request.app[SESSIONS], server, actor=actor
        )
    except releases.RasaSwapFailed as error:
        raise web.HTTPFound("/console/model?" + urlencode({"error": str(error)})) from error
    await _audit(request, actor, "model_restore", restored.model_file[-200:])
    raise web.HTTPFound("/console/model?restored=1")


# ---- wiring -----------------------------------------------------------------------------


def setup_trainer(app: web.Application) -> None:
    """Routes, and the inbox observer on the gateway's Rasa client for the app's lifetime."""

    async def observe(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        observer = inboxes.InboxObserver(
            app[SESSIONS],
            settings.nlu_inbox_threshold,
            domain=Path(settings.root) / "domain.yml",
        )
        app[OBSERVER] = observer
        rasa_client.NLU_OBSERVERS.append(observer)
        yield
        rasa_client.NLU_OBSERVERS.remove(observer)
        await observer.drain()
        process = app[JOB].get("process")
        if process is not None and process.poll() is None:
            process.terminate()

    app[JOB] = {}
    app.cleanup_ctx.append(observe)
    add = app.router
    add.add_get("/console/trainer/inbox", inbox_page, name="console.trainer_inbox")
    add.add_get("/console/trainer/inbox/{id}", item_page, name="console.trainer_item")
    add.add_post("/console/trainer/inbox/{id}/accept", item_accept, name="console.trainer_accept")
    add.add_post(
        "/console/trainer/inbox/{id}/out_of_scope",
        item_out_of_scope,
        name="console.trainer_out_of_scope",
    )
    add.add_post("/console/trainer/inbox/{id}/ignore", item_ignore, name="console.trainer_ignore")
    add.add_get(
        "/console/trainer/inbox/{id}/conversation",
        conversation_page,
        name="console.trainer_conversation",
    )
    add.add_get("/console/trainer/intents", intents_page, name="console.trainer_intents")
    add.add_get("/console/model", model_page, name="console.model")
    add.add_post("/console/model/release", model_release, name="console.model_release")
    add.add_post("/console/model/restore", model_restore, name="console.model_restore")
