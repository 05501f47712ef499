"""`tiepdan model release|restore|status` and `tiepdan nlu inbox list|export`.

`add_commands(subparsers)` registers `model` on the main parser; `add_inbox_commands` adds
`inbox` under `tiepdan nlu`. Rasa and TensorFlow are imported only by the commands that
evaluate a model.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bot import db, training
from bot.trainer import release as releases


def _sessions(settings: Any):  # type: ignore[no-untyped-def]
    db.upgrade(settings.database_url)
    return db.make_session_factory(db.make_engine(settings.database_url))


def _server(settings: Any) -> releases.RasaServer:
    return releases.RasaServer(settings.rasa_url, settings.rasa_token)


def _evaluator(settings: Any):  # type: ignore[no-untyped-def]
    def evaluate(model: Path) -> dict[str, Any]:
        from bot.nlu.evaluate import held_out_figures

        print(f"model: scoring {model.name} on the held-out sets (tests/nlu)…", flush=True)
        return held_out_figures(
            model, Path(settings.root) / "tests" / "nlu", Path(settings.var_dir) / "model-evals"
        )

    return evaluate


def _record_served_model(sessions: Any, settings: Any, evaluate: Any) -> None:
    """Before the first release from here, record what Rasa serves now as the live model, so
    the candidate has something to be compared with (evaluated outside any transaction)."""
    with db.transaction(sessions) as session:
        if releases.live_release(session) is not None:
            return
    try:
        served = _server(settings).status()
    except releases.RasaSwapFailed as error:
        print(f"model: {error}; cannot compare with the live model.", file=sys.stderr)
        return
    path = served_model_path(served.get("model_file"), settings)
    if path is None:
        return
    figures = evaluate(path)
    with db.transaction(sessions) as session:
        session.add(
            releases.ModelRelease(
                model_file=str(path.resolve()),
                trained_at=datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).replace(
                    tzinfo=None
                ),
                created_at=releases.utcnow(),
                released_at=releases.utcnow(),
                released_by="startup",
                status=releases.LIVE,
                macro_f1=figures.get("macro_f1"),
                figures=json.dumps(figures),
                note="the model Rasa was started with",
            )
        )


def served_model_path(model_file: str | None, settings: Any) -> Path | None:
    """Rasa's /status names the model file (its name only); find it in the models folder."""
    if not model_file:
        return None
    for path in (Path(model_file), Path(settings.models_dir) / Path(model_file).name):
        if path.is_file():
            return path.resolve()
    return None


def cmd_model_release(settings: Any, args: argparse.Namespace) -> int:
    root = Path(settings.root)
    if args.model:
        candidate = Path(args.model).resolve()
        if not candidate.is_file():
            print(f"tiepdan: model file {candidate} does not exist.", file=sys.stderr)
            return 2
        fingerprint = None
    else:
        try:
            result = training.train(
                root, settings.models_dir, log_path=Path(settings.var_dir) / "logs" / "train.log"
            )
        except RuntimeError as error:
            print(f"tiepdan: {error}", file=sys.stderr)
            return 1
        candidate, fingerprint = result.model_path, training.fingerprint(root)
        print(f"model: {candidate.name} ({'trained' if result.trained else 'up to date'})")
    evaluate = _evaluator(settings)
    sessions = _sessions(settings)
    try:
        _record_served_model(sessions, settings, evaluate)
        with db.transaction(sessions) as session:
            live = releases.live_release(session)
            already = live is not None and Path(live.model_file) == candidate
        if already and not args.force:
            print(f"model: {candidate.name} is already live; nothing to do.")
            return 0
        outcome = releases.release(
            sessions,
            _server(settings),
            candidate,
            actor=args.actor,
            evaluate=evaluate,
            margin=settings.release_max_f1_drop,
            force=args.force,
            fingerprint=fingerprint,
            version=releases.data_version(root),
        )
    except releases.RasaSwapFailed as error:  # recorded as failed; the live one stays
        print(f"tiepdan: {error}; the live model is unchanged.", file=sys.stderr)
        return 1
    except (FileNotFoundError, RuntimeError) as error:
        print(f"tiepdan: {error}", file=sys.stderr)
        return 1
    if outcome.comparison is not None:
        print(releases.format_comparison(outcome.comparison))
    if not outcome.swapped:
        print(
            f"model: release refused: held-out macro-F1 would drop by "
            f"{outcome.comparison.drop:.3f} (allowed {settings.release_max_f1_drop:.3f}). "
            "Fix the data (see the intents that got worse) or release with --force.",
            file=sys.stderr,
        )
        return 1
    print(f"model: {candidate.name} is live (release #{outcome.release.id}).")
    return 0


def cmd_model_restore(settings: Any, args: argparse.Namespace) -> int:
    sessions = _sessions(settings)
    try:
        restored = releases.restore(sessions, _server(settings), actor=args.actor)
    except releases.RasaSwapFailed as error:
        print(f"tiepdan: {error}", file=sys.stderr)
        return 1
    print(f"model: restored {Path(restored.model_file).name} (release #{restored.id}).")
    return 0


