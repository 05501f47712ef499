"""Fast fuzzy lookup of catalog entries by what residents type.

Residents write "đăng ký khai sinh", "dang ky khai sinh", "khai sinh dang ky", "khai sihn"
or "birth registration". All of them fold (`bot.text.fold`) to syllable tokens; each entry's
names and aliases become token sets weighted by rarity (IDF) at load time. A lookup resolves
each query token to known tokens (exactly, by a one- or two-letter typo through a
deletion index, or by prefix), takes candidates from an inverted index and scores them by
how much of a phrase the query covers. No per-entry fuzzy ratio is computed, so a lookup
stays in the low milliseconds with thousands of entries.
"""

from __future__ import annotations

import heapq
import math
import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from bot.text import clean, fold

_TOKEN = re.compile(r"[a-z0-9]+")

# Spelling variants residents use interchangeably (kí/ký, lí/lý) fold to one token.
_VARIANTS = {"ki": "ky", "li": "ly"}

# Abbreviations common in chat; expanded on both the index and the query side.
_EXPANSIONS: dict[str, tuple[str, ...]] = {
    "dk": ("dang", "ky"),
    "dki": ("dang", "ky"),
    "gp": ("giay", "phep"),
    "gpxd": ("giay", "phep", "xay", "dung"),
    "gcn": ("giay", "chung", "nhan"),
    "qsdd": ("quyen", "su", "dung", "dat"),
    "tthc": ("thu", "tuc", "hanh", "chinh"),
}

# Scores are 0..1: mostly "how much of the phrase did the query name", a little "how much
# of the query did the phrase explain" (so "đăng ký khai sinh" beats "khai sinh" when the
# resident typed all four syllables).
_PHRASE_WEIGHT = 0.75
_QUERY_WEIGHT = 0.25
_ONE_EDIT = 0.85
_TWO_EDITS = 0.7
_PREFIX = 0.75
_MIN_FUZZY_LENGTH = 4
_TWO_EDIT_LENGTH = 8
_MIN_REPORTED = 0.25
# At most about this many phrases are scored per lookup (see SearchIndex.search).
_CANDIDATE_BUDGET = 1500

# How a caller turns scores into a decision (see `resolve`).
MIN_SCORE = 0.4
MARGIN = 0.15
EXACT = 0.999


# Question wording that says what is asked, not which service ("mất bao lâu", "ở đâu",
# "bao nhiêu tiền", "how long"). It is removed from a query before matching, so "sổ đỏ mất
# bao lâu" is about the land certificate, not about losing it ("mất sổ đỏ").
_QUESTION_WORDING = re.compile(
    r"\b(?:"
    + "|".join(
        [
            r"(?:cho|xin) (?:em|toi|minh|chau|con) hoi",
            r"xin hoi",
            r"(?:toi|em|minh|chau) (?:muon|can|dinh)",
            r"can (?:nhung )?giay to gi",
            r"(?:nhung )?giay to gi",
            r"can (?:nhung )?gi",
            r"(?:het|mat|ton) (?:bao nhieu|bao lau|may ngay)(?: tien| ngay)?",
            r"bao nhieu(?: tien| ngay| lau)?",
            r"bao lau",
            r"may ngay",
            r"bao gio",
            r"khi nao",
            r"o dau",
            r"tai dau",
            r"(?:nhu )?the nao",
            r"ra sao",
            r"thi sao",
            r"le phi",
            r"(?:co )?(?:mat|ton) phi(?: khong)?",
            r"(?:co )?duoc khong",
            r"khong a",
            r"(?:gio )?lam viec(?: khong)?",
            r"may gio",
            r"(?:gio )?(?:mo|dong) cua",
            r"(?:so )?dien thoai",
            r"sdt",
            r"hotline",
            r"dia chi",
            r"(?:what are the )?(?:opening|office) hours",
            r"(?:phone|telephone) number",
            r"how (?:long|much|many days)(?: does it take| is it| does it cost)?",
            r"what documents?(?: do i need)?(?: for)?",
            r"where (?:do|can|should) i (?:submit|apply|go)?(?: for)?",
            r"what is the fee(?: for)?",
            r"(?:can you )?tell me(?: about)?",
            r"i (?:want|need) to",
            r"how (?:do|can) i",
            r"please",
        ]
    )
    + r")\b"
)


