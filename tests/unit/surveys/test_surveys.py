"""Satisfaction surveys: offered once after a resolution or a handoff, answered through the
routing interceptor in both languages and on several channels, with service recovery."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot import routing, surveys
from bot.outbox import OutboxMessage
from bot.routing import Inbound
from bot.surveys import Survey, SurveyConfig, SurveyPolicy, answer_survey, score_payload
from bot.tickets import TicketEvent, change_status, open_ticket

# Monday 23/11/2026, 09:00 in Vietnam.
NOW = datetime(2026, 11, 23, 2, 0)


def _ticket(session, catalog, *, sender="tg:1001", channel="telegram", language="vi", at=NOW):  # type: ignore[no-untyped-def]
    return open_ticket(
        session,
        kind="problem_report",
        category="water_supply",
        description="Mất nước từ sáng nay, vòi không chảy giọt nào",
        location="12 Bạch Đằng",
        sender_id=sender,
        channel=channel,
        language=language,
        calendar=catalog.calendar,
        unit_for_category=lambda category: catalog.unit_for_category(category).id,
        now=at,
    )


def _resolve(session, ticket, at=NOW):  # type: ignore[no-untyped-def]
    for status in ("assigned", "in_progress", "resolved"):
        change_status(session, ticket.code, status, actor="staff:lan", now=at)
    return session.execute(select(Survey).where(Survey.ticket_id == ticket.id)).scalar_one_or_none()


def _config(catalog) -> SurveyConfig:  # type: ignore[no-untyped-def]
    return SurveyConfig(SurveyPolicy(), lambda unit: catalog.units[unit].supervisor)


def _survey_messages(session, kind="survey"):  # type: ignore[no-untyped-def]
    return list(session.execute(select(OutboxMessage).where(OutboxMessage.kind == kind)).scalars())


def test_resolving_a_ticket_queues_one_survey_after_the_delay(session, catalog) -> None:
    ticket = _ticket(session, catalog)
    survey = _resolve(session, ticket)
    assert survey is not None and survey.unit_id == "water_company"
    [invitation] = _survey_messages(session)
    assert invitation.next_attempt_at == NOW + timedelta(minutes=60)
    assert invitation.recipient == "tg:1001" and invitation.channel == "telegram"
    assert ticket.code in invitation.text
    assert [b["title"] for b in invitation.buttons] == [
        "Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng",
    ]  # fmt: skip
    assert invitation.buttons[3]["payload"] == f'/survey{{"id":"{survey.token}","score":4}}'
    # Reopened and resolved again: still one survey for the ticket.
    change_status(session, ticket.code, "reopened", actor="resident", now=NOW)
    change_status(session, ticket.code, "resolved", actor="staff:lan", now=NOW)
    assert len(_survey_messages(session)) == 1


def test_a_resident_is_surveyed_at_most_once_in_the_window(session, catalog) -> None:
    assert _resolve(session, _ticket(session, catalog)) is not None
    assert _resolve(session, _ticket(session, catalog, at=NOW + timedelta(days=10)),
                    at=NOW + timedelta(days=10)) is None  # fmt: skip
    later = NOW + timedelta(days=31)
    assert _resolve(session, _ticket(session, catalog, at=later), at=later) is not None


def test_vietnamese_telegram_resident_scores_then_comments(session, catalog) -> None:
    survey = _resolve(session, _ticket(session, catalog))
    at = survey.sent_at + timedelta(minutes=5)
    [reply] = answer_survey(session, "tg:1001", score_payload(survey.token, 4), "vi", now=at)
    assert "góp ý gì thêm" in reply.text and [b.title for b in reply.buttons] == ["Bỏ qua"]
    [thanks] = answer_survey(session, "tg:1001", "Nhân viên đến sửa rất nhanh", "vi", now=at)
    assert thanks.text.startswith("Dạ, em cảm ơn")
    assert (survey.score, survey.comment, survey.late) == (4, "Nhân viên đến sửa rất nhanh", False)
    # Afterwards, ordinary messages go to Rasa again.
    assert answer_survey(session, "tg:1001", "Cảm ơn", "vi", now=at + timedelta(minutes=1)) is None


def test_english_web_resident_answers_with_a_bare_digit_and_skips(session, catalog) -> None:
    ticket = _ticket(session, catalog, sender="web:s3ss10n", channel="widget", language="en")
    survey = _resolve(session, ticket)
    [invitation] = _survey_messages(session)
    assert invitation.channel == "widget" and "How satisfied" in invitation.text
    assert invitation.buttons[0]["title"] == "Very dissatisfied"
    at = survey.sent_at + timedelta(hours=2)
    [reply] = answer_survey(session, "web:s3ss10n", "5", "en", now=at)
    assert "anything else" in reply.text and reply.buttons[0].title == "Skip"
    [thanks] = answer_survey(
        session, "web:s3ss10n", surveys.skip_payload(survey.token), "en", now=at
    )
    assert thanks.text.startswith("Thank you")
    assert (survey.score, survey.comment, survey.comment_until) == (5, None, None)


def test_label_words_without_diacritics_count_while_a_question_is_pending(session, catalog) -> None:
    survey = _resolve(session, _ticket(session, catalog))
    at = survey.sent_at + timedelta(minutes=1)
    assert answer_survey(session, "tg:1001", "mất nước nữa rồi", "vi", now=at) is None
    assert answer_survey(session, "tg:1001", "hai long", "vi", now=at) is not None
    assert survey.score == 4


def test_a_digit_before_the_invitation_went_out_is_not_an_answer(session, catalog) -> None:
    survey = _resolve(session, _ticket(session, catalog))
    assert (
        answer_survey(session, "tg:1001", "3", "vi", now=survey.sent_at - timedelta(minutes=1))
        is None
    )
    assert survey.score is None


def test_a_new_request_or_a_late_text_is_not_taken_as_the_comment(session, catalog) -> None:
    survey = _resolve(session, _ticket(session, catalog))
    at = survey.sent_at
    answer_survey(session, "tg:1001", "4", "vi", now=at)
    assert (
        answer_survey(session, "tg:1001", "Cho hỏi giờ làm việc của phường?", "vi", now=at) is None
    )
    assert survey.comment is None and survey.comment_until is None

    other = _resolve(session, _ticket(session, catalog, sender="tg:2002"))
    answer_survey(session, "tg:2002", "4", "vi", now=at)
    assert answer_survey(session, "tg:2002", "ổn", "vi", now=at + timedelta(minutes=11)) is None
    assert other.comment is None


def test_low_score_reopens_the_ticket_and_alerts_the_supervisor(session, catalog) -> None:
    ticket = _ticket(session, catalog)
    survey = _resolve(session, ticket)
    at = survey.sent_at + timedelta(minutes=3)
    config = _config(catalog)
    [reply] = answer_survey(
        session, "tg:1001", score_payload(survey.token, 1), "vi", now=at, config=config
    )
    assert "mở lại" in reply.text
    assert ticket.status == "reopened"
    event = (
        session.execute(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.id.desc())
        )
        .scalars()
        .first()
    )
    assert (event.actor, event.to_status) == ("system", "reopened")
    assert "survey scored 1/5" in event.internal_note
    answer_survey(session, "tg:1001", "Vẫn chưa có nước", "vi", now=at, config=config)
    alerts = _survey_messages(session, "survey_alert")
    supervisor = catalog.units["water_company"].supervisor
    assert [a.recipient for a in alerts] == [supervisor, supervisor]
    assert all(a.channel == "staff" for a in alerts)
    assert ticket.code in alerts[0].text and "Vẫn chưa có nước" in alerts[1].text


def test_late_answer_is_thanked_and_kept_as_late(session, catalog) -> None:
    survey = _resolve(session, _ticket(session, catalog))
    at = survey.expires_at + timedelta(days=2)
    [reply] = answer_survey(session, "tg:1001", score_payload(survey.token, 5), "vi", now=at)
    assert "hết hạn" in reply.text and "ghi nhận" in reply.text
    assert (survey.score, survey.late, survey.answered_at) == (5, True, at)
    # A bare digit after expiry is not taken for a survey answer (it may be anything).
    other = _resolve(session, _ticket(session, catalog, sender="tg:3003"))
    assert (
        answer_survey(session, "tg:3003", "2", "vi", now=other.expires_at + timedelta(hours=1))
        is None
    )


def test_double_submission_counts_once(session, catalog) -> None:
    survey = _resolve(session, _ticket(session, catalog))
    at = survey.sent_at
    answer_survey(session, "tg:1001", score_payload(survey.token, 5), "vi", now=at)
    [reply] = answer_survey(session, "tg:1001", score_payload(survey.token, 1), "vi", now=at)
    assert "trước đó" in reply.text
    answered = session.execute(select(func.count()).where(Survey.score.is_not(None))).scalar_one()
    assert (survey.score, answered) == (5, 1)


def test_someone_elses_payload_does_not_touch_the_survey(session, catalog) -> None:
    survey = _resolve(session, _ticket(session, catalog))
    answer_survey(session, "tg:9999", score_payload(survey.token, 1), "vi", now=survey.sent_at)
    assert survey.score is None


def test_handoff_survey_is_offered_once_and_a_low_score_flags_it(session, catalog) -> None:
    arguments = dict(sender_id="zalo:77", channel="zalo", language="vi", handoff_id=42,
                     unit_id="customer_care", now=NOW)  # fmt: skip
    survey = surveys.offer_after_handoff(session, **arguments)
    assert survey is not None and surveys.offer_after_handoff(session, **arguments) is None
    answer_survey(session, "zalo:77", "2", "vi", now=survey.sent_at, config=_config(catalog))
    assert survey.flagged_at is not None and survey.handoff_id == "42"
    [alert] = _survey_messages(session, "survey_alert")
    assert alert.recipient == catalog.units["customer_care"].supervisor


def test_bot_conversation_surveys_are_sampled_and_off_by_default(session) -> None:
    arguments = dict(sender_id="tg:5", channel="telegram", language="en", now=NOW)
    assert surveys.offer_after_conversation(session, **arguments) is None
    policy = SurveyPolicy(conversation_sample_rate=0.5)
    assert (
        surveys.offer_after_conversation(session, **arguments, policy=policy, draw=lambda: 0.7)
        is None
    )
    assert surveys.offer_after_conversation(session, **arguments, policy=policy, draw=lambda: 0.2)


def test_the_routing_hook_answers_survey_payloads_after_staff(session, catalog) -> None:
    assert routing.INTERCEPTORS[-1] is surveys.survey_interceptor
    survey = surveys.offer_after_handoff(
        session, sender_id="web:abc", channel="widget", language="en", handoff_id="h-1",
        unit_id="customer_care", now=datetime.utcnow(), policy=SurveyPolicy(delay=timedelta(0)),
    )  # fmt: skip
    message = Inbound(1, "widget", "web:abc", score_payload(survey.token, 3), "en")
    [reply] = surveys.survey_interceptor(session, message)
    assert "anything else" in reply.text and survey.score == 3
    unrelated = Inbound(2, "telegram", "tg:1", "Xin chào", "vi")
    assert surveys.survey_interceptor(session, unrelated) is None
