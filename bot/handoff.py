"""Handing a conversation to a person.

A resident asks for staff (or a supervisor takes over from the console). When the resident
care team is open and someone is online the conversation joins the queue; until it ends,
every resident message goes to the console (the routing interceptor stores it and the
assistant stays silent) and staff replies reach the resident through the outbox of their
channel. When nobody can answer, the resident is offered a call back instead, never silence.
All state lives in the database, so a gateway restart loses neither a handoff nor a message.

    waiting ──accept──► active ──close / idle timeout──► closed
       ▲                  │
       └── agent leaves ──┘           callback ──phone + time──► ticket (kind request)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    bindparam,
    exists,
    select,
)
from sqlalchemy.orm import Session

from bot import outbox
from bot.catalog import Catalog, opening_status
from bot.catalog.answers import unit_name
from bot.catalog.formatting import format_phone
from bot.console.accounts import staff_online
from bot.db import Base
from bot.outbox import _utc
from bot.replies import Button, Reply, say

if TYPE_CHECKING:  # bot.routing imports this module to register the interceptor
    from bot.routing import Inbound

CARE_UNIT = "customer_care"
WAITING, ACTIVE, CLOSED, CALLBACK = "waiting", "active", "closed", "callback"
OPEN = (WAITING, ACTIVE)
RESIDENT, AGENT, SYSTEM = "resident", "agent", "system"
# A rough figure for the wait: minutes each conversation ahead of you takes.
MINUTES_PER_CONVERSATION = 4
CANCEL_PAYLOAD = "/handoff_cancel"
CALLBACK_PAYLOAD = "/handoff_callback"
# Outbox rows of the API channel are pulled by the integration; staff rows go nowhere else.
OUTBOX_CHANNELS = ("telegram", "widget", "zalo", "api")
_PHONE = re.compile(r"(?:\+?84|0)(?:[\s.-]?\d){8,10}")


class Handoff(Base):
    __tablename__ = "handoff"

    id = Column(Integer, primary_key=True)
    sender_id = Column(String(128), nullable=False, index=True)
    channel = Column(String(16), nullable=False)
    language = Column(String(8), nullable=False)
    unit_id = Column(String(64), nullable=False)
    status = Column(String(16), nullable=False, index=True)
    agent = Column(String(64), nullable=True)
    requested_at = Column(DateTime, nullable=False)
    accepted_at = Column(DateTime, nullable=True)
    closed_at = Column(DateTime, nullable=True)
    last_activity_at = Column(DateTime, nullable=False)
    close_reason = Column(String(32), nullable=True)
    # Set once Rasa has been told to stay silent (by the gateway, after the action that
    # started the handoff has finished, so Rasa's own dialogue state stays intact).
    paused_at = Column(DateTime, nullable=True)
    # Set once Rasa has been told to speak again; a closed handoff without it is retried.
    resumed_at = Column(DateTime, nullable=True)

    def __repr__(self) -> str:
        return f"<Handoff {self.id} {self.sender_id} {self.status}>"


class HandoffMessage(Base):
    __tablename__ = "handoff_message"

    id = Column(Integer, primary_key=True)
    handoff_id = Column(Integer, ForeignKey("handoff.id"), nullable=False, index=True)
    author = Column(String(16), nullable=False)
    agent = Column(String(64), nullable=True)
    text = Column(Text, nullable=False)
    at = Column(DateTime, nullable=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "handoff_id": self.handoff_id,
            "author": self.author,
            "agent": self.agent,
            "text": self.text,
            "at": self.at.isoformat(timespec="seconds") + "Z",
        }


@dataclass(frozen=True)
class HandoffStart:
    reply: Reply
    queued: bool
    handoff_id: int | None = None
    position: int | None = None


def staffed_now(
    session: Session,
    catalog: Catalog,
    now: datetime,
    *,
    always_open: bool = False,
    unit_id: str = CARE_UNIT,
) -> bool:
    """Open now by the catalog's hours (or `always_open`) and someone online in the console."""
    unit = catalog.units[unit_id]
    if not always_open and not opening_status(unit, now, catalog.calendar).open_now:
        return False
    return staff_online(session, unit_id, now) > 0


