"""The fault-injection harness: the real stack (`tiepdan run`: Rasa, action server, gateway)
with its Telegram and Zalo channels pointed at the fake platforms, simulated residents who
chat through /api/chat, Telegram and Zalo while a fault is injected, and the accounting
that says, per fault, how many messages were sent, answered, lost and duplicated.

What counts, for the residents of one fault:
- lost: a message that never reached the inbound log (acknowledged but not persisted), or
  was never answered; a reply in Rasa's tracker that the resident never received; a
  status-change notification never delivered;
- duplicated: a message Rasa handled twice (its id twice in the tracker), a reply or a
  notification the resident received more often than it was sent, two tickets for one report;
- uncertain: a reply received twice because the gateway was killed while the platform was
  taking it (the gateway's sent journal shows the request started and never answered, and
  the row is marked `unconfirmed_at`): Telegram and Zalo take no idempotency key, so such a
  reply is sent again rather than risk losing it. Counted apart, never as a duplicate, and
  only as many times as rows were marked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text

from bot.conversation import BUSY
from bot.settings import PROJECT_ROOT
from tests.conftest import API_TOKEN, RASA_TOKEN, free_port
from tests.fakes import zalo_oa_api
from tests.fakes.telegram_bot_api import FakeTelegram, text_update

TELEGRAM_TOKEN = "123456:faults-telegram-token"
TELEGRAM_SECRET = "faults-webhook-secret_0123456789"
# Tight enough that every fault fits in seconds: the live call to Rasa gives up after 8 s
# (so the gateway owns a message for 13 s), the busy reply goes out after 3 s.
RASA_TIMEOUT = 8
BUSY_AFTER = 3
BUSY_TEXTS = set(BUSY.values())
REPLY_WAIT = 8.0


# ---------------------------------------------------------------------------------------------
# The fake platforms, served from a thread of their own


class Platforms:
    """Fake Telegram and Zalo servers on an event loop in a background thread, so the
    test's own (synchronous) residents can talk to the stack meanwhile."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.telegram = self._run(FakeTelegram(TELEGRAM_TOKEN).start())
        self.zalo = self._run(zalo_oa_api.FakeZalo().start())

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def close(self) -> None:
        self._run(self.telegram.close())
        self._run(self.zalo.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    def settings(self) -> dict[str, str]:
        return {
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "TELEGRAM_API_BASE_URL": self.telegram.base_url,
            "TELEGRAM_FILE_BASE_URL": self.telegram.base_file_url,
            "ZALO_APP_ID": zalo_oa_api.APP_ID,
            "ZALO_OA_SECRET_KEY": zalo_oa_api.OA_SECRET_KEY,
            "ZALO_ACCESS_TOKEN": "access-0",
            "ZALO_REFRESH_TOKEN": "refresh-0",
            "ZALO_APP_SECRET": zalo_oa_api.APP_SECRET,
            "ZALO_API_BASE_URL": self.zalo.base_url,
            "ZALO_OAUTH_BASE_URL": self.zalo.base_url,
        }

    def texts(self, channel: str, who: str) -> list[str]:
        if channel == "telegram":
            return list(self.telegram.texts(int(who)))
        return list(self.zalo.texts(who))


# ---------------------------------------------------------------------------------------------
# The stack


@dataclass
class FaultStack:
    url: str
    env: dict[str, str]
    process: subprocess.Popen
    var_dir: Path
    platforms: Platforms
    database_url: str
    _update_id: int = 1000

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.env['RASA_PORT']}"

    def children(self) -> dict[str, int]:
        """The supervised processes' ids: actions, rasa, gateway."""
        found = {}
        listing = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout.split()
        for pid in map(int, listing):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "bot.action_server" in command or "rasa_sdk" in command:
                found["actions"] = pid
            elif "bot.rasa_server" in command:
                found["rasa"] = pid
            elif "-m channels" in command:
                found["gateway"] = pid
        return found

    def signal(self, name: str, sig: signal.Signals) -> int:
        pid = self.children()[name]
        os.killpg(pid, sig)  # each child leads its own process group
        return pid

    def wait_child(self, name: str, other_than: int | None = None, timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.children().get(name)
            if pid and pid != other_than:
                return pid
            time.sleep(0.2)
        raise TimeoutError(f"{name} was not restarted")

    def health(self) -> tuple[int, dict[str, Any]]:
        try:
            response = requests.get(f"{self.url}/healthz", timeout=10)
            return response.status_code, response.json()
        except requests.RequestException as error:
            return 0, {"error": str(error)}

    def wait_healthy(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.health()[0] == 200:
                return
            time.sleep(0.5)
        raise TimeoutError(f"not healthy again: {self.health()}")

    def next_update_id(self) -> int:
        self._update_id += 1
        return self._update_id

    def query(self, sql: str, **params: Any) -> list[tuple]:
        engine = create_engine(self.database_url, future=True)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(sql), params)]
        finally:
            engine.dispose()

    def tracker_events(self, sender_id: str, which: str = "APPLIED") -> list[dict[str, Any]]:
        """The conversation's events: APPLIED (what Rasa's state is made of: a turn undone
        with a rewind is left out) or ALL."""
        response = requests.get(
            f"{self.rasa_url}/conversations/{sender_id}/tracker",
            params={"token": RASA_TOKEN, "include_events": which},
            timeout=30,
        )
        response.raise_for_status()
        return response.json().get("events") or []

    def notify(self, channel: str, recipient: str, text_: str, key: str) -> None:
        """A status-change notification queued the way the ticket service queues one."""
        from bot import outbox
        from bot.db import make_engine, make_session_factory, transaction

        engine = make_engine(self.database_url)
        try:
            with transaction(make_session_factory(engine)) as session:
                outbox.enqueue(
                    session,
                    channel=channel,
                    recipient=recipient,
                    language="vi",
                    kind="status_change",
                    text=text_,
                    dedupe_key=key,
                )
        finally:
            engine.dispose()

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for path in sorted((self.var_dir / "logs").glob("*.log")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"== {path.name}\n" + "\n".join(tail))
        return "\n".join(out)


