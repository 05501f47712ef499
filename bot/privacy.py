"""A resident's personal data (Law 91/2025/QH15): everything we hold about one sender, as
JSON (`tiepdan privacy export`), and its erasure everywhere (`tiepdan privacy erase`).

Erasure keeps what the statistics need (a ticket's dates, category, unit, status; a survey's
score) under a keyed hash instead of the sender id, and removes the rest: free text, phone,
place, photos on disk, the message log, handoff conversations, the widget transcript, the
platform updates as received, and Rasa's conversation history. Rasa has no API to delete a
conversation, so its SQL tracker store's `events` table is read and written directly.

Every table of the application database is listed below, either with how it is handled or
as holding no resident data; a test fails when a new table is added without a decision.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Table, delete, inspect, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import bot.schema  # noqa: F401  (every table registered on Base.metadata)
from bot.attachments import BlockedRecipient, ButtonChoice, ChannelUpdate, PendingAttachment
from bot.console.audit import record_action
from bot.console.models import AuditEntry, EscalationAck
from bot.db import Base
from bot.handoff import CLOSED as HANDOFF_CLOSED
from bot.handoff import OPEN as HANDOFF_OPEN
from bot.handoff import Handoff, HandoffMessage
from bot.messages import InboundMessage
from bot.outbox import FAILED, PENDING, SENDING, OutboxMessage
from bot.reports.purge import REMOVED, hash_sender
from bot.surveys import Survey
from bot.tickets.models import Ticket, TicketAttachment, TicketEvent, TicketLookupMiss
from bot.widget_messages import WidgetMessage

WIDGET_PREFIX = "web:"
ERASED_NOTE = "erased at the resident's request"
# Tables erase() handles, and tables that hold no resident data (staff accounts, platform
# tokens, Alembic's version). Together they must name every table (tests/unit/privacy).
HANDLED_TABLES = frozenset(
    {
        "ticket",
        "ticket_event",
        "ticket_attachment",
        "ticket_lookup_miss",
        "survey",
        "handoff",
        "handoff_message",
        "inbound_message",
        "widget_message",
        "outbox_message",
        "pending_attachment",
        "channel_update",
        "button_choice",
        "blocked_recipient",
        "audit_entry",
        "escalation_ack",
        "nlu_inbox_item",
    }
)
NO_RESIDENT_DATA = frozenset(
    {"staff_account", "platform_token", "alembic_version", "nlu_inbox_source", "model_release"}
)
# Rasa's SQL tracker store (rasa/core/tracker_store.py, SQLTrackerStore.SQLEvent).
TRACKER_EVENTS_TABLE = "events"


class PrivacyError(ValueError):
    """A request we cannot carry out; the message says why."""


@dataclass
class Erasure:
    sender_id: str
    anonymised_as: str
    counts: dict[str, int] = field(default_factory=dict)
    files_removed: list[str] = field(default_factory=list)
    tracker_events: int = 0

    def summary(self) -> str:
        parts = [f"{name} {count}" for name, count in sorted(self.counts.items()) if count]
        parts.append(f"rasa events {self.tracker_events}")
        parts.append(f"files {len(self.files_removed)}")
        return ", ".join(parts)


def check_sender(sender_id: str) -> str:
    sender_id = (sender_id or "").strip()
    if not sender_id:
        raise PrivacyError("give the resident's sender id, e.g. --sender tg:123456789")
    if sender_id.startswith("anon:"):
        raise PrivacyError(f"{sender_id} is already anonymised; nothing is held under it")
    return sender_id


def widget_session_of(sender_id: str) -> str | None:
    return sender_id[len(WIDGET_PREFIX) :] if sender_id.startswith(WIDGET_PREFIX) else None


def spooled(spool_dir: Path | None, sender_id: str) -> list[tuple[Path, dict[str, Any]]]:
    """Messages and platform updates of this resident waiting in the spool (written while
    the database was down, imported by the recovery worker later)."""
    if spool_dir is None:
        return []
    from bot.messages import Spool

    channel, _, raw = sender_id.partition(":")
    platform = {"tg": "telegram", "zalo": "zalo"}.get(channel)
    mentions = re.compile(rf"(?<![\w-]){re.escape(raw)}(?![\w-])") if raw else None
    found = []
    for path, entry in Spool(spool_dir).entries():
        if entry.get("sender_id") == sender_id or (
            entry.get("kind") == "update"
            and platform is not None
            and entry.get("channel") == platform
            and mentions is not None
            and mentions.search(json.dumps(entry.get("payload"), ensure_ascii=False))
        ):
            found.append((path, entry))
    return found


def senders_with_phone(session: Session, phone: str) -> list[str]:
    """The sender ids that gave this phone number on a report (a resident who asks by phone
    may have written on several channels)."""
    from bot.tickets.validation import normalise_phone

    number = normalise_phone(phone)
    if number is None:
        raise PrivacyError(f"{phone!r} is not a Vietnamese phone number (e.g. 0912 345 678)")
    found = session.execute(
        select(Ticket.sender_id)
        .where(Ticket.phone == number, Ticket.sender_id.not_like("anon:%"))
        .distinct()
        .order_by(Ticket.sender_id)
    ).scalars()
    return list(found)


# ---------------------------------------------------------------------------------------------
# Export


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _rows(session: Session, table: Table, *where: Any, order: Any = None) -> list[dict[str, Any]]:
    query = select(table).where(*where)
    query = query.order_by(order if order is not None else table.primary_key.columns.values()[0])
    return [
        {key: _plain(value) for key, value in row.items()}
        for row in session.execute(query).mappings()
    ]


@dataclass(frozen=True)
class _Linked:
    """The ids of the resident's rows that other tables point to."""

    ticket_ids: list[int]
    ticket_codes: list[str]
    handoff_ids: list[int]
    survey_ids: list[int]

    def staff_outbox(self) -> Any:
        """Rows to staff about this resident (escalations, low-score alerts with comments)."""
        about = []
        if self.ticket_ids:
            about.append(OutboxMessage.ticket_id.in_(self.ticket_ids))
        if self.survey_ids:
            about.append(
                OutboxMessage.dedupe_key.in_([f"survey-alert:{n}" for n in self.survey_ids])
            )
        return or_(*about) if about else None

    def escalations(self) -> Any:
        """Supervisors' records of what they did about the resident's escalations."""
        return or_(
            (EscalationAck.kind == "overdue") & EscalationAck.ref_id.in_(self.ticket_ids),
            (EscalationAck.kind == "low_score") & EscalationAck.ref_id.in_(self.survey_ids),
        )

    def audit_targets(self) -> list[str]:
        return [f"ticket:{code}" for code in self.ticket_codes] + [
            f"handoff:{n}" for n in self.handoff_ids
        ]


