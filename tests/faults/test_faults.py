"""Faults injected into the running stack while residents chat: for each one, no message is
lost, none is answered twice, the residents hear something polite in their language within
5 seconds, /healthz names the component that is down, and everything recovers by itself.

Short form in `make test`; `TIEPDAN_FAULTS=long` for the slow faults (see conftest).
"""

from __future__ import annotations

import contextlib
import signal
import time

import pytest
import requests

from tests.faults.conftest import LONG, ROWS
from tests.faults.harness import (
    RASA_TIMEOUT,
    Fault,
    FaultStack,
    run_fault,
    sqlite_write_lock,
)

pytestmark = pytest.mark.integration

PROMPT_SECONDS = 5.0


def check(stack: FaultStack, fault: Fault, tag: int, size: str) -> None:
    stack.wait_healthy()
    row = run_fault(stack, fault, tag, size)
    ROWS.append(row)
    print(
        f"\n{row.fault}: sent {row.sent}, answered {row.answered}, lost {row.lost}, "
        f"duplicated {row.duplicated}, cut off and sent again {row.uncertain}, busy {row.busy}, max wait {row.max_wait:.1f} s, "
        f"recovered in {row.recover_seconds:.1f} s; {row.details}"
    )
    assert not row.details.get("not recovered"), f"{fault.name} did not recover: {row.details}"
    assert row.lost == 0, row.details
    assert row.duplicated == 0, row.details
    assert row.sent > 0 and row.answered >= row.sent
    assert not any(
        isinstance(d, dict) and d.get("wrong-language busy") for d in row.details.values()
    ), row.details
    if fault.prompt:
        assert row.max_wait < PROMPT_SECONDS, f"a resident waited {row.max_wait:.1f} s"


class Degraded:
    """Watches /healthz while a fault lasts and remembers the components it named."""

    def __init__(self) -> None:
        self.named: set[str] = set()

    def look(self, stack: FaultStack) -> None:
        status, body = stack.health()
        if status == 503:
            self.named |= set(body.get("degraded", []))


def signal_fault(name: str, process: str, hold: float, **kwargs: object) -> Fault:
    return Fault(
        name,
        inject=lambda stack: stack.signal(process, signal.SIGSTOP),
        restore=lambda stack: stack.signal(process, signal.SIGCONT),
        hold=hold,
        **kwargs,  # type: ignore[arg-type]
    )


def killed(name: str, process: str) -> Fault:
    pids: dict[str, int] = {}

    def inject(stack: FaultStack) -> None:
        pids["old"] = stack.signal(process, signal.SIGKILL)

    def restore(stack: FaultStack) -> None:
        stack.wait_child(process, other_than=pids["old"])  # the supervisor restarts it

    return Fault(name, inject, restore, hold=0.5)


def test_rasa_hanging(fault_stack: FaultStack, size: str) -> None:
    seen = Degraded()
    fault = signal_fault(f"Rasa hanging ({RASA_TIMEOUT + 4} s)", "rasa", RASA_TIMEOUT + 4)
    inject = fault.inject

    def inject_and_look(stack: FaultStack) -> None:
        inject(stack)
        time.sleep(1)
        seen.look(stack)

    fault.inject = inject_and_look
    check(fault_stack, fault, 1, size)
    assert "rasa" in seen.named


def test_action_server_stopped(fault_stack: FaultStack, size: str) -> None:
    check(fault_stack, killed("Action server killed", "actions"), 2, size)


def test_action_server_slow(fault_stack: FaultStack, size: str) -> None:
    # Longer than the gateway waits for Rasa: Rasa finishes the call only after the gateway
    # gave up on it, and the answer must then come from Rasa's tracker, not a second call.
    hold = RASA_TIMEOUT + 7
    check(fault_stack, signal_fault(f"Action server stuck ({hold} s)", "actions", hold), 3, size)


def test_sqlite_locked(fault_stack: FaultStack, size: str) -> None:
    seen = Degraded()
    locks = contextlib.ExitStack()

    def inject(stack: FaultStack) -> None:
        locks.enter_context(sqlite_write_lock(stack.var_dir / "tiepdan.db"))

    def restore(stack: FaultStack) -> None:
        seen.look(stack)
        locks.close()

    check(fault_stack, Fault("Database locked (SQLite, 10 s)", inject, restore, hold=10), 4, size)
    assert "recovery" in seen.named  # messages waiting in the spool


