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
        run_eval(options)
    except (FileNotFoundError, RuntimeError) as error:
        print(f"tiepdan: {error}", file=sys.stderr)
        return 1
    return 0


def cmd_nlu_check(settings: Any, args: argparse.Namespace) -> int:
    from bot.nlu.check import check_data, print_findings

    root = Path(settings.root)
    data_dir = Path(args.data) if args.data else root / "nlu_data"
    findings = check_data(data_dir)
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
    evaluate.add_argument("--out", help="report folder (default: var/reports)")
    evaluate.add_argument("--data", help="training data folder (default: nlu_data)")
    evaluate.add_argument("--tests", help="held-out sets folder (default: tests/nlu)")
    evaluate.set_defaults(handler=cmd_nlu_eval)

    check = commands.add_parser(
        "check", help="point at problems in the NLU data (conflicts, misaligned entities)"
    )
    check.add_argument("--data", help="training data folder (default: nlu_data)")
    check.set_defaults(handler=cmd_nlu_check)