def _linked(session: Session, sender_id: str) -> _Linked:
    tickets = session.execute(
        select(Ticket.id, Ticket.code).where(Ticket.sender_id == sender_id).order_by(Ticket.id)
    ).all()
    handoffs = session.execute(select(Handoff.id).where(Handoff.sender_id == sender_id)).scalars()
    surveys = session.execute(select(Survey.id).where(Survey.sender_id == sender_id)).scalars()
    return _Linked(
        [row.id for row in tickets], [row.code for row in tickets], list(handoffs), list(surveys)
    )


def tracker_events(engine: Engine | None, sender_id: str) -> list[dict[str, Any]]:
    """Rasa's stored events of this conversation, oldest first (empty without a store)."""
    table = _tracker_table(engine)
    if table is None:
        return []
    with engine.connect() as connection:  # type: ignore[union-attr]
        rows = connection.execute(
            select(table).where(table.c.sender_id == sender_id).order_by(table.c.id)
        ).mappings()
        events = []
        for row in rows:
            event = {key: _plain(value) for key, value in row.items() if key != "data"}
            try:
                event["data"] = json.loads(row["data"]) if row["data"] else None
            except ValueError:
                event["data"] = row["data"]
            events.append(event)
        return events


def export(
    session: Session,
    sender_id: str,
    tracker: Engine | None = None,
    spool_dir: Path | None = None,
) -> dict[str, Any]:
    """Everything held about one resident, as plain JSON-ready data."""
    sender_id = check_sender(sender_id)
    t = Base.metadata.tables
    linked = _linked(session, sender_id)
    tickets = []
    for ticket in _rows(session, t["ticket"], Ticket.sender_id == sender_id):
        ticket["events"] = _rows(session, t["ticket_event"], TicketEvent.ticket_id == ticket["id"])
        ticket["attachments"] = _rows(
            session, t["ticket_attachment"], TicketAttachment.ticket_id == ticket["id"]
        )
        tickets.append(ticket)
    handoffs = []
    for handoff in _rows(session, t["handoff"], Handoff.sender_id == sender_id):
        handoff["messages"] = _rows(
            session, t["handoff_message"], HandoffMessage.handoff_id == handoff["id"]
        )
        handoffs.append(handoff)
    outbox_about = [OutboxMessage.recipient == sender_id]
    staff = linked.staff_outbox()
    if staff is not None:
        outbox_about.append(staff)
    widget_session = widget_session_of(sender_id)
    return {
        "sender_id": sender_id,
        "exported_at": _plain(datetime.now(timezone.utc)),
        "tickets": tickets,
        "surveys": _rows(session, t["survey"], Survey.sender_id == sender_id),
        "handoffs": handoffs,
        "inbound_messages": _rows(
            session, t["inbound_message"], InboundMessage.sender_id == sender_id
        ),
        "widget_session": widget_session,
        "widget_messages": _rows(
            session, t["widget_message"], WidgetMessage.session_id == widget_session
        )
        if widget_session
        else [],
        "outbox_messages": _rows(session, t["outbox_message"], or_(*outbox_about)),
        "pending_attachments": _rows(
            session, t["pending_attachment"], PendingAttachment.sender_id == sender_id
        ),
        "channel_updates": _rows(
            session, t["channel_update"], ChannelUpdate.sender_id == sender_id
        ),
        "button_choices": _rows(session, t["button_choice"], ButtonChoice.sender_id == sender_id),
        "blocked": _rows(
            session,
            t["blocked_recipient"],
            BlockedRecipient.recipient == sender_id,
            order=BlockedRecipient.channel,
        ),
        "status_lookup_misses": _rows(
            session, t["ticket_lookup_miss"], TicketLookupMiss.sender_id == sender_id
        ),
        "staff_actions": _rows(
            session, t["audit_entry"], AuditEntry.target.in_(linked.audit_targets())
        ),
        "escalations": _rows(session, t["escalation_ack"], linked.escalations()),
        "nlu_inbox": _inbox_rows(session, sender_id),
        "rasa_tracker_events": tracker_events(tracker, sender_id),
        "spooled": [entry for _path, entry in spooled(spool_dir, sender_id)],
    }


