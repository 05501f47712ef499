"""Vietnamese word segmentation as a Rasa tokenizer, with offsets valid on the original text.

The message text is never changed. Tokens are found on a normalised copy (NFC, no zero-width
characters, one tone-mark placement, lower case; see `bot.nlu.normalize`) and mapped back to
the original through the copy's offset table, so NFD input, zero-width characters and
emoji cannot break Rasa's alignment. Multi-syllable words are joined with underthesea's CRF
word segmenter (`giấy_khai_sinh`), which is fed our syllables directly: underthesea's own
pre-tokenizer rewrites the text and its offsets would not match.

A token's `text` is the normalised word with diacritics and chat shorthand expanded
(ko → không, sdt → số_điện_thoại); its `lemma` is the diacritic-free form (khong), which the
character n-gram featurizer uses so that unaccented Vietnamese looks like accented Vietnamese.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.language import has_vietnamese_marks, looks_english
from bot.nlu.normalize import NormalizedText, expand_shorthand, lemma_of, normalize_with_offsets
from bot.nlu.patterns import find_codes_and_phones

# Token data key marking a ticket code or phone number token (value: the entity type).
PATTERN_KIND = "tiepdan_kind"  # RegexFeaturizer owns the "pattern" key

_WORD = re.compile(r"\w+(?:['’]\w+)*")
_ALPHABETIC = re.compile(r"[^\W\d_]+")
_SENTENCE_END = ".!?,;…~"
_NEXT_CHAR = re.compile(r"\s*(\S)")
# The CRF looks two syllables left and right; windows of this size keep long texts fast.
_CRF_WINDOW = 200


@dataclass
class _Piece:
    """One syllable, number, ticket code or phone number on the normalised copy."""

    start: int  # on the normalised copy
    end: int
    text: str  # normalised, shorthand expanded
    joinable: bool  # may be part of a multi-syllable word
    kind: str | None = None  # "ticket_code" or "phone" for those patterns


class _Segmenter:
    """underthesea's CRF word segmenter, loaded once per process from its wheel (no download)."""

    _lock = threading.Lock()
    _tagger: Any = None

    @classmethod
    def tags(cls, syllables: list[str]) -> list[str]:
        tagger = cls.load()
        tags: list[str] = []
        for begin in range(0, len(syllables), _CRF_WINDOW):
            window = syllables[begin : begin + _CRF_WINDOW]
            tags.extend(tagger.predict([[syllable] for syllable in window]))
        return tags

    @classmethod
    def load(cls) -> Any:
        if cls._tagger is None:
            with cls._lock:
                if cls._tagger is None:
                    import underthesea.pipeline.word_tokenize as word_tokenize
                    from underthesea.models.fast_crf_sequence_tagger import (
                        FastCRFSequenceTagger,
                    )

                    model_dir = Path(word_tokenize.__file__).parent / "models"
                    candidates = sorted(model_dir.glob("ws_crf_*"))
                    if not candidates:
                        raise RuntimeError(
                            f"underthesea's word segmentation model is missing under "
                            f"{model_dir}; reinstall underthesea from requirements.lock."
                        )
                    tagger = FastCRFSequenceTagger()
                    tagger.load(str(candidates[-1]))
                    cls._tagger = tagger
        return cls._tagger


def tokenize_text(
    text: str,
    *,
    segment: bool = True,
    segment_unaccented: bool = False,
    expand: bool = True,
    max_tokens: int = 200,
    boundaries: Iterable[int] = (),
    syllable_lemma: bool = False,
) -> list[Token]:
    """Tokens of `text` with offsets on `text` itself.

    `boundaries` are original offsets a word may not straddle (entity starts and ends in
    training examples), so annotated entities stay aligned with whole tokens. With
    `syllable_lemma` the lemma of a compound keeps its syllables apart ("giay khai sinh"),
    so it matches unaccented text, which the segmenter leaves unjoined.
    """
    if not text:
        return []
    normalized = normalize_with_offsets(text)
    if not normalized.text.strip():
        return []
    english = looks_english(normalized.text)
    pieces = _pieces(normalized, english=english, expand=expand, limit=max_tokens)
    if not pieces:
        return [_whole_text_token(normalized)]

    forbidden = set(boundaries)
    groups: list[list[_Piece]] = [[piece] for piece in pieces]
    vietnamese = has_vietnamese_marks(normalized.text)
    if segment and not english and (vietnamese or segment_unaccented):
        groups = _join_words(pieces, normalized, forbidden)

    tokens = []
    for group in groups:
        start, _ = normalized.original_span(group[0].start, group[0].end)
        _, end = normalized.original_span(group[-1].start, group[-1].end)
        word = "_".join(piece.text for piece in group)
        lemma = lemma_of(word.replace("_", " ") if syllable_lemma else word)
        data = {PATTERN_KIND: group[0].kind} if group[0].kind else None
        tokens.append(Token(word, start, end, data=data, lemma=lemma))
    return tokens


