"""Satisfaction surveys: one required question (1–5) and one optional comment, offered after
a ticket is resolved, after a handoff ends, or (sampled) after a bot-only conversation.

The invitation goes out through the outbox; the answer comes back as an ordinary resident
message and is caught by `survey_interceptor` (registered in `bot.routing`) before Rasa, so
no retraining is needed. A score of 1 or 2 starts service recovery: the ticket is reopened
(or the handoff flagged) and the unit's supervisor is alerted through the outbox.

Like the other services, nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

import json
import random
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    bindparam,
    exists,
    func,
    select,
)
from sqlalchemy.orm import Session

from bot import outbox
from bot.db import Base
from bot.replies import Button, Reply, say
from bot.text import fold
from bot.tickets.dates import as_utc
from bot.tickets.models import Ticket

TICKET, HANDOFF, CONVERSATION = "ticket", "handoff", "conversation"
TRIGGERS = (TICKET, HANDOFF, CONVERSATION)
SCORES = (1, 2, 3, 4, 5)
LABELS = {
    "vi": ("Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"),
    "en": ("Very dissatisfied", "Dissatisfied", "Neutral", "Satisfied", "Very satisfied"),
}
SKIP_WORDS = frozenset({"bo qua", "skip", "khong", "no", "khong co", "no thanks", "thoi"})
LOW_SCORES = frozenset({1, 2})
SYSTEM = "system"
_PAYLOAD = re.compile(r"^/survey(\{.*\})\s*$", re.DOTALL)
# Starts of messages that are a new request, not a comment on the last answer.
_REQUEST_STARTS = (
    "xin chao",
    "chao",
    "cho hoi",
    "cho em hoi",
    "cho toi hoi",
    "toi muon",
    "toi can",
    "em muon",
    "lam sao",
    "lam the nao",
    "o dau",
    "hello",
    "hi ",
    "how ",
    "where ",
    "when ",
    "what ",
    "i want",
    "i need",
    "can i",
    "menu",
    "start",
)
_TICKET_CODE = re.compile(r"\b[A-Z]{2}-\d{4}-[A-Z0-9]{5}\b", re.IGNORECASE)


@dataclass(frozen=True)
class SurveyPolicy:
    """When to ask and for how long to wait; built from the settings at the edge."""

    delay: timedelta = timedelta(minutes=60)
    window: timedelta = timedelta(days=30)
    expiry: timedelta = timedelta(hours=72)
    # The optional comment is taken as the next free text only this long after the score.
    comment_wait: timedelta = timedelta(minutes=10)
    conversation_sample_rate: float = 0.0

    @classmethod
    def from_settings(cls, settings: Any) -> SurveyPolicy:
        return cls(
            delay=timedelta(minutes=settings.survey_delay_minutes),
            window=timedelta(days=settings.survey_window_days),
            expiry=timedelta(hours=settings.survey_expiry_hours),
            conversation_sample_rate=settings.survey_sample_rate,
        )


SupervisorLookup = Callable[[str], "str | None"]


@dataclass(frozen=True)
class SurveyConfig:
    policy: SurveyPolicy = SurveyPolicy()
    supervisor_for_unit: SupervisorLookup | None = None


# What the registered interceptor and the change_status hook use. The composition root
# (gateway, action server) calls `configure` once with the settings and the catalog's
# supervisor lookup; until then the defaults above apply and alerts name no supervisor.
_config = SurveyConfig()


def configure(
    policy: SurveyPolicy | None = None, supervisor_for_unit: SupervisorLookup | None = None
) -> None:
    global _config
    _config = SurveyConfig(policy or SurveyPolicy(), supervisor_for_unit)


def current_config() -> SurveyConfig:
    return _config


class Survey(Base):
    """One invitation and its answer. Unique per ticket and per handoff: asked once."""

    __tablename__ = "survey"
    __table_args__ = (Index("ix_survey_sender_offered", "sender_id", "offered_at"),)

    id = Column(Integer, primary_key=True)
    token = Column(String(16), nullable=False, unique=True)
    trigger = Column(String(16), nullable=False)
    ticket_id = Column(
        Integer, ForeignKey("ticket.id", ondelete="CASCADE"), nullable=True, unique=True
    )
    handoff_id = Column(String(64), nullable=True, unique=True)
    unit_id = Column(String(64), nullable=True, index=True)
    sender_id = Column(String(128), nullable=False)
    channel = Column(String(16), nullable=False)
    language = Column(String(8), nullable=False)
    # offered_at: when it was decided; sent_at: when the invitation is due to go out.
    offered_at = Column(DateTime, nullable=False, index=True)
    sent_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False)
    score = Column(Integer, nullable=True)
    answered_at = Column(DateTime, nullable=True, index=True)
    late = Column(Boolean, nullable=False, default=False)
    comment = Column(Text, nullable=True)
    commented_at = Column(DateTime, nullable=True)
    # While set and in the future, the resident's next free text is the comment.
    comment_until = Column(DateTime, nullable=True)
    flagged_at = Column(DateTime, nullable=True)

    def __repr__(self) -> str:
        return f"<Survey {self.token} {self.trigger} score={self.score}>"


# Performance reports select tickets by the moment they were opened (migration 0005).
Index("ix_ticket_created_at", Ticket.created_at)


# ---- offering ------------------------------------------------------------------------


def _recently_surveyed(session: Session, sender_id: str, now: datetime, window: timedelta) -> bool:
    return (
        session.execute(
            select(func.count())
            .select_from(Survey)
            .where(Survey.sender_id == sender_id, Survey.offered_at > now - window)
        ).scalar_one()
        > 0
    )


def score_buttons(token: str, lang: str) -> list[Button]:
    return [
        Button(LABELS["en" if lang == "en" else "vi"][score - 1], score_payload(token, score))
        for score in SCORES
    ]


def score_payload(token: str, score: int) -> str:
    return f'/survey{{"id":"{token}","score":{score}}}'


def skip_payload(token: str) -> str:
    return f'/survey{{"id":"{token}","skip":true}}'


def _question(trigger: str, lang: str, ticket_code: str | None) -> str:
    if trigger == TICKET:
        return say(
            lang,
            f"Dạ, phản ánh {ticket_code} của anh/chị đã được giải quyết. Anh/chị có hài lòng "
            "với kết quả xử lý không ạ? Xin chọn một mức bên dưới.",
            f"Your report {ticket_code} has been resolved. How satisfied are you with how it "
            "was handled? Please choose one.",
        )
    if trigger == HANDOFF:
        return say(
            lang,
            "Dạ, cảm ơn anh/chị đã trao đổi với cán bộ. Anh/chị có hài lòng với lần hỗ trợ "
            "này không ạ?",
            "Thank you for talking with our staff. How satisfied are you with the help you got?",
        )
    return say(
        lang,
        "Dạ, anh/chị có hài lòng với câu trả lời của trợ lý Tiếp Dân không ạ?",
        "How satisfied are you with the answers from the Tiếp Dân assistant?",
    )


def _offer(
    session: Session,
    *,
    trigger: str,
    sender_id: str,
    channel: str,
    language: str,
    unit_id: str | None,
    now: datetime,
    policy: SurveyPolicy,
    ticket_id: int | None = None,
    ticket_code: str | None = None,
    handoff_id: str | None = None,
) -> Survey | None:
    if channel not in outbox.CHANNELS or channel == "staff":
        return None
    if _recently_surveyed(session, sender_id, now, policy.window):
        return None
    language = "en" if language == "en" else "vi"
    sent_at = now + policy.delay
    survey = Survey(
        token=secrets.token_urlsafe(6),
        trigger=trigger,
        ticket_id=ticket_id,
        handoff_id=handoff_id,
        unit_id=unit_id,
        sender_id=sender_id,
        channel=channel,
        language=language,
        offered_at=now,
        sent_at=sent_at,
        expires_at=sent_at + policy.expiry,
        late=False,
    )
    session.add(survey)
    session.flush()
    outbox.enqueue(
        session,
        channel=channel,
        recipient=sender_id,
        language=language,
        kind="survey",
        text=_question(trigger, language, ticket_code),
        buttons=[
            {"title": b.title, "payload": b.payload} for b in score_buttons(survey.token, language)
        ],
        ticket_id=ticket_id,
        dedupe_key=f"survey:{survey.token}",
        not_before=sent_at,
        now=now,
    )
    return survey


def offer_after_resolution(
    session: Session, ticket: Any, now: datetime | None = None, policy: SurveyPolicy | None = None
) -> Survey | None:
    """Ask about a resolved ticket once (never twice for one ticket, nor a resident twice
    within the window); the invitation waits `policy.delay` in the outbox."""
    now = as_utc(now)
    found = session.execute(select(Survey.id).where(Survey.ticket_id == ticket.id)).first()
    if found is not None:
        return None
    return _offer(
        session,
        trigger=TICKET,
        sender_id=ticket.sender_id,
        channel=ticket.channel,
        language=ticket.language,
        unit_id=ticket.responsible_unit_id,
        now=now,
        policy=policy or _config.policy,
        ticket_id=ticket.id,
        ticket_code=ticket.code,
    )


def offer_after_handoff(
    session: Session,
    *,
    sender_id: str,
    channel: str,
    language: str,
    handoff_id: str | int,
    unit_id: str | None,
    now: datetime | None = None,
    policy: SurveyPolicy | None = None,
) -> Survey | None:
    """Ask about a conversation staff just handed back (once per handoff)."""
    now = as_utc(now)
    handoff_key = str(handoff_id)
    found = session.execute(select(Survey.id).where(Survey.handoff_id == handoff_key)).first()
    if found is not None:
        return None
    return _offer(
        session,
        trigger=HANDOFF,
        sender_id=sender_id,
        channel=channel,
        language=language,
        unit_id=unit_id,
        now=now,
        policy=policy or _config.policy,
        handoff_id=handoff_key,
    )


def offer_after_conversation(
    session: Session,
    *,
    sender_id: str,
    channel: str,
    language: str,
    now: datetime | None = None,
    policy: SurveyPolicy | None = None,
    draw: Callable[[], float] = random.random,
) -> Survey | None:
    """Ask about a bot-only conversation, for a sample of them (rate 0 = never)."""
    policy = policy or _config.policy
    if policy.conversation_sample_rate <= 0 or draw() >= policy.conversation_sample_rate:
        return None
    return _offer(
        session,
        trigger=CONVERSATION,
        sender_id=sender_id,
        channel=channel,
        language=language,
        unit_id=None,
        now=as_utc(now),
        policy=policy,
    )


# ---- answering -----------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyAnswer:
    token: str
    score: int | None = None
    skip: bool = False


def parse_payload(text: str) -> SurveyAnswer | None:
    """`/survey{"id":"…","score":4}` or `/survey{"id":"…","skip":true}`, else None."""
    match = _PAYLOAD.match(text.strip())
    if not match:
        return None
    try:
        data = json.loads(match.group(1))
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        return None
    score = data.get("score")
    if isinstance(score, str) and score.isdigit():
        score = int(score)
    if score is not None and score not in SCORES:
        return None
    return SurveyAnswer(data["id"], score, bool(data.get("skip")))


_LABEL_SCORES = {fold(label): n + 1 for labels in LABELS.values() for n, label in enumerate(labels)}


def score_from_text(text: str) -> int | None:
    """A bare digit 1–5 or one of the button labels (with or without diacritics)."""
    folded = fold(text).strip(" .!")
    if folded in {"1", "2", "3", "4", "5"}:
        return int(folded)
    return _LABEL_SCORES.get(folded)


def looks_like_new_request(text: str) -> bool:
    folded = fold(text)
    return (
        text.lstrip().startswith("/")
        or text.rstrip().endswith("?")
        or bool(_TICKET_CODE.search(text))
        or folded.startswith(_REQUEST_STARTS)
        or folded in {"hi", "hello", "chao", "alo"}
    )


def _thanks(lang: str) -> Reply:
    return Reply(
        say(
            lang,
            "Dạ, em cảm ơn anh/chị đã góp ý. Ý kiến của anh/chị giúp chúng tôi phục vụ tốt hơn ạ.",
            "Thank you for your feedback — it helps us serve you better.",
        )
    )


def _comment_question(survey: Survey, lang: str, recovered: bool) -> Reply:
    if recovered and survey.trigger == TICKET:
        opener = say(
            lang,
            "Dạ, em rất tiếc vì anh/chị chưa hài lòng. Phản ánh đã được mở lại và chuyển "
            "lãnh đạo đơn vị xem xét.",
            "We are sorry you are not satisfied. Your report has been reopened and passed to "
            "the head of the unit.",
        )
    elif recovered:
        opener = say(
            lang,
            "Dạ, em rất tiếc vì anh/chị chưa hài lòng. Ý kiến đã được chuyển lãnh đạo đơn vị "
            "xem xét.",
            "We are sorry you are not satisfied. We have passed this on to the head of the unit.",
        )
    else:
        opener = say(lang, "Dạ, em cảm ơn anh/chị.", "Thank you.")
    question = say(
        lang,
        "Anh/chị có góp ý gì thêm không ạ? (có thể bỏ qua)",
        "Is there anything else you would like to tell us? (optional)",
    )
    return Reply(
        f"{opener} {question}", [Button(say(lang, "Bỏ qua", "Skip"), skip_payload(survey.token))]
    )


def _find_by_token(session: Session, token: str, sender_id: str) -> Survey | None:
    return session.execute(
        select(Survey).where(Survey.token == token, Survey.sender_id == sender_id)
    ).scalar_one_or_none()


# On every message's path (the routing interceptor): built once.
# A survey sent to the sender and still open (parameters: `_open_params`).
_OPEN = (
    Survey.sender_id == bindparam("sender"),
    Survey.sent_at <= bindparam("survey_now"),
    Survey.offered_at > bindparam("survey_since"),
)
_LATEST_OPEN = (
    select(Survey).where(*_OPEN).order_by(Survey.sent_at.desc(), Survey.id.desc()).limit(1)
)
# When `survey_interceptor` may answer, for the routing's one-query check (bot.routing):
# a survey offered to the sender that `_latest_open` would find, or a survey button's
# payload in the text.
PENDING = exists().where(*_OPEN)


def _open_params(now: datetime) -> dict[str, datetime]:
    return {"survey_now": now, "survey_since": now - _config.policy.window - _config.policy.expiry}


def pending_params() -> dict[str, datetime]:
    return _open_params(as_utc(None))


def is_survey_payload(text: str) -> bool:
    return parse_payload(text) is not None


def _latest_open(session: Session, sender_id: str, now: datetime) -> Survey | None:
    """The survey waiting for this sender's score or comment, if any."""
    return session.execute(
        _LATEST_OPEN, {"sender": sender_id, **_open_params(now)}
    ).scalar_one_or_none()


