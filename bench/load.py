"""A bounded load generator: simulated residents replay journeys (bench/journeys.py) against
the gateway (/api/chat, the widget WebSocket, signed Telegram webhook posts) or, as the
baseline, straight against Rasa's REST channel.

Why not Locust: Locust runs on gevent and monkey-patches sockets and threads at import,
which fights the asyncio clients we need (the widget's WebSocket, the in-process fake
Telegram server that receives the gateway's replies), and it would be one more dependency
in a locked environment. A small aiohttp client does all four targets in one event loop.

Two ways to load:
- open loop (`--rate 25`): messages are due at a fixed rate whatever the answers take; a due
  message goes to an idle resident in the middle of a journey, or to a new resident. A slow
  system therefore faces more residents at once, as a help line does.
- closed loop (`--concurrency N`): N residents each wait for the answer before the next
  message.

Everything is bounded: `--duration` seconds and `--max-messages`, a per-message timeout and a
cap on residents at once; only loopback addresses are accepted. The report (JSON) and a
latency-over-time picture (PNG) go under var/bench/.

    .venv/bin/python -m bench.load --start --target api --rate 25 --duration 60
    .venv/bin/python -m bench.load --gateway http://127.0.0.1:8080 --token T --target widget \\
        --concurrency 10 --duration 30
    .venv/bin/python -m bench.load --start --soak --rate 25 --duration 1800   # memory growth
    .venv/bin/python -m bench.load --start --paired --target api --target rasa  # overhead
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import procs  # noqa: E402
from bench.journeys import JOURNEYS, Journey, JourneyPicker, concrete  # noqa: E402
from bot.conversation import BUSY  # noqa: E402
from tests.fakes.telegram_bot_api import FakeTelegram, text_update  # noqa: E402

TARGETS = ("api", "widget", "telegram", "rasa")
OUT_DIR = ROOT / "var" / "bench"
MAX_RESIDENTS = 400
# Telegram: the reply is the first message the fake Bot API receives for the chat; the
# resident then waits until the chat has been quiet this long before writing again.
TELEGRAM_QUIET = 0.3
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# The gateway's "busy, your message is recorded" reply: on push channels it arrives as a
# message like any answer, but for the resident it is not one.
BUSY_STARTS = tuple(text[:40] for text in BUSY.values())


def is_busy(text: str) -> bool:
    return text.startswith(BUSY_STARTS)


def require_loopback(url: str) -> str:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK:
        raise SystemExit(f"bench.load only talks to loopback addresses, not {host!r} ({url}).")
    return url.rstrip("/")


# ---- results -----------------------------------------------------------------------------


@dataclass
class Sample:
    at: float  # seconds since the start of the run, when the message was sent
    ms: float
    outcome: str  # ok | error | timeout | empty
    journey: str


@dataclass
class Results:
    samples: list[Sample] = field(default_factory=list)
    error_examples: list[str] = field(default_factory=list)
    late: int = 0  # open loop: due messages no resident could take (cap reached)
    residents: int = 0

    def add(self, sample: Sample, problem: str | None = None) -> None:
        self.samples.append(sample)
        if problem and len(self.error_examples) < 10:
            self.error_examples.append(f"{sample.journey}: {problem}")


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summarize(results: Results, elapsed: float) -> dict[str, Any]:
    answered = [s for s in results.samples if s.outcome in ("ok", "empty")]
    latencies = [s.ms for s in answered]
    count = {k: sum(1 for s in results.samples if s.outcome == k) for k in ("ok", "empty")}
    return {
        "messages": len(results.samples),
        "answered": len(answered),
        "errors": sum(1 for s in results.samples if s.outcome == "error"),
        "timeouts": sum(1 for s in results.samples if s.outcome == "timeout"),
        "empty_replies": count["empty"],
        "late": results.late,
        "residents": results.residents,
        "elapsed_s": round(elapsed, 1),
        "throughput_msg_s": round(len(answered) / elapsed, 2) if elapsed else 0.0,
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50), 1),
            "p95": round(percentile(latencies, 0.95), 1),
            "p99": round(percentile(latencies, 0.99), 1),
            "max": round(max(latencies), 1) if latencies else 0.0,
            "mean": round(statistics.fmean(latencies), 1) if latencies else 0.0,
        },
        "error_examples": results.error_examples,
        "by_journey": {
            name: {
                "messages": len(mine),
                "p50_ms": round(percentile([s.ms for s in mine], 0.50), 1),
                "p95_ms": round(percentile([s.ms for s in mine], 0.95), 1),
                "errors": sum(1 for s in mine if s.outcome in ("error", "timeout")),
            }
            for name in sorted({s.journey for s in results.samples})
            for mine in [[s for s in results.samples if s.journey == name]]
        },
    }


# ---- targets -----------------------------------------------------------------------------


class Conversation:
    """One resident's connection to a target; `say` returns (outcome, problem)."""

    async def say(self, text: str) -> tuple[str, str | None]:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class Target:
    name = ""

    async def start(self, http: aiohttp.ClientSession) -> None:
        self.http = http

    async def open(self, resident: int, journey: Journey) -> Conversation:
        raise NotImplementedError

    async def stop(self) -> None:
        return None