def _inbox() -> Table | None:
    """The trainers' NLU inbox (bot.trainer.inbox), looked up by name so this module does not
    depend on the trainer package."""
    return Base.metadata.tables.get("nlu_inbox_item")


def _inbox_rows(session: Session, sender_id: str) -> list[dict[str, Any]]:
    inbox = _inbox()
    return [] if inbox is None else _rows(session, inbox, inbox.c.sender_id == sender_id)


def export_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


# ---------------------------------------------------------------------------------------------
# Erasure


def _tracker_table(engine: Engine | None) -> Table | None:
    if engine is None or not inspect(engine).has_table(TRACKER_EVENTS_TABLE):
        return None
    from sqlalchemy import MetaData

    return Table(TRACKER_EVENTS_TABLE, MetaData(), autoload_with=engine)


def erase_tracker(engine: Engine | None, sender_id: str) -> int:
    """Delete the conversation from Rasa's tracker store; returns the number of events."""
    table = _tracker_table(engine)
    if table is None:
        return 0
    with engine.begin() as connection:  # type: ignore[union-attr]
        result = connection.execute(delete(table).where(table.c.sender_id == sender_id))
        return int(result.rowcount or 0)


def _local_file(uri: str | None, uploads_dir: Path) -> Path | None:
    """The file under uploads_dir a stored reference points to (never anything outside it)."""
    if not uri or "://" in uri:
        return None
    root = uploads_dir.resolve()
    if uri.startswith("widget/photos/"):  # how the widget transcript names a photo
        candidate = root / "widget" / uri.rsplit("/", 1)[-1]
    else:
        candidate = Path(uri)
        if not candidate.is_absolute():
            candidate = root / candidate
    candidate = candidate.resolve()
    return candidate if candidate.is_relative_to(root) and candidate != root else None


