"""`tiepdan privacy export` and `erase`: everything held about a resident comes out, and after
an erasure no table, no Rasa event and no file still holds their id, phone, name or address,
while the figures (tickets, survey scores) and other residents' data stay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import MetaData, func, inspect, select

from bot.cli import main as tiepdan
from bot.console.models import AuditEntry
from bot.db import Base, transaction
from bot.handoff import Handoff
from bot.privacy import (
    HANDLED_TABLES,
    NO_RESIDENT_DATA,
    PrivacyError,
    erase,
    export,
    remove_files,
)
from bot.reports.purge import REMOVED
from bot.surveys import Survey
from bot.tickets.models import Ticket, TicketEvent
from tests.unit.privacy.conftest import BINH, HOA, WIDGET_HOA, Resident, Stores, fill


def traces(stores: Stores, resident: Resident) -> list[str]:
    """Every place (table.column, Rasa events, files) that still mentions the resident."""
    found = []
    for engine, label in ((stores.engine, "app"), (stores.tracker, "rasa")):
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(select(table)).mappings():
                    for column, value in row.items():
                        text = json.dumps(value, ensure_ascii=False, default=str)
                        text += str(value)
                        for needle in resident.needles:
                            if needle in text:
                                found.append(f"{label}:{table.name}.{column} has {needle!r}")
    for path in stores.uploads.parent.rglob("*"):  # photos and the spool
        if path.is_file():
            content = path.read_bytes().decode("utf-8", "ignore")
            found += [f"file {path} has {n!r}" for n in resident.needles if n in content]
    return sorted(set(found))


def _erase(stores: Stores, resident: Resident) -> list[str]:
    with transaction(stores.factory) as session:
        erasure = erase(
            session, resident.sender_id, key="test-key", uploads_dir=stores.uploads,
            actor="cli:dpo", tracker=stores.tracker, spool_dir=stores.spool,
        )  # fmt: skip
    assert remove_files(erasure.files_removed) == []
    return erasure.files_removed


def test_every_table_is_handled_or_declared_free_of_resident_data(stores: Stores) -> None:
    in_database = set(inspect(stores.engine).get_table_names())
    in_models = set(Base.metadata.tables)
    undecided = (in_database | in_models) - HANDLED_TABLES - NO_RESIDENT_DATA
    assert not undecided, f"bot/privacy.py must export and erase (or declare) {undecided}"


@pytest.mark.parametrize("resident", [HOA, WIDGET_HOA], ids=["telegram", "widget"])
def test_export_holds_everything_about_the_resident_and_nothing_of_others(
    stores: Stores, resident: Resident
) -> None:
    code = fill(stores, resident)
    fill(stores, BINH)
    with stores.factory() as session:
        held = export(session, resident.sender_id, stores.tracker, stores.spool)
    data = json.loads(json.dumps(held, default=str))
    [ticket] = data["tickets"]
    assert ticket["code"] == code and ticket["phone"] == resident.phone.replace(" ", "")
    assert ticket["location"] == resident.address
    assert [e["to_status"] for e in ticket["events"]] == ["received", "assigned"]
    assert ticket["attachments"][0]["original_name"] == f"{resident.name}.png"
    assert data["surveys"][0]["comment"].endswith(resident.phone)
    assert [m["author"] for m in data["handoffs"][0]["messages"]] == ["resident", "agent"]
    assert resident.phone in data["inbound_messages"][0]["text"]
    assert data["channel_updates"][0]["payload"]["message"]["from"]["first_name"] == resident.name
    assert len(data["pending_attachments"]) == 2 and data["button_choices"]
    assert {m["kind"] for m in data["outbox_messages"]} == {"ticket_status", "survey_alert"}
    assert data["escalations"][0]["note"].endswith(resident.phone)
    assert len(data["spooled"]) == (2 if resident is HOA else 1)
    if "nlu_inbox_item" in Base.metadata.tables:
        assert sorted(item["count"] for item in data["nlu_inbox"]) == [1, 3]
    events = data["rasa_tracker_events"]
    assert {"user", "bot", "slot"} <= {e["type_name"] for e in events}
    assert resident.text in [e["data"].get("text") for e in events]
    if resident is WIDGET_HOA:
        assert [m["text"] for m in data["widget_messages"]][0].endswith(resident.phone)
    dumped = json.dumps(data, ensure_ascii=False)
    assert all(needle not in dumped for needle in BINH.needles)


@pytest.mark.parametrize("resident", [HOA, WIDGET_HOA], ids=["telegram", "widget"])
def test_erase_leaves_no_trace_of_the_resident_and_keeps_the_figures(
    stores: Stores, resident: Resident
) -> None:
    code = fill(stores, resident)
    fill(stores, BINH)
    binh_before = traces(stores, BINH)
    assert len(traces(stores, resident)) > 15  # the scan does find them before
    photos = [p for p in stores.uploads.rglob("*") if p.is_file()]
    spooled = len(list(stores.spool.iterdir()))
    removed = _erase(stores, resident)

    assert traces(stores, resident) == []
    mine = 2 + (2 if resident is HOA else 1)  # two photos, the spooled message (and update)
    assert len(removed) == mine and all(not Path(p).exists() for p in removed)
    assert len(list(stores.spool.iterdir())) == spooled - (mine - 2)
    assert len([p for p in stores.uploads.rglob("*") if p.is_file()]) == len(photos) - 2
    assert traces(stores, BINH) == binh_before
    with stores.factory() as session:
        ticket = session.execute(select(Ticket).where(Ticket.code == code)).scalar_one()
        assert (ticket.status, ticket.category, ticket.responsible_unit_id) == (
            "assigned", "drainage", "unit-drainage")  # fmt: skip
        assert ticket.description == REMOVED and ticket.phone is None
        assert ticket.sender_id.startswith("anon:")
        events = session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
        ).scalars().all()  # fmt: skip
        assert [e.to_status for e in events] == ["received", "assigned"]
        assert session.execute(select(func.avg(Survey.score))).scalar_one() == 1  # kept
        handoff = session.execute(
            select(Handoff).where(Handoff.sender_id == ticket.sender_id)
        ).scalar_one()  # fmt: skip
        assert (handoff.status, handoff.close_reason) == ("closed", "erased")
        audit = session.execute(
            select(AuditEntry).where(AuditEntry.action == "privacy_erase")
        ).scalar_one()  # fmt: skip
        assert (audit.actor, audit.target) == ("cli:dpo", ticket.sender_id)
        assert "rasa events" in audit.detail
        again = export(session, resident.sender_id, stores.tracker)
    assert not any(v for k, v in again.items() if isinstance(v, list))


def test_erasing_twice_is_harmless_and_refuses_an_empty_sender(stores: Stores) -> None:
    fill(stores, HOA)
    _erase(stores, HOA)
    assert _erase(stores, HOA) == []
    with pytest.raises(PrivacyError, match="sender id"), stores.factory() as session:
        erase(session, " ", key="k", uploads_dir=stores.uploads, actor="x")


def test_cli_exports_to_a_file_then_erases_only_with_yes(
    stores: Stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    fill(stores, HOA)
    monkeypatch.setenv("TIEPDAN_HOME", str(tmp_path))
    monkeypatch.setenv("TIEPDAN_VAR_DIR", str(stores.uploads.parent))
    monkeypatch.setenv("TIEPDAN_DATABASE_URL", stores.url)
    monkeypatch.setenv("TIEPDAN_TRACKER_STORE_URL", stores.tracker_url)
    fill(stores, BINH)  # someone else, with another phone
    assert tiepdan(["privacy", "find", "--phone", "+84 912 345 678"]) == 0
    assert capsys.readouterr().out.split() == [HOA.sender_id]
    assert tiepdan(["privacy", "find", "--phone", "12"]) == 2
    assert "not a Vietnamese phone number" in capsys.readouterr().err
    out = tmp_path / "hoa.json"
    assert tiepdan(["privacy", "export", "--sender", HOA.sender_id, "--out", str(out)]) == 0
    assert json.loads(out.read_text())["tickets"][0]["phone"] == "0912345678"
    assert out.stat().st_mode & 0o777 == 0o600

    assert tiepdan(["privacy", "erase", "--sender", HOA.sender_id]) == 1
    assert "--yes" in capsys.readouterr().err
    assert traces(stores, HOA) != []
    assert tiepdan(["privacy", "erase", "--sender", HOA.sender_id, "--yes"]) == 0
    assert "erased tg:987654321" in capsys.readouterr().out
    assert traces(stores, HOA) == []
    with stores.factory() as session:
        actions = session.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars()
        assert list(actions) == ["privacy_export", "privacy_erase"]