def start_stack(
    model: Path, var_dir: Path, platforms: Platforms, extra: dict[str, str] | None = None
) -> FaultStack:
    gateway_port = free_port()
    env = {
        **os.environ,
        "TIEPDAN_VAR_DIR": str(var_dir),
        "RASA_PORT": str(free_port()),
        "ACTIONS_PORT": str(free_port()),
        "GATEWAY_PORT": str(gateway_port),
        "TIEPDAN_API_TOKEN": API_TOKEN,
        "RASA_TOKEN": RASA_TOKEN,
        "TIEPDAN_SECRET_KEY": "test-secret-key-0123456789",
        "TIEPDAN_HANDOFF_ALWAYS_OPEN": "1",
        "TIEPDAN_RASA_TIMEOUT": str(RASA_TIMEOUT),
        "TIEPDAN_BUSY_REPLY_AFTER": str(BUSY_AFTER),
        # Platform failures are retried after 2 s (4, 8…) rather than 30 s.
        "TIEPDAN_OUTBOX_RETRY_SECONDS": "2",
        "PUBLIC_BASE_URL": "https://tiepdan-faults.example.gov.vn",
        # The simulated residents all come from 127.0.0.1.
        "RATE_LIMIT_PER_ADDRESS": "100000",
        "RATE_LIMIT_PER_SENDER": "100000",
        **platforms.settings(),
        **(extra or {}),
    }
    env.setdefault("TIEPDAN_DATABASE_URL", f"sqlite:///{var_dir / 'tiepdan.db'}")
    env.setdefault("TIEPDAN_TRACKER_STORE_URL", f"sqlite:///{var_dir / 'rasa.db'}")
    log = (var_dir / "run.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--model", str(model)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    stack = FaultStack(
        f"http://127.0.0.1:{gateway_port}",
        env,
        process,
        var_dir,
        platforms,
        env["TIEPDAN_DATABASE_URL"],
    )
    try:
        stack.wait_healthy(timeout=400)
    except Exception:
        stop_stack(stack)
        print((var_dir / "run.log").read_text(errors="replace")[-3000:])
        print(stack.log_tail())
        raise
    return stack


def stop_stack(stack: FaultStack) -> None:
    for pid in stack.children().values():  # a stopped child cannot stop by itself
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGCONT)
    stack.process.send_signal(signal.SIGINT)
    try:
        stack.process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        os.killpg(stack.process.pid, signal.SIGKILL)
        stack.process.wait()


