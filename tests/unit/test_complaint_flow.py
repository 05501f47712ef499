"""The complaint conversation's rules (bot.complaints), without Rasa."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bot import complaints as flow
from bot import db
from bot.calendar import VIETNAM
from bot.catalog import load_catalog


@pytest.mark.parametrize(
    ("text", "slot"),
    [
        ("sửa địa chỉ", flow.LOCATION),
        ("sua dia chi giup em", flow.LOCATION),
        ("cho em đổi số điện thoại", flow.PHONE),
        ("doi sdt", flow.PHONE),
        ("sửa nội dung", flow.DESCRIPTION),
        ("change address", flow.LOCATION),
        ("I want to change the description", flow.DESCRIPTION),
        ("sửa lĩnh vực", flow.CATEGORY),
        ("đèn đường trước nhà bị hỏng", None),
        ("ở số 12 đường Sửa Chữa", None),
    ],
)
def test_corrections_are_recognised_in_both_languages(text: str, slot: str | None) -> None:
    assert flow.correction_target(text) == slot


@pytest.mark.parametrize(
    ("intent", "text", "answer"),
    [
        ("affirm", "/affirm", True),
        ("deny", "/deny", False),
        ("inform", "đồng ý", True),
        ("inform", "dong y nha", True),
        ("inform", "không đồng ý", False),
        ("inform", "ko", False),
        ("inform", "yes please", True),
        ("inform", "maybe later", None),
        ("inform", "dạ không", False),
        ("inform", "da dong y", True),
    ],
)
def test_yes_or_no_reads_the_words_when_the_intent_is_unsure(intent, text, answer) -> None:
    assert flow.yes_or_no(intent, text) is answer


@pytest.mark.parametrize(
    ("text", "described"),
    [
        ("đèn đường trước nhà tôi bị hỏng", True),
        ("nuoc thai boc mui hoi qua troi luon", True),
        ("Garbage has not been collected for a week", True),
        ("tôi muốn phản ánh", False),
        ("toi muon phan anh nuoc thai", False),
        ("I want to file a complaint", False),
        ("/file_complaint", False),
    ],
)
def test_an_opening_message_that_describes_the_problem_is_kept(text: str, described: bool) -> None:
    assert (flow.description_from_opening(text) is not None) is described


def test_phone_is_asked_only_where_the_channel_cannot_reach_the_resident() -> None:
    assert flow.PHONE in flow.required_slots("web:abc", None)
    assert flow.PHONE in flow.required_slots("api:abc", None)
    assert flow.PHONE not in flow.required_slots("tg:123", None)
    assert flow.PHONE not in flow.required_slots("zalo:123", None)
    assert flow.CONFIRM not in flow.required_slots("tg:123", False)


def test_submitting_twice_with_one_draft_opens_one_ticket_and_status_is_private(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    db.upgrade(url)
    sessions = db.make_session_factory(db.make_engine(url))
    catalog = load_catalog()
    slots = {
        flow.CATEGORY: "street_lighting",
        flow.DESCRIPTION: "Đèn đường không sáng ba ngày nay",
        flow.LOCATION: "42 Lê Lợi, phường 7",
        flow.PHONE: "0905123456",
        flow.CONSENT: True,
        flow.CONFIRM: True,
        flow.DRAFT: "draft-1",
    }
    now = datetime(2026, 11, 23, 9, 0, tzinfo=VIETNAM)
    with db.transaction(sessions) as session:
        first = flow.submit(session, catalog, sender_id="api:r1", slots=slots, lang="vi", now=now)
    with db.transaction(sessions) as session:
        second = flow.submit(session, catalog, sender_id="api:r1", slots=slots, lang="vi", now=now)
    assert first.code == second.code
    assert "Xí nghiệp Chiếu sáng" in first.reply.text and "trước ngày" in first.reply.text
    with db.transaction(sessions) as session:
        mine = flow.status_reply(
            session,
            catalog,
            sender_id="api:r1",
            text=f"kiểm tra {first.code}",
            code=first.code,
            lang="vi",
        )
        stranger = flow.status_reply(
            session,
            catalog,
            sender_id="api:r2",
            text=f"kiểm tra {first.code}",
            code=first.code,
            lang="vi",
        )
        with_digits = flow.status_reply(
            session,
            catalog,
            sender_id="api:r2",
            text=f"kiểm tra {first.code} 3456",
            code=first.code,
            lang="vi",
        )
    assert first.code in mine.text
    assert "chưa tìm thấy" in stranger.text
    assert first.code in with_digits.text and "chưa tìm thấy" not in with_digits.text


def test_a_second_report_of_the_same_problem_can_be_added_to_the_first(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    db.upgrade(url)
    sessions = db.make_session_factory(db.make_engine(url))
    catalog = load_catalog()
    slots = {
        flow.CATEGORY: "waste_collection",
        flow.DESCRIPTION: "Rác không được thu gom cả tuần nay",
        flow.LOCATION: "Hẻm 42 Lê Lợi, phường 7",
        flow.CONSENT: True,
        flow.CONFIRM: True,
        flow.DRAFT: "d1",
    }
    with db.transaction(sessions) as session:
        first = flow.submit(session, catalog, sender_id="tg:9", slots=slots, lang="vi")
    assert flow.required_slots("tg:9", None, first.code, True)[-1] == flow.SAME
    with db.transaction(sessions) as session:
        # Same place typed differently: still the same problem.
        assert (
            flow.possible_duplicate(session, "tg:9", "waste_collection", "le loi hem 42 phuong 7")
            == first.code
        )
        assert (
            flow.possible_duplicate(session, "tg:10", "waste_collection", "Hẻm 42 Lê Lợi, phường 7")
            is None
        )
        question = flow.ask_same_problem(session, first.code, "en")
        assert first.code in question.text and len(question.buttons) == 2
        added = flow.submit(
            session,
            catalog,
            sender_id="tg:9",
            slots={
                **slots,
                flow.DUPLICATE: first.code,
                flow.SAME: True,
                flow.DESCRIPTION: "Giờ còn bốc mùi",
            },
            lang="vi",
        )
    assert added.code == first.code and "bổ sung" in added.reply.text
    with db.transaction(sessions) as session:
        status = flow.status_reply(
            session, catalog, sender_id="tg:9", text="", code=first.code, lang="vi"
        )
    assert "Giờ còn bốc mùi" in status.text


def test_a_photo_sent_during_the_report_is_attached_to_the_ticket(tmp_path: Path) -> None:
    from bot.attachments import stash
    from bot.tickets import get_ticket

    url = f"sqlite:///{tmp_path / 'app.db'}"
    db.upgrade(url)
    sessions = db.make_session_factory(db.make_engine(url))
    photo = tmp_path / "den.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + b"0" * 100)
    with db.transaction(sessions) as session:
        stash(
            session,
            sender_id="tg:5",
            path=photo,
            content_type="image/jpeg",
            size=photo.stat().st_size,
            original_name="den.jpg",
        )
    slots = {
        flow.CATEGORY: "street_lighting",
        flow.DESCRIPTION: "Đèn đường tắt cả tuần",
        flow.LOCATION: "12 Trần Phú",
        flow.CONSENT: True,
        flow.CONFIRM: True,
        flow.DRAFT: "d-photo",
    }
    with db.transaction(sessions) as session:
        code = flow.submit(session, load_catalog(), sender_id="tg:5", slots=slots, lang="vi").code
    with sessions() as session:
        attachments = get_ticket(session, code).attachments
        assert [a.content_type for a in attachments] == ["image/jpeg"]


@pytest.mark.parametrize(
    "text",
    [
        "đường hư lâu rồi không ai sửa, địa chỉ là số 12 Lê Lợi phường 7",
        "the light was fixed last year but it is broken again near the address I gave",
    ],
)
def test_a_long_description_with_the_words_is_not_an_edit_command(text: str) -> None:
    assert flow.correction_target(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "đội thu gom rác sđt bao nhiêu",  # đội (team), not đổi (change)
        "doi thu gom rac sdt bao nhieu",
        "tiệm sửa điện thoại gần ủy ban",
        "where can I fix my phone screen",
        "correct address",  # says the address is right
        "sửa địa chỉ ở đâu vậy?",
    ],
)
def test_words_of_a_command_in_another_sentence_are_not_a_command(text: str) -> None:
    assert flow.correction_target(text) is None


@pytest.mark.parametrize(
    ("text", "slot"),
    [
        ("Dạ cho em sửa lại địa chỉ ạ", flow.LOCATION),
        ("change the phone number please", flow.PHONE),
        ("let me edit the description", flow.DESCRIPTION),
        ("chinh lai linh vuc giup minh", flow.CATEGORY),
    ],
)
def test_polite_commands_are_recognised(text: str, slot: str) -> None:
    assert flow.correction_target(text) == slot