def _tokens(folded: str) -> list[str]:
    tokens: list[str] = []
    for token in _TOKEN.findall(folded):
        token = _VARIANTS.get(token, token)
        tokens.extend(_EXPANSIONS.get(token, (token,)))
    return tokens


def tokenize(text: str) -> list[str]:
    """Folded, normalised tokens of `text` (diacritics, case and punctuation removed)."""
    return _tokens(fold(text))


# "Còn lệ phí thì sao?", "thế còn …": a follow-up opener, not the child ("con").
_FOLLOW_UP_OPENER = re.compile(r"^(?:(?:the|vay|the thi|vay thi) )?con\b")


def query_tokens(query: str) -> list[str]:
    """Tokens of a resident's question without its question wording: none at all for a
    bare follow-up such as "còn lệ phí thì sao?"."""
    return _tokens(_QUESTION_WORDING.sub(" ", _FOLLOW_UP_OPENER.sub(" ", fold(query))))


@dataclass(frozen=True)
class _Phrase:
    owner: int
    text: str
    weights: dict[str, float]
    total: float


class SearchIndex:
    """Inverted index over (key, phrases) entries; `search` returns (key, score, phrase)."""

    def __init__(self, entries: Sequence[tuple[str, Sequence[str]]]) -> None:
        self._keys = [key for key, _ in entries]
        self._first_phrase = [phrases[0] if phrases else key for key, phrases in entries]
        self._ids = {key.lower(): i for i, key in enumerate(self._keys)}

        tokenized: list[list[tuple[str, list[str]]]] = []
        document_frequency: dict[str, int] = {}
        for _, phrases in entries:
            owner_phrases = []
            seen: set[tuple[str, ...]] = set()
            for text in phrases:
                tokens = list(dict.fromkeys(tokenize(text)))
                if tokens and tuple(tokens) not in seen:
                    seen.add(tuple(tokens))
                    owner_phrases.append((text, tokens))
            tokenized.append(owner_phrases)
            for token in {t for _, tokens in owner_phrases for t in tokens}:
                document_frequency[token] = document_frequency.get(token, 0) + 1

        count = max(len(entries), 1)
        self._idf = {t: math.log(1.0 + count / df) for t, df in document_frequency.items()}
        self._phrases: list[_Phrase] = []
        self._postings: dict[str, list[int]] = {}
        self._joined: dict[str, tuple[str, str]] = {}
        for owner, owner_phrases in enumerate(tokenized):
            for text, tokens in owner_phrases:
                weights = {t: self._idf[t] for t in tokens}
                index = len(self._phrases)
                self._phrases.append(_Phrase(owner, text, weights, sum(weights.values())))
                for token in tokens:
                    self._postings.setdefault(token, []).append(index)
                for first, second in zip(tokens, tokens[1:], strict=False):
                    self._joined.setdefault(first + second, (first, second))

        self._phrase_owner = [phrase.owner for phrase in self._phrases]
        self._phrase_total = [phrase.total for phrase in self._phrases]
        self._posting_sets = {token: frozenset(p) for token, p in self._postings.items()}
        self._vocabulary = sorted(self._idf)
        self._deletions: dict[str, set[str]] = {}
        for token in self._vocabulary:
            if len(token) < _MIN_FUZZY_LENGTH - 1:
                continue
            for variant in _deletions(token, 2 if len(token) >= _TWO_EDIT_LENGTH - 1 else 1):
                self._deletions.setdefault(variant, set()).add(token)

    def __len__(self) -> int:
        return len(self._keys)

    def search(self, query: str, limit: int = 3) -> list[tuple[str, float, str]]:
        exact = self._ids.get(clean(query).lower())
        if exact is not None:
            return [(self._keys[exact], 1.0, self._first_phrase[exact])]

        resolved, query_total = self._resolve_query(query)
        if not resolved:
            return []

        # Rare tokens seed the candidates through their postings; once the candidate budget
        # is spent, common tokens ("dang", "ky", "giay") only add to candidates already found.
        accumulated: dict[int, float] = {}
        seeded = 0
        for rank, token in enumerate(sorted(resolved, key=lambda t: len(self._postings[t]))):
            weight = self._idf[token] * resolved[token]
            postings = self._postings[token]
            if rank == 0 or seeded + len(postings) <= _CANDIDATE_BUDGET:
                seeded += len(postings)
                for index in postings:
                    accumulated[index] = accumulated.get(index, 0.0) + weight
            else:
                for index in self._posting_sets[token].intersection(accumulated):
                    accumulated[index] += weight

        owners, totals = self._phrase_owner, self._phrase_total
        per_query = _QUERY_WEIGHT / query_total
        best_score: dict[int, float] = {}
        best_phrase: dict[int, int] = {}
        for index, matched in accumulated.items():
            score = _PHRASE_WEIGHT * matched / totals[index] + (
                matched * per_query if matched < query_total else _QUERY_WEIGHT
            )
            owner = owners[index]
            if score > best_score.get(owner, -1.0):
                best_score[owner] = score
                best_phrase[owner] = index

        # Ties go to the entry whose matching phrase is shortest (the most specific), then
        # to the one listed first.
        top = heapq.nlargest(
            limit,
            best_score.items(),
            key=lambda item: (item[1], -totals[best_phrase[item[0]]], -item[0]),
        )
        return [
            (self._keys[owner], round(min(score, 1.0), 4), self._phrases[best_phrase[owner]].text)
            for owner, score in top
            if score >= _MIN_REPORTED
        ]

    def _resolve_query(self, query: str) -> tuple[dict[str, float], float]:
        """Map query tokens to known tokens with a similarity (1.0 exact, less for typos)."""
        resolved: dict[str, float] = {}
        total = 0.0
        for token in dict.fromkeys(self._split_joined(query_tokens(query))):
            alternatives = self._alternatives(token)
            if not alternatives:
                continue
            total += max(self._idf[t] * s for t, s in alternatives)
            for known, similarity in alternatives:
                if similarity > resolved.get(known, 0.0):
                    resolved[known] = similarity
        return resolved, total

    def _split_joined(self, tokens: Iterable[str]) -> list[str]:
        """'khaisinh' → 'khai', 'sinh' (syllables typed without the space)."""
        out: list[str] = []
        for token in tokens:
            if token not in self._idf and token in self._joined:
                out.extend(self._joined[token])
            else:
                out.append(token)
        return out

    def _alternatives(self, token: str) -> list[tuple[str, float]]:
        if token in self._idf:
            return [(token, 1.0)]
        if len(token) < _MIN_FUZZY_LENGTH:
            return []
        max_edits = 2 if len(token) >= _TWO_EDIT_LENGTH else 1
        candidates: set[str] = set()
        for variant in _deletions(token, max_edits):
            candidates |= self._deletions.get(variant, set())
        found = []
        for known in candidates:
            distance = _edit_distance(token, known, max_edits)
            if distance <= max_edits:
                found.append((known, _ONE_EDIT if distance <= 1 else _TWO_EDITS))
        if found:
            return found
        start = bisect_left(self._vocabulary, token)
        prefixed = []
        for known in self._vocabulary[start : start + 3]:
            if known.startswith(token):
                prefixed.append((known, _PREFIX))
        return prefixed