def _pieces(normalized: NormalizedText, *, english: bool, expand: bool, limit: int) -> list[_Piece]:
    copy = normalized.text
    tickets, phones = find_codes_and_phones(copy)
    special = sorted(tickets + phones, key=lambda match: match.start)
    pieces: list[_Piece] = []
    cursor = 0
    kinds = {id(match): "ticket_code" for match in tickets} | {id(m): "phone" for m in phones}
    for match in [*special, None]:
        gap_end = match.start if match else len(copy)
        for word in _WORD.finditer(copy, cursor, gap_end):
            value = word.group()
            if expand:
                following = _NEXT_CHAR.match(copy, word.end())
                final = following is None or following.group(1) in _SENTENCE_END
                value = expand_shorthand(value, english, sentence_final=final)
            joinable = bool(_ALPHABETIC.fullmatch(word.group()))
            pieces.append(_Piece(word.start(), word.end(), value, joinable))
        if match:
            kind = kinds[id(match)]
            pieces.append(_Piece(match.start, match.end, match.value.lower(), False, kind))
            cursor = match.end
        if len(pieces) >= limit:
            break
    return pieces[:limit]


def _join_words(
    pieces: list[_Piece], normalized: NormalizedText, forbidden: set[int]
) -> list[list[_Piece]]:
    tags = _Segmenter.tags([piece.text for piece in pieces])
    groups: list[list[_Piece]] = []
    for piece, tag in zip(pieces, tags, strict=True):
        if groups and tag == "I-W" and _can_join(groups[-1][-1], piece, normalized, forbidden):
            groups[-1].append(piece)
        else:
            groups.append([piece])
    return groups


def _can_join(
    previous: _Piece, piece: _Piece, normalized: NormalizedText, forbidden: set[int]
) -> bool:
    if not (previous.joinable and piece.joinable):
        return False
    if normalized.text[previous.end : piece.start].strip():
        return False  # punctuation between the syllables
    _, previous_end = normalized.original_span(previous.start, previous.end)
    start, _ = normalized.original_span(piece.start, piece.end)
    return previous_end not in forbidden and start not in forbidden


def _whole_text_token(normalized: NormalizedText) -> Token:
    """Text without any word (emoji, punctuation): one token over all of it, as Rasa does."""
    copy = normalized.text
    first = len(copy) - len(copy.lstrip())
    last = len(copy.rstrip())
    start, end = normalized.original_span(first, last)
    word = copy[first:last]
    return Token(word, start, end, lemma=lemma_of(word) or word)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class VietnameseTokenizer(Tokenizer):
    """Rasa tokenizer for Vietnamese (accented or not) and English chat messages."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            # Join multi-syllable words (giấy_khai_sinh) with underthesea's segmenter.
            "segment": True,
            # The segmenter is trained on accented text; on unaccented text it guesses.
            "segment_unaccented": False,
            # Expand chat shorthand (ko → không); see bot.nlu.normalize.SHORTHAND.
            "expand_shorthand": True,
            # Words after this many are not tokenized (a pasted essay stays fast).
            "max_tokens": 200,
            # Lemma of a compound as folded syllables ("giay khai sinh", not "giay_khai_sinh").
            "syllable_lemma": False,
        }

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> VietnameseTokenizer:
        tokenizer = cls(config)
        if tokenizer._config.get("segment", True):
            _Segmenter.load()  # now, not on the first resident's message
        return tokenizer

    @staticmethod
    def supported_languages() -> list[str] | None:
        return None

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute)
        if not isinstance(text, str):
            return []
        boundaries: set[int] = set()
        if attribute == TEXT:
            for entity in message.get(ENTITIES) or []:
                boundaries.update((entity.get("start", -1), entity.get("end", -1)))
        return tokenize_text(
            text,
            segment=self._config.get("segment", True),
            segment_unaccented=self._config.get("segment_unaccented", False),
            expand=self._config.get("expand_shorthand", True),
            max_tokens=int(self._config.get("max_tokens", 200)),
            boundaries=boundaries,
            syllable_lemma=self._config.get("syllable_lemma", False),
        )
