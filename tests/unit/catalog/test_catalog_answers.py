"""What residents read: the facts first, in their language, in the assistant's voice."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from bot.calendar import VIETNAM
from bot.catalog import (
    FACETS,
    Catalog,
    answer_choose,
    answer_hours,
    answer_not_found,
    answer_service,
    answer_service_question,
    answer_unit_contact,
    answer_unit_question,
    format_money,
    format_phone,
)

FRIDAY_MORNING = datetime(2026, 11, 20, 9, 0, tzinfo=VIETNAM)


def test_birth_registration_documents_in_vietnamese(catalog: Catalog) -> None:
    birth = catalog.service("birth_registration")
    reply = answer_service(catalog, birth, "documents", "vi", FRIDAY_MORNING)
    lines = reply.text.splitlines()
    assert lines[0] == "Dạ, hồ sơ đăng ký khai sinh gồm:"
    assert lines[1].startswith("- Tờ khai đăng ký khai sinh")
    assert any("Giấy chứng sinh" in line for line in lines)
    assert any("CCCD" in line for line in lines)
    assert reply.buttons[0].title == "Nộp hồ sơ ở đâu?"


def test_birth_registration_documents_in_english(catalog: Catalog) -> None:
    birth = catalog.service("birth_registration")
    reply = answer_service(catalog, birth, "documents", "en", FRIDAY_MORNING)
    assert reply.text.startswith("Here is what you need for birth registration:")
    assert "- Birth notice issued by the hospital or clinic" in reply.text
    assert reply.buttons[0].title == "Where to apply"


def test_fee_first_then_the_legal_basis(catalog: Catalog) -> None:
    birth = catalog.service("birth_registration")
    vi = answer_service(catalog, birth, "fee", "vi", FRIDAY_MORNING).text
    assert vi.splitlines()[0] == "Dạ, đăng ký khai sinh: miễn lệ phí."
    assert vi.splitlines()[-1].startswith("Căn cứ: Luật Hộ tịch 2014")
    copy = catalog.service("certified_copy")
    assert "2.000 đồng" in answer_service(catalog, copy, "fee", "vi", FRIDAY_MORNING).text
    assert "2,000 VND" in answer_service(catalog, copy, "fee", "en", FRIDAY_MORNING).text


def test_fee_that_depends_on_the_case_says_how_it_is_worked_out(catalog: Catalog) -> None:
    change = catalog.service("land_use_change")
    text = answer_service(catalog, change, "fee", "vi", FRIDAY_MORNING).text
    assert text.startswith("Dạ, lệ phí chuyển mục đích sử dụng đất tùy từng trường hợp.")
    assert "tiền sử dụng đất" in text


def test_processing_time_gives_the_expected_date_across_tet(catalog: Catalog) -> None:
    permit = catalog.service("construction_permit")
    before_tet = datetime(2026, 2, 13, 10, 0, tzinfo=VIETNAM)
    vi = answer_service(catalog, permit, "processing_time", "vi", before_tet).text
    assert "15 ngày làm việc" in vi
    # 15 working days after Friday 13/02/2026, skipping the Tết week 16–20/02.
    assert "dự kiến có kết quả vào thứ Sáu, 13/03/2026" in vi
    en = answer_service(catalog, permit, "processing_time", "en", before_tet).text
    assert "expect the result on Friday, 13/03/2026" in en


def test_processing_time_after_hours_counts_from_the_next_session(catalog: Catalog) -> None:
    residence = catalog.service("temporary_residence")  # 3 working days, ward police
    saturday = datetime(2026, 11, 21, 10, 0, tzinfo=VIETNAM)
    text = answer_service(catalog, residence, "processing_time", "vi", saturday).text
    assert "Nếu nộp vào thứ Hai, 23/11/2026, dự kiến có kết quả vào thứ Năm, 26/11/2026." in text


def test_same_day_service_says_so(catalog: Catalog) -> None:
    birth = catalog.service("birth_registration")
    text = answer_service(catalog, birth, "processing_time", "vi", FRIDAY_MORNING).text
    assert text.startswith("Dạ, đăng ký khai sinh được giải quyết trong ngày làm việc.")
    assert "có kết quả trong ngày" in text


def test_submission_names_the_desk_and_the_portal(catalog: Catalog) -> None:
    birth = catalog.service("birth_registration")
    text = answer_service(catalog, birth, "submission", "vi", FRIDAY_MORNING).text
    assert "tại Bộ phận Một cửa UBND Phường 7" in text
    assert "https://dichvucong.gov.vn" in text


def test_who_handles_a_service_and_how_to_reach_them(catalog: Catalog) -> None:
    record = catalog.service("judicial_record")
    vi = answer_service(catalog, record, "unit", "vi", FRIDAY_MORNING).text
    assert "do Phòng Tư pháp quận Sông Thu giải quyết" in vi
    assert "0236 3 555 230" in vi
    en = answer_service(catalog, record, "phone", "en", FRIDAY_MORNING).text
    assert "Phòng Tư pháp quận Sông Thu (Sông Thu District Justice Office)" in en
    assert "Phone: 0236 3 555 230" in en


def test_broken_street_light_gives_the_lighting_company_phone(catalog: Catalog) -> None:
    question = "who do I call about a broken street light"
    reply = answer_unit_question(catalog, question, "en", FRIDAY_MORNING)
    assert "Sông Thu Public Lighting Enterprise" in reply.text
    assert "- Phone: 0236 3 555 700" in reply.text
    assert "- 24/7 hotline: 0236 3 555 777" in reply.text
    by_category = answer_unit_question(
        catalog,
        "đèn đường trước nhà bị hỏng, gọi ai?",
        "vi",
        FRIDAY_MORNING,
        category="street_lighting",
    )
    assert "- Điện thoại: 0236 3 555 700" in by_category.text
    assert [b.payload for b in by_category.buttons] == [
        '/ask_office_hours{"unit":"public_lighting"}',
        "/file_complaint",
    ]


def test_contact_lists_phone_first(catalog: Catalog) -> None:
    reply = answer_unit_contact(catalog, catalog.unit("water_company"), "vi")
    lines = reply.text.splitlines()
    assert lines[0] == "Dạ, thông tin liên hệ Công ty Cổ phần Cấp nước Sông Thu:"
    assert lines[1] == "- Điện thoại: 0236 3 555 300"
    assert lines[2] == "- Đường dây nóng 24/7: 0236 3 555 333"


def test_hours_at_lunch_say_when_the_office_reopens(catalog: Catalog) -> None:
    lunch = datetime(2026, 11, 20, 12, 0, tzinfo=VIETNAM)
    reply = answer_hours(catalog, catalog.unit("one_stop"), "vi", lunch)
    assert reply.text.splitlines()[0] == (
        "Dạ, Bộ phận Một cửa UBND Phường 7 đang nghỉ trưa, làm việc lại lúc 13h30 hôm nay."
    )
    assert "- Thứ Hai – thứ Sáu: 7h30–11h30, 13h30–17h00" in reply.text
    assert "- Thứ Bảy: 7h30–11h30 (chỉ tiếp nhận hồ sơ)" in reply.text
    en = answer_hours(catalog, catalog.unit("one_stop"), "en", lunch).text
    assert "on its lunch break; it reopens at 13:30 today" in en
    assert "- Saturday: 07:30–11:30 (applications received only)" in en


def test_hours_during_tet_name_the_holiday_and_the_reopening(catalog: Catalog) -> None:
    tet = datetime(2026, 2, 17, 10, 0, tzinfo=VIETNAM)
    text = answer_hours(catalog, catalog.unit("ward_committee"), "vi", tet).text
    assert text.splitlines()[0] == (
        "Dạ, hôm nay là ngày nghỉ: Tết Nguyên đán. UBND Phường 7 không làm việc, "
        "mở cửa lại lúc 7h30 thứ Hai, 23/02/2026."
    )


def test_hours_just_before_closing_warn_the_resident(catalog: Catalog) -> None:
    late = datetime(2026, 11, 20, 16, 40, tzinfo=VIETNAM)
    text = answer_hours(catalog, catalog.unit("ward_committee"), "vi", late).text
    assert "sắp hết giờ làm việc: đóng cửa lúc 17h00" in text


def test_hours_of_a_utility_mention_its_24_hour_hotline(catalog: Catalog) -> None:
    night = datetime(2026, 11, 20, 22, 0, tzinfo=VIETNAM)
    text = answer_hours(catalog, catalog.unit("power_company"), "vi", night).text
    assert "Mở cửa lại lúc 7h30 ngày mai (thứ Bảy, 21/11/2026)." in text
    assert "Đường dây nóng 24/7 (kể cả ngoài giờ): 0236 3 555 444." in text


def test_choose_offers_buttons_with_intent_payloads(catalog: Catalog) -> None:
    matches = catalog.find_services("trợ cấp")
    reply = answer_choose(matches[:2], "vi", facet="fee")
    assert reply.text == "Dạ, anh/chị muốn hỏi thủ tục nào ạ?"
    assert [b.title for b in reply.buttons] == [
        "Trợ cấp xã hội hằng tháng",
        "Trợ cấp ưu đãi người có công với cách mạng",
    ]
    assert (
        reply.buttons[0].payload == '/ask_service_info{"service":"social_allowance","facet":"fee"}'
    )
    english = answer_choose(matches[:2], "en")
    assert english.buttons[0].title == "Monthly social allowance"
    assert english.buttons[0].payload == '/ask_service_info{"service":"social_allowance"}'


def test_not_found_offers_desks_and_a_person(catalog: Catalog) -> None:
    reply = answer_not_found(catalog, "vi")
    assert reply.text.startswith("Dạ, em chưa tìm thấy thủ tục phù hợp")
    assert reply.buttons[-1].title == "Gặp nhân viên"
    assert reply.buttons[-1].payload == "/request_human"
    assert "Bộ phận Một cửa" in [b.title for b in reply.buttons]
    assert answer_not_found(catalog, "en").buttons[-1].title == "Talk to a person"


def test_follow_up_question_answers_the_fee_of_the_service_discussed(catalog: Catalog) -> None:
    reply = answer_service_question(
        catalog, "còn lệ phí thì sao?", "vi", FRIDAY_MORNING, previous="birth_registration"
    )
    assert reply.text.startswith("Dạ, đăng ký khai sinh: miễn lệ phí.")


def test_a_new_service_in_a_follow_up_wins_over_the_previous_one(catalog: Catalog) -> None:
    reply = answer_service_question(
        catalog,
        "thế còn khai tử cần giấy tờ gì?",
        "vi",
        FRIDAY_MORNING,
        previous="birth_registration",
    )
    assert reply.text.startswith("Dạ, hồ sơ đăng ký khai tử gồm:")


def test_question_with_an_nlu_entity_and_a_facet(catalog: Catalog) -> None:
    reply = answer_service_question(
        catalog, "phí bao nhiêu vậy", "en", FRIDAY_MORNING, entity="judicial_record"
    )
    assert reply.text.startswith("The fee for judicial record certificate is 200,000 VND.")


def test_vague_question_asks_which_one(catalog: Catalog) -> None:
    reply = answer_service_question(catalog, "giấy phép bao nhiêu tiền", "vi", FRIDAY_MORNING)
    assert reply.text == "Dạ, anh/chị muốn hỏi thủ tục nào ạ?"
    assert all('"facet":"fee"' in b.payload for b in reply.buttons)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_no_answer_exposes_ids_and_vietnamese_answers_say_da_once(
    catalog: Catalog, lang: str
) -> None:
    # Ids without "_" ("justice", "noise", "other") are ordinary words in English text.
    ids = {i for i in (*catalog.services, *catalog.units, *catalog.categories) if "_" in i}
    pattern = re.compile(r"\b(?:" + "|".join(sorted(ids, key=len, reverse=True)) + r")\b")
    for service in catalog.services.values():
        for facet in FACETS:
            text = answer_service(catalog, service, facet, lang, FRIDAY_MORNING).text
            assert not pattern.search(text), (service.id, facet, text)
            assert "{" not in text and "None" not in text
            if lang == "vi":
                assert text.startswith("Dạ, ") and text.count("Dạ") == 1, text
            else:
                assert "Dạ" not in text and "anh/chị" not in text, text
    for unit in catalog.units.values():
        for reply in (
            answer_unit_contact(catalog, unit, lang),
            answer_hours(catalog, unit, lang, FRIDAY_MORNING),
        ):
            assert not pattern.search(reply.text), reply.text


def test_money_and_phone_formats() -> None:
    assert format_money(50000, "vi") == "50.000 đồng"
    assert format_money(1500000, "en") == "1,500,000 VND"
    assert format_phone("02363555101") == "0236 3 555 101"
    assert format_phone("0236 3 555 101") == "0236 3 555 101"
    assert format_phone("0905123456") == "0905 123 456"
    assert format_phone("19001234") == "1900 1234"
    assert format_phone("113") == "113"


def test_reply_becomes_a_rasa_message(catalog: Catalog) -> None:
    message = answer_not_found(catalog, "en").as_message()
    assert message["text"].startswith("Sorry")
    assert message["buttons"][-1] == {"title": "Talk to a person", "payload": "/request_human"}