# ---------------------------------------------------------------------------------------------
# Residents


@dataclass
class Resident:
    channel: str  # api, telegram or zalo
    who: str  # the API sender, the Telegram chat id or the Zalo user id
    language: str
    script: list[str]
    sent: int = 0
    # Seconds from each acknowledged message to the first thing the resident saw.
    waits: list[float] = field(default_factory=list)
    busy: int = 0
    wrong_language_busy: int = 0
    api_replies: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def sender_id(self) -> str:
        return {"api": "api", "telegram": "tg", "zalo": "zalo"}[self.channel] + f":{self.who}"

    def chat(self, stack: FaultStack, stop: threading.Event) -> None:
        for text_ in self.script:
            if stop.is_set():
                return
            try:
                getattr(self, f"_say_{self.channel}")(stack, text_)
            except Exception as error:  # recorded: the accounting shows what it cost
                self.errors.append(f"{text_!r}: {error!r}")
            time.sleep(0.3)

    def _note(self, texts: list[str]) -> None:
        for said in texts:
            if said in BUSY_TEXTS:
                self.busy += 1
                if said != BUSY[self.language]:
                    self.wrong_language_busy += 1

    def _say_api(self, stack: FaultStack, text_: str) -> None:
        # The message's own id: a call sent again after a dropped connection is the same message.
        body = {"sender": self.who, "text": text_, "lang": self.language, "id": f"m{self.sent}"}
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        while True:  # a gateway being restarted refuses connections: the client sends again
            started = time.monotonic()
            try:
                response = requests.post(
                    f"{stack.url}/api/chat", json=body, headers=headers, timeout=30
                )
            except requests.ConnectionError:
                time.sleep(0.3)
                continue
            if response.status_code in (200, 503) and "messages" in response.json():
                break
            raise AssertionError(f"/api/chat answered {response.status_code}: {response.text}")
        self.sent += 1
        self.waits.append(time.monotonic() - started)
        texts = [m["text"] for m in response.json()["messages"]]
        self._note(texts)
        self.api_replies += [t for t in texts if t not in BUSY_TEXTS]

    def _wait_for_reply(self, stack: FaultStack, before: int, posted: float) -> None:
        while time.monotonic() - posted < REPLY_WAIT:
            if len(stack.platforms.texts(self.channel, self.who)) > before:
                self.waits.append(time.monotonic() - posted)
                return
            time.sleep(0.05)
        self.waits.append(float("inf"))

    def _say_telegram(self, stack: FaultStack, text_: str) -> None:
        update = text_update(stack.next_update_id(), int(self.who), text_)
        update["message"]["from"]["language_code"] = self.language
        headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        self._post(stack, "/webhooks/telegram", json.dumps(update).encode(), headers)

    def _say_zalo(self, stack: FaultStack, text_: str) -> None:
        event = zalo_oa_api.text_event(self.who, text_, f"m{stack.next_update_id()}")
        raw, headers = zalo_oa_api.signed(event)
        self._post(stack, "/webhooks/zalo", raw, headers)

    def _post(self, stack: FaultStack, path: str, raw: bytes, headers: dict[str, str]) -> None:
        before = len(stack.platforms.texts(self.channel, self.who))
        headers = {"Content-Type": "application/json", **headers}
        while True:  # the platforms send a webhook again until it is acknowledged
            try:
                response = requests.post(
                    f"{stack.url}{path}", data=raw, headers=headers, timeout=30
                )
            except requests.ConnectionError:
                time.sleep(0.3)
                continue
            if response.status_code == 200:
                break
            time.sleep(0.3)
        posted = time.monotonic()
        self.sent += 1
        self._wait_for_reply(stack, before, posted)

    def received(self, stack: FaultStack) -> list[str]:
        if self.channel == "api":
            return list(self.api_replies)
        return stack.platforms.texts(self.channel, self.who)