class _Posting(Conversation):
    def __init__(self, target: Any, sender: str, language: str) -> None:
        self.target, self.sender, self.language = target, sender, language

    async def say(self, text: str) -> tuple[str, str | None]:
        return await self.target.post(self.sender, text, self.language)


class ApiTarget(Target):
    """`POST /api/chat` with the bearer token."""

    name = "api"

    def __init__(self, gateway: str, token: str, run_id: str) -> None:
        self.url = f"{require_loopback(gateway)}/api/chat"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.run_id = run_id

    async def open(self, resident: int, journey: Journey) -> Conversation:
        return _Posting(self, f"bench-{self.run_id}-{resident}", journey.language)

    async def post(self, sender: str, text: str, language: str) -> tuple[str, str | None]:
        body = {"sender": sender, "text": text}
        async with self.http.post(self.url, json=body, headers=self.headers) as response:
            data = await response.json(content_type=None)
            if response.status != 200:
                return "error", f"HTTP {response.status}: {str(data)[:160]}"
            return ("ok" if data.get("messages") else "empty"), None


class RasaTarget(Target):
    """Rasa's REST channel directly: the baseline the gateway's overhead is measured on."""

    name = "rasa"

    def __init__(self, rasa: str, run_id: str) -> None:
        self.url = f"{require_loopback(rasa)}/webhooks/rest/webhook"
        self.run_id = run_id

    async def open(self, resident: int, journey: Journey) -> Conversation:
        return _Posting(self, f"rasa:bench-{self.run_id}-{resident}", journey.language)

    async def post(self, sender: str, text: str, language: str) -> tuple[str, str | None]:
        body = {"sender": sender, "message": text, "metadata": {"channel": "api"}}
        async with self.http.post(self.url, json=body) as response:
            if response.status != 200:
                return "error", f"HTTP {response.status}: {(await response.text())[:160]}"
            return ("ok" if await response.json() else "empty"), None


class WidgetTarget(Target):
    """The widget's WebSocket protocol: hello, then message frames; a message is answered
    when the server says the assistant stopped typing."""

    name = "widget"

    def __init__(self, gateway: str) -> None:
        self.url = require_loopback(gateway).replace("http", "ws", 1) + "/widget/ws"

    async def open(self, resident: int, journey: Journey) -> Conversation:
        socket = await self.http.ws_connect(self.url, heartbeat=None)
        await socket.send_json({"type": "hello", "session": None, "lang": journey.language})
        welcome = await socket.receive_json(timeout=30)
        if welcome.get("type") != "welcome":
            await socket.close()
            raise RuntimeError(f"widget answered {welcome!r} to hello")
        return _WidgetConversation(socket, journey.language)


