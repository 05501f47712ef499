"""Offset-preserving normalisation of Vietnamese chat text for the NLU components.

The tokenizer must never change the message text, yet it wants to look at one canonical
form: NFC, no zero-width characters, one tone-mark placement (hoà → hòa), lower case.
`normalize_with_offsets` builds that copy together with, for every character of the copy,
the span of the original text it came from, so tokens found on the copy map back exactly.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.text import fold

# Characters that are invisible in chat apps but break words apart or glue them together.
_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u200e\u200f")

# The five Vietnamese tone marks as combining characters (huyền, sắc, hỏi, ngã, nặng).
_TONE_MARKS = frozenset("\u0300\u0301\u0309\u0303\u0323")
_VOWELS = frozenset("aăâeêioôơuưy")
_MARKED_VOWELS = frozenset("ăâêôơư")
_VIETNAMESE_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzăâđêôơư")
_LETTER_RUN = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class NormalizedText:
    """A normalised copy of a text and, per character, where it came from in the original."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that produced `text[start:end]` (end exclusive)."""
        return self.starts[start], self.ends[end - 1]


def normalize_with_offsets(original: str) -> NormalizedText:
    """NFC, drop zero-width characters, lower-case and unify tone marks, keeping offsets.

    Works cluster by cluster (a base character and the combining marks after it), so NFD
    input gives the same copy as NFC input and every copied character points into the
    original text.
    """
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    length = len(original)
    i = 0
    while i < length:
        if original[i] in _ZERO_WIDTH:
            i += 1
            continue
        j = i + 1
        while j < length and (unicodedata.combining(original[j]) or original[j] in _ZERO_WIDTH):
            j += 1
        cluster = "".join(c for c in original[i:j] if c not in _ZERO_WIDTH)
        for char in unicodedata.normalize("NFC", unicodedata.normalize("NFC", cluster).lower()):
            chars.append(char)
            starts.append(i)
            ends.append(j)
        i = j
    text = "".join(chars)
    text = _LETTER_RUN.sub(lambda match: retone_syllable(match.group()), text)
    return NormalizedText(text=text, starts=tuple(starts), ends=tuple(ends))


def normalize_text(text: str) -> str:
    """The normalised copy alone (for comparisons and tests)."""
    return normalize_with_offsets(text).text


def _split_tone(char: str) -> tuple[str, str | None]:
    decomposed = unicodedata.normalize("NFD", char)
    tones = [mark for mark in decomposed if mark in _TONE_MARKS]
    if not tones:
        return char, None
    base = unicodedata.normalize("NFC", "".join(m for m in decomposed if m not in _TONE_MARKS))
    return base, tones[0]


def retone_syllable(syllable: str) -> str:
    """Place the tone mark of one lower-case syllable the traditional way (hoà → hòa).

    Rules: a vowel with its own mark (ă â ê ô ơ ư) carries the tone (the last one in ươ);
    otherwise in an open syllable with two vowels the first one (hòa, khỏe, thủy, mùa), in
    a closed one the second (hoàng, huỳnh), with three vowels the middle one (ngoài, khuỷu).
    "qu" and "gi" before a vowel are consonants (quý, giá). Anything that does not look like
    one Vietnamese syllable is returned unchanged, and the length never changes.
    """
    if len(syllable) < 2 or len(syllable) > 8:
        return syllable
    bases: list[str] = []
    toned_at: list[int] = []
    tone = None
    for index, char in enumerate(syllable):
        base, mark = _split_tone(char)
        if len(base) != 1 or base not in _VIETNAMESE_LETTERS:
            return syllable
        bases.append(base)
        if mark is not None:
            toned_at.append(index)
            tone = mark
    if len(toned_at) != 1 or tone is None:
        return syllable

    first = 0
    word = "".join(bases)
    if word.startswith("qu") or (word.startswith("gi") and len(word) > 2 and word[2] in _VOWELS):
        first = 2
    vowel_positions = [i for i in range(first, len(bases)) if bases[i] in _VOWELS]
    if not vowel_positions:
        return syllable
    if vowel_positions != list(range(vowel_positions[0], vowel_positions[-1] + 1)):
        return syllable  # two vowel groups: not one Vietnamese syllable
    marked = [i for i in vowel_positions if bases[i] in _MARKED_VOWELS]
    closed = vowel_positions[-1] < len(bases) - 1
    if marked:
        target = marked[-1]
    elif len(vowel_positions) == 1:
        target = vowel_positions[0]
    elif len(vowel_positions) == 2:
        target = vowel_positions[1] if closed else vowel_positions[0]
    elif len(vowel_positions) == 3:
        target = vowel_positions[1]
    else:
        return syllable
    if target == toned_at[0]:
        return syllable
    out = list(bases)
    out[target] = unicodedata.normalize("NFC", bases[target] + tone)
    if any(len(c) != 1 for c in out):
        return syllable
    return "".join(out)