def pull_api_notifications(stack: FaultStack, residents: list[Resident]) -> None:
    """API residents fetch what was answered after their call ended (late replies)."""
    for resident in residents:
        if resident.channel != "api":
            continue
        with contextlib.suppress(requests.RequestException, ValueError):
            response = requests.get(
                f"{stack.url}/api/notifications",
                params={"sender": resident.who},
                headers={"Authorization": f"Bearer {API_TOKEN}"},
                timeout=10,
            )
            if response.status_code == 200:
                resident.api_replies += [m["text"] for m in response.json()["messages"]]


COMPLAINT_VI = [
    "đèn đường trước nhà tôi bị hỏng",
    "trước số 42 Lê Lợi, phường 7",
    "0905 123 456",
    "/affirm",
    "/affirm",
    "phản ánh của tôi tới đâu rồi",
]
SERVICES_EN = [
    "hello",
    "what documents do I need to register a marriage",
    "how much does a certified copy cost",
    "check my report status",
]
STATUS_VI = [
    "kiểm tra PA-2611-ABCDE",
    "thứ bảy phường có làm việc không",
    "cảm ơn em",
]


def residents_for(tag: int, size: str = "short") -> list[Resident]:
    """A mixed crowd: complaint forms in progress, service questions, status checks, on the
    API, Telegram and Zalo, in both languages. `tag` keeps each fault's residents apart."""
    crowd = [
        Resident("api", f"f{tag}-form", "vi", COMPLAINT_VI),
        Resident("api", f"f{tag}-svc", "en", SERVICES_EN),
        Resident("telegram", str(7_000_000 + tag * 10 + 1), "vi", COMPLAINT_VI),
        Resident("telegram", str(7_000_000 + tag * 10 + 2), "en", SERVICES_EN),
        Resident("zalo", str(8_400_000_000 + tag * 10 + 1), "vi", STATUS_VI),
    ]
    if size == "long":
        crowd += [
            Resident("api", f"f{tag}-form2", "vi", COMPLAINT_VI),
            Resident("telegram", str(7_000_000 + tag * 10 + 3), "vi", STATUS_VI),
            Resident("zalo", str(8_400_000_000 + tag * 10 + 2), "vi", COMPLAINT_VI),
        ]
    return crowd


# ---------------------------------------------------------------------------------------------
# One fault, start to end


@dataclass
class Row:
    fault: str
    sent: int
    answered: int
    lost: int
    duplicated: int
    recover_seconds: float
    busy: int
    max_wait: float
    details: dict[str, Any] = field(default_factory=dict)
    uncertain: int = 0


@dataclass
class Fault:
    name: str
    inject: Callable[[FaultStack], None]
    restore: Callable[[FaultStack], None]
    hold: float
    # Whether the resident must see something within 5 s (not when the platform that would
    # carry it is the one failing).
    prompt: bool = True


def run_fault(stack: FaultStack, fault: Fault, tag: int, size: str = "short") -> Row:
    residents = residents_for(tag, size)
    stop = threading.Event()
    threads = [threading.Thread(target=r.chat, args=(stack, stop), daemon=True) for r in residents]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    # Status changes to push while the fault lasts (the outbox must not lose or double them).
    notices = []
    for resident in residents:
        if resident.channel in ("telegram", "zalo"):
            notice = (
                f"Phản ánh của anh/chị đã chuyển sang: đang xử lý ({fault.name}, {resident.who})."
            )
            stack.notify(
                resident.channel, resident.sender_id, notice, f"fault:{tag}:{resident.who}"
            )
            notices.append((resident, notice))
    fault.inject(stack)
    time.sleep(fault.hold)
    fault.restore(stack)
    restored = time.monotonic()
    # Recovered: healthy again, and every message and notice from before is delivered.
    recovered = wait_recovered(stack, residents, timeout=240, up_to=_last_inbound_id(stack))
    for thread in threads:
        thread.join(timeout=180)
    stop.set()
    settled = wait_recovered(stack, residents, timeout=240)
    recover_seconds = (recovered or time.monotonic()) - restored
    row = account(stack, fault.name, residents, notices, recover_seconds)
    if recovered is None or settled is None:
        row.details["not recovered"] = True
    return row


