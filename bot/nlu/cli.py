"""`tiepdan nlu …` commands: evaluate the NLU model on the held-out sets, check the data.

`add_commands(subparsers)` registers them on the main parser; handlers take the settings
object and the parsed arguments like every other `tiepdan` command. Rasa is imported only
when a command runs, so `tiepdan --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def cmd_nlu_eval(settings: Any, args: argparse.Namespace) -> int:
    from bot.nlu.evaluate import EvalOptions, run_eval

    root = Path(settings.root)
    config = Path(args.config) if args.config else root / "config.yml"
    if not config.is_file():
        print(f"tiepdan: config file {config} does not exist.", file=sys.stderr)
        return 2
    options = EvalOptions(
        root=root,
        config=config.resolve(),
        data_dir=(Path(args.data) if args.data else root / "nlu_data").resolve(),
        tests_dir=(Path(args.tests) if args.tests else root / "tests" / "nlu").resolve(),
        out_dir=(Path(args.out) if args.out else Path(settings.var_dir) / "reports").resolve(),
        models_dir=Path(settings.var_dir) / "nlu-eval-models",
        compare_default=args.compare_default,
    )
    try:
        if args.cross_validation:
            return _cross_validation(options, args.folds)
        report = run_eval(options)
        if args.compare_live:
            return _compare_live(settings, options, report)
    except (FileNotFoundError, RuntimeError) as error:
        print(f"tiepdan: {error}", file=sys.stderr)
        return 1
    return 0


def _cross_validation(options: Any, folds: int) -> int:
    from bot.nlu.evaluate import cross_validate

    result = cross_validate(
        options.config, options.data_dir, options.out_dir / "cross-validation", options.root, folds
    )
    for intent, f1 in sorted(result["per_intent_f1"].items()):
        print(f"{intent:22} F1 {f1:.3f}")
    macro = result["macro_f1"]
    print(f"{'macro-F1':22}    {macro:.3f}" if macro is not None else "macro-F1: -")
    print(f"Report: {result['report']}")
    return 0


def _compare_live(settings: Any, options: Any, report: dict[str, Any]) -> int:
    """Per-intent F1 of the model live in Rasa (before) and the one just evaluated (after)."""
    from bot.nlu.evaluate import held_out_figures
    from bot.trainer.release import RasaServer, RasaSwapFailed, compare, format_comparison

    try:
        served = RasaServer(settings.rasa_url, settings.rasa_token).status().get("model_file")
    except RasaSwapFailed as error:
        print(f"tiepdan: {error}; start the stack to compare with the live model.", file=sys.stderr)
        return 1
    from bot.trainer.cli import served_model_path

    live = served_model_path(served, settings)
    if live is None:
        print(f"tiepdan: the live model file {served!r} is not readable here.", file=sys.stderr)
        return 1
    cache = Path(settings.var_dir) / "model-evals"
    before = held_out_figures(live, options.tests_dir, cache)
    after = held_out_figures(Path(report["models"]["ours"]["model"]), options.tests_dir, cache)
    comparison = compare(before, after, settings.release_max_f1_drop)
    print(f"before: {live.name} (live)  after: this evaluation")
    print(format_comparison(comparison))
    return 0


def cmd_nlu_check(settings: Any, args: argparse.Namespace) -> int:
    from bot.nlu.check import check_data, print_findings

    root = Path(settings.root)
    data_dir = Path(args.data) if args.data else root / "nlu_data"
    domain = Path(args.domain) if args.domain else root / "domain.yml"
    findings = check_data(data_dir, domain, rasa_validate=not args.skip_rasa)
    print_findings(findings)
    return 1 if any(finding.severity == "error" for finding in findings) else 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register `nlu eval` and `nlu check` on the `tiepdan` parser's subcommands."""
    nlu = subparsers.add_parser("nlu", help="NLU model evaluation and data checks")
    commands = nlu.add_subparsers(dest="nlu_command", required=True)

    evaluate = commands.add_parser(
        "eval",
        help="train an NLU model (cached) and score it on tests/nlu/{vi,vi_plain,en,oos}.yml",
    )
    evaluate.add_argument("--config", help="pipeline to evaluate (default: config.yml)")
    evaluate.add_argument(
        "--compare-default",
        action="store_true",
        help="also train Rasa's default pipeline on the same data and show both",
    )
    evaluate.add_argument(
        "--cross-validation",
        action="store_true",
        help="k-fold cross-validation on nlu_data instead (slow: trains one model per fold)",
    )
    evaluate.add_argument("--folds", type=int, default=5, help="folds for --cross-validation")
    evaluate.add_argument(
        "--compare-live",
        action="store_true",
        help="also score the model the running Rasa serves: per-intent F1 before and after",
    )
    evaluate.add_argument("--out", help="report folder (default: var/reports)")
    evaluate.add_argument("--data", help="training data folder (default: nlu_data)")
    evaluate.add_argument("--tests", help="held-out sets folder (default: tests/nlu)")
    evaluate.set_defaults(handler=cmd_nlu_eval)

    check = commands.add_parser(
        "check", help="point at problems in the NLU data, with file, line and fix"
    )
    check.add_argument("--data", help="training data folder (default: nlu_data)")
    check.add_argument("--domain", help="domain file (default: domain.yml)")
    check.add_argument(
        "--skip-rasa",
        action="store_true",
        help="leave out `rasa data validate` (the slow part, about half a minute)",
    )
    check.set_defaults(handler=cmd_nlu_check)

    from bot.trainer.cli import add_inbox_commands

    add_inbox_commands(commands)
