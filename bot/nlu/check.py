"""`tiepdan nlu check`: problems in the NLU data that hurt the model, with file names.

Errors: one sentence under two intents (compared without diacritics, case or punctuation),
one wording mapped to two ids. Warnings: intents outside the fixed list, an intent without
examples in one language, entity annotations that do not fall on token boundaries,
category / service values that are not canonical ids.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

INTENTS = [
    "greet",
    "goodbye",
    "thank",
    "affirm",
    "deny",
    "bot_challenge",
    "ask_capabilities",
    "ask_service_info",
    "ask_contact",
    "ask_office_hours",
    "file_complaint",
    "check_status",
    "request_human",
    "cancel",
    "out_of_scope",
    "inform",
]
ID_ENTITIES = ("category", "service")
LANGUAGES = ("vi", "en")


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" or "warning"
    where: str
    message: str


def _sentence_key(text: str) -> str:
    from bot.text import fold

    return re.sub(r"[\W_]+", " ", fold(text)).strip()


def check_data(data_dir: Path) -> list[Finding]:
    from rasa.shared.nlu.training_data.loading import load_data

    from bot.nlu.synonyms import synonym_key
    from bot.nlu.tokenizer import tokenize_text

    findings: list[Finding] = []
    sentences: dict[str, set[tuple[str, str]]] = defaultdict(set)
    wordings: dict[str, set[tuple[str, str]]] = defaultdict(set)
    coverage: dict[str, set[str]] = defaultdict(set)
    annotated: list[tuple[str, str, str, str]] = []  # file, text, entity, value

    for path in sorted(data_dir.rglob("*.yml")):
        text = path.read_text(encoding="utf-8")
        if not re.search(r"^nlu:", text, re.MULTILINE):
            continue
        where = str(path.relative_to(data_dir.parent))
        try:
            data = load_data(str(path))
        except Exception as error:  # a broken file is a finding, not a crash
            findings.append(Finding("error", where, f"cannot be read: {error}"))
            continue
        language = path.parent.name if path.parent.name in LANGUAGES else None
        for wording, canonical in data.entity_synonyms.items():
            wordings[synonym_key(wording)].add((str(canonical), where))
        for message in data.intent_examples:
            intent = message.get("intent")
            sentence = message.get("text")
            sentences[_sentence_key(sentence)].add((intent, where))
            if language:
                coverage[intent].add(language)
            if intent not in INTENTS:
                findings.append(
                    Finding("warning", where, f"intent {intent!r} is not one of the fixed intents")
                )
            entities = message.get("entities") or []
            if not entities:
                continue
            boundaries = {e["start"] for e in entities} | {e["end"] for e in entities}
            tokens = tokenize_text(sentence, boundaries=boundaries)
            starts = {t.start for t in tokens}
            ends = {t.end for t in tokens}
            for entity in entities:
                if entity["start"] not in starts or entity["end"] not in ends:
                    findings.append(
                        Finding(
                            "warning",
                            where,
                            f"entity {entity['entity']} "
                            f"{sentence[entity['start'] : entity['end']]!r} in {sentence!r} does not "
                            "start and end on word boundaries",
                        )
                    )
                if entity["entity"] in ID_ENTITIES:
                    annotated.append((where, sentence, entity["entity"], str(entity.get("value"))))

    for key, owners in sorted(sentences.items()):
        intents = {intent for intent, _ in owners}
        if len(intents) > 1:
            places = ", ".join(sorted(f"{intent} ({where})" for intent, where in owners))
            findings.append(
                Finding("error", "nlu_data", f"{key!r} is under several intents: {places}")
            )

    canonical_ids = {canonical for owners in wordings.values() for canonical, _ in owners}
    for key, owners in sorted(wordings.items()):
        targets = {canonical for canonical, _ in owners}
        if len(targets) > 1:
            places = ", ".join(sorted(f"{c} ({w})" for c, w in owners))
            findings.append(
                Finding("error", "nlu_data", f"wording {key!r} maps to several ids: {places}")
            )

    for where, sentence, entity, value in annotated:
        if value not in canonical_ids:
            findings.append(
                Finding(
                    "warning",
                    where,
                    f"{entity} value {value!r} in {sentence!r} is not a canonical id",
                )
            )

    for intent in INTENTS:
        missing = [
            language for language in LANGUAGES if language not in coverage.get(intent, set())
        ]
        if missing:
            findings.append(
                Finding(
                    "warning",
                    "nlu_data",
                    f"intent {intent!r} has no examples in {', '.join(missing)}",
                )
            )
    return findings


def print_findings(findings: list[Finding]) -> None:
    if not findings:
        print("nlu data: no problems found")
        return
    for finding in findings:
        print(f"{finding.severity:7} {finding.where}: {finding.message}")
    errors = sum(f.severity == "error" for f in findings)
    print(f"nlu data: {errors} error(s), {len(findings) - errors} warning(s)")