def _count(session: Session, statement: Any) -> int:
    return int(session.execute(statement.execution_options(synchronize_session=False)).rowcount)


def erase(
    session: Session,
    sender_id: str,
    *,
    key: str,
    uploads_dir: Path,
    actor: str,
    tracker: Engine | None = None,
    spool_dir: Path | None = None,
    now: datetime | None = None,
) -> Erasure:
    """Remove or anonymise everything held about one resident, and write it in the audit log.

    The tracker store is cleared first (it is a separate database and deleting twice is
    harmless), then the application database in the caller's transaction; the files go
    once the caller has committed (`remove_files`), so a failed transaction leaves every
    photo its record points to.
    """
    sender_id = check_sender(sender_id)
    erasure = Erasure(sender_id, hash_sender(sender_id, key))
    moment = (now or datetime.now(timezone.utc)).replace(tzinfo=None)
    erasure.tracker_events = erase_tracker(tracker, sender_id)
    linked = _linked(session, sender_id)
    counts = erasure.counts
    widget_session = widget_session_of(sender_id)

    files = list(
        session.execute(
            select(TicketAttachment.uri).where(TicketAttachment.ticket_id.in_(linked.ticket_ids))
        ).scalars()
    )
    files += session.execute(
        select(PendingAttachment.uri).where(PendingAttachment.sender_id == sender_id)
    ).scalars()
    if widget_session:
        files += session.execute(
            select(WidgetMessage.image).where(
                WidgetMessage.session_id == widget_session, WidgetMessage.image.is_not(None)
            )
        ).scalars()

    if linked.ticket_ids:
        counts["ticket_attachments"] = _count(
            session,
            delete(TicketAttachment).where(TicketAttachment.ticket_id.in_(linked.ticket_ids)),
        )
        # History is append-only for staff and services; erasure is the one exception, and
        # it keeps every line (dates and statuses) with its free text removed.
        for column in (TicketEvent.public_note, TicketEvent.internal_note):
            _count(
                session,
                update(TicketEvent)
                .where(TicketEvent.ticket_id.in_(linked.ticket_ids), column.is_not(None))
                .values({column.key: REMOVED}),
            )
        for ticket_id, location in session.execute(
            select(Ticket.id, Ticket.location).where(Ticket.id.in_(linked.ticket_ids))
        ).all():
            _count(
                session,
                update(Ticket)
                .where(Ticket.id == ticket_id)
                .values(
                    description=REMOVED,
                    location=REMOVED if location else None,
                    phone=None,
                    sender_id=erasure.anonymised_as,
                    client_request_id=None,
                ),
            )
        counts["tickets_anonymised"] = len(linked.ticket_ids)

    staff_rows = linked.staff_outbox()
    if staff_rows is not None:
        # Staff notices about the resident keep their delivery record without the text;
        # one not yet delivered is not sent at all.
        _count(
            session,
            update(OutboxMessage)
            .where(staff_rows, OutboxMessage.status.in_((PENDING, SENDING)))
            .values(status=FAILED, last_error=ERASED_NOTE, claim_token=None),
        )
        counts["staff_notices_scrubbed"] = _count(
            session, update(OutboxMessage).where(staff_rows).values(body={"text": REMOVED})
        )
    counts["escalation_notes"] = _count(
        session,
        update(EscalationAck)
        .where(linked.escalations(), EscalationAck.note.is_not(None))
        .values(note=REMOVED),
    )
    counts["outbox_messages"] = _count(
        session, delete(OutboxMessage).where(OutboxMessage.recipient == sender_id)
    )

    if linked.handoff_ids:
        counts["handoff_messages"] = _count(
            session, delete(HandoffMessage).where(HandoffMessage.handoff_id.in_(linked.handoff_ids))
        )
        # A conversation with staff still open ends here: nobody is left to answer.
        _count(
            session,
            update(Handoff)
            .where(Handoff.id.in_(linked.handoff_ids), Handoff.status.in_(HANDOFF_OPEN))
            .values(status=HANDOFF_CLOSED, closed_at=moment, close_reason="erased"),
        )
        counts["handoffs_anonymised"] = _count(
            session,
            update(Handoff)
            .where(Handoff.id.in_(linked.handoff_ids))
            .values(sender_id=erasure.anonymised_as),
        )
    counts["surveys_anonymised"] = _count(
        session,
        update(Survey)
        .where(Survey.sender_id == sender_id)
        .values(sender_id=erasure.anonymised_as, comment=None),
    )
    for name, statement in (
        ("inbound_messages", delete(InboundMessage).where(InboundMessage.sender_id == sender_id)),
        (
            "pending_attachments",
            delete(PendingAttachment).where(PendingAttachment.sender_id == sender_id),
        ),
        ("channel_updates", delete(ChannelUpdate).where(ChannelUpdate.sender_id == sender_id)),
        ("button_choices", delete(ButtonChoice).where(ButtonChoice.sender_id == sender_id)),
        ("blocked", delete(BlockedRecipient).where(BlockedRecipient.recipient == sender_id)),
        (
            "status_lookup_misses",
            delete(TicketLookupMiss).where(TicketLookupMiss.sender_id == sender_id),
        ),
    ):
        counts[name] = _count(session, statement)
    inbox = _inbox()
    if inbox is not None:
        # A wording only this resident used (and not yet in the training data) goes; one
        # others used too, or already exported, stays (masked) without the link to them.
        mine = inbox.c.sender_id == sender_id
        counts["nlu_inbox"] = _count(
            session, delete(inbox).where(mine, inbox.c.count <= 1, inbox.c.exported_at.is_(None))
        )
        _count(session, update(inbox).where(mine).values(sender_id=None, message_id=None))
    if widget_session:
        counts["widget_messages"] = _count(
            session, delete(WidgetMessage).where(WidgetMessage.session_id == widget_session)
        )

    erasure.files_removed = [
        str(path) for path in {_local_file(uri, uploads_dir) for uri in files} if path is not None
    ] + [str(path) for path, _entry in spooled(spool_dir, sender_id)]
    # The audit line names the anonymised id, not the sender: the log itself must not
    # become a list of the people who asked to be forgotten.
    record_action(
        session,
        actor=actor,
        action="privacy_erase",
        target=erasure.anonymised_as,
        detail=erasure.summary()[:1000],
        now=now,
    )
    session.flush()
    return erasure