def _last_inbound_id(stack: FaultStack) -> int:
    for _ in range(100):  # the database may be the component just restored
        with contextlib.suppress(Exception):
            return int(stack.query("SELECT coalesce(max(id), 0) FROM inbound_message")[0][0])
        time.sleep(0.2)
    return 0


def _waiting(stack: FaultStack, residents: list[Resident], up_to: int | None) -> int:
    senders = [r.sender_id for r in residents]
    marks = ",".join(f":s{i}" for i in range(len(senders)))
    params: dict[str, Any] = {f"s{i}": s for i, s in enumerate(senders)}
    params["up_to"] = up_to if up_to is not None else 2**62
    inbound = stack.query(
        f"SELECT count(*) FROM inbound_message WHERE sender_id IN ({marks}) "
        "AND status IN ('received', 'failed') AND id <= :up_to",
        **params,
    )[0][0]
    outgoing = stack.query(
        f"SELECT count(*) FROM outbox_message WHERE recipient IN ({marks}) "
        "AND status IN ('pending', 'sending')",
        **params,
    )[0][0]
    return int(inbound) + int(outgoing)


def wait_recovered(
    stack: FaultStack, residents: list[Resident], timeout: float, up_to: int | None = None
) -> float | None:
    """When every message of these residents (up to inbound id `up_to`) is answered, every
    reply and notice delivered, nothing is left in the spool and health is back to 200;
    None if that never happened."""
    deadline = time.monotonic() + timeout
    spool = stack.var_dir / "spool"
    while time.monotonic() < deadline:
        pull_api_notifications(stack, residents)
        try:
            settled = _waiting(stack, residents, up_to) == 0
        except Exception:  # the database may be the component that is still down
            settled = False
        spooled = list(spool.glob("*.json")) if spool.is_dir() else []
        if settled and not spooled and stack.health()[0] == 200:
            moment = time.monotonic()
            time.sleep(1.0)  # anything the worker sent in the last round reaches the fakes
            pull_api_notifications(stack, residents)
            return moment
        time.sleep(0.5)
    return None


def account(
    stack: FaultStack,
    name: str,
    residents: list[Resident],
    notices: list[tuple[Resident, str]],
    recover_seconds: float,
) -> Row:
    details: dict[str, Any] = {}
    sent = sum(r.sent for r in residents)
    lost = duplicated = answered = uncertain = 0
    for resident in residents:
        rows = stack.query(
            "SELECT id, text, status FROM inbound_message WHERE sender_id = :s ORDER BY id",
            s=resident.sender_id,
        )
        answered += sum(1 for _, _, status in rows if status == "answered")
        not_persisted = max(0, resident.sent - len(rows))
        unanswered = sum(1 for _, _, status in rows if status != "answered")
        # What Rasa said to this resident, against what the resident received.
        events = stack.tracker_events(resident.sender_id, "ALL")
        turns = handlings(events)
        # Answered twice: two handlings of one message that both said something.
        handled_twice = sum(
            max(0, sum(1 for said in counts if said) - 1) for counts in turns.values()
        )
        # Taken by Rasa while its action server was down (nothing said), then again.
        redone = sum(1 for counts in turns.values() if len(counts) > 1 and not all(counts))
        silent = sum(1 for counts in turns.values() if not any(counts))
        said = Counter(e["text"] for e in events if e.get("event") == "bot" and e.get("text"))
        got = Counter(t for t in resident.received(stack) if t not in BUSY_TEXTS)
        for _, notice in [n for n in notices if n[0] is resident]:
            said[notice] += 1
        missing = sum((said - got).values())
        doubled = got - said
        # Replies cut off mid-send by a kill, sent again (see the module's docstring).
        cut_off = Counter(
            json.loads(body).get("text", "") if isinstance(body, str) else body.get("text", "")
            for (body,) in stack.query(
                "SELECT body FROM outbox_message WHERE recipient = :r "
                "AND unconfirmed_at IS NOT NULL",
                r=resident.sender_id,
            )
        )
        excused = doubled & cut_off
        uncertain += sum(excused.values())
        doubled -= excused
        extra = sum(doubled.values())
        lost += not_persisted + unanswered + missing + silent
        duplicated += handled_twice + extra
        problems = {
            "not persisted": not_persisted,
            "unanswered": unanswered,
            "answered with silence": silent,
            "replies missing": missing,
            "handled twice": handled_twice,
            "replies doubled": extra,
        }
        problems = {k: v for k, v in problems.items() if v}
        slow = max(resident.waits, default=0.0)
        if problems or resident.errors or resident.wrong_language_busy or slow >= 5 or redone:
            details[resident.sender_id] = {
                **problems,
                "max wait": slow,
                "taken again after a silent failure": redone,
                "errors": resident.errors[:3],
                "wrong-language busy": resident.wrong_language_busy,
                "missing": list((said - got).elements())[:3],
                "extra": list(doubled.elements())[:3],
                "sent again after a kill cut it off": sum(excused.values()),
            }
    senders = [r.sender_id for r in residents]
    marks = ",".join(f":s{i}" for i in range(len(senders)))
    params = {f"s{i}": s for i, s in enumerate(senders)}
    tickets = stack.query(
        f"SELECT sender_id, category, location, count(*) FROM ticket "
        f"WHERE sender_id IN ({marks}) GROUP BY sender_id, category, location",
        **params,
    )
    doubled_tickets = sum(count - 1 for *_, count in tickets if count > 1)
    duplicated += doubled_tickets
    details["tickets"] = sum(count for *_, count in tickets)
    if doubled_tickets:
        details["tickets doubled"] = doubled_tickets
    waits = [w for r in residents for w in r.waits]
    return Row(
        fault=name,
        sent=sent,
        answered=answered,
        lost=lost,
        duplicated=duplicated,
        recover_seconds=recover_seconds,
        busy=sum(r.busy for r in residents),
        max_wait=max(waits) if waits else 0.0,
        details=details,
        uncertain=uncertain,
    )


