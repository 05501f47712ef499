"""`tiepdan nlu eval`: train an NLU model on nlu_data and score it on the held-out sets.

Models are cached under var/nlu-eval-models/ by a fingerprint of the config, the NLU data
and bot/nlu/*.py, so re-running without changes only re-parses. Each held-out set
(tests/nlu/{vi,vi_plain,en,oos}.yml) is parsed in-process, one message at a time, and scored:
accuracy, macro-F1 (over the set's own intents; predicting nlu_fallback counts as wrong),
the worst confusions, entity precision / recall, language detection, and for the oos set
how many sentences end in nlu_fallback or out_of_scope. On an out_of_scope sentence
nlu_fallback counts as a hit; on any other it counts as wrong. A JSON report and one confusion
matrix per set go to var/reports/.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FALLBACK = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"
REJECTED = {FALLBACK, OUT_OF_SCOPE}
TEST_SETS = ("vi", "vi_plain", "en", "oos")
EXPECTED_LANGUAGE = {"vi": "vi", "vi_plain": "vi", "en": "en"}
# Fallback thresholds tried on the recorded confidences (no retraining needed).
THRESHOLD_GRID = (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)
AMBIGUITY_GRID = (0.0, 0.05, 0.1, 0.15, 0.2)

# What the issue calls Rasa's default pipeline, for comparison.
DEFAULT_CONFIG = """\
recipe: default.v1
language: vi
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: DIETClassifier
    epochs: 100
  - name: FallbackClassifier
    threshold: 0.3
    ambiguity_threshold: 0.1
