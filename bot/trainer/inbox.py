"""The NLU inbox: resident messages the assistant probably misunderstood, for trainers.

What lands here, collected from live traffic by the gateway (see `capture_after_answer`):
- a message that ended in fallback (`nlu_fallback`, which starts the clarify flow, or any
  message the assistant answered with "I did not understand") or was classified
  `out_of_scope`, or whose intent confidence is below the inbox threshold;
- the message just before a request for a person (`request_human`): the one that failed;
- the messages of a conversation that got a survey score of 1 or 2 (`harvest_low_surveys`,
  run when a trainer opens the inbox or by `tiepdan nlu inbox list`).
Texts are masked (phones, CCCD, e-mails) before they are stored, de-duplicated by their
normalised form (case, diacritics, punctuation and spacing ignored) and counted.

Per message this costs next to nothing: the NLU result comes back with Rasa's answer
(bot.trainer.rasa_channel; see there why that way), `InboxObserver` decides in memory, and
only a message worth keeping is written, in a worker thread after the resident has the
answer (a few messages in a hundred, one small transaction each).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from bot.db import Base
from bot.text import clean, fold, has_diacritics
from bot.trainer.masking import mask_personal_data

PENDING, ACCEPTED, OUT_OF_SCOPE, IGNORED = "pending", "accepted", "out_of_scope", "ignored"
STATUSES = (PENDING, ACCEPTED, OUT_OF_SCOPE, IGNORED)
FALLBACK_INTENTS = {"nlu_fallback", "out_of_scope"}
FALLBACK_RESPONSES = ("utter_default", "utter_out_of_scope")
HANDOFF_INTENT = "request_human"
# Why a message was collected.
FALLBACK, LOW_CONFIDENCE, BEFORE_HANDOFF, LOW_SURVEY = (
    "fallback",
    "low_confidence",
    "before_handoff",
    "low_survey",
)
DEFAULT_THRESHOLD = 0.6
log = logging.getLogger(__name__)
SURVEY_LOOKBACK = timedelta(days=3)
SURVEY_MESSAGES = 10


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class InboxItem(Base):
    """One distinct wording residents used, with how often and when it was last seen."""

    __tablename__ = "nlu_inbox_item"

    id = Column(Integer, primary_key=True)
    key = Column(String(64), nullable=False, unique=True)  # sha256 of the normalised text
    text = Column(Text, nullable=False)  # masked
    language = Column(String(8), nullable=False)
    intent = Column(String(64), nullable=True)  # what the model predicted (latest)
    confidence = Column(Float, nullable=True)
    reasons = Column(String(128), nullable=False)
    count = Column(Integer, nullable=False, default=1)
    first_seen_at = Column(DateTime, nullable=False)
    last_seen_at = Column(DateTime, nullable=False, index=True)
    sender_id = Column(String(128), nullable=True)  # the latest conversation it came from
    message_id = Column(Integer, nullable=True)  # inbound_message.id of the latest sighting
    status = Column(String(16), nullable=False, default=PENDING, index=True)
    resolved_intent = Column(String(64), nullable=True)
    resolved_text = Column(Text, nullable=True)
    resolved_by = Column(String(64), nullable=True)
    resolved_at = Column(DateTime, nullable=True)
    data_file = Column(String(255), nullable=True)  # relative to the data folder
    data_line = Column(Text, nullable=True)  # the exact line written there
    exported_at = Column(DateTime, nullable=True)


class InboxSource(Base):
    """A survey (or other source) already looked at, so it is harvested once."""

    __tablename__ = "nlu_inbox_source"
    __table_args__ = (UniqueConstraint("kind", "ref"),)

    id = Column(Integer, primary_key=True)
    kind = Column(String(16), nullable=False)
    ref = Column(String(64), nullable=False)
    at = Column(DateTime, nullable=False)


@dataclass(frozen=True)
class Observation:
    """One resident message and what the model made of it (intent None: not known)."""

    message_id: int | None
    sender_id: str
    text: str
    language: str
    intent: str | None = None
    confidence: float | None = None


def normalised(text: str) -> str:
    """The de-duplication form: folded (no case, no diacritics), no punctuation."""
    return re.sub(r"[\W_]+", " ", fold(text)).strip()


def text_key(text: str) -> str:
    return hashlib.sha256(normalised(text).encode()).hexdigest()


def fallback_replies(domain: Path | None = None) -> frozenset[str]:
    """The texts of the "I did not understand" answers, in both languages: the clarify flow
    (bot.dialogue, after nlu_fallback) and the dialogue's own fallback and out-of-scope
    responses in domain.yml. A message answered with one of them ended in fallback even
    when the NLU was confident (e.g. `inform` with no form to fill)."""
    from bot.dialogue import clarify

    texts = {
        clarify(ranking, lang, failures).text
        for lang in ("vi", "en")
        for failures in (1, 2)
        for ranking in ([], [{"name": "file_complaint"}])
    }
    if domain is not None and domain.is_file():
        import yaml

        responses = (yaml.safe_load(domain.read_text(encoding="utf-8")) or {}).get("responses")
        for name in FALLBACK_RESPONSES:
            for variant in (responses or {}).get(name) or []:
                if isinstance(variant, dict) and variant.get("text"):
                    texts.add(str(variant["text"]))
    return frozenset(t for t in texts if t)


def reason_for(
    intent: str | None,
    confidence: float | None,
    threshold: float,
    replies: list[str] | None = None,
    fallback_texts: frozenset[str] = frozenset(),
) -> str | None:
    if intent in FALLBACK_INTENTS or any(r in fallback_texts for r in replies or ()):
        return FALLBACK
    if intent is not None and confidence is not None and confidence < threshold:
        return LOW_CONFIDENCE
    return None


def worth_keeping(text: str) -> bool:
    """Button payloads (`/intent{…}`) are not wordings; neither is a message of symbols."""
    return bool(text) and not text.startswith("/") and bool(normalised(text))


def capture(
    session: Session, seen: Observation, reason: str, now: datetime | None = None
) -> InboxItem | None:
    """Add a sighting to the inbox (masked, de-duplicated, counted); None if not kept."""
    masked = clean(mask_personal_data(seen.text))
    if not worth_keeping(masked):
        return None
    now = now or utcnow()
    key = text_key(masked)
    item = session.execute(select(InboxItem).where(InboxItem.key == key)).scalar_one_or_none()
    if item is None:
        item = InboxItem(
            key=key,
            text=masked[:2000],
            language=seen.language,
            intent=seen.intent,
            confidence=seen.confidence,
            reasons=reason,
            count=1,
            first_seen_at=now,
            last_seen_at=now,
            sender_id=seen.sender_id,
            message_id=seen.message_id,
            status=PENDING,
        )
        session.add(item)
        session.flush()
        return item
    reasons = item.reasons.split(",")
    if reason not in reasons:
        item.reasons = ",".join([*reasons, reason])[:128]
    # The same message collected for a second reason is still one sighting.
    if seen.message_id is None or seen.message_id != item.message_id:
        item.count += 1
    item.last_seen_at = now
    if seen.intent is not None:
        item.intent, item.confidence = seen.intent, seen.confidence
    item.sender_id, item.message_id = seen.sender_id, seen.message_id or item.message_id
    session.flush()
    return item


class RecentMessages:
    """The latest message of each conversation with its NLU result, in this process only
    (bounded), so that the message before a request for a person keeps its intent."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._items: OrderedDict[str, Observation] = OrderedDict()
        self._lock = threading.Lock()

    def swap(self, seen: Observation) -> Observation | None:
        """Remember `seen` as the conversation's latest; return the one before it."""
        with self._lock:
            previous = self._items.pop(seen.sender_id, None)
            self._items[seen.sender_id] = seen
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return previous


