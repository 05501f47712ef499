"""The trainers' data: enough examples per intent and language, typed the way residents
type, no conflicts, and a held-out test set that the model has never seen."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import yaml

from bot.nlu.check import check_data
from bot.nlu.normalize import SHORTHAND
from bot.settings import PROJECT_ROOT
from bot.text import fold, has_diacritics

DATA = PROJECT_ROOT / "nlu_data"
HELD_OUT = PROJECT_ROOT / "tests" / "nlu"
INTENTS = [
    "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "ask_capabilities",
    "ask_service_info", "ask_contact", "ask_office_hours", "file_complaint", "check_status",
    "request_human", "cancel", "out_of_scope",
]  # fmt: skip
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\{[^}]*\}|\([^)]*\))")


def examples(path: Path) -> list[tuple[str, str]]:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found = []
    for block in document.get("nlu", []):
        if "intent" in block:
            for line in block["examples"].splitlines():
                line = line.strip()
                if line.startswith("- "):
                    found.append((block["intent"], ANNOTATION.sub(r"\1", line[2:]).strip()))
    return found


def key(text: str) -> str:
    return " ".join(re.sub(r"[^\w ]", " ", fold(text)).split())


def training(language: str) -> list[tuple[str, str]]:
    return [e for path in sorted((DATA / language).glob("*.yml")) for e in examples(path)]


def test_data_check_finds_no_errors() -> None:
    errors = [f for f in check_data(DATA) if f.severity == "error"]
    assert not errors, "\n".join(str(f) for f in errors)


@pytest.mark.parametrize("intent", INTENTS)
def test_every_intent_has_enough_examples_in_both_languages(intent: str) -> None:
    vi = [text for name, text in training("vi") if name == intent]
    en = [text for name, text in training("en") if name == intent]
    # Typed without diacritics, or in chat shorthand ("ko", "dc", "sdt"…).
    casual = [t for t in vi if not has_diacritics(t) or SHORTHAND.keys() & set(key(t).split())]
    assert len(vi) >= 40, f"{intent}: {len(vi)} Vietnamese examples"
    assert len(casual) * 3 >= len(vi), f"{intent}: only {len(casual)} of {len(vi)} typed casually"
    assert len(en) >= 25, f"{intent}: {len(en)} English examples"


def test_no_sentence_is_taught_under_two_intents() -> None:
    intents_by_key: dict[str, set[str]] = defaultdict(set)
    for name, text in training("vi") + training("en"):
        intents_by_key[key(text)].add(name)
    clashes = {k: v for k, v in intents_by_key.items() if len(v) > 1}
    assert not clashes, clashes


def test_held_out_sentences_never_appear_in_training_data() -> None:
    taught = {key(text) for _, text in training("vi") + training("en")}
    leaked = [
        text
        for path in sorted(HELD_OUT.glob("*.yml"))
        for _, text in examples(path)
        if key(text) in taught
    ]
    assert not leaked, leaked


def test_held_out_sets_cover_every_intent() -> None:
    for name in ("vi", "vi_plain", "en"):
        counts = Counter(intent for intent, _ in examples(HELD_OUT / f"{name}.yml"))
        thin = [i for i in INTENTS if i != "out_of_scope" and counts[i] < 10]
        assert not thin, f"{name}: fewer than 10 held-out sentences for {thin}"
    plain = [text for _, text in examples(HELD_OUT / "vi_plain.yml")]
    assert all(not has_diacritics(t) for t in plain), "vi_plain must be typed without diacritics"
    assert len(examples(HELD_OUT / "oos.yml")) >= 80