"""


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[tuple[str, str], ...]  # (entity type, value), language excluded


@dataclass
class Prediction:
    example: Example
    intent: str
    confidence: float
    ranking: list[tuple[str, float]]  # without nlu_fallback, best first
    entities: tuple[tuple[str, str], ...]
    language: str | None
    seconds: float


@dataclass
class ModelRun:
    name: str
    config: Path
    model: Path
    trained_now: bool
    train_seconds: float
    predictions: dict[str, list[Prediction]] = field(default_factory=dict)


# ---------------------------------------------------------------- training and caching


# Modules of this package that never run inside a model: editing them keeps cached models.
NOT_IN_MODEL = {"evaluate.py", "cli.py", "check.py", "__init__.py"}


def fingerprint(config: Path, data_dir: Path, code_dir: Path | None) -> str:
    """Hash of everything that shapes the NLU model (code_dir None: Rasa's own components)."""
    import yaml

    digest = hashlib.sha256()
    # The parsed config, so that editing a comment keeps the cached model.
    digest.update(json.dumps(yaml.safe_load(config.read_text()), sort_keys=True).encode())
    files = sorted(p for p in data_dir.rglob("*") if p.suffix in {".yml", ".yaml"})
    if code_dir is not None:
        files += sorted(p for p in code_dir.glob("*.py") if p.name not in NOT_IN_MODEL)
    for path in files:
        if path.is_file():
            digest.update(path.as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def rasa_environment() -> dict[str, str]:
    """Environment for Rasa here: TensorFlow on a small shared machine (2 cores), and no
    telemetry or error reports sent over the network."""
    env = dict(os.environ)
    env.setdefault("TF_INTRA_OP_PARALLELISM_THREADS", "2")
    env.setdefault("TF_INTER_OP_PARALLELISM_THREADS", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    return env


def train_cached(
    name: str, config: Path, data_dir: Path, code_dir: Path | None, models_dir: Path, root: Path
) -> ModelRun:
    """Train with `rasa train nlu` unless a model with the same fingerprint exists."""
    models_dir.mkdir(parents=True, exist_ok=True)
    key = f"{name}-{fingerprint(config, data_dir, code_dir)}"
    model = models_dir / f"{key}.tar.gz"
    stats = models_dir / f"{key}.json"
    if model.exists() and stats.exists():
        seconds = json.loads(stats.read_text())["train_seconds"]
        return ModelRun(name, config, model, trained_now=False, train_seconds=seconds)
    log = models_dir / f"{key}.log"
    print(f"Training {name} NLU model ({config}); log: {log}", flush=True)
    started = time.monotonic()
    command = [
        sys.executable, "-m", "rasa", "train", "nlu",
        "--config", str(config),
        "--nlu", str(data_dir),
        "--out", str(models_dir),
        "--fixed-model-name", key,
    ]  # fmt: skip
    # Rasa's component cache would make the timing meaningless (and fill .rasa/ with
    # one-off experiments): train from scratch.
    env = {
        **rasa_environment(),
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        "RASA_MAX_CACHE_SIZE": "0",
    }
    with log.open("w") as output:
        completed = subprocess.run(
            command, cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    seconds = time.monotonic() - started
    if completed.returncode != 0 or not model.exists():
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-15:])
        raise RuntimeError(
            f"Training the {name} NLU model failed (exit {completed.returncode}).\n"
            f"Last lines of {log}:\n{tail}"
        )
    stats.write_text(json.dumps({"train_seconds": round(seconds, 1), "config": str(config)}))
    return ModelRun(name, config, model, trained_now=True, train_seconds=seconds)


# ---------------------------------------------------------------- held-out sets


def load_examples(path: Path) -> list[Example]:
    """The examples of one held-out file (same YAML format as nlu_data)."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    examples = []
    for message in data.intent_examples:
        entities = tuple(
            sorted(
                (entity["entity"], _canonical_gold(entity["entity"], str(entity.get("value"))))
                for entity in message.get("entities") or []
                if entity["entity"] != "language"
            )
        )
        examples.append(Example(message.get("text"), message.get("intent"), entities))
    return examples


def _canonical_gold(entity_type: str, value: str) -> str:
    """Held-out sets annotate ticket codes and phones as typed; we expect the canonical value."""
    from bot.nlu.patterns import normalize_phone, normalize_ticket_code

    if entity_type == "ticket_code":
        return normalize_ticket_code(value) or value
    if entity_type == "phone":
        return normalize_phone(value) or value
    return value


def parse_all(model: Path, sets: dict[str, list[Example]]) -> dict[str, list[Prediction]]:
    """Parse every example in-process with the trained model, timing each message."""
    import asyncio

    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage

    agent = Agent.load(str(model))
    processor = agent.processor
    if processor is None:
        raise RuntimeError(f"{model} could not be loaded as a Rasa model.")

    async def run() -> dict[str, list[Prediction]]:
        await processor.parse_message(UserMessage("xin chào"))  # warm-up: graph and TF
        results: dict[str, list[Prediction]] = {}
        for set_name, examples in sets.items():
            predictions = []
            for example in examples:
                started = time.perf_counter()
                parsed = await processor.parse_message(UserMessage(example.text))
                elapsed = time.perf_counter() - started
                predictions.append(_prediction(example, parsed, elapsed))
            results[set_name] = predictions
        return results

    return asyncio.run(run())


def _prediction(example: Example, parsed: dict[str, Any], seconds: float) -> Prediction:
    intent = parsed.get("intent") or {}
    ranking = [
        (item["name"], float(item["confidence"]))
        for item in parsed.get("intent_ranking") or []
        if item.get("name") != FALLBACK
    ]
    language = None
    entities = []
    for entity in parsed.get("entities") or []:
        if entity.get("entity") == "language":
            language = entity.get("value")
        else:
            entities.append((entity["entity"], str(entity.get("value"))))
    return Prediction(
        example=example,
        intent=intent.get("name") or FALLBACK,
        confidence=float(intent.get("confidence") or 0.0),
        ranking=ranking,
        entities=tuple(sorted(entities)),
        language=language,
        seconds=seconds,
    )


# ---------------------------------------------------------------- scoring


def intent_scores(predictions: list[Prediction]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, f1_score

    gold = [p.example.intent for p in predictions]
    predicted = [scored_intent(p) for p in predictions]
    labels = sorted(set(gold))
    confusions = Counter((g, p) for g, p in zip(gold, predicted, strict=True) if g != p)
    per_intent = f1_score(gold, predicted, labels=labels, average=None, zero_division=0)
    return {
        "n": len(predictions),
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(
            f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)
        ),
        "fallback_rate": sum(p == FALLBACK for p in predicted) / max(len(predicted), 1),
        "per_intent_f1": {
            label: round(float(f), 4) for label, f in zip(labels, per_intent, strict=True)
        },
        "worst_confusions": [
            {"gold": g, "predicted": p, "count": n} for (g, p), n in confusions.most_common(8)
        ],
        "errors": [
            {
                "text": p.example.text,
                "gold": p.example.intent,
                "predicted": p.intent,
                "confidence": round(p.confidence, 3),
            }
            for p in predictions
            if scored_intent(p) != p.example.intent
        ],  # fmt: skip
    }


def scored_intent(prediction: Prediction) -> str:
    """The predicted intent as scored: on an out_of_scope sentence, nlu_fallback is a hit.

    Both end the same way for the resident (the assistant says what it can do); on any
    other sentence nlu_fallback stays a miss.
    """
    if prediction.example.intent == OUT_OF_SCOPE and prediction.intent == FALLBACK:
        return OUT_OF_SCOPE
    return prediction.intent


def entity_scores(predictions: list[Prediction]) -> dict[str, Any]:
    """Micro precision / recall / F1 of (type, value) pairs, per type and overall."""
    counts: dict[str, Counter[str]] = {}
    for prediction in predictions:
        gold = Counter(prediction.example.entities)
        found = Counter(prediction.entities)
        for (entity_type, _), n in (gold & found).items():
            counts.setdefault(entity_type, Counter())["tp"] += n
        for (entity_type, _), n in (found - gold).items():
            counts.setdefault(entity_type, Counter())["fp"] += n
        for (entity_type, _), n in (gold - found).items():
            counts.setdefault(entity_type, Counter())["fn"] += n

    def prf(c: Counter[str]) -> dict[str, float]:
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": round(precision, 4), "recall": round(recall, 4),
                "f1": round(f1, 4), "support": c["tp"] + c["fn"]}  # fmt: skip

    total: Counter[str] = Counter()
    for c in counts.values():
        total.update(c)
    return {"overall": prf(total), "per_type": {t: prf(c) for t, c in sorted(counts.items())}}


def language_accuracy(predictions: list[Prediction], expected: str | None) -> float | None:
    if expected is None or not predictions:
        return None
    return sum(p.language == expected for p in predictions) / len(predictions)


def decide(prediction: Prediction, threshold: float, ambiguity: float) -> str:
    """The intent FallbackClassifier would give with these thresholds."""
    if not prediction.ranking:
        return FALLBACK
    top_name, top = prediction.ranking[0]
    second = prediction.ranking[1][1] if len(prediction.ranking) > 1 else 0.0
    if top < threshold or top - second < ambiguity:
        return FALLBACK
    return top_name


def oos_scores(
    oos: list[Prediction], in_scope: list[Prediction], threshold: float, ambiguity: float
) -> dict[str, Any]:
    """Rejection of out-of-scope sentences vs accuracy on in-scope ones (fallback = wrong)."""
    rejected = [decide(p, threshold, ambiguity) in REJECTED for p in oos]
    correct = [decide(p, threshold, ambiguity) == p.example.intent for p in in_scope]
    return {
        "threshold": threshold,
        "ambiguity_threshold": ambiguity,
        "oos_rejected": sum(rejected) / max(len(rejected), 1),
        "in_scope_accuracy": sum(correct) / max(len(correct), 1),
    }


def split_oos(sets: dict[str, list[Prediction]]) -> tuple[list[Prediction], list[Prediction]]:
    """Out-of-scope sentences (gold out_of_scope, any set) and in-scope ones (all sets)."""
    everything = [p for predictions in sets.values() for p in predictions]
    oos = [p for p in everything if p.example.intent == OUT_OF_SCOPE]
    in_scope = [p for p in everything if p.example.intent != OUT_OF_SCOPE]
    return oos, in_scope


def percentile(values: Iterable[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summarise(run: ModelRun, config_thresholds: tuple[float, float]) -> dict[str, Any]:
    sets = run.predictions
    summary: dict[str, Any] = {
        "model": str(run.model),
        "config": str(run.config),
        "train_seconds": round(run.train_seconds, 1),
        "trained_now": run.trained_now,
        "sets": {},
    }
    for set_name, predictions in sets.items():
        scores = intent_scores(predictions)
        scores["entities"] = entity_scores(predictions)
        scores["language_accuracy"] = language_accuracy(
            predictions, EXPECTED_LANGUAGE.get(set_name)
        )
        scores["predictions"] = [
            {
                "text": p.example.text,
                "gold": p.example.intent,
                "predicted": p.intent,
                "ranking": [[name, round(conf, 4)] for name, conf in p.ranking[:5]],
                "entities": [list(e) for e in p.entities],
                "gold_entities": [list(e) for e in p.example.entities],
                "language": p.language,
            }
            for p in predictions
        ]
        if set_name == "oos":
            scores["ended_in_fallback_or_out_of_scope"] = sum(
                p.intent in REJECTED for p in predictions
            ) / max(len(predictions), 1)
        summary["sets"][set_name] = scores

    oos, in_scope = split_oos(sets)
    threshold, ambiguity = config_thresholds
    summary["oos"] = oos_scores(oos, in_scope, threshold, ambiguity)
    summary["oos"]["n_oos"] = len(oos)
    summary["oos"]["n_in_scope"] = len(in_scope)
    summary["threshold_sweep"] = [
        oos_scores(oos, in_scope, t, a) for t in THRESHOLD_GRID for a in AMBIGUITY_GRID
    ]
    seconds = [p.seconds for predictions in sets.values() for p in predictions]
    summary["latency_ms"] = {
        "p50": round(percentile(seconds, 50) * 1000, 1),
        "p95": round(percentile(seconds, 95) * 1000, 1),
        "n": len(seconds),
    }
    return summary


def fallback_thresholds(config: Path) -> tuple[float, float]:
    """FallbackClassifier's thresholds in a config file (Rasa's defaults if absent)."""
    import yaml

    data = yaml.safe_load(config.read_text()) or {}
    for component in data.get("pipeline") or []:
        if component.get("name") == "FallbackClassifier":
            return float(component.get("threshold", 0.3)), float(
                component.get("ambiguity_threshold", 0.1)
            )
    return 0.0, 0.0


# ---------------------------------------------------------------- report


def plot_confusion(predictions: list[Prediction], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    gold = [p.example.intent for p in predictions]
    predicted = [p.intent for p in predictions]
    labels = sorted(set(gold) | set(predicted))
    matrix = confusion_matrix(gold, predicted, labels=labels)
    size = max(6.0, 0.55 * len(labels) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=90)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    axes.set_title(title)
    peak = matrix.max() if matrix.size else 0
    for i in range(len(labels)):
        for j in range(len(labels)):
            if matrix[i, j]:
                colour = "white" if matrix[i, j] > peak / 2 else "black"
                axes.text(
                    j, i, str(matrix[i, j]), ha="center", va="center", color=colour, fontsize=8
                )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _fmt(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def print_report(summaries: dict[str, dict[str, Any]]) -> None:
    names = list(summaries)
    header = f"{'set':10} {'n':>4}  " + "  ".join(
        f"{n + ' acc':>12} {n + ' F1':>11}" for n in names
    )
    print()
    print(header)
    print("-" * len(header))
    first = summaries[names[0]]
    for set_name in first["sets"]:
        row = f"{set_name:10} {first['sets'][set_name]['n']:>4}  "
        cells = []
        for name in names:
            scores = summaries[name]["sets"].get(set_name, {})
            cells.append(f"{_fmt(scores.get('accuracy')):>12} {_fmt(scores.get('macro_f1')):>11}")
        print(row + "  ".join(cells))
    print()
    for name in names:
        summary = summaries[name]
        oos = summary["oos"]
        print(
            f"[{name}] out of scope: {oos['oos_rejected']:.1%} of {oos['n_oos']} sentences ended in "
            f"nlu_fallback/out_of_scope; in-scope accuracy (fallback = wrong) "
            f"{oos['in_scope_accuracy']:.3f} over {oos['n_in_scope']} "
            f"(threshold {oos['threshold']}, ambiguity {oos['ambiguity_threshold']})"
        )
        if "oos" in summary["sets"]:
            print(
                f"[{name}] oos.yml alone: "
                f"{summary['sets']['oos']['ended_in_fallback_or_out_of_scope']:.1%} ended in "
                f"nlu_fallback/out_of_scope"
            )
        print(
            f"[{name}] training {summary['train_seconds']:.0f} s"
            f"{'' if summary['trained_now'] else ' (cached model)'}; parse latency "
            f"p50 {summary['latency_ms']['p50']} ms, p95 {summary['latency_ms']['p95']} ms "
            f"(in-process, {summary['latency_ms']['n']} messages)"
        )
        languages = {
            s: v["language_accuracy"]
            for s, v in summary["sets"].items()
            if v.get("language_accuracy") is not None
        }
        if languages:
            print(
                f"[{name}] language detection: "
                + ", ".join(f"{s} {v:.3f}" for s, v in languages.items())
            )
        for set_name, scores in summary["sets"].items():
            worst = ", ".join(
                f"{c['gold']}→{c['predicted']} ×{c['count']}"
                for c in scores["worst_confusions"][:5]
            )
            entity = scores["entities"]["overall"]
            print(
                f"[{name}] {set_name:9} worst: {worst or 'none'}; entities F1 {entity['f1']:.3f} "
                f"(n={entity['support']})"
            )
        print()


# ---------------------------------------------------------------- command


@dataclass
class EvalOptions:
    root: Path
    config: Path
    data_dir: Path
    tests_dir: Path
    out_dir: Path
    models_dir: Path
    compare_default: bool = False


def run_eval(options: EvalOptions) -> dict[str, Any]:
    """Train (or reuse) the models, score every held-out set, print and write the report."""
    quiet_rasa()
    sets_available = {
        name: options.tests_dir / f"{name}.yml"
        for name in TEST_SETS
        if (options.tests_dir / f"{name}.yml").exists()
    }
    if not sets_available:
        raise FileNotFoundError(
            f"No held-out sets found in {options.tests_dir} (expected {', '.join(TEST_SETS)}.yml)."
        )
    examples = {name: load_examples(path) for name, path in sets_available.items()}

    configs = {"ours": options.config}
    if options.compare_default:
        default_config = options.models_dir / "default-config.yml"
        options.models_dir.mkdir(parents=True, exist_ok=True)
        if not default_config.exists() or default_config.read_text() != DEFAULT_CONFIG:
            default_config.write_text(DEFAULT_CONFIG)
        configs["default"] = default_config

    code_dir = Path(__file__).resolve().parent
    summaries: dict[str, dict[str, Any]] = {}
    runs: dict[str, ModelRun] = {}
    for name, config in configs.items():
        uses_our_code = name != "default"
        run = train_cached(
            name,
            config,
            options.data_dir,
            code_dir if uses_our_code else None,
            options.models_dir,
            options.root,
        )
        run.predictions = parse_all(run.model, examples)
        runs[name] = run
        summaries[name] = summarise(run, fallback_thresholds(config))

    stamp = time.strftime("%Y%m%d-%H%M%S")
    options.out_dir.mkdir(parents=True, exist_ok=True)
    for name, run in runs.items():
        for set_name, predictions in run.predictions.items():
            path = options.out_dir / f"nlu-confusion-{name}-{set_name}.png"
            plot_confusion(predictions, f"{name}: {set_name}", path)
            summaries[name]["sets"][set_name]["confusion_png"] = str(path)
    report = {
        "created": stamp,
        "sets": {name: str(path) for name, path in sets_available.items()},
        "models": summaries,
    }
    report_path = options.out_dir / "nlu-eval.json"
    report_path.write_text(json.dumps(report, ensure_ascii=False, indent=1))
    print_report(summaries)
    print(f"Report: {report_path}; confusion matrices: {options.out_dir}/nlu-confusion-*.png")
    return report


def quiet_rasa() -> None:
    """Warnings and errors only, and TensorFlow on two threads (set before it loads)."""
    import logging

    for key, value in rasa_environment().items():
        os.environ.setdefault(key, value)
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog
    from rasa.utils.tensorflow.environment import setup_tf_environment

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    setup_tf_environment()


# ---------------------------------------------------------------- release figures


def pooled_figures(predictions: dict[str, list[Prediction]]) -> dict[str, Any]:
    """The figures a release is judged on: macro-F1 and per-intent F1 over every held-out
    set together, plus each set's own macro-F1."""
    pooled = [p for ps in predictions.values() for p in ps]
    if not pooled:
        raise RuntimeError("the held-out sets are empty; nothing to score the model on")
    scores = intent_scores(pooled)
    return {
        "macro_f1": round(scores["macro_f1"], 4),
        "accuracy": round(scores["accuracy"], 4),
        "per_intent_f1": scores["per_intent_f1"],
        "sets": {
            name: round(intent_scores(ps)["macro_f1"], 4) for name, ps in predictions.items() if ps
        },
        "n": len(pooled),
    }


def held_out_figures(model: Path, tests_dir: Path, cache_dir: Path | None = None) -> dict[str, Any]:
    """Score a model file (full or NLU-only) on tests/nlu/*.yml, cached by file identity."""
    cache = None
    if cache_dir is not None:
        stat = model.stat()
        digest = hashlib.sha256(
            f"{model.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()
        ).hexdigest()[:16]
        cache = cache_dir / f"{model.name}-{digest}.json"
        if cache.exists():
            return json.loads(cache.read_text())
    quiet_rasa()
    sets = {
        name: load_examples(tests_dir / f"{name}.yml")
        for name in TEST_SETS
        if (tests_dir / f"{name}.yml").exists()
    }
    if not sets:
        raise FileNotFoundError(f"No held-out sets found in {tests_dir}.")
    figures = pooled_figures(parse_all(model, sets))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(figures))
    return figures