RECENT = RecentMessages()


def message_language(text: str, nlu: dict[str, Any] | None, hint: str | None) -> str:
    language = (nlu or {}).get("language")
    if language in ("vi", "en"):
        return str(language)
    if hint in ("vi", "en"):
        return str(hint)
    return "vi" if has_diacritics(text) or not text.isascii() else "en"


def capture_after_answer(
    *,
    message_id: int | None,
    sender_id: str,
    text: str,
    language_hint: str | None,
    nlu: dict[str, Any] | None,
    recent: RecentMessages = RECENT,
    threshold: float | None = None,
    fallback_texts: frozenset[str] = frozenset(),
) -> Callable[[Session], None] | None:
    """What to write for a message Rasa has just answered, as a function of the session the
    gateway already opens to mark it answered; None (nothing to write) for most messages."""
    if nlu is None:
        return None
    confidence = nlu.get("confidence")
    seen = Observation(
        message_id=message_id,
        sender_id=sender_id,
        text=text,
        language=message_language(text, nlu, language_hint),
        intent=nlu.get("intent"),
        confidence=float(confidence) if confidence is not None else None,
    )
    previous = recent.swap(seen)
    limit = DEFAULT_THRESHOLD if threshold is None else threshold
    writes: list[Callable[[Session], Any]] = []
    reason = reason_for(seen.intent, seen.confidence, limit, nlu.get("replies"), fallback_texts)
    if reason is not None:
        writes.append(lambda session: capture(session, seen, reason))
    if seen.intent == HANDOFF_INTENT:
        writes.append(lambda session: _capture_before_handoff(session, seen, previous))
    if not writes:
        return None

    def write(session: Session) -> None:
        for one in writes:
            one(session)

    return write


