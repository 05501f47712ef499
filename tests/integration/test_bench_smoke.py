"""The load generator, briefly, against the real stack: through each gateway channel and
Rasa's REST channel, two residents replaying journeys get every message answered, and the
report is written (so `make bench` cannot rot). Seconds per target, not minutes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bench import procs
from bench.load import BenchTelegram, Endpoints, Plan, run_load, run_paired
from tests.conftest import TELEGRAM_SECRET, TELEGRAM_TOKEN, Stack

pytestmark = pytest.mark.integration

RESIDENTS, SECONDS = 2, 5.0


async def load(stack: Stack, target: str, out_dir: Path) -> dict:
    endpoints = Endpoints(
        gateway=stack.url,
        rasa=f"http://127.0.0.1:{stack.env['RASA_PORT']}",
        api_token=stack.token,
        telegram_secret=TELEGRAM_SECRET,
        pids=procs.name_processes(stack.process.pid),
    )
    if target == "telegram":
        endpoints.telegram = await BenchTelegram(TELEGRAM_TOKEN, stack.telegram_port).start()
    try:
        plan = Plan(duration=SECONDS, concurrency=RESIDENTS, timeout=30.0, seed=3)
        return await run_load(target, endpoints, plan, out_dir=out_dir)
    finally:
        if endpoints.telegram is not None:
            await endpoints.telegram.close()


@pytest.mark.parametrize("target", ["api", "widget", "telegram", "rasa"])
def test_load_run_answers_every_message_and_writes_its_report(
    stack: Stack, target: str, tmp_path: Path
) -> None:
    # The stack may have just started: one answer first, so the figures are the bench's.
    stack.chat("bench-smoke-first", "xin chào")
    report = asyncio.run(load(stack, target, tmp_path))

    assert report["messages"] >= 2 * RESIDENTS
    problems = {k: report[k] for k in ("error_examples", "latency_ms", "by_journey")}
    assert report["error_examples"] == [], problems
    assert report["errors"] == 0 and report["timeouts"] == 0
    assert report["answered"] == report["messages"]
    assert report["throughput_msg_s"] > 0 and report["latency_ms"]["p50"] > 0
    written = json.loads(Path(report["json"]).read_text())
    assert written["messages"] == report["messages"] and written["target"] == target
    assert Path(report["png"]).stat().st_size > 10_000
    # Rasa, the action server and the gateway were found and measured.
    processes = report["memory_mb"]["processes"]
    assert {"rasa", "actions", "gateway"} <= set(processes)
    assert processes["rasa"]["peak"] > 200


def test_paired_run_sends_the_same_words_to_the_gateway_and_to_rasa(
    stack: Stack, tmp_path: Path
) -> None:
    """`make bench`'s gateway overhead: one resident through /api/chat and one straight to
    Rasa, message by message, on the same journeys."""
    stack.chat("bench-smoke-first", "xin chào")
    endpoints = Endpoints(
        gateway=stack.url,
        rasa=f"http://127.0.0.1:{stack.env['RASA_PORT']}",
        api_token=stack.token,
        pids=procs.name_processes(stack.process.pid),
    )
    plan = Plan(duration=SECONDS, concurrency=1, timeout=30.0, seed=3)
    api, rasa = asyncio.run(run_paired(("api", "rasa"), endpoints, plan, out_dir=tmp_path))

    assert api["target"] == "api" and rasa["target"] == "rasa"
    assert api["messages"] >= 3 and abs(api["messages"] - rasa["messages"]) <= 1
    for report in (api, rasa):
        assert report["errors"] == 0 and report["timeouts"] == 0, report["error_examples"]
        assert report["answered"] == report["messages"]
    difference = api["latency_ms"]["p50"] - rasa["latency_ms"]["p50"]
    assert api["paired"] == {"with": "rasa", "p50_difference_ms": round(difference, 1)}
    assert json.loads(Path(rasa["json"]).read_text())["paired"]["with"] == "api"