def cross_validate(
    config: Path, data_dir: Path, out_dir: Path, root: Path, folds: int = 5
) -> dict[str, Any]:
    """`rasa test nlu --cross-validation`: per-intent F1 averaged over the folds (slow: it
    trains `folds` models). Returns {"macro_f1", "per_intent_f1", "report"}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / "cross-validation.log"
    command = [
        sys.executable, "-m", "rasa", "test", "nlu",
        "--nlu", str(data_dir),
        "--config", str(config),
        "--cross-validation", "--folds", str(folds),
        "--out", str(out_dir),
        "--no-plot",
    ]  # fmt: skip
    print(f"Cross-validation with {folds} folds (trains {folds} models); log: {log}", flush=True)
    with log.open("w") as output:
        completed = subprocess.run(
            command, cwd=root, env=rasa_environment(), stdout=output, stderr=subprocess.STDOUT
        )
    report_path = out_dir / "intent_report.json"
    if completed.returncode != 0 or not report_path.exists():
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-15:])
        raise RuntimeError(f"Cross-validation failed (exit {completed.returncode}):\n{tail}")
    report = json.loads(report_path.read_text())
    per_intent = {
        name: round(float(values["f1-score"]), 4)
        for name, values in report.items()
        if isinstance(values, dict) and "f1-score" in values and name not in AVERAGES
    }
    macro = report.get("macro avg", {}).get("f1-score")
    return {
        "macro_f1": round(float(macro), 4) if macro is not None else None,
        "per_intent_f1": per_intent,
        "report": str(report_path),
    }


AVERAGES = {"micro avg", "macro avg", "weighted avg", "accuracy"}