class _WidgetConversation(Conversation):
    def __init__(self, socket: aiohttp.ClientWebSocketResponse, language: str) -> None:
        self.socket, self.language = socket, language

    async def say(self, text: str) -> tuple[str, str | None]:
        frame: dict[str, Any] = {"type": "message", "id": str(uuid.uuid4()), "lang": self.language}
        if text.startswith("/"):
            frame.update(text="(button)", payload=text)
        else:
            frame["text"] = text
        await self.socket.send_json(frame)
        replies, acknowledged = 0, False
        while True:
            message = await self.socket.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                return "error", f"socket closed ({message.type.name})"
            data = json.loads(message.data)
            kind = data.get("type")
            if kind == "ack":
                acknowledged = True
            elif kind == "message" and data["bubble"].get("author") != "resident":
                if is_busy(data["bubble"].get("text") or ""):
                    return "error", "busy reply"
                replies += 1
            elif kind == "error":
                return "error", f"{data.get('code')}: {data.get('message')}"
            elif kind == "typing" and data.get("on") is False and acknowledged:
                return ("ok" if replies else "empty"), None

    async def close(self) -> None:
        await self.socket.close()


class BenchTelegram(FakeTelegram):
    """The fake Bot API, telling waiting residents when their chat receives a message."""

    def __init__(self, token: str, port: int) -> None:
        super().__init__(token)
        self.listen_port = port
        self.arrivals: dict[int, asyncio.Queue[str]] = {}

    async def start(self) -> BenchTelegram:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        self._server = TestServer(app, host="127.0.0.1", port=self.listen_port)
        await self._server.start_server()
        return self

    def _answer(
        self, method: str, params: dict[str, Any], status: int, body: dict[str, Any]
    ) -> web.Response:
        if method in ("sendMessage", "sendPhoto") and status == 200:
            queue = self.arrivals.get(params.get("chat_id"))  # type: ignore[arg-type]
            if queue is not None:
                queue.put_nowait(str(params.get("text") or ""))
        if len(self.calls) > 1000:  # bounded memory over a long soak
            del self.calls[:500]
        return super()._answer(method, params, status, body)


class TelegramTarget(Target):
    """Signed webhook posts (Telegram's secret header); replies arrive at the fake Bot API."""

    name = "telegram"

    def __init__(self, gateway: str, secret: str, fake: BenchTelegram, run_seed: int) -> None:
        self.url = f"{require_loopback(gateway)}/webhooks/telegram"
        self.headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
        self.fake = fake
        self.chat_base = 700_000_000 + run_seed * 10_000
        self.update_id = run_seed * 1_000_000

    async def open(self, resident: int, journey: Journey) -> Conversation:
        chat = self.chat_base + resident
        self.fake.arrivals[chat] = asyncio.Queue()
        return _TelegramConversation(self, chat, journey.language)


class _TelegramConversation(Conversation):
    def __init__(self, target: TelegramTarget, chat: int, language: str) -> None:
        self.target, self.chat, self.language = target, chat, language
        self.arrivals = target.fake.arrivals[chat]

    async def say(self, text: str) -> tuple[str, str | None]:
        self.target.update_id += 1
        update = text_update(self.target.update_id, self.chat, text, language_code=self.language)
        async with self.target.http.post(
            self.target.url, json=update, headers=self.target.headers
        ) as response:
            if response.status != 200:
                return "error", f"webhook HTTP {response.status}: {(await response.text())[:160]}"
        first = await self.arrivals.get()
        if is_busy(first):
            outcome: tuple[str, str | None] = ("error", "busy reply")
        else:
            outcome = ("ok", None)
        # Later replies to the same message come right after; let them land first.
        while True:
            try:
                await asyncio.wait_for(self.arrivals.get(), timeout=TELEGRAM_QUIET)
            except asyncio.TimeoutError:
                return outcome

    async def close(self) -> None:
        self.target.fake.arrivals.pop(self.chat, None)


# ---- the two loops -----------------------------------------------------------------------