def test_telegram_api_rate_limited(fault_stack: FaultStack, size: str) -> None:
    telegram = fault_stack.platforms.telegram

    def inject(stack: FaultStack) -> None:
        telegram.fail("sendMessage", 429, retry_after=2, times=4)

    fault = Fault("Telegram 429 (retry after 2 s) x4", inject, lambda stack: None, hold=4)
    fault.prompt = False
    check(fault_stack, fault, 5, size)


def test_telegram_api_errors(fault_stack: FaultStack, size: str) -> None:
    telegram = fault_stack.platforms.telegram

    def inject(stack: FaultStack) -> None:
        telegram.fail("sendMessage", 500, times=4)

    fault = Fault("Telegram 500 x4", inject, lambda stack: None, hold=4, prompt=False)
    check(fault_stack, fault, 6, size)


@pytest.mark.skipif(
    not LONG, reason="long form only (TIEPDAN_FAULTS=long): waits out client timeouts"
)
def test_telegram_api_timing_out(fault_stack: FaultStack, size: str) -> None:
    telegram = fault_stack.platforms.telegram

    def inject(stack: FaultStack) -> None:
        telegram.hang("sendMessage", 22, times=2)  # past python-telegram-bot's 20 s

    fault = Fault("Telegram timing out (22 s) x2", inject, lambda stack: None, hold=2, prompt=False)
    check(fault_stack, fault, 7, size)


def test_zalo_api_errors(fault_stack: FaultStack, size: str) -> None:
    zalo = fault_stack.platforms.zalo

    def inject(stack: FaultStack) -> None:
        zalo.answer_next(500, 500, 500)

    fault = Fault("Zalo 500 x3", inject, lambda stack: None, hold=2, prompt=False)
    check(fault_stack, fault, 8, size)


@pytest.mark.skipif(
    not LONG, reason="long form only (TIEPDAN_FAULTS=long): waits out client timeouts"
)
def test_zalo_api_timing_out(fault_stack: FaultStack, size: str) -> None:
    zalo = fault_stack.platforms.zalo

    def inject(stack: FaultStack) -> None:
        zalo.hang_next(16)  # past the gateway's 15 s

    fault = Fault("Zalo timing out (16 s)", inject, lambda stack: None, hold=2, prompt=False)
    check(fault_stack, fault, 9, size)


def test_gateway_killed_and_restarted(fault_stack: FaultStack, size: str) -> None:
    fault = killed("Gateway killed (SIGKILL)", "gateway")
    restore = fault.restore

    def restore_and_wait(stack: FaultStack) -> None:
        restore(stack)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{stack.url}/healthz/live", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)

    fault.restore = restore_and_wait
    fault.prompt = False  # while it is down nothing answers; the platforms send again
    check(fault_stack, fault, 10, size)


@pytest.mark.skipif(not LONG, reason="long form only (TIEPDAN_FAULTS=long): Rasa reloads its model")
def test_rasa_killed(fault_stack: FaultStack, size: str) -> None:
    check(fault_stack, killed("Rasa killed (model reload)", "rasa"), 11, size)


@pytest.mark.skipif(not LONG, reason="long form only (TIEPDAN_FAULTS=long): lasts over a minute")
def test_action_server_stuck_beyond_rasas_lock(fault_stack: FaultStack, size: str) -> None:
    check(fault_stack, signal_fault("Action server stuck (70 s)", "actions", 70), 12, size)


@pytest.mark.skipif(not LONG, reason="long form only (TIEPDAN_FAULTS=long): Zalo asks for 60 s")
def test_zalo_api_rate_limited(fault_stack: FaultStack, size: str) -> None:
    zalo = fault_stack.platforms.zalo

    def inject(stack: FaultStack) -> None:
        zalo.answer_next(429, 429)

    fault = Fault("Zalo 429 x2", inject, lambda stack: None, hold=2, prompt=False)
    check(fault_stack, fault, 13, size)
