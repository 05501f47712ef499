"""What part of a service the resident asks about, in Vietnamese with or without marks and in
English."""

from __future__ import annotations

import pytest

from bot.catalog import FACETS, detect_facet


@pytest.mark.parametrize(
    ("text", "facet"),
    [
        # documents
        ("làm khai sinh cần giấy tờ gì", "documents"),
        ("lam khai sinh can giay to gi", "documents"),
        ("hồ sơ gồm những gì ạ", "documents"),
        ("nộp hồ sơ khai sinh cần gì", "documents"),
        ("What documents do I need?", "documents"),
        ("what should I bring", "documents"),
        # fee
        ("lệ phí bao nhiêu", "fee"),
        ("le phi bao nhieu", "fee"),
        ("làm giấy phép xây dựng hết bao nhiêu tiền", "fee"),
        ("còn lệ phí thì sao?", "fee"),
        ("có mất phí không", "fee"),
        ("how much does it cost", "fee"),
        ("What's the fee?", "fee"),
        # processing time
        ("mất bao lâu", "processing_time"),
        ("mấy ngày thì có kết quả", "processing_time"),
        ("may ngay thi xong", "processing_time"),
        ("bao nhiêu ngày làm việc", "processing_time"),
        ("How long does it take?", "processing_time"),
        # submission
        ("nộp hồ sơ ở đâu", "submission"),
        ("nop ho so khai sinh o dau", "submission"),
        ("có nộp online được không", "submission"),
        ("nop truc tuyen duoc khong", "submission"),
        ("where do I submit the form", "submission"),
        ("can I apply online?", "submission"),
        # eligibility
        ("điều kiện để được trợ cấp là gì", "eligibility"),
        ("ai được hưởng trợ cấp xã hội", "eligibility"),
        ("dieu kien ket hon", "eligibility"),
        ("am I eligible?", "eligibility"),
        # phone
        ("số điện thoại phòng tư pháp", "phone"),
        ("sdt dien luc", "phone"),
        ("cho xin số hotline", "phone"),
        ("who do I call about a broken street light", "phone"),
        ("what's their phone number", "phone"),
        # hours
        ("mấy giờ mở cửa", "hours"),
        ("giờ làm việc của UBND phường", "hours"),
        ("thứ bảy có làm việc không", "hours"),
        ("thu 7 co lam viec khong", "hours"),
        ("chủ nhật có mở cửa không", "hours"),
        ("is it open on Saturday?", "hours"),
        ("what time do you close", "hours"),
        # unit
        ("thủ tục này do cơ quan nào giải quyết", "unit"),
        ("phòng tư pháp ở đâu", "unit"),
        ("dia chi cong an phuong", "unit"),
        ("which office handles this", "unit"),
        ("where is the one-stop desk", "unit"),
        # overview
        ("đăng ký khai sinh", "overview"),
        ("birth registration", "overview"),
        ("", "overview"),
    ],
)
def test_detect_facet(text: str, facet: str) -> None:
    assert detect_facet(text) == facet


def test_every_detected_facet_is_a_known_one() -> None:
    assert detect_facet("lệ phí") in FACETS
    assert set(FACETS) >= {"documents", "fee", "processing_time", "submission", "eligibility"}
    assert set(FACETS) >= {"unit", "phone", "hours", "overview"}
