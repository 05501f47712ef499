"""How numbers, dates, times and phone numbers look to residents (see VOICE.md)."""

from __future__ import annotations

import re
from datetime import date, time

from bot.catalog.model import Interval, normalize_lang

_WEEKDAY_NAMES = {
    "vi": ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


def format_money(amount: int, lang: str) -> str:
    """50000 → '50.000 đồng' (vi) or '50,000 VND' (en)."""
    grouped = f"{amount:,}"
    if normalize_lang(lang) == "en":
        return f"{grouped} VND"
    return f"{grouped.replace(',', '.')} đồng"


def format_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def format_time(moment: time, lang: str) -> str:
    """07:30 → '7h30' (vi) or '07:30' (en)."""
    if normalize_lang(lang) == "en":
        return moment.strftime("%H:%M")
    return f"{moment.hour}h{moment.minute:02d}"


def format_interval(interval: Interval, lang: str) -> str:
    return f"{format_time(interval.start, lang)}–{format_time(interval.end, lang)}"


def weekday_name(weekday: int, lang: str) -> str:
    return _WEEKDAY_NAMES[normalize_lang(lang)][weekday]


def format_day(day: date, lang: str) -> str:
    """'thứ Hai, 23/02/2026' / 'Monday, 23/02/2026'."""
    return f"{weekday_name(day.weekday(), lang)}, {format_date(day)}"


def phone_digits(text: str) -> str:
    """Keep the digits of a phone number as written in the catalog."""
    return re.sub(r"\D", "", text)


def format_phone(digits: str) -> str:
    """Group a phone number the way Vietnamese residents read it.

    0236 3 555 101 (landline: area code, then 1-3-3), 0905 123 456 (mobile),
    1900 1234 / 1900 545 454 (service numbers), 113 (short numbers).
    """
    digits = phone_digits(digits)
    if len(digits) <= 5:
        return digits
    if digits.startswith("02") and len(digits) == 11:
        return f"{digits[:4]} {digits[4]} {digits[5:8]} {digits[8:]}"
    if digits.startswith(("1800", "1900")):
        rest = digits[4:]
        if len(rest) <= 4:
            return f"{digits[:4]} {rest}"
        return f"{digits[:4]} {rest[:3]} {rest[3:]}"
    if digits.startswith("0") and len(digits) == 10:
        return f"{digits[:4]} {digits[4:7]} {digits[7:]}"
    groups = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return " ".join(groups)