def handlings(events: list[dict[str, Any]]) -> dict[int, list[int]]:
    """For each stored message Rasa handled (its id in the metadata), how many bot messages
    each handling produced, in order."""
    turns: dict[int, list[int]] = {}
    current: list[int] | None = None
    for event in events:
        if event.get("event") == "user":
            message_id = (event.get("metadata") or {}).get("inbound_id")
            current = None
            if isinstance(message_id, int):
                turns.setdefault(message_id, []).append(0)
                current = turns[message_id]
        elif event.get("event") == "bot" and event.get("text") and current is not None:
            current[-1] += 1
    return turns


def table(rows: list[Row]) -> str:
    header = (
        f"{'fault':<34} {'sent':>5} {'answered':>8} {'lost':>5} {'dup':>5} {'cut':>4} "
        f"{'busy':>5} {'max wait s':>10} {'recover s':>9}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        wait = "∞" if row.max_wait == float("inf") else f"{row.max_wait:.1f}"
        lines.append(
            f"{row.fault:<34} {row.sent:>5} {row.answered:>8} {row.lost:>5} "
            f"{row.duplicated:>5} {row.uncertain:>4} {row.busy:>5} {wait:>10} "
            f"{row.recover_seconds:>9.1f}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Faults that need more than a signal


@contextlib.contextmanager
def sqlite_write_lock(path: Path) -> Iterator[None]:
    """Another connection holds the database's write lock (BEGIN IMMEDIATE) until exit."""
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


# ---------------------------------------------------------------------------------------------
# A private PostgreSQL cluster (never the shared server on 5432: this one gets stopped)


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a free port in a temporary folder, run as the
    `postgres` user when the tests run as root (PostgreSQL refuses to run as root)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/tiepdan"
        # Rasa's tracker store on the same server, as a scaled-out deployment has it.
        self.tracker_url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/rasa"

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *argv], check=True, capture_output=True, timeout=120)

    def create(self) -> PrivatePostgres:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(
            "/usr/local/bin/initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self.start()
        engine = create_engine(
            self.url.rsplit("/", 1)[0] + "/postgres", future=True, isolation_level="AUTOCOMMIT"
        )
        with engine.connect() as connection:
            connection.execute(text("CREATE DATABASE tiepdan"))
            connection.execute(text("CREATE DATABASE rasa"))
        engine.dispose()
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "/usr/local/bin/pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run("/usr/local/bin/pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
