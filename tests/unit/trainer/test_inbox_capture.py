"""The NLU inbox fills itself from live traffic through the real gateway: fallbacks and
low-confidence messages, the message before a request for a person, conversations scored
1-2; personal data is masked before storage; one wording is one row, counted."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.db import transaction
from bot.messages import InboundMessage
from bot.surveys import Survey
from bot.trainer import inbox
from bot.trainer.inbox import InboxItem
from bot.trainer.masking import mask_personal_data
from channels.console.trainer import OBSERVER
from tests.unit.trainer.conftest import chat, nlu


def items(sessions) -> list[InboxItem]:  # type: ignore[no-untyped-def]
    with transaction(sessions) as session:
        return list(session.execute(select(InboxItem).order_by(InboxItem.id)).scalars())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gọi em 0905 123 456 nhé", "gọi em [phone] nhé"),
        ("sđt +84 905.123.456 ạ", "sđt [phone] ạ"),
        ("số máy bàn 0236 3 123 456", "số máy bàn [phone]"),
        ("CCCD 001093001234 của tôi", "CCCD [cccd] của tôi"),
        ("cccd 0010 9300 1234", "cccd [cccd]"),
        ("mail cho tôi: nguyen.van.a@gmail.com", "mail cho tôi: [email]"),
        ("cmnd cũ 201234567", "cmnd cũ [number]"),
        ("tra mã PA-2611-K7M3Q giúp em", "tra mã PA-2611-K7M3Q giúp em"),
        ("nhà số 12, tôi 35 tuổi", "nhà số 12, tôi 35 tuổi"),
    ],
)
def test_personal_data_is_masked(text: str, expected: str) -> None:
    assert mask_personal_data(text) == expected


async def test_a_fallback_lands_in_the_inbox_masked_and_confident_messages_do_not(
    client, fake_rasa, sessions
) -> None:
    fake_rasa.understood["nhà tôi 0905123456 bị cúp nước mà không ai báo"] = nlu(
        "nlu_fallback", 0.41
    )
    await chat(client, "a", "xin chào")  # a confident greet: not kept
    await chat(client, "a", "nhà tôi 0905123456 bị cúp nước mà không ai báo")
    await client.app[OBSERVER].drain()

    assert fake_rasa.received[-1]["query"] == {"nlu": "1"}
    [item] = items(sessions)
    assert item.text == "nhà tôi [phone] bị cúp nước mà không ai báo"
    assert (item.intent, item.confidence, item.reasons) == ("nlu_fallback", 0.41, "fallback")
    assert item.language == "vi" and item.sender_id == "api:a" and item.count == 1
    with transaction(sessions) as session:  # nothing unmasked in the inbox table
        assert "0905123456" not in str(session.execute(select(InboxItem.text)).all())


async def test_a_confident_message_answered_with_i_did_not_understand_is_kept(
    client, fake_rasa, sessions
) -> None:
    """The dialogue can fall back even when the NLU was sure (an `inform` with no form)."""
    text = "số nhà 42 hẻm 7"
    fake_rasa.understood[text] = nlu("inform", 0.92)
    fake_rasa.replies[text] = "Dạ, em chưa hiểu ý anh/chị. Anh/chị nói rõ hơn giúp em được không ạ?"
    await chat(client, "a", text)
    await client.app[OBSERVER].drain()
    [item] = items(sessions)
    assert (item.text, item.intent, item.reasons) == (text, "inform", "fallback")


async def test_the_same_wording_is_counted_once_per_sighting(client, fake_rasa, sessions) -> None:
    for text in (
        "Rác ở hẻm 5 chưa ai dọn???",
        "rac o hem 5 chua ai don",
        "RÁC Ở HẺM 5 CHƯA AI DỌN",
    ):
        fake_rasa.understood[text] = nlu("file_complaint", 0.35)
    await chat(client, "a", "Rác ở hẻm 5 chưa ai dọn???")
    await chat(client, "b", "rac o hem 5 chua ai don")
    await chat(client, "c", "RÁC Ở HẺM 5 CHƯA AI DỌN")
    await client.app[OBSERVER].drain()

    [item] = items(sessions)
    assert item.count == 3 and item.reasons == "low_confidence"
    assert item.text == "Rác ở hẻm 5 chưa ai dọn???"  # the first wording is shown
    assert item.sender_id == "api:c"  # the link goes to the latest conversation


async def test_below_the_threshold_is_kept_above_it_is_not(client, fake_rasa, sessions) -> None:
    fake_rasa.understood["giờ làm việc thế nào"] = nlu("ask_office_hours", 0.59)
    fake_rasa.understood["mấy giờ mở cửa"] = nlu("ask_office_hours", 0.61)
    await chat(client, "a", "giờ làm việc thế nào")
    await chat(client, "a", "mấy giờ mở cửa")
    await client.app[OBSERVER].drain()
    assert [i.text for i in items(sessions)] == ["giờ làm việc thế nào"]


async def test_the_message_before_a_request_for_a_person_is_kept(
    client, fake_rasa, sessions
) -> None:
    fake_rasa.understood["cái vụ hôm trước sao rồi"] = nlu("check_status", 0.9)
    fake_rasa.understood["cho tôi gặp người thật"] = nlu("request_human", 0.95)
    await chat(client, "a", "cái vụ hôm trước sao rồi")
    await chat(client, "a", "cho tôi gặp người thật")
    await client.app[OBSERVER].drain()

    [item] = items(sessions)
    assert item.text == "cái vụ hôm trước sao rồi"
    assert (item.intent, item.reasons) == ("check_status", "before_handoff")


def test_before_handoff_falls_back_to_the_message_log_after_a_restart(sessions) -> None:
    """Another gateway (or this one before a restart) answered the earlier message."""
    with transaction(sessions) as session:
        for text in ("đèn đường hỏng mấy hôm nay", "/request_human"):
            session.add(InboundMessage(channel="api", sender_id="api:z", text=text))
        session.flush()
        last = session.execute(
            select(InboundMessage.id).order_by(InboundMessage.id.desc())
        ).scalar()
    write = inbox.capture_after_answer(
        message_id=last,
        sender_id="api:z",
        text="gặp nhân viên",
        language_hint=None,
        nlu=nlu("request_human", 0.99),
        recent=inbox.RecentMessages(),
    )
    assert write is not None
    with transaction(sessions) as session:
        write(session)
    [item] = items(sessions)
    assert (item.text, item.intent, item.reasons) == (
        "đèn đường hỏng mấy hôm nay",
        None,
        "before_handoff",
    )


def test_conversations_scored_one_or_two_are_harvested_once(sessions) -> None:
    sent = datetime(2026, 11, 20, 9, 0)
    with transaction(sessions) as session:
        for minutes, text in (
            (30, "hóa đơn nước tháng này sai, email tôi a@b.vn"),
            (20, "/affirm"),
        ):
            session.add(
                InboundMessage(
                    channel="widget",
                    sender_id="web:s1",
                    text=text,
                    received_at=sent - timedelta(minutes=minutes),
                )
            )
        session.add(
            InboundMessage(
                channel="widget", sender_id="web:s2", text="cảm ơn nhé", received_at=sent
            )
        )
        for token, sender, score in (("tok1", "web:s1", 1), ("tok2", "web:s2", 5)):
            session.add(
                Survey(
                    token=token,
                    trigger="conversation",
                    sender_id=sender,
                    channel="widget",
                    language="vi",
                    offered_at=sent,
                    sent_at=sent,
                    expires_at=sent + timedelta(days=3),
                    score=score,
                    answered_at=sent + timedelta(minutes=5),
                )
            )
    with transaction(sessions) as session:
        assert inbox.harvest_low_surveys(session) == 1
    with transaction(sessions) as session:
        assert inbox.harvest_low_surveys(session) == 0  # looked at once
    [item] = items(sessions)
    assert item.text == "hóa đơn nước tháng này sai, email tôi [email]"
    assert item.reasons == "low_survey" and item.count == 1


async def test_a_plain_rasa_rest_channel_still_answers(client, fake_rasa, sessions) -> None:
    """Without our channel (a plain `rest:` in credentials.yml) residents are answered and
    the inbox simply stays empty."""
    from bot import rasa_client

    observers = list(rasa_client.NLU_OBSERVERS)
    rasa_client.NLU_OBSERVERS.clear()
    try:
        await chat(client, "a", "xin chào")
    finally:
        rasa_client.NLU_OBSERVERS.extend(observers)
    assert fake_rasa.received[-1]["query"] == {}
    assert items(sessions) == []