# On every message's path (the routing interceptor): built once.
# The sender has a handoff open (waiting, held by staff, or a callback booked).
_OPEN = (Handoff.sender_id == bindparam("sender"), Handoff.status.in_((WAITING, ACTIVE, CALLBACK)))
_OPEN_HANDOFF = select(Handoff).where(*_OPEN).order_by(Handoff.id.desc()).limit(1)
# When `intercept_for_handoff` may answer, for the routing's one-query check (bot.routing):
# the sender has a handoff `open_handoff_for` would find.
PENDING = exists().where(*_OPEN)


def open_handoff_for(session: Session, sender_id: str) -> Handoff | None:
    return session.execute(_OPEN_HANDOFF, {"sender": sender_id}).scalar_one_or_none()


def waiting(session: Session, unit_id: str | None = None) -> list[Handoff]:
    """The queue, oldest first (all units when `unit_id` is None)."""
    query = select(Handoff).where(Handoff.status == WAITING)
    if unit_id is not None:
        query = query.where(Handoff.unit_id == unit_id)
    return list(session.execute(query.order_by(Handoff.requested_at, Handoff.id)).scalars())


def active(session: Session, unit_id: str | None = None) -> list[Handoff]:
    query = select(Handoff).where(Handoff.status == ACTIVE)
    if unit_id is not None:
        query = query.where(Handoff.unit_id == unit_id)
    return list(session.execute(query.order_by(Handoff.id)).scalars())


def position_of(session: Session, handoff: Handoff) -> int:
    return 1 + sum(1 for other in waiting(session, handoff.unit_id) if other.id < handoff.id)


def _callback_offer(catalog: Catalog, lang: str, unit_id: str) -> Reply:
    unit = catalog.units[unit_id]
    phone = format_phone(unit.hotline or unit.phone)
    return Reply(
        say(
            lang,
            f"Dạ, hiện chưa có nhân viên trực chat. Anh/chị muốn được gọi lại thì vui lòng "
            f"gửi số điện thoại và khung giờ thuận tiện trong một tin nhắn "
            f"(ví dụ: 0912 345 678, 14h–16h chiều nay) ạ. Anh/chị cũng có thể gọi "
            f"{unit_name(unit, 'vi')} theo số {phone}.",
            f"Sorry, no one is on chat duty right now. To be called back, please send your "
            f"phone number and a convenient time in one message (for example: "
            f"0912 345 678, 2–4 pm today). You can also call the {unit_name(unit, 'en')} "
            f"on {phone}.",
        ),
        [
            Button(say(lang, "Tiếp tục chờ", "Keep waiting"), "/request_human"),
            Button(say(lang, "Không cần", "No, thanks"), CANCEL_PAYLOAD),
        ],
    )


def _queued_reply(lang: str, position: int) -> Reply:
    minutes = max(1, (position - 1) * MINUTES_PER_CONVERSATION + 1)
    return Reply(
        say(
            lang,
            f"Dạ, em đã chuyển anh/chị tới nhân viên. Anh/chị đang ở vị trí số {position} "
            f"trong hàng chờ, thời gian chờ khoảng {minutes} phút ạ. Anh/chị cứ nhắn, "
            f"nhân viên sẽ đọc được ngay.",
            f"I've passed you to a member of staff. You are number {position} in the queue; "
            f"the wait is about {minutes} min. Keep writing, they will see your messages.",
        ),
        [Button(say(lang, "Thôi, không chờ nữa", "Stop waiting"), CANCEL_PAYLOAD)],
    )


