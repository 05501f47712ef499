"""Which part of a service a resident is asking about ("cần giấy tờ gì?" → documents).

Keyword rules over folded text, so "lệ phí", "le phi" and "LỆ PHÍ" are one rule. When
several rules match, the longest matched phrase wins ("nộp hồ sơ ở đâu" is about
submission, not documents, because "nop ho so o dau" is longer than "ho so"); equal
lengths fall back to the order of FACETS. No rule → "overview".
"""

from __future__ import annotations

import re

from bot.text import fold

FACETS = (
    "documents",
    "fee",
    "processing_time",
    "submission",
    "eligibility",
    "phone",
    "hours",
    "unit",
    "overview",
)

# Patterns are regular expressions over folded text (lower case, no diacritics), one per
# line; each matches whole words. Vietnamese first, then English.
_RULES: dict[str, str] = {
    "documents": r"""
        giay to
        ho so
        ho so gom
        thanh phan ho so
        can (?:nhung )?gi
        can chuan bi
        chuan bi (?:nhung )?gi
        mang theo
        can mang
        to khai
        giay to gi
        ban sao
        documents?
        paperwork
        papers
        what do i need
        what should i bring
        what (?:do i|to) bring
        requirements?
        required
        forms?
    """,
    "fee": r"""
        le phi
        phi
        chi phi
        bao nhieu tien
        het bao nhieu
        mat bao nhieu
        ton bao nhieu
        bao nhieu
        mat tien
        ton tien
        tien
        mien phi
        gia bao nhieu
        tra tien
        fees?
        costs?
        how much
        price
        charges?
        pay
        free
    """,
    "processing_time": r"""
        bao lau
        mat bao lau
        may ngay
        bao nhieu ngay
        bao nhieu lau
        khi nao (?:thi )?co
        bao gio (?:thi )?co
        bao gio xong
        khi nao xong
        thoi gian giai quyet
        thoi han
        thoi gian xu ly
        lau khong
        nhanh khong
        co ket qua
        tra ket qua
        how long
        how many days
        processing time
        how soon
        turnaround
        when (?:will|can|do) i (?:get|receive)
        takes? long
    """,
    "submission": r"""
        nop (?:\w+ ){0,5}o dau
        nop (?:\w+ ){0,5}tai dau
        lam (?:\w+ ){0,4}o dau
        dang ky (?:\w+ ){0,4}o dau
        nop online
        online
        truc tuyen
        dich vu cong
        qua mang
        buu dien
        buu chinh
        cach nop
        nop the nao
        nop nhu the nao
        nop qua
        where (?:do|can|should) i (?:submit|apply|send|file|register)
        submit
        apply online
        by post
        by mail
        portal
        how (?:do i|to|can i) apply
        where to (?:submit|apply)
    """,
    "eligibility": r"""
        dieu kien
        du dieu kien
        ai duoc
        ai co the
        doi tuong
        truong hop nao
        ai phai
        duoc huong
        co duoc huong
        eligible
        eligibility
        who can
        qualify
        qualifies
        conditions
        entitled
        am i allowed
    """,
    "phone": r"""
        so dien thoai
        dien thoai
        sdt
        so dt
        hotline
        duong day nong
        goi
        goi dien
        goi cho ai
        goi ai
        goi so nao
        lien he
        lien lac
        email
        zalo
        phone
        telephone
        phone number
        call
        who (?:do|should|can) i call
        contact
        e-?mail
        ring
    """,
    "hours": r"""
        may gio
        gio lam viec
        gio mo cua
        mo cua
        dong cua
        lam viec khong
        co lam viec
        con lam viec
        lam viec (?:vao )?(?:thu bay|chu nhat)
        thu bay
        thu 7
        chu nhat
        cuoi tuan
        nghi trua
        gio hanh chinh
        ngay le
        nghi le
        tet
        luc nao
        opening hours
        open
        opens
        close
        closes
        closed
        hours
        what time
        saturday
        sunday
        weekend
        lunch
        holiday
    """,
    "unit": r"""
        co quan nao
        ai giai quyet
        don vi nao
        phong nao
        noi nao
        o dau
        dia chi
        cho nao
        ben nao
        ai phu trach
        ai xu ly
        hoi ai
        tru so
        tim ai
        tai dau
        who handles
        which office
        which department
        where is
        where are
        address
        who is responsible
        who deals
        location
        located
        which agency
    """,
}

_COMPILED = [
    (facet, re.compile(rf"\b{pattern.strip()}\b"))
    for facet, patterns in _RULES.items()
    for pattern in patterns.splitlines()
    if pattern.strip()
]
_ORDER = {facet: i for i, facet in enumerate(FACETS)}


def detect_facet(text: str) -> str:
    """One of FACETS for a question such as "khai sinh cần giấy tờ gì?"."""
    folded = fold(text)
    best: tuple[int, int, str] | None = None
    for facet, pattern in _COMPILED:
        for found in pattern.finditer(folded):
            key = (-(found.end() - found.start()), _ORDER[facet], facet)
            if best is None or key < best:
                best = key
    return best[2] if best else "overview"
