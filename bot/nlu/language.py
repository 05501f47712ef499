"""Is a message Vietnamese or English? Rules that also work for Vietnamese typed without accents.

Vietnamese diacritics decide at once. Otherwise each word votes: common unaccented Vietnamese
syllables and chat shorthand for vi, common English words for en, and words that cannot be a
Vietnamese syllable ("help", "street") weakly for en. Vietnamese particles and address terms
(em, anh, ạ, nhé, với) weigh double: residents mix English words into Vietnamese ("thanks
em", "help me voi"), English speakers do not mix Vietnamese particles into English.
Too short or undecided: the channel's hint, else Vietnamese.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.nlu.patterns import find_codes_and_phones
from bot.text import fold

VI = "vi"
EN = "en"
DEFAULT_LANGUAGE = VI

# Letters that only Vietnamese (among vi/en) writes: marked vowels, đ, and tone marks.
_VIETNAMESE_MARKS = frozenset("ăâđêôơư")
_TONE_MARKS = frozenset("\u0300\u0301\u0309\u0303\u0323")

# Particles, pronouns and address terms: strong evidence of a Vietnamese writer.
VI_PARTICLES = frozenset(
    [
        "ad",
        "alo",
        "ah",
        "anh",
        "chi",
        "cj",
        "co",
        "da",
        "e",
        "em",
        "ha",
        "hen",
        "ho",
        "hong",
        "hok",
        "ko",
        "kg",
        "khg",
        "khong",
        "mik",
        "mk",
        "minh",
        "nha",
        "nhe",
        "nhen",
        "nhi",
        "oi",
        "roi",
        "toi",
        "tui",
        "voi",
        "vs",
        "ba",
        "chu",
        "bac",
        "ak",
        "ahh",
    ]
)
# Everyday unaccented Vietnamese words (folded) that are not also common English words.
VI_WORDS = frozenset(
    [
        "bao",
        "bi",
        "biet",
        "buoi",
        "cach",
        "cac",
        "cam",
        "cau",
        "chao",
        "chieu",
        "cho",
        "chua",
        "chuyen",
        "chung",
        "cua",
        "cuoc",
        "dang",
        "day",
        "den",
        "dia",
        "dien",
        "dinh",
        "doi",
        "don",
        "duoc",
        "duong",
        "dung",
        "gap",
        "giay",
        "gio",
        "giup",
        "gui",
        "hai",
        "hay",
        "hen",
        "hoi",
        "hom",
        "huong",
        "huy",
        "huyen",
        "khai",
        "khi",
        "khieu",
        "kiem",
        "kiu",
        "ket",
        "ky",
        "lam",
        "lien",
        "luc",
        "mat",
        "moi",
        "mot",
        "muon",
        "nao",
        "nay",
        "neu",
        "nghe",
        "ngay",
        "ngoai",
        "nguoi",
        "nhan",
        "nhieu",
        "nhu",
        "nuoc",
        "o",
        "oi",
        "ong",
        "phan",
        "phi",
        "phong",
        "phuong",
        "qua",
        "quan",
        "rac",
        "roi",
        "sang",
        "sao",
        "sinh",
        "tai",
        "thanh",
        "thay",
        "the",
        "thi",
        "thoi",
        "thuc",
        "thu",
        "thuong",
        "tinh",
        "trang",
        "tro",
        "truong",
        "tu",
        "tuc",
        "uy",
        "ve",
        "viec",
        "vien",
        "vui",
        "xa",
        "xin",
        "xong",
        "ai",
        "ban",
        "biet",
        "cong",
        "dan",
        "giai",
        "hinh",
        "ho",
        "khach",
        "la",
        "le",
        "lo",
        "nam",
        "nhe",
        "nho",
        "sdt",
        "tn",
        "ntn",
        "bn",
        "dc",
        "dk",
        "gi",
        "j",
        "r",
        "chiu",
        "sua",
        "hu",
        "hong",
        "mat",
        "cup",
        "xe",
        "tam",
        "lich",
        "tiep",
        "camon",
        "okela",
        "kp",
        "bo",
    ]
)
# Everyday English words that are not also common unaccented Vietnamese.
EN_WORDS = frozenset(
    [
        "about",
        "address",
        "afternoon",
        "again",
        "all",
        "am",
        "and",
        "any",
        "are",
        "ask",
        "at",
        "be",
        "been",
        "birth",
        "bot",
        "bye",
        "broken",
        "by",
        "cancel",
        "certificate",
        "check",
        "close",
        "closed",
        "complaint",
        "contact",
        "could",
        "did",
        "does",
        "document",
        "documents",
        "email",
        "evening",
        "fee",
        "file",
        "for",
        "from",
        "get",
        "good",
        "goodbye",
        "has",
        "have",
        "hello",
        "help",
        "hey",
        "hours",
        "how",
        "human",
        "i",
        "if",
        "in",
        "is",
        "issue",
        "it",
        "just",
        "know",
        "light",
        "like",
        "morning",
        "my",
        "need",
        "no",
        "not",
        "number",
        "of",
        "office",
        "open",
        "or",
        "our",
        "person",
        "phone",
        "please",
        "problem",
        "real",
        "register",
        "registration",
        "report",
        "robot",
        "say",
        "service",
        "should",
        "sorry",
        "status",
        "still",
        "street",
        "tell",
        "thank",
        "thanks",
        "that",
        "the",
        "there",
        "this",
        "ticket",
        "time",
        "today",
        "tomorrow",
        "want",
        "water",
        "was",
        "we",
        "week",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "yes",
        "you",
        "your",
        "yet",
        "street",
        "lamp",
        "lights",
        "working",
        "garbage",
        "trash",
        "road",
        "pothole",
        "bill",
        "electricity",
        "agent",
        "staff",
        "talk",
        "speak",
        "someone",
        "anyone",
        "never",
        "mind",
        "nope",
        "yeah",
        "yep",
        "sure",
        "great",
        "bye",
        "hours",
        "opening",
        "schedule",
        "many",
        "much",
        "cost",
        "apply",
        "form",
        "forms",
        "where's",
        "what's",
        "i'm",
        "don't",
        "can't",
        "isn't",
        "it's",
        "thx",
        "hiya",
        "heya",
        "yo",
        "sup",
        "see",
        "ya",
        "cya",
        "gotta",
        "go",
        "ttyl",
        "lot",
        "ty",
        "tysm",
        "yup",
        "true",
        "fine",
        "nah",
        "stop",
        "quit",
        "exit",
        "halt",
        "reach",
        "sing",
        "correct",
        "ahead",
        "team",
        "then",
        "thing",
        "things",
        "here",
    ]
)
# Words common in both languages' chat: they vote for neither.
AMBIGUOUS = frozenset(
    ["a", "an", "day", "ok", "okay", "oke", "hi", "hey", "to", "so", "on", "can", "do", "me", "tks"]
)

_INITIALS = "ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|b|c|d|g|h|k|l|m|n|p|r|s|t|v|x"
_SYLLABLE = re.compile(rf"(?:{_INITIALS})?[aeiouy]{{1,3}}(?:ng|nh|ch|c|m|n|p|t)?")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
# Residents writing English still call the assistant by its Vietnamese name.
_BOT_NAME = re.compile(r"\btiep\s*dan\b")

STRONG = 2.0
WORD = 1.0
SHAPE_EN = 0.6
SHAPE_EN_LONG = 1.0  # five letters or more and not a possible syllable: surely not Vietnamese
SHAPE_VI = 0.3
DECISION_MARGIN = 1.0


@dataclass(frozen=True)
class LanguageGuess:
    """The decided language, why, and the scores behind it."""

    language: str
    source: str  # "diacritics", "score", "metadata" or "default"
    vi_score: float = 0.0
    en_score: float = 0.0


def has_vietnamese_marks(text: str) -> bool:
    """True when the text carries a letter or tone mark only Vietnamese uses."""
    for char in unicodedata.normalize("NFD", text.lower()):
        if char in _VIETNAMESE_MARKS or char in _TONE_MARKS:
            return True
    return "đ" in text.lower()


def words_of(text: str) -> list[str]:
    """Folded alphabetic words of a text, without ticket codes, phone numbers or our name."""
    tickets, phones = find_codes_and_phones(text)
    for match in sorted(tickets + phones, key=lambda m: m.start, reverse=True):
        text = text[: match.start] + " " + text[match.end :]
    text = _BOT_NAME.sub(" ", fold(text))
    return [word.replace("’", "'") for word in _WORD.findall(text)]


def score_words(words: list[str]) -> tuple[float, float]:
    """(Vietnamese score, English score) of folded words."""
    vi = en = 0.0
    for word in words:
        if word in AMBIGUOUS:
            continue
        if word in VI_PARTICLES:
            vi += STRONG
        elif word in EN_WORDS:
            en += WORD
        elif word in VI_WORDS:
            vi += WORD
        elif not word.isascii():
            continue  # another script: no vote
        elif _SYLLABLE.fullmatch(word):
            vi += SHAPE_VI
        else:
            en += SHAPE_EN_LONG if len(word) >= 5 else SHAPE_EN
    return vi, en


def detect_language(text: str, hint: str | None = None) -> LanguageGuess:
    """Decide vi or en for one message; `hint` is the channel's language, if it gave one."""
    if has_vietnamese_marks(text):
        return LanguageGuess(VI, "diacritics")
    words = words_of(text)
    vi, en = score_words(words)
    decided = abs(vi - en) >= DECISION_MARGIN
    scored = VI if vi > en else EN
    if decided and len(words) >= 2:
        return LanguageGuess(scored, "score", vi, en)
    if hint in (VI, EN):
        return LanguageGuess(hint, "metadata", vi, en)
    if decided:
        return LanguageGuess(scored, "score", vi, en)
    return LanguageGuess(DEFAULT_LANGUAGE, "default", vi, en)


def hint_from_metadata(metadata: object) -> str | None:
    """The channel's language hint: metadata `{"lang": "vi" | "en" | "vi-VN" ...}`."""
    if not isinstance(metadata, dict):
        return None
    value = metadata.get("lang")
    if not isinstance(value, str):
        return None
    value = value.strip().lower()[:2]
    return value if value in (VI, EN) else None


def looks_english(text: str) -> bool:
    """Cheap check used by the tokenizer to decide whether 'a' is an article or 'anh'."""
    if has_vietnamese_marks(text):
        return False
    vi, en = score_words(words_of(text))
    return en > vi