def remove_files(paths: Iterable[str]) -> list[str]:
    """Delete the photos of an erasure (after its transaction committed); returns failures."""
    failed = []
    for name in paths:
        try:
            Path(name).unlink(missing_ok=True)
        except OSError as error:
            failed.append(f"{name}: {error.strerror}")
    return failed


# ---------------------------------------------------------------------------------------------
# Command line: `tiepdan privacy export|erase --sender ID`


def _tracker_engine(url: str) -> Engine | None:
    """An engine on Rasa's tracker store, or None when its SQLite file was never created."""
    from sqlalchemy.engine import make_url

    from bot.db import make_engine

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        return None
    return make_engine(url)


def _held(data: dict[str, Any]) -> dict[str, int]:
    return {
        name: len(value)
        for name, value in data.items()
        if isinstance(value, list) and value and name != "staff_actions"
    }


def cmd_export(settings: Any, args: Any) -> int:
    import sys

    from bot import db

    engine, tracker = db.make_engine(settings.database_url), None
    try:
        sender_id = check_sender(args.sender)
        tracker = _tracker_engine(settings.tracker_store_url)
        with db.transaction(db.make_session_factory(engine)) as session:
            data = export(session, sender_id, tracker, settings.var_dir / "spool")
            record_action(
                session,
                actor=args.by,
                action="privacy_export",
                target=hash_sender(sender_id, settings.secret_key or "tiepdan"),
            )
    except PrivacyError as error:
        print(f"tiepdan privacy: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
        if tracker is not None:
            tracker.dispose()
    text = export_json(data)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        out.chmod(0o600)
        held = ", ".join(f"{k} {v}" for k, v in _held(data).items()) or "nothing"
        print(f"privacy: wrote everything held about {sender_id} to {out} ({held})")
    else:
        print(text)
    return 0


def cmd_erase(settings: Any, args: Any) -> int:
    import sys

    from bot import db

    engine, tracker = db.make_engine(settings.database_url), None
    try:
        sender_id = check_sender(args.sender)
        tracker = _tracker_engine(settings.tracker_store_url)
        factory = db.make_session_factory(engine)
        if not args.yes:
            with factory() as session:
                held = _held(export(session, sender_id, tracker, settings.var_dir / "spool"))
            listed = ", ".join(f"{k} {v}" for k, v in held.items()) or "nothing"
            print(
                f"privacy: held about {sender_id}: {listed}.\n"
                "Erasing cannot be undone; run again with --yes to erase it.",
                file=sys.stderr,
            )
            return 1
        with db.transaction(factory) as session:
            erasure = erase(
                session,
                sender_id,
                key=settings.secret_key or "tiepdan",
                uploads_dir=settings.var_dir / "uploads",
                actor=args.by,
                tracker=tracker,
                spool_dir=settings.var_dir / "spool",
            )
    except PrivacyError as error:
        print(f"tiepdan privacy: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
        if tracker is not None:
            tracker.dispose()
    failed = remove_files(erasure.files_removed)
    print(f"privacy: erased {sender_id} (now {erasure.anonymised_as}): {erasure.summary()}")
    for line in failed:
        print(f"tiepdan privacy: could not delete {line}", file=sys.stderr)
    return 1 if failed else 0


def cmd_find(settings: Any, args: Any) -> int:
    import sys

    from bot import db

    engine = db.make_engine(settings.database_url)
    try:
        with db.make_session_factory(engine)() as session:
            senders = senders_with_phone(session, args.phone)
    except PrivacyError as error:
        print(f"tiepdan privacy: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if not senders:
        print("privacy: no report gives this phone number", file=sys.stderr)
        return 1
    print("\n".join(senders))
    return 0


def add_commands(subparsers: Any) -> None:
    """Register `privacy find|export|erase` on the `tiepdan` parser."""
    import getpass

    privacy = subparsers.add_parser("privacy", help="a resident's personal data: export, erase")
    commands = privacy.add_subparsers(dest="privacy_command", required=True)
    find = commands.add_parser("find", help="the sender ids whose reports give a phone number")
    find.add_argument("--phone", required=True, help="e.g. 0912345678 or +84 912 345 678")
    find.set_defaults(handler=cmd_find)
    for name, handler, text in (
        ("export", cmd_export, "print (or --out) everything held about a resident, as JSON"),
        ("erase", cmd_erase, "remove or anonymise everything held about a resident"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--sender", required=True, help="tg:<chat>, web:<session>, zalo:<id>")
        command.add_argument(
            "--by", default=f"cli:{getpass.getuser()}", help="who asks (for the audit log)"
        )
        if name == "export":
            command.add_argument("--out", help="write the JSON to this file (mode 600)")
        else:
            command.add_argument("--yes", action="store_true", help="really erase")
        command.set_defaults(handler=handler)