def _alert_supervisor(
    session: Session,
    survey: Survey,
    now: datetime,
    supervisor_for_unit: SupervisorLookup | None,
    *,
    comment_only: bool = False,
) -> None:
    unit = survey.unit_id
    supervisor = supervisor_for_unit(unit) if (unit and supervisor_for_unit) else None
    if not supervisor:
        return
    about = _about(session, survey)
    if comment_only:
        text = f"Góp ý kèm đánh giá {survey.score}/5 về {about}: “{survey.comment}”"
        key = f"survey-comment:{survey.id}"
    else:
        text = (
            f"Người dân đánh giá {survey.score}/5 ({LABELS['vi'][survey.score - 1]}) về {about}"
            f" qua kênh {survey.channel}. "
            + (f"Góp ý: “{survey.comment}”. " if survey.comment else "")
            + "Đề nghị đơn vị xem xét và liên hệ lại người dân."
        )
        key = f"survey-alert:{survey.id}"
    ticket_id = survey.ticket_id
    outbox.enqueue(
        session,
        channel="staff",
        recipient=supervisor,
        language="vi",
        kind="survey_alert",
        text=text,
        ticket_id=ticket_id,
        dedupe_key=key,
        now=now,
    )


def _about(session: Session, survey: Survey) -> str:
    if survey.ticket_id is not None:
        code = session.execute(
            select(Ticket.code).where(Ticket.id == survey.ticket_id)
        ).scalar_one_or_none()
        return f"phản ánh {code}"
    if survey.handoff_id is not None:
        return f"cuộc trao đổi với cán bộ (handoff {survey.handoff_id})"
    return "trợ lý tự động"