@dataclass
class Plan:
    duration: float = 30.0
    rate: float | None = None  # open loop
    concurrency: int = 1  # closed loop
    max_messages: int = 100_000
    timeout: float = 30.0
    think: float = 0.0  # closed loop: seconds between a reply and the next message
    seed: int = 7


class Resident:
    def __init__(self, number: int, journey: Journey) -> None:
        self.number, self.journey, self.step = number, journey, 0
        self.conversation: Conversation | None = None
        self.busy = False

    @property
    def done(self) -> bool:
        return self.step >= len(self.journey.steps)


async def _send(
    target: Target,
    resident: Resident,
    plan: Plan,
    results: Results,
    t0: float,
    text: str | None = None,
) -> None:
    text = text or concrete(resident.journey.steps[resident.step])
    resident.step += 1
    sent = time.perf_counter()
    problem = None
    try:
        if resident.conversation is None:
            resident.conversation = await asyncio.wait_for(
                target.open(resident.number, resident.journey), plan.timeout
            )
        outcome, problem = await asyncio.wait_for(resident.conversation.say(text), plan.timeout)
    except asyncio.TimeoutError:
        outcome, problem = "timeout", f"no answer within {plan.timeout:.0f} s"
        resident.step = len(resident.journey.steps)  # its conversation is now out of step
    except (aiohttp.ClientError, OSError, RuntimeError, ValueError) as error:
        outcome, problem = "error", f"{type(error).__name__}: {error}"
        resident.step = len(resident.journey.steps)
    ms = (time.perf_counter() - sent) * 1000
    results.add(Sample(sent - t0, ms, outcome, resident.journey.name), problem)
    if resident.done and resident.conversation is not None:
        await resident.conversation.close()


async def closed_loop(target: Target, plan: Plan, results: Results) -> None:
    picker = JourneyPicker(plan.seed)
    t0 = time.perf_counter()
    deadline = t0 + plan.duration
    numbers = iter(range(10**9))

    async def one_resident_after_another() -> None:
        while time.perf_counter() < deadline and len(results.samples) < plan.max_messages:
            resident = Resident(next(numbers), picker.next())
            results.residents += 1
            while not resident.done and time.perf_counter() < deadline:
                if len(results.samples) >= plan.max_messages:
                    break
                await _send(target, resident, plan, results, t0)
                if plan.think:
                    await asyncio.sleep(plan.think)
            if resident.conversation is not None and not resident.done:
                await resident.conversation.close()

    await asyncio.gather(*(one_resident_after_another() for _ in range(plan.concurrency)))


async def paired_loop(
    targets: tuple[Target, Target], plan: Plan, results: tuple[Results, Results]
) -> None:
    """One resident at a time on each of two targets, both on the same journey: each message
    goes to one target and then the same words to the other (which goes first alternates).
    Both see the same conversations within milliseconds of each other, so the difference
    between them is the targets' and not the machine's: two runs a minute apart on this
    machine differ by more (5 ms at p50) than the gateway's overhead over Rasa."""
    picker = JourneyPicker(plan.seed)
    t0 = time.perf_counter()
    deadline = t0 + plan.duration
    number = 0

    def more() -> bool:
        return time.perf_counter() < deadline and len(results[0].samples) < plan.max_messages

    while more():
        journey = picker.next()
        pair = (Resident(number, journey), Resident(number, journey))
        number += 1
        for result in results:
            result.residents += 1
        step = 0
        while more() and not all(resident.done for resident in pair):
            text = concrete(journey.steps[step])
            order = (0, 1) if step % 2 == 0 else (1, 0)
            for side in order:
                if pair[side].step == step:  # not stopped by an error
                    await _send(targets[side], pair[side], plan, results[side], t0, text)
            step += 1
        for resident in pair:
            if resident.conversation is not None and not resident.done:
                await resident.conversation.close()


