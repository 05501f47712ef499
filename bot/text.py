"""Text helpers shared by the NLU components, the catalog matcher and the inbox.

Vietnamese reaches us in many shapes: NFC or NFD, old or new tone-mark placement
(hoà / hòa), with or without diacritics. `fold` maps all of them to one key.
"""

from __future__ import annotations

import re
import unicodedata

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACES = re.compile(r"\s+")
# Control characters a person cannot type (NUL breaks PostgreSQL text columns; escape
# sequences garble logs and terminals); tab and line breaks stay.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """NFC-normalise, drop zero-width characters and collapse whitespace."""
    text = unicodedata.normalize("NFC", text or "").translate(_ZERO_WIDTH)
    return _SPACES.sub(" ", text).strip()


class NotText(ValueError):
    """A resident's message that is not Unicode text (lone surrogate code points)."""


def resident_text(text: str, *, strict: bool = True) -> str:
    """A resident's message as we store and process it: NFC, without control characters.

    Strings that cannot be stored as UTF-8 (JSON allows escaped lone surrogates, which no
    keyboard produces) raise NotText, so that callers answer with a clear error; with
    `strict=False` (a platform's update, already acknowledged) they become U+FFFD instead.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        if strict:
            raise NotText("the text contains invalid Unicode (lone surrogates)") from None
        text = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return unicodedata.normalize("NFC", _CONTROLS.sub(" ", text))


def strip_diacritics(text: str) -> str:
    """Remove Vietnamese tone and vowel marks, keeping the length of each character.

    Every character maps to exactly one character, so offsets computed on the folded
    text are valid on the original (NFC) text.
    """
    out = []
    for char in text:
        if char in "đĐ":
            out.append("d" if char == "đ" else "D")
            continue
        base = unicodedata.normalize("NFD", char)[0]
        out.append(base if len(base) == 1 else char)
    return "".join(out)


def fold(text: str) -> str:
    """The comparison key: cleaned, lower-case, without diacritics."""
    return strip_diacritics(clean(text).lower())


def has_diacritics(text: str) -> bool:
    return strip_diacritics(unicodedata.normalize("NFC", text)) != unicodedata.normalize(
        "NFC", text
    )