def _recover(
    session: Session, survey: Survey, now: datetime, supervisor_for_unit: SupervisorLookup | None
) -> None:
    """Service recovery for a low score: reopen the ticket or flag the handoff, alert."""
    survey.flagged_at = now
    if survey.ticket_id is not None:
        from bot.tickets.lifecycle import CLOSED, REOPENED, RESOLVED
        from bot.tickets.services import change_status

        ticket = session.get(Ticket, survey.ticket_id)
        if ticket is not None and ticket.status in (RESOLVED, CLOSED):
            change_status(
                session,
                ticket.code,
                REOPENED,
                actor=SYSTEM,
                internal_note=f"satisfaction survey scored {survey.score}/5: service recovery",
                now=now,
            )
    _alert_supervisor(session, survey, now, supervisor_for_unit)


def record_score(
    session: Session,
    survey: Survey,
    score: int,
    *,
    now: datetime,
    language: str,
    config: SurveyConfig | None = None,
) -> Reply:
    """Store the score once (a second submission changes nothing) and say what next."""
    config = config or _config
    lang = "en" if language == "en" else "vi"
    if survey.score is not None:
        return Reply(
            say(
                lang,
                "Dạ, đánh giá của anh/chị cho phiếu này đã được ghi nhận trước đó. "
                "Em cảm ơn anh/chị ạ.",
                "Your answer to this survey was already recorded. Thank you.",
            )
        )
    survey.score = score
    survey.answered_at = now
    survey.late = now > survey.expires_at
    recovered = score in LOW_SCORES
    if recovered:
        _recover(session, survey, now, config.supervisor_for_unit)
    if survey.late:
        session.flush()
        return Reply(
            say(
                lang,
                "Dạ, em cảm ơn anh/chị. Phiếu khảo sát này đã hết hạn nhưng ý kiến của "
                "anh/chị vẫn được ghi nhận ạ.",
                "Thank you. This survey had closed, but your answer has still been recorded.",
            )
        )
    survey.comment_until = now + config.policy.comment_wait
    session.flush()
    return _comment_question(survey, lang, recovered)


