"""Service questions and complaints through /api/chat against the real stack."""

from __future__ import annotations

import re

import pytest

from bot import db
from bot.complaints import channel_of
from bot.tickets import change_status
from tests.conftest import Stack

pytestmark = pytest.mark.integration

CODE = re.compile(r"PA-\d{4}-[2-9A-HJ-NP-Z]{5}")


def texts(messages: list[dict]) -> str:
    return "\n".join(m["text"] for m in messages)


def payloads(messages: list[dict]) -> list[str]:
    return [b["payload"] for m in messages for b in m["buttons"]]


def test_birth_registration_documents_are_listed(stack: Stack) -> None:
    reply = texts(stack.chat("svc-1", "làm giấy khai sinh cần giấy tờ gì"))
    assert "khai sinh" in reply
    assert "Giấy chứng sinh" in reply and "Tờ khai" in reply


def test_follow_up_keeps_the_service_in_context(stack: Stack) -> None:
    stack.chat("svc-2", "làm giấy khai sinh cần giấy tờ gì")
    reply = texts(stack.chat("svc-2", "còn lệ phí thì sao?"))
    assert "lệ phí" in reply.lower() and "khai sinh" in reply


def test_broken_street_light_names_the_public_lighting_unit_and_its_number(stack: Stack) -> None:
    reply = texts(stack.chat("svc-3", "who do I call about a broken street light"))
    assert "Public Lighting" in reply
    assert re.search(r"0236 3 555 7\d\d", reply)


def test_saturday_question_is_answered_from_the_hours_table(stack: Stack) -> None:
    reply = texts(stack.chat("svc-4", "thứ bảy phường có làm việc không"))
    assert "thứ Bảy" in reply or "Thứ Bảy" in reply
    assert "7h30" in reply


def test_unaccented_service_question_is_understood(stack: Stack) -> None:
    reply = texts(stack.chat("svc-5", "dang ky tam tru can giay to gi vay"))
    assert "tạm trú" in reply


def file_street_light_report(stack: Stack, sender: str) -> str:
    first = stack.chat(sender, "đèn đường trước nhà tôi bị hỏng")
    # The opening message already says what is wrong: the next question is where.
    assert "ở đâu" in texts(first)
    summary = stack.chat(sender, "trước số 42 Lê Lợi, phường 7") + stack.chat(
        sender, "0905 123 456"
    )
    assert "đồng ý" in texts(summary)
    summary = stack.chat(sender, "/affirm")
    assert "Chiếu sáng" in texts(summary) and "42 Lê Lợi" in texts(summary)
    receipt = texts(stack.chat(sender, "/affirm"))
    match = CODE.search(receipt)
    assert match, receipt
    assert re.search(r"trước ngày \d{2}/\d{2}/\d{4}", receipt)
    return match.group()


def test_street_light_report_gets_a_code_a_due_date_and_a_status(stack: Stack) -> None:
    code = file_street_light_report(stack, "cpl-1")
    status = texts(stack.chat("cpl-1", f"kiểm tra {code}"))
    assert code in status and "tiếp nhận" in status.lower()
    # Someone else asking about the code learns nothing.
    assert "chưa tìm thấy" in texts(stack.chat("cpl-other", f"kiểm tra {code}"))


def test_a_double_confirmation_opens_one_ticket(stack: Stack) -> None:
    file_street_light_report(stack, "cpl-2")
    again = texts(stack.chat("cpl-2", "/affirm"))
    assert not CODE.search(again)
    listing = texts(stack.chat("cpl-2", "phản ánh của tôi tới đâu rồi"))
    assert len(set(CODE.findall(listing))) == 1


def test_complaint_can_be_cancelled_corrected_and_interrupted_in_english(stack: Stack) -> None:
    sender = "cpl-en"
    first = stack.chat(sender, "I want to report a problem")
    assert "street_lighting" in " ".join(payloads(first)) or "What is the problem about" in texts(
        first
    )
    stack.chat(sender, '/inform{"category":"waste_collection"}')
    assert "Where" in texts(stack.chat(sender, "Garbage has not been collected for a week"))
    # An unrelated question mid-form is answered, then the form asks again.
    detour = texts(stack.chat(sender, "what time does the ward office open?"))
    assert "7:30" in detour or "7h30" in detour or "07:30" in detour
    assert "Where" in detour
    stack.chat(sender, "12 Tran Phu street, ward 2")
    stack.chat(sender, "0912345678")
    summary = texts(stack.chat(sender, "/affirm"))
    assert "12 Tran Phu" in summary
    assert "Where" in texts(stack.chat(sender, "change address"))
    summary = texts(stack.chat(sender, "15 Tran Phu street, ward 2"))
    assert "15 Tran Phu" in summary and "12 Tran Phu" not in summary
    assert "cancelled" in texts(stack.chat(sender, "/cancel"))
    assert "no open reports" in texts(stack.chat(sender, "check my report status"))


def test_status_change_reaches_the_residents_channel(stack: Stack) -> None:
    code = file_street_light_report(stack, "cpl-3")
    url = f"sqlite:///{stack.var_dir / 'tiepdan.db'}"
    sessions = db.make_session_factory(db.make_engine(url))
    with db.transaction(sessions) as session:
        change_status(
            session, code, "assigned", actor="staff:test", public_note="Đội đã đến kiểm tra."
        )
    assert channel_of("api:cpl-3") == "api"
    notes = stack.notifications("cpl-3")
    assert any(code in n["text"] and "Đội đã đến kiểm tra" in n["text"] for n in notes)
    assert stack.notifications("cpl-3") == []  # delivered once


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # documents, fee, processing time, where to submit, who handles, phone, hours
        ("đăng ký kết hôn cần những giấy tờ gì", "Tờ khai"),
        ("what documents do I need to register a marriage", "registration form"),
        ("chứng thực bản sao mất phí bao nhiêu", "đồng"),
        ("how much does a certified copy cost", "VND"),
        ("cấp lại sổ đỏ bị mất mất bao lâu", "ngày làm việc"),
        ("how long does a building permit take", "working day"),
        ("đăng ký tạm trú nộp hồ sơ ở đâu", "Công an"),
        ("where do I apply for temporary residence", "Police"),
        ("số điện thoại công ty cấp nước", "0236"),
        ("phone number of the water company", "0236"),
        ("phòng tư pháp mấy giờ mở cửa", "7h30"),
        ("what are the opening hours of the justice office", "7:30"),
    ],
)
def test_each_facet_is_answered_in_both_languages(
    stack: Stack, question: str, expected: str
) -> None:
    reply = texts(stack.chat(f"facet-{abs(hash(question))}", question))
    assert expected.lower() in reply.lower(), reply
