"""Ticket codes: PA-YYMM-XXXXX, short enough to read over the phone, impossible to guess.

YYMM is the month the ticket was opened in Vietnam; XXXXX is drawn with `secrets` from an
alphabet without 0/O and 1/I (misread when dictated), so codes are never sequential.
"""

from __future__ import annotations

import re
import secrets
from datetime import date

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_PREFIX = "PA"
RANDOM_LENGTH = 5
CODE_PATTERN = re.compile(r"^PA-\d{4}-[2-9A-HJ-NP-Z]{5}$")

_SEPARATORS = re.compile(r"[\s\-_.·/]+")
_COMPACT = re.compile(r"^(?:PA)?(\d{2})(\d{2})([A-Z0-9]{5})$")


def new_code(local_day: date) -> str:
    """A fresh random code for a ticket opened on `local_day` (a date in Vietnam)."""
    suffix = "".join(secrets.choice(CODE_ALPHABET) for _ in range(RANDOM_LENGTH))
    return f"{CODE_PREFIX}-{local_day:%y%m}-{suffix}"


def normalise_code(text: str | None) -> str | None:
    """The canonical code a resident meant, or None when it cannot be one.

    Accepts any case, spaces, dashes or dots ("pa 2611 k7m3q", "PA2611-K7M3Q") and a
    missing "PA"; rejects a month outside 01–12 and characters outside the alphabet.
    """
    if not text:
        return None
    compact = _SEPARATORS.sub("", text.strip().upper())
    match = _COMPACT.match(compact)
    if not match:
        return None
    year, month, suffix = match.groups()
    if not 1 <= int(month) <= 12:
        return None
    if any(char not in CODE_ALPHABET for char in suffix):
        return None
    return f"{CODE_PREFIX}-{year}{month}-{suffix}"