def record_comment(
    session: Session,
    survey: Survey,
    comment: str | None,
    *,
    now: datetime,
    language: str,
    config: SurveyConfig | None = None,
) -> Reply:
    """Store the optional comment (None = skipped) and thank the resident."""
    config = config or _config
    survey.comment_until = None
    text = (comment or "").strip()
    if text and survey.comment is None:
        survey.comment = text[:2000]
        survey.commented_at = now
        if survey.score in LOW_SCORES:
            _alert_supervisor(session, survey, now, config.supervisor_for_unit, comment_only=True)
    session.flush()
    return _thanks("en" if language == "en" else "vi")


def answer_survey(
    session: Session,
    sender_id: str,
    text: str,
    language: str | Callable[[], str],
    *,
    now: datetime | None = None,
    config: SurveyConfig | None = None,
) -> list[Reply] | None:
    """The replies when this message answers a survey, or None to let Rasa answer it.
    `language` may be a function, called only when the message is a survey answer."""
    now = as_utc(now)

    def lang() -> str:
        return language() if callable(language) else language

    config = config or _config
    payload = parse_payload(text)
    if payload is not None:
        survey = _find_by_token(session, payload.token, sender_id)
        if survey is None:
            return [Reply(say(lang(), "Dạ, em cảm ơn anh/chị ạ.", "Thank you."))]
        if payload.skip:
            return [record_comment(session, survey, None, now=now, language=lang(), config=config)]
        if payload.score is not None:
            return [
                record_score(
                    session, survey, payload.score, now=now, language=lang(), config=config
                )
            ]
        return None
    survey = _latest_open(session, sender_id, now)
    if survey is None:
        return None
    if survey.score is None:
        score = score_from_text(text)
        if score is None or now > survey.expires_at:
            return None
        return [record_score(session, survey, score, now=now, language=lang(), config=config)]
    if survey.comment_until is None or now > survey.comment_until:
        return None
    if looks_like_new_request(text):
        survey.comment_until = None  # the resident moved on
        return None
    skipped = fold(text).strip(" .!") in SKIP_WORDS
    return [
        record_comment(
            session, survey, None if skipped else text, now=now, language=lang(), config=config
        )
    ]


def survey_interceptor(session: Session, message: Any) -> list[Reply] | None:
    """The routing hook (see bot.routing): answers survey payloads and pending answers."""
    return answer_survey(session, message.sender_id, message.text, lambda: message.language)


def with_policy(config: SurveyConfig, **changes: Any) -> SurveyConfig:
    return replace(config, policy=replace(config.policy, **changes))
