"""A resident's data spread over every table, in a fresh application database and a fresh
Rasa tracker store (written by Rasa's own SQLTrackerStore), on SQLite and, when
TIEPDAN_TEST_POSTGRES_URL is set, on PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

import bot.schema  # noqa: F401
from bot import attachments, messages, outbox, widget_messages
from bot.calendar import WorkingCalendar
from bot.console.models import EscalationAck
from bot.db import Base, make_engine, make_session_factory, transaction, upgrade
from bot.handoff import Handoff, HandoffMessage
from bot.surveys import Survey
from bot.tickets import change_status, open_ticket
from bot.tickets.models import TicketLookupMiss
from tests.unit.tickets.conftest import backends, fresh_database

NOW = datetime(2026, 11, 23, 2, 0)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass(frozen=True)
class Resident:
    """Who a test erases: every string that identifies them."""

    sender_id: str
    raw_id: str
    channel: str
    name: str
    phone: str
    address: str
    text: str

    @property
    def needles(self) -> list[str]:
        digits = "".join(ch for ch in self.phone if ch.isdigit())
        return [self.sender_id, self.raw_id, self.name, self.phone, digits, self.address]


HOA = Resident(
    "tg:987654321", "987654321", "telegram", "Nguyễn Thị Hoa", "0912 345 678",
    "27 Hàng Bạc, phường 7", "Cống trước nhà 27 Hàng Bạc bị tắc, mùi hôi lắm ạ",
)  # fmt: skip
WIDGET_HOA = Resident(
    "web:Wq3xYy8PqR1sT2uV4wZ5", "Wq3xYy8PqR1sT2uV4wZ5", "widget", "Nguyễn Thị Hoa",
    "0987 111 222", "9 Tràng Tiền", "Đèn đường ở 9 Tràng Tiền không sáng",
)  # fmt: skip
# Someone else, whose data must survive an erasure of Hoa's.
BINH = Resident(
    "tg:555000111", "555000111", "telegram", "Trần Văn Bình", "0903 222 333",
    "5 Lý Thái Tổ", "Rác chưa được thu ở 5 Lý Thái Tổ",
)  # fmt: skip


@dataclass
class Stores:
    url: str
    engine: Engine
    factory: sessionmaker
    tracker_url: str
    tracker: Engine
    uploads: Path

    @property
    def spool(self) -> Path:
        return self.uploads.parent / "spool"


@pytest.fixture(scope="session", params=backends())
def databases(request, tmp_path_factory) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """One application database and one tracker store per backend for the whole run;
    each test empties them (creating and dropping databases per test is slow)."""
    folder = tmp_path_factory.mktemp("privacy-db")
    with (
        fresh_database(request.param, folder) as url,
        fresh_database(request.param, folder) as tracker_url,
    ):
        yield url, tracker_url


def empty(url: str) -> None:
    """Every table of the database emptied (the schema brought to head if it was lost)."""
    engine = make_engine(url)
    try:
        if "alembic_version" not in inspect(engine).get_table_names():
            upgrade(url)
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                if table.name != "alembic_version":
                    connection.execute(table.delete())
    finally:
        engine.dispose()


@pytest.fixture
def stores(databases: tuple[str, str], tmp_path: Path) -> Iterator[Stores]:
    url, tracker_url = databases
    empty(url)
    empty_tracker(tracker_url)
    engine, tracker = make_engine(url), make_engine(tracker_url)
    try:
        yield Stores(
            url, engine, make_session_factory(engine), tracker_url, tracker,
            tmp_path / "var" / "uploads",
        )  # fmt: skip
    finally:
        engine.dispose()
        tracker.dispose()


def empty_tracker(url: str) -> None:
    engine = make_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                connection.execute(table.delete())
    finally:
        engine.dispose()


def save_conversation(tracker_url: str, resident: Resident) -> None:
    """A conversation in Rasa's own tracker store, the way Rasa saves it."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    store = SQLTrackerStore(Domain.empty(), host=tracker_url)
    tracker = DialogueStateTracker.from_events(
        resident.sender_id,
        [
            ActionExecuted("action_session_start"),
            UserUttered(
                resident.text, {"name": "report_problem"}, metadata={"name": resident.name}
            ),  # fmt: skip
            BotUttered("Dạ, anh/chị cho em xin số điện thoại ạ"),
            UserUttered(resident.phone, {"name": "inform"}),
            SlotSet("phone", resident.phone),
            SlotSet("location", resident.address),
        ],
    )
    asyncio.run(store.save(tracker))
    store.engine.dispose()


