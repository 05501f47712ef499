"""Residents find services and offices however they type them."""

from __future__ import annotations

import time

import pytest

from bot.catalog import Catalog, resolve


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("đăng ký khai sinh", "birth_registration"),
        ("dang ky khai sinh", "birth_registration"),
        ("ĐĂNG KÝ KHAI SINH", "birth_registration"),
        ("khai sinh đăng ký", "birth_registration"),
        ("khai sihn", "birth_registration"),
        ("khaisinh", "birth_registration"),
        ("tôi muốn làm giấy khai sinh cho con thì cần giấy tờ gì", "birth_registration"),
        ("registration birth", "birth_registration"),
        ("registraton of a birth", "birth_registration"),
        ("birth_registration", "birth_registration"),
        ("dk ket hon", "marriage_registration"),
        ("đăng kí kết hôn", "marriage_registration"),
        ("xin phép xây nhà", "construction_permit"),
        ("permit construction", "construction_permit"),
        ("buiding permit", "construction_permit"),
        ("mất sổ đỏ", "land_certificate_reissue"),
        ("so do bi mat", "land_certificate_reissue"),
        ("lí lịch tư pháp", "judicial_record"),
        ("ly lich tu phap", "judicial_record"),
        ("nhập hộ khẩu cho vợ", "permanent_residence"),
        ("tạm trú", "temporary_residence"),
        ("electricty bill dispute", "power_bill_dispute"),
        ("sao y bản chính", "certified_copy"),
        ("lắp đồng hồ nước mới", "new_water_connection"),
        ("tro cap nguoi co cong", "meritorious_allowance"),
        ("cho em hỏi làm khai sinh cho bé mất mấy ngày ạ", "birth_registration"),
    ],
)
def test_clear_queries_find_one_service(catalog: Catalog, query: str, expected: str) -> None:
    outcome = resolve(catalog.find_services(query))
    assert outcome.outcome == "answer", catalog.find_services(query)
    assert outcome.best.id == expected


def test_exact_id_scores_full_marks(catalog: Catalog) -> None:
    [match] = catalog.find_services("judicial_record")
    assert match.score == 1.0
    assert match.item is catalog.services["judicial_record"]
    assert match.kind == "service"


def test_scores_are_ordered_and_bounded(catalog: Catalog) -> None:
    matches = catalog.find_services("đăng ký khai sinh", limit=3)
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s <= 1 for s in scores)
    assert matches[0].matched.lower() == "đăng ký khai sinh"


@pytest.mark.parametrize(
    ("query", "candidates"),
    [
        ("giấy phép", {"construction_permit", "excavation_permit", "sidewalk_use_permit"}),
        ("permit", {"construction_permit", "excavation_permit", "sidewalk_use_permit"}),
        ("trợ cấp", {"social_allowance", "meritorious_allowance"}),
        ("sổ đỏ", {"land_certificate_renewal", "land_certificate_reissue"}),
        ("giấy phép bao nhiêu tiền", {"construction_permit", "excavation_permit", "sidewalk_use_permit"}),
    ],
)  # fmt: skip
def test_vague_queries_ask_which_one(catalog: Catalog, query: str, candidates: set[str]) -> None:
    outcome = resolve(catalog.find_services(query))
    assert outcome.outcome == "choose"
    assert 2 <= len(outcome.matches) <= 3
    assert {m.id for m in outcome.matches} == candidates


def test_question_words_do_not_change_the_service(catalog: Catalog) -> None:
    # "mất bao lâu" (how long does it take) is not "mất sổ đỏ" (lost the land certificate)
    outcome = resolve(catalog.find_services("sổ đỏ mất bao lâu"))
    assert outcome.outcome == "choose"
    assert outcome.best.id in {"land_certificate_renewal", "land_certificate_reissue"}


@pytest.mark.parametrize(
    "query", ["passport", "làm hộ chiếu", "xyz abc", "", "còn lệ phí thì sao?"]
)
def test_unrelated_queries_find_nothing(catalog: Catalog, query: str) -> None:
    assert resolve(catalog.find_services(query)).outcome == "none"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("who do I call about a broken street light", "public_lighting"),
        ("đèn đường hỏng", "public_lighting"),
        ("den duong khong sang", "public_lighting"),
        ("điện lực", "power_company"),
        ("cong ty cap nuoc", "water_company"),
        ("công an phường", "ward_police"),
        ("phòng tư pháp", "justice"),
        ("mot cua", "one_stop"),
        ("UBND phường 7", "ward_committee"),
        ("water company", "water_company"),
    ],
)
def test_units_are_found_by_name_or_what_they_look_after(
    catalog: Catalog, query: str, expected: str
) -> None:
    outcome = resolve(catalog.find_units(query))
    assert outcome.outcome == "answer"
    assert outcome.best.id == expected
    assert outcome.best.kind == "unit"


def test_lookup_is_fast_on_the_real_catalog(catalog: Catalog) -> None:
    queries = ["dang ky khai sinh", "giấy phép xây dựng cần gì", "who do I call", "sổ đỏ"] * 50
    started = time.perf_counter()
    for query in queries:
        catalog.find_services(query)
    assert (time.perf_counter() - started) / len(queries) < 0.005