async def open_loop(target: Target, plan: Plan, results: Results) -> None:
    assert plan.rate
    picker = JourneyPicker(plan.seed)
    t0 = time.perf_counter()
    active: list[Resident] = []
    tasks: set[asyncio.Task[None]] = set()
    number = 0
    due = 0
    while due < plan.max_messages:
        at = t0 + due / plan.rate
        if at - t0 >= plan.duration:
            break
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        due += 1
        active = [r for r in active if not r.done or r.busy]
        idle = [r for r in active if not r.busy and not r.done]
        if idle:
            resident = random.choice(idle)
        elif len(active) < MAX_RESIDENTS:
            resident = Resident(number, picker.next())
            number += 1
            results.residents += 1
            active.append(resident)
        else:
            results.late += 1
            continue
        resident.busy = True

        async def run(resident: Resident = resident) -> None:
            try:
                await _send(target, resident, plan, results, t0)
            finally:
                resident.busy = False

        task = asyncio.create_task(run())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=plan.timeout + 5)
    for resident in active:
        if resident.conversation is not None and not resident.done:
            await resident.conversation.close()


# ---- one run -----------------------------------------------------------------------------


@dataclass
class Endpoints:
    """Where the stack under test listens, and what the load generator needs to know."""

    gateway: str = ""
    rasa: str = ""
    api_token: str = ""
    telegram_secret: str = ""
    telegram: BenchTelegram | None = None
    pids: dict[str, int] = field(default_factory=dict)


def make_target(name: str, endpoints: Endpoints, run_id: str, seed: int) -> Target:
    if name == "api":
        return ApiTarget(endpoints.gateway, endpoints.api_token, run_id)
    if name == "widget":
        return WidgetTarget(endpoints.gateway)
    if name == "telegram":
        if endpoints.telegram is None:
            raise SystemExit("the telegram target needs the stack started with a fake Bot API")
        return TelegramTarget(
            endpoints.gateway, endpoints.telegram_secret, endpoints.telegram, seed
        )
    if name == "rasa":
        return RasaTarget(endpoints.rasa, run_id)
    raise SystemExit(f"unknown target {name!r}; choose one of {', '.join(TARGETS)}")


async def run_load(
    target_name: str,
    endpoints: Endpoints,
    plan: Plan,
    *,
    label: str = "",
    out_dir: Path = OUT_DIR,
    memory_every: float = 1.0,
    picture: bool = True,
) -> dict[str, Any]:
    """One bounded run; returns the report (also written as JSON, with a PNG beside it)."""
    run_id = uuid.uuid4().hex[:8]
    seed = random.randrange(1, 50_000)
    target = make_target(target_name, endpoints, run_id, seed)
    results = Results()
    watch = procs.MemoryWatch(endpoints.pids, every=memory_every)
    load_before = os.getloadavg()
    async with _client(plan) as http:
        await target.start(http)
        watch.start()
        started = time.perf_counter()
        try:
            if plan.rate:
                await open_loop(target, plan, results)
            else:
                await closed_loop(target, plan, results)
        finally:
            elapsed = time.perf_counter() - started
            await watch.stop()
            await target.stop()
    mode = f"rate {plan.rate:g}/s" if plan.rate else f"{plan.concurrency} residents"
    report = _report(target_name, label or f"{target_name} {mode}", plan, results, elapsed)
    report["load_average"] = {"before": load_before, "after": os.getloadavg()}
    return _write(report, results, watch, out_dir, picture)