def start_handoff(
    session: Session,
    *,
    sender_id: str,
    channel: str,
    language: str,
    catalog: Catalog,
    now: datetime,
    always_open: bool = False,
    unit_id: str = CARE_UNIT,
) -> HandoffStart:
    """Queue the resident for staff if someone can answer, else offer a call back.

    Asking again while already queued repeats the position instead of queueing twice.
    """
    lang = "en" if language == "en" else "vi"
    existing = open_handoff_for(session, sender_id)
    if existing is not None and existing.status in OPEN:
        position = position_of(session, existing) if existing.status == WAITING else 0
        reply = (
            _queued_reply(lang, position)
            if existing.status == WAITING
            else Reply(
                say(
                    lang,
                    "Dạ, nhân viên đang trao đổi với anh/chị ạ.",
                    "A member of staff is already with you.",
                )
            )
        )
        return HandoffStart(reply, True, existing.id, position)
    if not staffed_now(session, catalog, now, always_open=always_open, unit_id=unit_id):
        if existing is None:
            stored = _utc(now)
            existing = Handoff(
                sender_id=sender_id,
                channel=channel,
                language=lang,
                unit_id=unit_id,
                status=CALLBACK,
                requested_at=stored,
                last_activity_at=stored,
            )
            session.add(existing)
            session.flush()
        return HandoffStart(_callback_offer(catalog, lang, unit_id), False, existing.id)
    if existing is not None:  # a call-back offer, and now someone is here: queue instead
        existing.status = WAITING
        existing.requested_at = existing.last_activity_at = _utc(now)
        handoff = existing
    else:
        handoff = Handoff(
            sender_id=sender_id,
            channel=channel,
            language=lang,
            unit_id=unit_id,
            status=WAITING,
            requested_at=_utc(now),
            last_activity_at=_utc(now),
        )
        session.add(handoff)
    session.flush()
    position = position_of(session, handoff)
    return HandoffStart(_queued_reply(lang, position), True, handoff.id, position)


def take_over(
    session: Session,
    *,
    sender_id: str,
    channel: str,
    language: str,
    agent: str,
    unit_id: str = CARE_UNIT,
    now: datetime | None = None,
) -> Handoff:
    """A supervisor takes the conversation from the assistant straight away."""
    handoff = open_handoff_for(session, sender_id)
    now = _utc(now)
    if handoff is None or handoff.status == CALLBACK:
        if handoff is None:
            handoff = Handoff(
                sender_id=sender_id,
                channel=channel,
                language=language,
                unit_id=unit_id,
                requested_at=now,
            )
            session.add(handoff)
        handoff.status = WAITING
    accept(session, handoff, agent, now=now)
    return handoff


def get_handoff(session: Session, handoff_id: int) -> Handoff | None:
    return session.get(Handoff, handoff_id)


def _tell(
    session: Session,
    handoff: Handoff,
    kind: str,
    text: str,
    now: datetime,
    buttons: list[dict[str, str]] | None = None,
) -> None:
    if handoff.channel in OUTBOX_CHANNELS:
        outbox.enqueue(
            session,
            channel=handoff.channel,
            recipient=handoff.sender_id,
            language=handoff.language,
            kind=kind,
            text=text,
            buttons=buttons or (),
            now=now,
        )


def accept(
    session: Session, handoff: Handoff, agent: str, *, now: datetime | None = None
) -> Handoff:
    if handoff.status != WAITING:
        raise HandoffError(f"handoff {handoff.id} is {handoff.status}, not waiting")
    now = _utc(now)
    handoff.status = ACTIVE
    handoff.agent = agent
    handoff.accepted_at = handoff.last_activity_at = now
    session.flush()
    _tell(
        session,
        handoff,
        "handoff_accepted",
        say(
            handoff.language,
            "Dạ, nhân viên đã tham gia cuộc trò chuyện ạ.",
            "A member of staff has joined the conversation.",
        ),
        now,
    )
    return handoff


class HandoffError(ValueError):
    """A handoff move that does not apply (accepting a closed one, replying to a queue)."""


def agent_reply(
    session: Session, handoff: Handoff, agent: str, text: str, *, now: datetime | None = None
) -> HandoffMessage:
    text = (text or "").strip()
    if not text:
        raise HandoffError("an empty reply")
    if handoff.status != ACTIVE:
        raise HandoffError(f"handoff {handoff.id} is {handoff.status}; accept it first")
    now = _utc(now)
    message = HandoffMessage(
        handoff_id=handoff.id, author=AGENT, agent=agent, text=text[:4000], at=now
    )
    session.add(message)
    handoff.last_activity_at = now
    session.flush()
    _tell(session, handoff, "handoff_reply", message.text, now)
    return message


