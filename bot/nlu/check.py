"""`tiepdan nlu check`: problems in the NLU data, each with file, line and how to fix it.

Errors (exit status 1): `rasa data validate` failing; one sentence under two intents
(compared without diacritics, case or punctuation); one wording mapped to two ids; a
response without its Vietnamese or English text; two rules that start the same way and then
do different things. Warnings (exit status 0): near-duplicates across intents (same words,
other order or fillers), intents outside the fixed list, intents below the minimum number of
examples per language, Vietnamese intents with too few examples typed without diacritics,
entity annotations off word boundaries, entity values or wordings missing from the lookups
and synonyms, and Rasa's own warnings.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
# Examples each intent needs per language (inform answers form questions: fewer suffice).
MIN_EXAMPLES = {"vi": 40, "en": 25}
MIN_EXAMPLES_INFORM = {"vi": 15, "en": 10}
# Share of Vietnamese examples that must be typed without diacritics.
MIN_PLAIN_SHARE = 0.2
# Words that do not change what a sentence asks (politeness, particles).
FILLERS = {
    "a", "ah", "ha", "nhe", "nha", "vay", "the", "oi", "voi", "giup", "em", "cho",
    "please", "an", "hi", "pls",
}  # fmt: skip
ANNOTATION = re.compile(r"\[([^\]]*)\](\{[^}]*\}|\([^)]*\))")


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" or "warning"
    where: str  # file, or file:line
    message: str
    fix: str = ""

    def __str__(self) -> str:
        fix = f"\n        fix: {self.fix}" if self.fix else ""
        return f"{self.severity:7} {self.where}: {self.message}{fix}"


def _sentence_key(text: str) -> str:
    from bot.text import fold

    return re.sub(r"[\W_]+", " ", fold(text)).strip()


def _near_key(text: str) -> str:
    return " ".join(sorted(set(_sentence_key(text).split()) - FILLERS))


def plain(example: str) -> str:
    """`[giấy khai sinh]{"entity": …}` → `giấy khai sinh`."""
    return ANNOTATION.sub(r"\1", example).strip()


def example_lines(path: Path) -> dict[tuple[str, str], int]:
    """(intent, plain text) → line number of each example in an NLU file."""
    lines: dict[tuple[str, str], int] = {}
    intent = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        found = re.match(r"^- (intent|synonym|lookup|regex):\s*(.+?)\s*$", line)
        if found:
            intent = found.group(2) if found.group(1) == "intent" else None
            continue
        item = re.match(r"^\s+- (.*)$", line)
        if intent and item:
            lines.setdefault((intent, plain(item.group(1))), number)
    return lines


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def check_data(
    data_dir: Path, domain: Path | None = None, *, rasa_validate: bool = False
) -> list[Finding]:
    """Every rule on the data folder (and domain.yml next to it, or `domain`)."""
    from rasa.shared.nlu.training_data.loading import load_data

    from bot.nlu.synonyms import synonym_key
    from bot.nlu.tokenizer import tokenize_text
    from bot.text import has_diacritics

    base = data_dir.parent
    domain = domain if domain is not None else base / "domain.yml"
    findings: list[Finding] = []
    sentences: dict[str, set[tuple[str, str]]] = defaultdict(set)
    near: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    wordings: dict[str, set[tuple[str, str]]] = defaultdict(set)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    unaccented: dict[str, int] = defaultdict(int)
    first_line: dict[tuple[str, str], str] = {}
    annotated: list[tuple[str, str, str, str, str]] = []  # where, text, entity, value, wording

    for path in sorted(data_dir.rglob("*.yml")):
        text = path.read_text(encoding="utf-8")
        if not re.search(r"^nlu:", text, re.MULTILINE):
            continue
        name = _relative(path, base)
        try:
            data = load_data(str(path))
        except Exception as error:  # a broken file is a finding, not a crash
            findings.append(
                Finding(
                    "error",
                    name,
                    f"cannot be read: {error}",
                    "fix the YAML (indentation, quotes) where the message points",
                )
            )
            continue
        lines = example_lines(path)
        language = path.parent.name if path.parent.name in LANGUAGES else None
        # Only the lookup files' `- synonym:` blocks: Rasa also turns every annotated
        # example ([text]{"value": …}) into a synonym, which would hide unknown values.
        for wording, canonical in data.entity_synonyms.items() if language is None else ():
            wordings[synonym_key(wording)].add((str(canonical), name))
        for message in data.intent_examples:
            intent = message.get("intent")
            sentence = message.get("text")
            where = f"{name}:{lines.get((intent, sentence), 0)}"
            sentences[_sentence_key(sentence)].add((intent, where))
            near[_near_key(sentence)].add((intent, where, sentence))
            if language:
                counts[(intent, language)] += 1
                first_line.setdefault((intent, language), where)
                if language == "vi" and not has_diacritics(sentence):
                    unaccented[intent] += 1
            if intent not in INTENTS:
                findings.append(
                    Finding(
                        "warning",
                        where,
                        f"intent {intent!r} is not one of the fixed intents",
                        "use one of the intents in `tiepdan nlu check`'s list, or add it to "
                        "domain.yml, a rule and bot/nlu/check.py INTENTS",
                    )
                )
            entities = message.get("entities") or []
            if not entities:
                continue
            boundaries = {e["start"] for e in entities} | {e["end"] for e in entities}
            tokens = tokenize_text(sentence, boundaries=boundaries)
            starts = {t.start for t in tokens}
            ends = {t.end for t in tokens}
            for entity in entities:
                span = sentence[entity["start"] : entity["end"]]
                if entity["start"] not in starts or entity["end"] not in ends:
                    findings.append(
                        Finding(
                            "warning",
                            where,
                            f"entity {entity['entity']} {span!r} in {sentence!r} does not "
                            "start and end on word boundaries",
                            "put the [brackets] around whole words",
                        )
                    )
                if entity["entity"] in ID_ENTITIES:
                    annotated.append(
                        (where, sentence, entity["entity"], str(entity.get("value")), span)
                    )

    for key, owners in sorted(sentences.items()):
        intents = {intent for intent, _ in owners}
        if len(intents) > 1:
            places = ", ".join(sorted(f"{intent} ({where})" for intent, where in owners))
            findings.append(
                Finding(
                    "error",
                    sorted(where for _, where in owners)[0],
                    f"{key!r} is under several intents: {places}",
                    "keep the sentence under the one intent it means and delete the others",
                )
            )
    for key, owners in sorted(near.items()):
        intents = {intent for intent, _, _ in owners}
        exact = {_sentence_key(s) for _, _, s in owners}
        if key and len(intents) > 1 and len(exact) > 1:
            places = "; ".join(sorted(f"{i} {s!r} ({w})" for i, w, s in owners))
            findings.append(
                Finding(
                    "warning",
                    sorted(w for _, w, _ in owners)[0],
                    f"near-duplicates under different intents: {places}",
                    "the same words in another order or with fillers teach two intents at "
                    "once; reword one or keep it under one intent",
                )
            )

    canonical_ids = {canonical for owners in wordings.values() for canonical, _ in owners}
    for key, owners in sorted(wordings.items()):
        targets = {canonical for canonical, _ in owners}
        if len(targets) > 1:
            places = ", ".join(sorted(f"{c} ({w})" for c, w in owners))
            findings.append(
                Finding(
                    "error",
                    sorted(w for _, w in owners)[0],
                    f"wording {key!r} maps to several ids: {places}",
                    "a wording may belong to one id only: delete it from the other synonyms",
                )
            )
    for where, sentence, entity, value, wording in annotated:
        if value not in canonical_ids:
            findings.append(
                Finding(
                    "warning",
                    where,
                    f"{entity} value {value!r} in {sentence!r} is not in the lookups/synonyms",
                    f"use an id from nlu_data/lookups/ or add a `- synonym: {value}` block there",
                )
            )
        elif wordings and synonym_key(wording) not in wordings and synonym_key(wording) != value:
            findings.append(
                Finding(
                    "warning",
                    where,
                    f"{entity} wording {wording!r} ({value}) is not among its synonyms",
                    f"add `- {wording}` under `- synonym: {value}` in nlu_data/lookups/",
                )
            )

    for intent in INTENTS:
        minimum = MIN_EXAMPLES_INFORM if intent == "inform" else MIN_EXAMPLES
        for language in LANGUAGES:
            n = counts.get((intent, language), 0)
            if n < minimum[language]:
                findings.append(
                    Finding(
                        "warning",
                        first_line.get((intent, language), f"{data_dir.name}/{language}"),
                        f"intent {intent!r} has {n} {language} example(s), "
                        f"fewer than {minimum[language]}",
                        f"add {minimum[language] - n} more {language} examples (the NLU inbox "
                        "is a good source)",
                    )
                )
        n_vi = counts.get((intent, "vi"), 0)
        if n_vi and unaccented.get(intent, 0) < MIN_PLAIN_SHARE * n_vi:
            findings.append(
                Finding(
                    "warning",
                    first_line[(intent, "vi")],
                    f"intent {intent!r}: only {unaccented.get(intent, 0)} of {n_vi} Vietnamese "
                    "examples are typed without diacritics",
                    "add examples as residents type them without accents, e.g. "
                    "'cho toi hoi thu tuc' next to 'cho tôi hỏi thủ tục'",
                )
            )

    if domain.is_file():
        findings += check_responses(domain, base)
    rules_dir = data_dir / "rules"
    if rules_dir.is_dir():
        findings += check_rules(rules_dir, base)
    if rasa_validate:
        findings += run_rasa_validate(data_dir, domain, base)
    return findings


def check_responses(domain: Path, base: Path) -> list[Finding]:
    """Every response needs its Vietnamese text (no condition) and its English one."""
    from ruamel.yaml import YAML

    data = YAML().load(domain.read_text(encoding="utf-8")) or {}
    responses = data.get("responses") or {}
    findings = []
    for name, variants in responses.items():
        line = responses.lc.key(name)[0] + 1
        has_vi = has_en = False
        for variant in variants or []:
            conditions = variant.get("condition") or []
            languages = {c.get("value") for c in conditions if c.get("name") == "language"}
            if "en" in languages:
                has_en = True
            elif not conditions or "vi" in languages:
                has_vi = True
        missing = [lang for lang, ok in (("vi", has_vi), ("en", has_en)) if not ok]
        if missing:
            findings.append(
                Finding(
                    "error",
                    f"{_relative(domain, base)}:{line}",
                    f"response {name} has no {' and no '.join(missing)} text",
                    "add a variant without condition (Vietnamese) and one with "
                    "`condition: [{type: slot, name: language, value: en}]` (English)",
                )
            )
    return findings


def _steps(rule: Any) -> list[str]:
    steps = []
    for step in rule.get("steps") or []:
        for kind in ("intent", "action", "active_loop", "slot_was_set", "or"):
            if kind in step:
                steps.append(f"{kind}:{step[kind]}")
                break
    return steps


def check_rules(rules_dir: Path, base: Path) -> list[Finding]:
    """Two rules whose conditions and steps agree up to a point and then run different
    actions contradict each other: Rasa cannot follow both."""
    from ruamel.yaml import YAML

    seen: dict[tuple[str, ...], tuple[str, str, str]] = {}
    findings = []
    for path in sorted(rules_dir.rglob("*.yml")):
        data = YAML().load(path.read_text(encoding="utf-8")) or {}
        for rule in data.get("rules") or []:
            condition = tuple(f"condition:{c}" for c in (rule.get("condition") or []))
            steps = _steps(rule)
            where = f"{_relative(path, base)}:{rule.lc.line + 1}"
            for index, step in enumerate(steps):
                if not step.startswith("action:") or index == 0:
                    continue
                prefix = (*condition, *steps[:index])
                other = seen.get(prefix)
                if other is not None and other[0] != step:
                    findings.append(
                        Finding(
                            "error",
                            where,
                            f"rule {rule.get('rule')!r} runs {step.split(':', 1)[1]} where rule "
                            f"{other[1]!r} ({other[2]}) runs {other[0].split(':', 1)[1]} "
                            "after the same steps",
                            "make the two rules differ before that step (a condition, an "
                            "intent) or delete one",
                        )
                    )
                seen.setdefault(prefix, (step, str(rule.get("rule")), where))
    return findings


def run_rasa_validate(data_dir: Path, domain: Path, base: Path) -> list[Finding]:
    """`rasa data validate`: Rasa's own checks (domain, stories and rules structure)."""
    config = base / "config.yml"
    command = [
        sys.executable, "-m", "rasa", "data", "validate",
        "--data", str(data_dir), "--domain", str(domain),
    ]  # fmt: skip
    if config.is_file():
        command += ["--config", str(config)]
    completed = subprocess.run(command, cwd=base, capture_output=True, text=True)
    output = completed.stdout + completed.stderr
    findings = []
    for line in output.splitlines():
        if "UserWarning:" in line:
            findings.append(
                Finding(
                    "warning",
                    "rasa data validate",
                    line.split("UserWarning:", 1)[1].strip(),
                    "see the Rasa message",
                )
            )
    if completed.returncode != 0:
        tail = [
            line
            for line in output.splitlines()
            if "ERROR" in line or "conflict" in line.lower() or "error" in line.lower()
        ][-5:] or output.splitlines()[-5:]
        findings.append(
            Finding(
                "error",
                "rasa data validate",
                f"failed (exit {completed.returncode}): " + " | ".join(tail),
                "run `rasa data validate` for the full report and fix what it names",
            )
        )
    return findings


def print_findings(findings: list[Finding]) -> None:
    if not findings:
        print("nlu data: no problems found")
        return
    for finding in sorted(findings, key=lambda f: f.severity != "error"):
        print(finding)
    errors = sum(f.severity == "error" for f in findings)
    print(f"nlu data: {errors} error(s), {len(findings) - errors} warning(s)")
