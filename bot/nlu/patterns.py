"""Ticket codes and Vietnamese phone numbers as residents type them, with their canonical form.

A ticket code is `PA-YYMM-XXXXX` (X from an alphabet without 0, 1, I, O); residents type it
in lower case, without dashes or with spaces. Phone numbers come as 0905123456,
0905 123 456, 090.512.3456, +84 905 123 456, 84905123456 or 0236 3 123 456; the canonical
value is the digits starting with 0. A phone number is never taken from inside a ticket code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TICKET_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

_SEP = r"[ \t\-_.–—/]*"
TICKET_PATTERN = re.compile(
    rf"(?<![^\W_])PA{_SEP}([0-9]{{4}}){_SEP}([{TICKET_ALPHABET}]{{5}})(?![^\W_])",
    re.IGNORECASE,
)

# One optional separator between digit groups: space, dot or dash.
_DIGIT = r"[ .\-]?[0-9]"
PHONE_PATTERN = re.compile(
    r"(?<![\w+])"
    r"(?:\(?\+?84\)?[ .\-]?|0)"  # country code or trunk prefix
    rf"(?:[35789](?:{_DIGIT}){{8}}"  # mobile: 9 digits after the prefix
    rf"|2(?:{_DIGIT}){{9}})"  # landline: area code 2xx plus subscriber, 10 digits
    r"(?![0-9])(?![ .\-][0-9])(?!\w)"
)
_MOBILE = re.compile(r"0[35789][0-9]{8}")
_LANDLINE = re.compile(r"02[0-9]{9}")


@dataclass(frozen=True)
class Match:
    """A span of the searched text and the canonical value found there."""

    start: int
    end: int
    value: str


def normalize_ticket_code(text: str) -> str | None:
    """`pa 2611 k7m3q` → `PA-2611-K7M3Q`; None when the text is not exactly one code."""
    match = TICKET_PATTERN.fullmatch(text.strip())
    if not match:
        return None
    period, suffix = match.groups()
    return f"PA-{period}-{suffix.upper()}"


def normalize_phone(text: str) -> str | None:
    """`+84 905 123 456` → `0905123456`; None when the digits are not a Vietnamese number."""
    digits = re.sub(r"[^0-9]", "", text)
    if digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    if _MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits):
        return digits
    return None


def find_ticket_codes(text: str) -> list[Match]:
    """Every ticket code in `text`, with spans on `text` and normalised values."""
    found = []
    for match in TICKET_PATTERN.finditer(text):
        period, suffix = match.groups()
        found.append(Match(match.start(), match.end(), f"PA-{period}-{suffix.upper()}"))
    return found


def find_phones(text: str, exclude: list[Match] | None = None) -> list[Match]:
    """Every phone number in `text` that does not overlap a span in `exclude`."""
    exclude = exclude or []
    found = []
    for match in PHONE_PATTERN.finditer(text):
        if any(match.start() < other.end and other.start < match.end() for other in exclude):
            continue
        value = normalize_phone(match.group())
        if value:
            found.append(Match(match.start(), match.end(), value))
    return found


def find_codes_and_phones(text: str) -> tuple[list[Match], list[Match]]:
    """Ticket codes first, then the phone numbers outside them."""
    tickets = find_ticket_codes(text)
    return tickets, find_phones(text, exclude=tickets)