class InboxObserver:
    """Registered in `bot.rasa_client.NLU_OBSERVERS` by the gateway: decides in memory and
    writes the few messages worth keeping in a worker thread, off the resident's path."""

    def __init__(
        self,
        sessions: Any,
        threshold: float,
        recent: RecentMessages | None = None,
        domain: Path | None = None,
    ) -> None:
        self.sessions = sessions
        self.threshold = threshold
        self.recent = recent or RecentMessages()
        self.fallback_texts = fallback_replies(domain)
        self._writes: set[asyncio.Future[None]] = set()
        self._last: asyncio.Future[None] | None = None

    def __call__(
        self, sender_id: str, text: str, metadata: dict[str, Any], nlu: dict[str, Any]
    ) -> None:
        message_id = metadata.get("inbound_id")
        write = capture_after_answer(
            message_id=message_id if isinstance(message_id, int) else None,
            sender_id=sender_id,
            text=text,
            language_hint=metadata.get("lang"),
            nlu=nlu,
            recent=self.recent,
            threshold=self.threshold,
            fallback_texts=self.fallback_texts,
        )
        if write is None:
            return
        # One write after another, in the order the answers came: the newest sighting of a
        # wording is the one its inbox item links to.
        task = asyncio.ensure_future(self._after(self._last, write))
        self._last = task
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _after(
        self, previous: asyncio.Future[None] | None, write: Callable[[Session], None]
    ) -> None:
        if previous is not None and not previous.done():
            await asyncio.gather(previous, return_exceptions=True)
        await asyncio.to_thread(self._write, write)

    def _write(self, write: Callable[[Session], None]) -> None:
        from bot.db import transaction

        try:
            with transaction(self.sessions) as session:
                write(session)
        except Exception:  # losing an inbox entry must never disturb the conversation
            log.exception("could not store a message in the NLU inbox")

    async def drain(self) -> None:
        """Wait for the writes under way (shutdown, tests)."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)


def _capture_before_handoff(
    session: Session, handoff_request: Observation, previous: Observation | None
) -> None:
    if previous is None:  # another process answered it, or this one restarted: the log has it
        from bot.messages import InboundMessage

        query = select(InboundMessage.id, InboundMessage.text, InboundMessage.language_hint).where(
            InboundMessage.sender_id == handoff_request.sender_id
        )
        if handoff_request.message_id is not None:
            query = query.where(InboundMessage.id < handoff_request.message_id).limit(1)
        else:  # the request is the latest message: take the one before it
            query = query.limit(1).offset(1)
        row = session.execute(query.order_by(InboundMessage.id.desc())).first()
        if row is None:
            return
        previous = Observation(
            row.id,
            handoff_request.sender_id,
            row.text,
            message_language(row.text, None, row.language_hint),
        )
    if previous.intent == HANDOFF_INTENT or not worth_keeping(previous.text):
        return
    capture(session, previous, BEFORE_HANDOFF)


def harvest_low_surveys(session: Session, limit: int = 50, now: datetime | None = None) -> int:
    """Collect the messages of conversations scored 1-2 that were not looked at yet.

    The conversation is the resident's last messages before the survey was sent (at most
    SURVEY_MESSAGES, within SURVEY_LOOKBACK). Returns how many messages were collected.
    """
    from bot.messages import InboundMessage
    from bot.surveys import Survey

    seen = select(InboxSource.ref).where(InboxSource.kind == "survey")
    surveys = session.execute(
        select(Survey)
        .where(Survey.score.in_((1, 2)), Survey.token.not_in(seen))
        .order_by(Survey.id)
        .limit(limit)
    ).scalars()
    collected = 0
    for survey in list(surveys):
        rows = session.execute(
            select(InboundMessage)
            .where(
                InboundMessage.sender_id == survey.sender_id,
                InboundMessage.received_at <= survey.sent_at,
                InboundMessage.received_at >= survey.sent_at - SURVEY_LOOKBACK,
            )
            .order_by(InboundMessage.id.desc())
            .limit(SURVEY_MESSAGES)
        ).scalars()
        for row in rows:
            if not worth_keeping(row.text):
                continue
            observation = Observation(
                row.id,
                row.sender_id,
                row.text,
                message_language(row.text, None, survey.language or row.language_hint),
            )
            if capture(session, observation, LOW_SURVEY, now=row.received_at) is not None:
                collected += 1
        session.add(InboxSource(kind="survey", ref=survey.token, at=now or utcnow()))
    session.flush()
    return collected


@dataclass(frozen=True)
class InboxQuery:
    status: str = PENDING
    order: str = "recent"  # or "frequent"
    search: str = ""
    limit: int = 100
    offset: int = 0


def list_items(session: Session, query: InboxQuery) -> tuple[list[InboxItem], int]:
    """Newest first (or most frequent first), with the total for paging."""
    conditions = []
    if query.status in STATUSES:
        conditions.append(InboxItem.status == query.status)
    if query.search.strip():
        pattern = f"%{query.search.strip().lower()}%"
        conditions.append(
            or_(func.lower(InboxItem.text).like(pattern), InboxItem.intent.like(pattern))
        )
    if query.order == "frequent":
        order = (InboxItem.count.desc(), InboxItem.last_seen_at.desc(), InboxItem.id.desc())
    else:
        order = (InboxItem.last_seen_at.desc(), InboxItem.count.desc(), InboxItem.id.desc())
    total = session.execute(select(func.count(InboxItem.id)).where(*conditions)).scalar_one()
    items = session.execute(
        select(InboxItem)
        .where(*conditions)
        .order_by(*order)
        .limit(query.limit)
        .offset(query.offset)
    ).scalars()
    return list(items), int(total)


def counts_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(InboxItem.status, func.count(InboxItem.id)).group_by(InboxItem.status)
    )
    found = {status: int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in STATUSES}


def get_item(session: Session, item_id: int) -> InboxItem | None:
    return session.get(InboxItem, item_id)


def pending_exports(session: Session) -> list[InboxItem]:
    """Examples written into the data files and not yet exported for version control."""
    return list(
        session.execute(
            select(InboxItem)
            .where(InboxItem.data_line.is_not(None), InboxItem.exported_at.is_(None))
            .order_by(InboxItem.resolved_at, InboxItem.id)
        ).scalars()
    )