def _deletions(token: str, depth: int) -> set[str]:
    """`token` and every string made by deleting up to `depth` characters from it."""
    variants = {token}
    frontier = {token}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w)) if len(w) > 1}
        variants |= frontier
    return variants


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (an adjacent swap counts as one edit), capped."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


class _Scored(Protocol):
    @property
    def score(self) -> float: ...


M = TypeVar("M", bound=_Scored)


@dataclass(frozen=True)
class Resolution(Generic[M]):
    """What to do with search results.

    outcome: "answer" (one clear winner: matches[0]), "choose" (2–3 close candidates: ask
    with buttons) or "none" (say so, offer a person).
    """

    outcome: str
    matches: tuple[M, ...]

    @property
    def best(self) -> M | None:
        return self.matches[0] if self.matches else None


def resolve(matches: Sequence[M], max_choices: int = 3) -> Resolution[M]:
    """Decide between answering, asking which one, and saying nothing matched."""
    kept = [m for m in matches if m.score >= MIN_SCORE]
    if not kept:
        return Resolution("none", ())
    top = kept[0]
    close = [m for m in kept[1:] if top.score - m.score < MARGIN]
    if top.score >= EXACT:
        close = [m for m in close if m.score >= EXACT]
    if not close:
        return Resolution("answer", (top,))
    return Resolution("choose", tuple([top, *close][:max_choices]))
