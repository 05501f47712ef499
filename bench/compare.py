"""Our stack against stock Rasa, side by side, with the same journeys (bench/journeys.py).

Both stacks run at once; each step runs on ours and then, right after, on stock Rasa (on a
shared machine the load changes by the minute):
- one resident through /api/chat (stock: its REST channel; it has no gateway), paired
  message by message with one resident saying the same words straight to our Rasa's REST
  channel (the gateway's overhead: see `bench.load.paired_loop`);
- closed loops with more and more residents, a sustained open loop at --rate;
- shorter open loops through the widget WebSocket and signed Telegram webhooks (ours only).
Then the figures next to each other, the ratios and the targets, as a table and as JSON
(var/bench/compare-….json); every run's own JSON and PNG are beside it.

    .venv/bin/python -m bench.compare                   # about 10 minutes once models exist
    .venv/bin/python -m bench.compare --duration 300    # the 5-minute sustained run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import stacks  # noqa: E402
from bench.load import OUT_DIR, Plan, print_report, run_load, run_paired  # noqa: E402

P95_BOUND_MS = 800.0
TARGETS = {
    "sustained_msg_s": 25.0,
    "throughput_ratio": 2.0,
    "gateway_overhead_p50": 0.10,
    "single_resident_p50_ms": 100.0,
    "stack_rss_mb": 2560.0,
}


def best_within(runs: list[dict[str, Any]], bound: float) -> dict[str, Any] | None:
    """The run with the most messages/s whose p95 stays within the bound, with no errors."""
    fitting = [
        r
        for r in runs
        if r["latency_ms"]["p95"] <= bound and r["errors"] == 0 and r["timeouts"] == 0
    ]
    return max(fitting, key=lambda r: r["throughput_msg_s"]) if fitting else None


def common_bound(ours: list[dict[str, Any]], stock: list[dict[str, Any]]) -> float:
    """800 ms, or, on a machine too loaded for either to get there, the smallest p95 that
    both stacks reached without errors (so there is still a like-for-like ratio)."""
    lowest = [
        min((r["latency_ms"]["p95"] for r in runs if r["errors"] == 0 and r["timeouts"] == 0),
            default=float("inf"))
        for runs in (ours, stock)
    ]  # fmt: skip
    return max(P95_BOUND_MS, *lowest)


def steps(args: argparse.Namespace) -> list[tuple[str, str | None, str | None, Plan]]:
    """(name, our target, stock's target, plan): stock Rasa has no gateway, so its journeys
    go straight to its REST channel."""
    single = Plan(duration=args.single, concurrency=1, max_messages=200, timeout=args.timeout)
    plans: list[tuple[str, str | None, str | None, Plan]] = [
        # Ours: paired with the same journeys straight to our Rasa (see `measure`).
        ("single", "api", "rasa", single),
    ]
    for residents in args.residents:
        plan = Plan(duration=args.step, concurrency=residents, timeout=args.timeout)
        plans.append((f"closed_{residents}", "api", "rasa", plan))
    sustained = Plan(duration=args.duration, rate=args.rate, timeout=args.timeout)
    plans.append((f"open_{args.rate:g}", "api", "rasa", sustained))
    short = Plan(duration=args.channel_duration, rate=args.rate, timeout=args.timeout)
    for channel in ("widget", "telegram"):
        plans.append((f"open_{args.rate:g}_{channel}", channel, None, short))
    return plans


async def measure(running: dict[str, stacks.Running], args: argparse.Namespace) -> dict[str, Any]:
    """Every step on our stack, then at once the same step on stock Rasa: on a shared
    machine whose load changes by the minute, the two figures of a step are comparable."""
    results: dict[str, Any] = {
        name: {"startup_s": round(stack.startup_seconds, 1), "sweep": []}
        for name, stack in running.items()
    }
    for key, ours_target, stock_target, plan in steps(args):
        for name, target in (("ours", ours_target), ("stock", stock_target)):
            if target is None or name not in running:
                continue
            stack = running[name]
            if name == "ours" and key == "single":
                # The gateway's overhead is a few milliseconds, less than what a run a minute
                # later differs by: one resident through /api/chat and one with the same
                # words straight to our Rasa's REST channel, message by message.
                report, rest = await run_paired(
                    ("api", "rasa"), stack.endpoints, plan, label=f"{name} {key}"
                )
                print_report(rest)
                results[name]["single_rasa_rest"] = rest
            else:
                report = await run_load(target, stack.endpoints, plan, label=f"{name} {key}")
            print_report(report)
            report["drain"] = await drain(stack.var_dir / "tiepdan.db", args.drain)
            results[name][key] = report
            if key.startswith(("closed_", "open_")) and target in ("api", "rasa"):
                results[name]["sweep"].append(report)
    for result in results.values():
        peaks = [
            r["memory_mb"].get("total_peak", 0.0)
            for r in result.values()
            if isinstance(r, dict) and "memory_mb" in r
        ]
        result["rss_peak_mb"] = max(peaks) if peaks else 0.0
    return results


async def drain(database: Path, limit: float) -> dict[str, Any]:
    """After an overloaded run the gateway still owes answers (residents told "busy" are
    answered later by its recovery worker): wait until it has caught up, so the next run
    does not measure the backlog. Stops at `limit` seconds or when nothing moves for 15 s."""
    started = time.monotonic()
    last, still = -1, started
    left = 0
    while time.monotonic() - started < limit:
        try:
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
                left = db.execute(
                    "SELECT count(*) FROM inbound_message WHERE status IN ('received', 'failed')"
                ).fetchone()[0]
        except sqlite3.Error:
            break
        if left == 0:
            break
        if left != last:
            last, still = left, time.monotonic()
        elif time.monotonic() - still > 15:
            break
        await asyncio.sleep(1)
    waited = round(time.monotonic() - started, 1)
    if waited > 1:
        print(f"{'':34} drained for {waited} s; {left} messages still unanswered", flush=True)
    return {"seconds": waited, "unanswered": left}


def ratios(ours: dict[str, Any], stock: dict[str, Any], rate: float) -> dict[str, Any]:
    bound = common_bound(ours["sweep"], stock["sweep"])
    best_ours, best_stock = best_within(ours["sweep"], bound), best_within(stock["sweep"], bound)
    sustained = ours["sweep"][-1]
    single, rest = (
        ours["single"]["latency_ms"]["p50"],
        ours["single_rasa_rest"]["latency_ms"]["p50"],
    )
    result: dict[str, Any] = {
        "p95_bound_ms": bound,
        "throughput_within_p95_ours": best_ours["throughput_msg_s"] if best_ours else 0.0,
        "throughput_within_p95_stock": best_stock["throughput_msg_s"] if best_stock else 0.0,
        "sustained_rate": rate,
        "sustained_msg_s": sustained["throughput_msg_s"],
        "sustained_p95_ms": sustained["latency_ms"]["p95"],
        "sustained_errors": sustained["errors"] + sustained["timeouts"],
        "single_resident_p50_ms": single,
        "stock_single_resident_p50_ms": stock["single"]["latency_ms"]["p50"],
        "rasa_rest_p50_ms": rest,
        "gateway_overhead_p50": round((single - rest) / rest, 3) if rest else None,
        "stack_rss_mb": ours["rss_peak_mb"],
        "stock_rss_mb": stock["rss_peak_mb"],
    }
    if best_stock and best_ours:
        result["throughput_ratio"] = round(
            best_ours["throughput_msg_s"] / best_stock["throughput_msg_s"], 2
        )
    elif best_ours:
        result["throughput_ratio"] = float("inf")
    else:
        result["throughput_ratio"] = 0.0
    # Same concurrency, side by side (the stock figure is at 20 residents).
    result["at_same_residents"] = [
        {
            "residents": o["concurrency"],
            "ours_msg_s": o["throughput_msg_s"],
            "ours_p95_ms": o["latency_ms"]["p95"],
            "stock_msg_s": s["throughput_msg_s"],
            "stock_p95_ms": s["latency_ms"]["p95"],
        }
        for o, s in zip(ours["sweep"], stock["sweep"], strict=False)
        if o["mode"] == "closed" and s["mode"] == "closed"
    ]
    return result


def print_table(figures: dict[str, Any], ours: dict[str, Any], stock: dict[str, Any]) -> None:
    load = os.getloadavg()
    print(f"\n== Tiếp Dân vs stock Rasa ({os.cpu_count()} CPUs, load average now "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")  # fmt: skip
    print(f"{'':44}{'ours':>12}{'stock':>12}{'ratio':>10}{'target':>14}")

    def row(name: str, mine: Any, theirs: Any, ratio: str = "", target: str = "") -> None:
        print(f"{name:44}{mine!s:>12}{theirs!s:>12}{ratio:>10}{target:>14}")

    o, s = figures["throughput_within_p95_ours"], figures["throughput_within_p95_stock"]
    row(f"msg/s with p95 <= {figures['p95_bound_ms']:.0f} ms, no errors", o, s,
        f"{figures['throughput_ratio']:.2f}x", ">= 2x")  # fmt: skip
    for same in figures["at_same_residents"]:
        row(f"msg/s at {same['residents']} residents (p95 ms)",
            f"{same['ours_msg_s']} ({same['ours_p95_ms']:.0f})",
            f"{same['stock_msg_s']} ({same['stock_p95_ms']:.0f})")  # fmt: skip
    row(f"open loop at {figures['sustained_rate']:g} msg/s: msg/s", figures["sustained_msg_s"],
        stock["sweep"][-1]["throughput_msg_s"], "", f">= {TARGETS['sustained_msg_s']:.0f}")  # fmt: skip
    row("  p95 ms", figures["sustained_p95_ms"], stock["sweep"][-1]["latency_ms"]["p95"], "",
        "<= 800")  # fmt: skip
    row("  errors + timeouts", figures["sustained_errors"],
        stock["sweep"][-1]["errors"] + stock["sweep"][-1]["timeouts"], "", "0")  # fmt: skip
    for channel in ("widget", "telegram"):
        run = ours.get(f"open_{figures['sustained_rate']:g}_{channel}")
        if run:
            row(f"  through the {channel}: msg/s, p95 ms",
                f"{run['throughput_msg_s']}, {run['latency_ms']['p95']:.0f}", "-")  # fmt: skip
    single, stock_single = (
        figures["single_resident_p50_ms"],
        figures["stock_single_resident_p50_ms"],
    )
    row("single resident p50 ms", single, stock_single,
        f"{stock_single / single:.2f}x" if single else "", "<= 100")  # fmt: skip
    overhead = figures["gateway_overhead_p50"]
    row("gateway overhead on p50 (vs our Rasa REST)",
        f"{overhead * 100:+.1f}%" if overhead is not None else "-",
        f"({figures['rasa_rest_p50_ms']} ms)", "", "<= 10%")  # fmt: skip
    row("whole stack peak RSS MB", figures["stack_rss_mb"], figures["stock_rss_mb"], "",
        f"<= {TARGETS['stack_rss_mb']:.0f}")  # fmt: skip
    row("start-up s", ours["startup_s"], stock["startup_s"])


async def main_async(args: argparse.Namespace) -> int:
    started = time.monotonic()
    load_before = os.getloadavg()
    from bench.stock import stock_model
    from bot import training

    # Both models first: training is not part of any figure.
    model = training.train(ROOT, ROOT / "models", log_path=ROOT / "var/logs/train-bench.log")
    stock = stock_model() if "stock" not in args.skip else None  # minutes to train
    print(f"bench: models {model.model_path.name}, {stock.name if stock else '-'}", flush=True)
    running: dict[str, stacks.Running] = {}
    try:
        # Both stacks up at once (about 3 GB together), then the runs side by side.
        if "ours" not in args.skip:
            print("\n== ours: starting", flush=True)
            running["ours"] = await stacks.start_ours(model.model_path)
        if "stock" not in args.skip:
            print("== stock: starting", flush=True)
            assert stock is not None
            running["stock"] = await stacks.start_stock(stock)
        results = await measure(running, args)
    finally:
        for stack in running.values():
            await stack.stop()
    summary: dict[str, Any] = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": os.cpu_count(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "seconds": round(time.monotonic() - started),
        "arguments": {k: v for k, v in vars(args).items() if k != "skip"},
        "runs": results,
    }
    status = 0
    if "ours" in results and "stock" in results:
        figures = ratios(results["ours"], results["stock"], args.rate)
        summary["figures"] = figures
        summary["targets"] = TARGETS
        print_table(figures, results["ours"], results["stock"])
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"compare-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    print(f"\nbench: {summary['seconds']} s in all; report {path}", flush=True)
    return status


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--duration", type=float, default=60.0,
                        help="sustained open loop through /api/chat, seconds (default 60)")  # fmt: skip
    parser.add_argument("--rate", type=float, default=25.0, help="open loop msg/s (default 25)")
    parser.add_argument("--single", type=float, default=25.0, help="one-resident runs, seconds")
    parser.add_argument("--step", type=float, default=20.0, help="each closed loop, seconds")
    parser.add_argument("--channel-duration", type=float, default=20.0,
                        help="widget and Telegram open loops, seconds")  # fmt: skip
    parser.add_argument("--residents", type=int, nargs="+", default=[4, 10, 20],
                        help="closed-loop sizes (default 4 10 20)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--drain", type=float, default=120.0,
                        help="at most this long between runs for late answers (default 120 s)")  # fmt: skip
    parser.add_argument("--skip", choices=("ours", "stock"), action="append", default=[])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
