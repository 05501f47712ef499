"""Checks for what a resident types into the ticket form: description, phone, ticket code.

Plain functions with no database, so the form validators in `actions/` and the services
here apply exactly the same rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.text import clean, fold
from bot.tickets.codes import normalise_code

__all__ = [
    "DescriptionCheck",
    "MAX_DESCRIPTION_CHARS",
    "MIN_DESCRIPTION_CHARS",
    "format_phone",
    "normalise_code",
    "normalise_phone",
    "validate_description",
]

MIN_DESCRIPTION_CHARS = 10
MAX_DESCRIPTION_CHARS = 2000
# "hahahahaha" has ten letters but says nothing; real descriptions use more than a couple.
MIN_DISTINCT_CHARS = 4

TOO_SHORT, TOO_LONG = "too_short", "too_long"


@dataclass(frozen=True)
class DescriptionCheck:
    text: str  # the cleaned description, what gets stored
    problem: str | None  # None, "too_short" or "too_long"

    @property
    def ok(self) -> bool:
        return self.problem is None


def _meaningful_chars(text: str) -> str:
    """Letters and digits, with runs of the same character counted once ("!!!!", "aaaa")."""
    kept: list[str] = []
    for char in fold(text):
        if char.isalnum() and (not kept or kept[-1] != char):
            kept.append(char)
    return "".join(kept)


def validate_description(text: str | None) -> DescriptionCheck:
    cleaned = clean(text or "")
    if len(cleaned) > MAX_DESCRIPTION_CHARS:
        return DescriptionCheck(cleaned, TOO_LONG)
    meaningful = _meaningful_chars(cleaned)
    if len(meaningful) < MIN_DESCRIPTION_CHARS or len(set(meaningful)) < MIN_DISTINCT_CHARS:
        return DescriptionCheck(cleaned, TOO_SHORT)
    return DescriptionCheck(cleaned, None)


_PHONE_NOISE = re.compile(r"[\s.\-()/]+")
_MOBILE = re.compile(r"^0[35789]\d{8}$")
_LANDLINE = re.compile(r"^02\d{9}$")
# Hà Nội (024) and TP. Hồ Chí Minh (028) have three-digit area codes; other provinces four.
_SHORT_AREA_CODES = ("024", "028")


def normalise_phone(text: str | None) -> str | None:
    """A Vietnamese phone number in its domestic form ("0912345678", "02363123456"), or None.

    Accepts +84 / 84 / 0084 prefixes (with or without the trunk 0 after them), spaces,
    dots, dashes and parentheses. Mobile: 03/05/07/08/09 + 8 digits; landline: 02 + 9 digits.
    """
    if not text:
        return None
    number = _PHONE_NOISE.sub("", text.strip())
    for prefix in ("+84", "0084", "84"):
        if number.startswith(prefix):
            rest = number[len(prefix) :]
            # "+84 (0) 912…" keeps its trunk 0; "+84 912…" gets it back.
            number = rest if rest.startswith("0") else "0" + rest
            break
    if not number.isascii() or not number.isdigit():
        return None
    if _MOBILE.match(number) or _LANDLINE.match(number):
        return number
    return None


def format_phone(number: str) -> str:
    """Digits grouped the way they are read aloud: 0912 345 678, 024 3825 1234, 0236 3 123 456."""
    if _MOBILE.match(number):
        return f"{number[:4]} {number[4:7]} {number[7:]}"
    if _LANDLINE.match(number):
        if number.startswith(_SHORT_AREA_CODES):
            return f"{number[:3]} {number[3:7]} {number[7:]}"
        return f"{number[:4]} {number[4]} {number[5:8]} {number[8:]}"
    return number