async def run_paired(
    names: tuple[str, str],
    endpoints: Endpoints,
    plan: Plan,
    *,
    label: str = "",
    out_dir: Path = OUT_DIR,
    picture: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One resident on each of two targets, message by message (`paired_loop`); returns the
    two reports, each with the other's p50 and the difference (`paired`)."""
    run_id = uuid.uuid4().hex[:8]
    seed = random.randrange(1, 50_000)
    targets = (
        make_target(names[0], endpoints, run_id, seed),
        make_target(names[1], endpoints, run_id, seed),
    )
    results = (Results(), Results())
    watch = procs.MemoryWatch(endpoints.pids, every=1.0)
    load_before = os.getloadavg()
    async with _client(plan) as http:
        for target in targets:
            await target.start(http)
        watch.start()
        started = time.perf_counter()
        try:
            await paired_loop(targets, plan, results)
        finally:
            elapsed = time.perf_counter() - started
            await watch.stop()
            for target in targets:
                await target.stop()
    reports = []
    for name, result in zip(names, results, strict=True):
        report = _report(name, f"{label or 'paired'} {name}", plan, result, elapsed)
        report["load_average"] = {"before": load_before, "after": os.getloadavg()}
        reports.append(report)
    first, second = reports
    difference = first["latency_ms"]["p50"] - second["latency_ms"]["p50"]
    for report, other in ((first, names[1]), (second, names[0])):
        report["paired"] = {
            "with": other,
            "p50_difference_ms": round(difference if report is first else -difference, 1),
        }
    return (
        _write(first, results[0], watch, out_dir, picture),
        _write(second, results[1], watch, out_dir, picture),
    )


def _client(plan: Plan) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=0)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=plan.timeout)
    )


def _report(
    target_name: str, label: str, plan: Plan, results: Results, elapsed: float
) -> dict[str, Any]:
    return {
        "label": label,
        "target": target_name,
        "mode": "open" if plan.rate else "closed",
        "rate": plan.rate,
        "concurrency": None if plan.rate else plan.concurrency,
        "duration_s": plan.duration,
        "timeout_s": plan.timeout,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": os.cpu_count(),
        **summarize(results, elapsed),
        "journeys": sorted({j.name for j in JOURNEYS}),
    }


def _write(
    report: dict[str, Any],
    results: Results,
    watch: procs.MemoryWatch,
    out_dir: Path,
    picture: bool,
) -> dict[str, Any]:
    report["memory_mb"] = watch.report()
    out_dir.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex[:8]
    stem = f"load-{time.strftime('%Y%m%d-%H%M%S')}-{report['target']}-{run_id}"
    report["json"] = str(out_dir / f"{stem}.json")
    if picture:
        report["png"] = str(out_dir / f"{stem}.png")
        draw(results, watch, report, Path(report["png"]))
    Path(report["json"]).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return report