SurveyHook = Callable[..., Any]


def _survey_hook() -> SurveyHook | None:
    try:
        from bot.surveys import offer_after_handoff  # type: ignore[attr-defined]
    except ImportError:
        return None
    return offer_after_handoff


def close(
    session: Session,
    handoff: Handoff,
    *,
    actor: str,
    reason: str = "closed",
    now: datetime | None = None,
) -> Handoff:
    """End the handoff: the resident is told the assistant is back and may get a survey.
    The caller resumes Rasa (`resume_pending` retries it after a failure)."""
    if handoff.status == CLOSED:
        return handoff
    now = _utc(now)
    was_with_staff = handoff.status in OPEN
    handoff.status = CLOSED
    handoff.closed_at = now
    handoff.close_reason = reason
    if not was_with_staff or handoff.paused_at is None:
        handoff.resumed_at = now  # never paused: nothing to resume
        return handoff
    session.add(
        HandoffMessage(handoff_id=handoff.id, author=SYSTEM, agent=actor, text=reason, at=now)
    )
    if actor != "resident":  # a resident who ended it has just been answered directly
        _tell(
            session,
            handoff,
            "handoff_closed",
            say(
                handoff.language,
                "Dạ, cuộc trò chuyện với nhân viên đã kết thúc. Trợ lý Tiếp Dân tiếp tục hỗ trợ "
                "anh/chị ạ.",
                "The conversation with staff has ended. The Tiếp Dân assistant is back to help "
                "you.",
            ),
            now,
        )
    hook = _survey_hook()
    if hook is not None and handoff.accepted_at is not None:
        hook(
            session,
            sender_id=handoff.sender_id,
            channel=handoff.channel,
            language=handoff.language,
            handoff_id=handoff.id,
            unit_id=handoff.unit_id,
            now=now,
        )
    session.flush()
    return handoff


def return_to_queue(session: Session, handoff: Handoff, *, now: datetime | None = None) -> None:
    """The agent left (closed the console, lost the connection): someone else can accept."""
    if handoff.status == ACTIVE:
        handoff.status = WAITING
        handoff.agent = None
        handoff.accepted_at = None
        session.add(
            HandoffMessage(handoff_id=handoff.id, author=SYSTEM, text="requeued", at=_utc(now))
        )


def close_idle(session: Session, idle: timedelta, *, now: datetime | None = None) -> list[Handoff]:
    """Close handoffs where nobody wrote for `idle`; returns them (their Rasa needs resuming)."""
    now = _utc(now)
    stale = (
        session.execute(
            select(Handoff).where(Handoff.status.in_(OPEN), Handoff.last_activity_at < now - idle)
        )
        .scalars()
        .all()
    )
    for handoff in stale:
        close(session, handoff, actor="system", reason="idle", now=now)
    expired_offers = (
        session.execute(
            select(Handoff).where(Handoff.status == CALLBACK, Handoff.last_activity_at < now - idle)
        )
        .scalars()
        .all()
    )
    for handoff in expired_offers:
        close(session, handoff, actor="system", reason="idle", now=now)
    return list(stale)


def needing_resume(session: Session) -> list[Handoff]:
    return list(
        session.execute(
            select(Handoff).where(Handoff.status == CLOSED, Handoff.resumed_at.is_(None))
        ).scalars()
    )


def needing_pause(session: Session) -> list[Handoff]:
    return list(
        session.execute(
            select(Handoff).where(Handoff.status.in_(OPEN), Handoff.paused_at.is_(None))
        ).scalars()
    )


def mark_paused(session: Session, handoff_id: int, now: datetime | None = None) -> None:
    handoff = session.get(Handoff, handoff_id)
    if handoff is not None:
        handoff.paused_at = _utc(now)


