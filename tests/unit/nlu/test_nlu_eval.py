"""`tiepdan nlu eval` scoring and wiring, on hand-made predictions (no model is trained)."""

from __future__ import annotations

import argparse
import json

import pytest

from bot.nlu import evaluate
from bot.nlu.cli import add_commands
from bot.nlu.evaluate import Example, Prediction


def prediction(
    gold: str,
    ranking: list[tuple[str, float]],
    *,
    intent: str | None = None,
    entities: tuple = (),
    gold_entities: tuple = (),
    language: str = "vi",
    seconds: float = 0.01,
) -> Prediction:
    return Prediction(
        example=Example("text", gold, gold_entities),
        intent=intent or ranking[0][0],
        confidence=ranking[0][1],
        ranking=ranking,
        entities=entities,
        language=language,
        seconds=seconds,
    )


def test_macro_f1_counts_fallback_as_a_miss_of_the_gold_intent() -> None:
    predictions = [
        prediction("greet", [("greet", 0.9)]),
        prediction("greet", [("greet", 0.4)], intent="nlu_fallback"),
        prediction("thank", [("thank", 0.9)]),
        prediction("thank", [("greet", 0.8)]),
    ]
    scores = evaluate.intent_scores(predictions)
    assert scores["accuracy"] == 0.5
    assert scores["fallback_rate"] == 0.25
    assert set(scores["per_intent_f1"]) == {"greet", "thank"}
    assert scores["worst_confusions"][0]["count"] == 1
    assert len(scores["errors"]) == 2


def test_fallback_decision_follows_threshold_and_ambiguity() -> None:
    confident = prediction("greet", [("greet", 0.9), ("thank", 0.05)])
    ambiguous = prediction("greet", [("greet", 0.5), ("thank", 0.45)])
    assert evaluate.decide(confident, 0.6, 0.1) == "greet"
    assert evaluate.decide(ambiguous, 0.3, 0.1) == "nlu_fallback"
    assert evaluate.decide(ambiguous, 0.3, 0.0) == "greet"
    assert evaluate.decide(confident, 0.95, 0.0) == "nlu_fallback"


def test_oos_scores_count_out_of_scope_and_fallback_as_rejected() -> None:
    oos = [
        prediction("out_of_scope", [("out_of_scope", 0.9)]),
        prediction("out_of_scope", [("greet", 0.4)]),
        prediction("out_of_scope", [("greet", 0.95)]),
    ]
    in_scope = [prediction("greet", [("greet", 0.95)]), prediction("thank", [("thank", 0.5)])]
    scores = evaluate.oos_scores(oos, in_scope, threshold=0.6, ambiguity=0.0)
    assert scores["oos_rejected"] == pytest.approx(2 / 3)
    assert scores["in_scope_accuracy"] == 0.5


def test_entity_scores_compare_type_and_canonical_value() -> None:
    predictions = [
        prediction(
            "file_complaint",
            [("file_complaint", 0.9)],
            gold_entities=(("category", "roads"), ("phone", "0905123456")),
            entities=(("category", "roads"), ("phone", "0905123457")),
        )
    ]
    scores = evaluate.entity_scores(predictions)
    assert scores["per_type"]["category"]["f1"] == 1.0
    assert scores["per_type"]["phone"]["precision"] == 0.0
    assert scores["overall"]["support"] == 2


def test_percentiles() -> None:
    assert evaluate.percentile([1, 2, 3, 4, 100], 50) == 3
    assert evaluate.percentile([1, 2, 3, 4, 100], 95) == 100
    assert evaluate.percentile([], 50) == 0.0


def test_fingerprint_changes_with_config_data_and_code(tmp_path) -> None:
    config = tmp_path / "config.yml"
    data = tmp_path / "nlu_data"
    code = tmp_path / "code"
    data.mkdir()
    code.mkdir()
    config.write_text("recipe: default.v1\n")
    (data / "a.yml").write_text("nlu: []\n")
    (code / "x.py").write_text("x = 1\n")
    first = evaluate.fingerprint(config, data, code)
    assert evaluate.fingerprint(config, data, code) == first
    (data / "a.yml").write_text("nlu: [ ]\n")
    second = evaluate.fingerprint(config, data, code)
    assert second != first
    (code / "x.py").write_text("x = 2\n")
    assert evaluate.fingerprint(config, data, code) != second