def cmd_model_status(settings: Any, args: argparse.Namespace) -> int:
    sessions = _sessions(settings)
    with db.transaction(sessions) as session:
        live = releases.live_release(session)
        recent = releases.history(session, limit=5)
    try:
        served = _server(settings).status().get("model_file")
    except releases.RasaSwapFailed as error:
        served = f"unknown ({error})"
    print(f"Rasa serves: {served}")
    if live is None:
        print("No release recorded yet (`tiepdan model release`).")
    else:
        print(f"Live release #{live.id}: {live.model_file}")
        print(f"  trained   {live.trained_at:%d/%m/%Y %H:%M} UTC" if live.trained_at else "")
        print(f"  released  {live.released_at:%d/%m/%Y %H:%M} UTC by {live.released_by}")
        print(f"  data      {live.data_version or '-'} (fingerprint {live.fingerprint or '-'})")
        macro = f"{live.macro_f1:.3f}" if live.macro_f1 is not None else "-"
        sets = ", ".join(f"{k} {v:.3f}" for k, v in (live.figures_dict.get("sets") or {}).items())
        print(f"  macro-F1  {macro}  ({sets})")
    for record in recent:
        print(
            f"  #{record.id} {record.status:8} {Path(record.model_file).name} {record.note or ''}"
        )
    return 0


def cmd_inbox_list(settings: Any, args: argparse.Namespace) -> int:
    from bot.trainer import inbox

    sessions = _sessions(settings)
    with db.transaction(sessions) as session:
        inbox.harvest_low_surveys(session)
        items, total = inbox.list_items(
            session, inbox.InboxQuery(status=args.status, order=args.order, limit=args.limit)
        )
        for item in items:
            confidence = f"{item.confidence:.2f}" if item.confidence is not None else "  - "
            print(
                f"#{item.id:<5} {item.count:>4}x {item.language} {item.intent or '-':18} "
                f"{confidence} {item.last_seen_at:%d/%m %H:%M}  {item.text}"
            )
    print(f"{total} {args.status} item(s)")
    return 0


def cmd_inbox_export(settings: Any, args: argparse.Namespace) -> int:
    from bot.trainer import inbox
    from bot.trainer.nlu_files import PendingLine, export_patch

    data_dir = Path(settings.nlu_data_dir)
    try:
        label = str(data_dir.resolve().relative_to(Path(settings.root).resolve()))
    except ValueError:
        label = data_dir.name
    sessions = _sessions(settings)
    with db.transaction(sessions) as session:
        pending = inbox.pending_exports(session)
        patch = export_patch(
            data_dir, [PendingLine(i.data_file, i.data_line) for i in pending], label
        )
        if args.mark_exported:
            now = inbox.utcnow()
            for item in pending:
                item.exported_at = now
    if args.output:
        Path(args.output).write_text(patch, encoding="utf-8")
        print(f"nlu inbox: {len(pending)} example(s) written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(patch)
        print(f"nlu inbox: {len(pending)} example(s) pending", file=sys.stderr)
    return 0


def add_inbox_commands(nlu_commands: argparse._SubParsersAction) -> None:
    """`tiepdan nlu inbox list|export`, under the `nlu` command."""
    from bot.trainer.inbox import PENDING, STATUSES

    inbox = nlu_commands.add_parser("inbox", help="the NLU inbox (what residents wrote)")
    commands = inbox.add_subparsers(dest="inbox_command", required=True)
    listing = commands.add_parser("list", help="list inbox items, newest first")
    listing.add_argument("--status", choices=STATUSES, default=PENDING)
    listing.add_argument("--order", choices=("recent", "frequent"), default="recent")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=cmd_inbox_list)
    export = commands.add_parser(
        "export", help="print a patch (unified diff) of the accepted examples not yet exported"
    )
    export.add_argument("--output", help="write the patch to this file instead of stdout")
    export.add_argument(
        "--mark-exported",
        action="store_true",
        help="remember them as exported (the next export leaves them out)",
    )
    export.set_defaults(handler=cmd_inbox_export)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register `model release|restore|status` on the `tiepdan` parser."""
    model = subparsers.add_parser("model", help="put a model live, restore the previous one")
    commands = model.add_subparsers(dest="model_command", required=True)
    release = commands.add_parser(
        "release",
        help="train if needed, evaluate, compare with the live model, load it into Rasa",
    )
    release.add_argument("--force", action="store_true", help="release even if it is worse")
    release.add_argument("--model", help="release this model file instead of training")
    release.add_argument("--actor", default="cli", help="who releases it (for the record)")
    release.set_defaults(handler=cmd_model_release)
    restore = commands.add_parser("restore", help="load the previously live model again")
    restore.add_argument("--actor", default="cli", help="who restores it (for the record)")
    restore.set_defaults(handler=cmd_model_restore)
    commands.add_parser("status", help="which model is live, its figures").set_defaults(
        handler=cmd_model_status
    )