def mark_resumed(session: Session, handoff_id: int, now: datetime | None = None) -> None:
    handoff = session.get(Handoff, handoff_id)
    if handoff is not None:
        handoff.resumed_at = _utc(now)


def messages_since(session: Session, after_id: int, limit: int = 200) -> list[HandoffMessage]:
    return list(
        session.execute(
            select(HandoffMessage)
            .where(HandoffMessage.id > after_id)
            .order_by(HandoffMessage.id)
            .limit(limit)
        ).scalars()
    )


def transcript(session: Session, handoff: Handoff, limit: int = 50) -> list[dict[str, Any]]:
    """What the resident said before (the inbound log) and during the handoff, in order."""
    from bot.messages import InboundMessage

    before = session.execute(
        select(InboundMessage.text, InboundMessage.received_at)
        .where(
            InboundMessage.sender_id == handoff.sender_id,
            InboundMessage.received_at < handoff.requested_at,
        )
        .order_by(InboundMessage.id.desc())
        .limit(limit)
    ).all()
    lines = [
        {
            "author": RESIDENT,
            "text": text,
            "at": at.isoformat(timespec="seconds") + "Z",
            "before": True,
        }
        for text, at in reversed(before)
    ]
    during = session.execute(
        select(HandoffMessage)
        .where(HandoffMessage.handoff_id == handoff.id)
        .order_by(HandoffMessage.id)
    ).scalars()
    lines.extend(m.as_dict() for m in during)
    return lines


def _callback_ticket(
    session: Session, handoff: Handoff, text: str, phone: str, now: datetime
) -> Reply:
    from bot.calendar import WorkingCalendar
    from bot.tickets import open_ticket

    ticket = open_ticket(
        session,
        kind="request",
        category="other",
        description=f"Yêu cầu gọi lại / call-back request: {text}",
        location=None,
        sender_id=handoff.sender_id,
        channel=handoff.channel if handoff.channel in OUTBOX_CHANNELS else "api",
        language=handoff.language,
        phone=phone,
        calendar=WorkingCalendar(),
        unit_for_category=lambda _category: handoff.unit_id,
        now=now,
    )
    close(session, handoff, actor="resident", reason="callback_requested", now=now)
    return Reply(
        say(
            handoff.language,
            f"Dạ, em đã ghi nhận yêu cầu gọi lại, mã {ticket.code}. Nhân viên sẽ gọi "
            f"anh/chị trong khung giờ đã hẹn ạ.",
            f"Your call-back request is recorded as {ticket.code}. Staff will call you "
            f"at the time you gave.",
        )
    )


def intercept_for_handoff(session: Session, message: Inbound) -> list[Reply] | None:
    """The routing interceptor: hold messages of a conversation that is with staff."""
    handoff = open_handoff_for(session, message.sender_id)
    if handoff is None:
        return None
    now = _utc(None)
    text = message.text.strip()
    if text == CANCEL_PAYLOAD:
        close(session, handoff, actor="resident", reason="resident_cancelled", now=now)
        return [
            Reply(
                say(
                    handoff.language,
                    "Dạ vâng, em tiếp tục hỗ trợ anh/chị ạ.",
                    "All right, I'm here to help again.",
                )
            )
        ]
    if handoff.status == CALLBACK:
        phone = _PHONE.search(text)
        if phone is not None:
            return [_callback_ticket(session, handoff, text, re.sub(r"\D", "", phone.group()), now)]
        if text.startswith("/request_human"):
            return None  # asks again: the action queues or offers again
        close(session, handoff, actor="resident", reason="callback_declined", now=now)
        return None
    # Staff read what the resident saw: a pressed button's title, not its payload.
    from bot.messages import InboundMessage

    logged = session.get(InboundMessage, message.message_id)
    said = logged.text.strip() if logged is not None and logged.text.strip() else text
    session.add(HandoffMessage(handoff_id=handoff.id, author=RESIDENT, text=said[:4000], at=now))
    handoff.last_activity_at = now
    session.flush()
    return []