def test_fallback_thresholds_are_read_from_the_config(tmp_path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        "pipeline:\n  - name: FallbackClassifier\n    threshold: 0.65\n    ambiguity_threshold: 0.05\n"
    )
    assert evaluate.fallback_thresholds(config) == (0.65, 0.05)


def test_confusion_matrix_png_is_written(tmp_path) -> None:
    path = tmp_path / "cm.png"
    evaluate.plot_confusion(
        [prediction("greet", [("greet", 0.9)]), prediction("thank", [("greet", 0.9)])], "t", path
    )
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_held_out_files_are_read_with_canonical_entity_values(tmp_path) -> None:
    path = tmp_path / "vi.yml"
    path.write_text(
        'version: "3.1"\nnlu:\n- intent: file_complaint\n  examples: |\n'
        '    - [den duong]{"entity": "category", "value": "street_lighting"} hong\n',
        encoding="utf-8",
    )
    (example,) = evaluate.load_examples(path)
    assert example.intent == "file_complaint"
    assert example.entities == (("category", "street_lighting"),)


def test_nlu_eval_command_is_registered_with_its_options() -> None:
    parser = argparse.ArgumentParser(prog="tiepdan")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["nlu", "eval", "--config", "c.yml", "--compare-default", "--out", "o"]
    )
    assert args.config == "c.yml" and args.compare_default and args.out == "o"
    assert callable(args.handler)
    assert callable(parser.parse_args(["nlu", "check"]).handler)


def test_default_config_is_rasas_plain_pipeline() -> None:
    import yaml

    config = yaml.safe_load(evaluate.DEFAULT_CONFIG)
    names = [component["name"] for component in config["pipeline"]]
    assert names == [
        "WhitespaceTokenizer",
        "CountVectorsFeaturizer",
        "DIETClassifier",
        "FallbackClassifier",
    ]
    assert json.dumps(config)  # plain data


def test_fingerprint_ignores_modules_that_never_run_in_a_model(tmp_path) -> None:
    config = tmp_path / "config.yml"
    data = tmp_path / "nlu_data"
    code = tmp_path / "code"
    data.mkdir()
    code.mkdir()
    config.write_text("recipe: default.v1\n")
    (code / "tokenizer.py").write_text("x = 1\n")
    (code / "evaluate.py").write_text("y = 1\n")
    first = evaluate.fingerprint(config, data, code)
    (code / "evaluate.py").write_text("y = 2\n")
    assert evaluate.fingerprint(config, data, code) == first
    (code / "tokenizer.py").write_text("x = 2\n")
    assert evaluate.fingerprint(config, data, None) == evaluate.fingerprint(config, data, None)
    assert evaluate.fingerprint(config, data, code) != first


def test_fallback_on_an_out_of_scope_sentence_is_a_hit() -> None:
    predictions = [
        prediction("out_of_scope", [("greet", 0.3)], intent="nlu_fallback"),
        prediction("greet", [("greet", 0.3)], intent="nlu_fallback"),
    ]
    scores = evaluate.intent_scores(predictions)
    assert scores["accuracy"] == 0.5
    assert [e["gold"] for e in scores["errors"]] == ["greet"]


def test_fingerprint_ignores_comments_in_the_config(tmp_path) -> None:
    config = tmp_path / "config.yml"
    data = tmp_path / "nlu_data"
    data.mkdir()
    config.write_text("recipe: default.v1\npipeline: []\n")
    first = evaluate.fingerprint(config, data, None)
    config.write_text("# measured on tests/nlu\nrecipe: default.v1\npipeline: []  # none\n")
    assert evaluate.fingerprint(config, data, None) == first
    config.write_text("recipe: default.v1\npipeline: [{name: X}]\n")
    assert evaluate.fingerprint(config, data, None) != first