# Chat shorthand residents type, expanded to the full word(s) the training data uses.
# Only whole tokens are expanded. Multi-word expansions are joined with "_" like the word
# segmenter joins compounds, so a featurizer sees them as one word.
SHORTHAND: dict[str, str] = {
    # "không" (no / not)
    "ko": "không",
    "k": "không",
    "kg": "không",
    "kh": "không",
    "khg": "không",
    "hok": "không",
    "hk": "không",
    "hong": "không",
    "hông": "không",
    "hem": "không",
    # "được" (can / okay)
    "dc": "được",
    "đc": "được",
    "dk": "được",
    "đk": "được",
    # contact details
    "sdt": "số_điện_thoại",
    "sđt": "số_điện_thoại",
    "đt": "điện_thoại",
    "dt": "điện_thoại",
    "tn": "tin_nhắn",
    # question words
    "j": "gì",
    "gi": "gì",
    "bn": "bao_nhiêu",
    "bnhiu": "bao_nhiêu",
    "ntn": "như_thế_nào",
    # particles and conjunctions
    "r": "rồi",
    "vs": "với",
    "ik": "đi",
    "oy": "rồi",
    "ùi": "rồi",
    "uk": "ừ",
    "uh": "ừ",
    "ukm": "ừ",
    "wa": "quá",
    "thui": "thôi",
    "trc": "trước",
    "ng": "người",
    "ns": "nói",
    "bh": "bao_giờ",
    "bgio": "bao_giờ",
    "lm": "làm",
    "cx": "cũng",
    "cg": "cũng",
    "mn": "mọi_người",
    "ad": "admin",
    "tks": "thanks",
    "thks": "thanks",
    "thx": "thanks",
    "camon": "cảm_ơn",
    "cmon": "cảm_ơn",
    # pronouns and address terms
    "mik": "mình",
    "mk": "mình",
    "mjk": "mình",
    "t": "tôi",
    "e": "em",
    "a": "anh",
    "cj": "chị",
    "c": "chị",
    "ah": "ạ",
}

# Shorthand that is also an ordinary English word or letter ("a", "e", "vs", "t"): expanded
# only when the message does not read as English.
AMBIGUOUS_SHORTHAND = frozenset(
    {"a", "e", "k", "r", "j", "vs", "t", "c", "ng", "ad", "ah", "uh", "dt", "dk", "gi", "wa"}
)


# At the end of a sentence the same letters are a particle, not a pronoun: "cảm ơn a" is
# "cảm ơn ạ", while "a ơi" is "anh ơi".
SENTENCE_FINAL_SHORTHAND: dict[str, str] = {"a": "ạ"}


def expand_shorthand(word: str, english: bool, sentence_final: bool = False) -> str:
    """The full form of a chat shorthand token (lower-case), or the token itself."""
    if english and word in AMBIGUOUS_SHORTHAND:
        return word
    if sentence_final and word in SENTENCE_FINAL_SHORTHAND:
        return SENTENCE_FINAL_SHORTHAND[word]
    return SHORTHAND.get(word, word)


def lemma_of(text: str) -> str:
    """The diacritic-free form used as a token's lemma (đ → d, hòa → hoa)."""
    return fold(text)