def fill(stores: Stores, resident: Resident, calendar: WorkingCalendar | None = None) -> str:
    """Leave traces of the resident in every table that can hold them; returns the ticket code."""
    calendar = calendar or WorkingCalendar.of([])
    widget = resident.sender_id.startswith("web:")
    photo = attachments.save_upload(stores.uploads / ("widget" if widget else ""), PNG, "image/png")
    with transaction(stores.factory) as session:
        messages.record_inbound(
            session, channel=resident.channel, sender_id=resident.sender_id,
            text=f"{resident.text}. Tôi là {resident.name}, số {resident.phone}",
            external_id=secrets.token_hex(4),
        )  # fmt: skip
        attachments.record_update(
            session, channel=resident.channel, external_id=secrets.token_hex(4),
            sender_id=resident.sender_id,
            payload={"message": {"from": {"id": int(resident.raw_id) if resident.raw_id.isdigit()
                                          else resident.raw_id, "first_name": resident.name},
                                 "text": resident.text}},
        )  # fmt: skip
        attachments.stash(
            session, sender_id=resident.sender_id, path=photo, content_type="image/png",
            size=len(PNG), original_name=f"{resident.name}.png", now=NOW,
        )  # fmt: skip
        ticket = open_ticket(
            session, kind="problem_report", category="drainage", description=resident.text,
            location=resident.address, sender_id=resident.sender_id, channel=resident.channel,
            language="vi", phone=resident.phone, calendar=calendar,
            attachments=attachments.take_pending(session, resident.sender_id, now=NOW),
            unit_for_category=lambda _c: "unit-drainage", now=NOW, idempotency_key="k1",
        )  # fmt: skip
        change_status(
            session, ticket.code, "assigned", actor="staff:lan",
            public_note=f"Chị {resident.name} ơi, đội thoát nước đang tới {resident.address}",
            internal_note=f"Gọi lại {resident.phone}", now=NOW + timedelta(hours=1),
        )  # fmt: skip
        later = PNG + b"later"
        attachments.stash(
            session, sender_id=resident.sender_id,
            path=attachments.save_upload(stores.uploads, later, "image/png"),
            content_type="image/png", size=len(later), original_name="cong.png", now=NOW,
        )  # fmt: skip
        survey = Survey(
            token=secrets.token_hex(4), trigger="resolution", ticket_id=ticket.id,
            unit_id="unit-drainage", sender_id=resident.sender_id, channel=resident.channel,
            language="vi", offered_at=NOW, sent_at=NOW, expires_at=NOW + timedelta(days=3),
            score=1, answered_at=NOW, comment=f"Gọi {resident.name} qua số {resident.phone}",
        )  # fmt: skip
        session.add(survey)
        session.flush()
        outbox.enqueue(
            session, channel="staff", recipient="sup-drainage", language="vi",
            kind="survey_alert", text=f"Góp ý: “{survey.comment}”", ticket_id=None,
            dedupe_key=f"survey-alert:{survey.id}", now=NOW,
        )  # fmt: skip
        session.add(EscalationAck(kind="low_score", ref_id=survey.id, handled_by="sup",
                                  handled_at=NOW, note=f"Đã gọi {resident.phone}"))  # fmt: skip
        handoff = Handoff(
            sender_id=resident.sender_id, channel=resident.channel, language="vi",
            unit_id="customer_care", status="active", agent="lan", requested_at=NOW,
            accepted_at=NOW, last_activity_at=NOW,
        )  # fmt: skip
        session.add(handoff)
        session.flush()
        session.add_all([
            HandoffMessage(handoff_id=handoff.id, author="resident", at=NOW,
                           text=f"Tôi là {resident.name}, nhà ở {resident.address}"),
            HandoffMessage(handoff_id=handoff.id, author="agent", agent="lan", at=NOW,
                           text=f"Dạ chị {resident.name}, em ghi nhận ạ"),
        ])  # fmt: skip
        attachments.remember_buttons(
            session, sender_id=resident.sender_id, buttons=[("Đúng", "/affirm")], now=NOW
        )
        attachments.record_blocked(session, resident.channel, resident.sender_id, "blocked")
        session.add(TicketLookupMiss(sender_id=resident.sender_id, at=NOW))
        inbox = Base.metadata.tables.get("nlu_inbox_item")
        if inbox is not None:  # the trainers' NLU inbox: one wording of theirs, one shared
            for text, count in ((f"tôi là {resident.name}", 1), ("cống bị tắc", 3)):
                session.execute(inbox.insert().values(
                    key=secrets.token_hex(16), text=text, language="vi", reasons="low",
                    count=count, first_seen_at=NOW, last_seen_at=NOW,
                    sender_id=resident.sender_id, status="pending",
                ))  # fmt: skip
        if widget:
            widget_messages.record(
                session, session_id=resident.raw_id, author="resident",
                text=f"Số của tôi là {resident.phone}", client_id=secrets.token_hex(8), now=NOW,
            )  # fmt: skip
            widget_messages.record(
                session, session_id=resident.raw_id, author="resident",
                image=f"widget/photos/{photo.name}", client_id=secrets.token_hex(8), now=NOW,
            )  # fmt: skip
        code = ticket.code
    save_conversation(stores.tracker_url, resident)
    # What the gateway spools while the database is down, not yet imported.
    spool = messages.Spool(stores.spool)
    spool.put({"kind": "message", "channel": resident.channel, "sender_id": resident.sender_id,
               "text": f"{resident.name} đây, {resident.phone}", "received_at": NOW.isoformat()})  # fmt: skip
    if resident.channel == "telegram":
        spool.put({"kind": "update", "channel": "telegram", "external_id": "77",
                   "payload": {"message": {"chat": {"id": int(resident.raw_id)},
                                           "text": resident.address}}})  # fmt: skip
    return code
