"""Personal data masked out of resident messages before the inbox stores them.

E-mail addresses, 12-digit citizen ID numbers (CCCD) and phone numbers (any way residents
type them, see `bot.nlu.patterns`) become a bracketed tag that a trainer recognises and
that never reaches the training data by accident (`contains_mask` lets the console refuse it).
"""

from __future__ import annotations

import re

from bot.nlu.patterns import PHONE_PATTERN

EMAIL_TAG, CCCD_TAG, PHONE_TAG, NUMBER_TAG = "[email]", "[cccd]", "[phone]", "[number]"
TAGS = (EMAIL_TAG, CCCD_TAG, PHONE_TAG, NUMBER_TAG)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# 12 digits, optionally grouped (0010 9300 1234 / 001.093.001.234), not part of a longer number.
CCCD = re.compile(
    r"(?<!\d)\d{3}[ .]?\d{3}[ .]?\d{3}[ .]?\d{3}(?!\d)|(?<!\d)\d{4}[ .]\d{4}[ .]\d{4}(?!\d)"
)
# Whatever is left that still looks like a long number (an old 9-digit CMND, a bank account).
LONG_NUMBER = re.compile(r"(?<![\w])\d(?:[ .\-]?\d){8,}(?![\w])")


def mask_personal_data(text: str) -> str:
    """The text with e-mails, CCCD numbers, phone numbers and other long numbers masked."""
    text = EMAIL.sub(EMAIL_TAG, text)
    text = CCCD.sub(CCCD_TAG, text)
    text = PHONE_PATTERN.sub(PHONE_TAG, text)
    return LONG_NUMBER.sub(NUMBER_TAG, text)


def contains_mask(text: str) -> bool:
    return any(tag in text for tag in TAGS)