def draw(results: Results, watch: procs.MemoryWatch, report: dict[str, Any], path: Path) -> None:
    """Latency of every message over time (with a rolling p95), and the stack's memory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    colours = {"ok": "tab:blue", "empty": "tab:orange", "error": "tab:red", "timeout": "black"}
    for outcome, colour in colours.items():
        points = [s for s in results.samples if s.outcome == outcome]
        if points:
            top.scatter(
                [s.at for s in points], [s.ms for s in points], s=4, c=colour, label=outcome
            )
    window: dict[int, list[float]] = {}
    for sample in results.samples:
        window.setdefault(int(sample.at // 5), []).append(sample.ms)
    if window:
        keys = sorted(window)
        top.plot([k * 5 + 2.5 for k in keys], [percentile(window[k], 0.95) for k in keys],
                 c="tab:green", label="p95 (5 s)")  # fmt: skip
    top.set_ylabel("latency (ms)")
    top.set_yscale("log")
    top.legend(loc="upper right", fontsize=8)
    top.set_title(
        f"{report['label']}: {report['throughput_msg_s']} msg/s, "
        f"p50 {report['latency_ms']['p50']} ms, p95 {report['latency_ms']['p95']} ms, "
        f"errors {report['errors']}, timeouts {report['timeouts']}",
        fontsize=9,
    )
    for name, series in watch.series.items():
        if series:
            bottom.plot([t for t, _ in series], [mb for _, mb in series], label=name)
    bottom.set_ylabel("resident memory (MB)")
    bottom.set_xlabel("seconds")
    if watch.series:
        bottom.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def print_report(report: dict[str, Any]) -> None:
    latency = report["latency_ms"]
    memory = report["memory_mb"]
    print(
        f"{report['label']:<34} {report['throughput_msg_s']:>6.1f} msg/s  "
        f"p50 {latency['p50']:>6.0f}  p95 {latency['p95']:>6.0f}  p99 {latency['p99']:>6.0f} ms  "
        f"errors {report['errors']}  timeouts {report['timeouts']}  empty {report['empty_replies']}"
        + (f"  RSS peak {memory['total_peak']:.0f} MB" if memory.get("total_peak") else ""),
        flush=True,
    )


# ---- command line ------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--target", choices=TARGETS, action="append")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--rate", type=float, help="open loop: messages per second")
    how.add_argument("--concurrency", type=int, help="closed loop: residents at once")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds (default 30)")
    parser.add_argument("--max-messages", type=int, default=100_000)
    parser.add_argument("--timeout", type=float, default=30.0, help="per message, seconds")
    parser.add_argument("--think", type=float, default=0.0, help="closed loop pause, seconds")
    parser.add_argument(
        "--soak",
        action="store_true",
        help="memory growth run: defaults to --rate 25 for --duration 1800, samples memory "
        "every 10 s and reports growth per process",
    )
    parser.add_argument(
        "--paired",
        action="store_true",
        help="with two --target: one resident on each, the same words message by message "
        "(e.g. --target api --target rasa: the gateway's overhead)",
    )
    parser.add_argument("--start", action="store_true", help="start our stack (tiepdan run)")
    parser.add_argument("--stock", action="store_true", help="with --start: stock Rasa instead")
    parser.add_argument("--gateway", default="", help="a running gateway's URL")
    parser.add_argument("--rasa", default="", help="a running Rasa's URL (rasa target)")
    parser.add_argument("--token", default=os.environ.get("TIEPDAN_API_TOKEN", ""))
    parser.add_argument("--pid", type=int, action="append", default=[],
                        help="a process to watch (its children too)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    if args.soak:
        args.rate = args.rate or 25.0
        if args.duration == 30.0:
            args.duration = 1800.0
    if not args.rate and not args.concurrency:
        args.concurrency = 1
    args.target = args.target or (["rasa"] if args.stock else ["api"])
    if args.paired and (len(args.target) != 2 or args.rate or args.soak):
        parser.error("--paired takes exactly two --target and no --rate or --soak")
    return args


async def main_async(args: argparse.Namespace) -> int:
    from bench import stacks

    plan = Plan(
        duration=args.duration,
        rate=args.rate,
        concurrency=args.concurrency or 1,
        max_messages=args.max_messages,
        timeout=args.timeout,
        think=args.think,
    )
    running = None
    if args.start:
        running = await (stacks.start_stock() if args.stock else stacks.start_ours())
        endpoints = running.endpoints
    else:
        endpoints = Endpoints(gateway=args.gateway, rasa=args.rasa, api_token=args.token)
        for pid in args.pid:
            endpoints.pids.update(procs.name_processes(pid))
    status = 0
    try:
        if args.paired:
            first, second = await run_paired(
                (args.target[0], args.target[1]), endpoints, plan, out_dir=args.out
            )
            for report in (first, second):
                print_report(report)
                status |= int(report["errors"] > 0 or report["timeouts"] > 0)
            difference = first["paired"]["p50_difference_ms"]
            base = second["latency_ms"]["p50"]
            print(f"  p50 difference {difference:+.1f} ms ({difference / base * 100:+.1f}% of "
                  f"{args.target[1]}'s {base} ms)" if base else "")  # fmt: skip
            return status
        for target in args.target:
            report = await run_load(
                target, endpoints, plan, out_dir=args.out, memory_every=10.0 if args.soak else 1.0
            )
            print_report(report)
            if args.soak:
                print(json.dumps(report["memory_mb"], indent=2))
            print(f"  report: {report['json']}\n  picture: {report.get('png')}")
            status |= int(report["errors"] > 0 or report["timeouts"] > 0)
    finally:
        if running is not None:
            await running.stop()
    return status


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
