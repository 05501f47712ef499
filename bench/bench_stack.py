"""The running stack, measured: start-up time, per-message latency through /api/chat and
Rasa's own parse latency in the server, and each process's resident memory.

Starts `tiepdan run --model …` on free loopback ports with its own var/ folder, sends a
bounded number of messages from one resident at a time, prints the figures and stops.

    .venv/bin/python bench/bench_stack.py [--messages 200]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import training  # noqa: E402

SENTENCES = [
    "xin chào",
    "làm giấy khai sinh cần giấy tờ gì",
    "con le phi thi sao",
    "thứ bảy phường có làm việc không",
    "who do I call about a broken street light",
    "sdt cong ty cap nuoc la bao nhieu",
    "kiểm tra PA-2611-K7M3Q",
    "how much is a certified copy",
    "cảm ơn em nhiều",
    "bye",
]
TOKEN = "bench-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its children, in MB."""
    total, pids = 0, [pid]
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(
                next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS"))
            )
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            pids.extend(int(c) for c in children)
        except (OSError, StopIteration):
            continue
    return total / 1024


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    model = training.train(
        ROOT, ROOT / "models", log_path=ROOT / "var/logs/train-bench.log"
    ).model_path
    ports = {name: free_port() for name in ("RASA_PORT", "ACTIONS_PORT", "GATEWAY_PORT")}
    var_dir = Path(tempfile.mkdtemp(prefix="tiepdan-bench-"))
    env = {
        **os.environ,
        **{k: str(v) for k, v in ports.items()},
        "TIEPDAN_VAR_DIR": str(var_dir),
        "TIEPDAN_API_TOKEN": TOKEN,
        "RASA_TOKEN": TOKEN,
        "TIEPDAN_SECRET_KEY": TOKEN,
    }
    gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--model", str(model)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        while True:
            if time.monotonic() - started > 300 or process.poll() is not None:
                raise SystemExit("the stack did not start; see the logs under " + str(var_dir))
            try:
                if requests.get(f"{gateway}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        startup = time.monotonic() - started
        http = requests.Session()
        chat, parse = [], []
        for i in range(args.messages):
            text = SENTENCES[i % len(SENTENCES)]
            t0 = time.perf_counter()
            response = http.post(
                f"{gateway}/api/chat",
                json={"sender": f"bench-{i // len(SENTENCES)}", "text": text},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=60,
            )
            chat.append((time.perf_counter() - t0) * 1000)
            response.raise_for_status()
            t0 = time.perf_counter()
            http.post(
                f"http://127.0.0.1:{ports['RASA_PORT']}/model/parse",
                params={"token": TOKEN},
                json={"text": text},
                timeout=60,
            ).raise_for_status()
            parse.append((time.perf_counter() - t0) * 1000)
        memory = {}
        for name, pattern in (
            ("rasa", "bot.rasa_server"),
            ("actions", f"--port {ports['ACTIONS_PORT']}"),
            ("gateway", "-m channels"),
        ):
            found = subprocess.run(
                ["pgrep", "-f", "--", pattern], capture_output=True, text=True
            ).stdout.split()
            pids = [int(p) for p in found if os.getpgid(int(p)) != os.getpgid(process.pid)]
            memory[name] = round(sum(rss_mb(p) for p in pids[:1]), 1)
        result = {
            "startup_seconds": round(startup, 1),
            "messages": args.messages,
            "chat_ms": {
                "p50": round(statistics.median(chat), 1),
                "p95": round(percentile(chat, 0.95), 1),
            },
            "rasa_parse_ms": {
                "p50": round(statistics.median(parse), 1),
                "p95": round(percentile(parse, 0.95), 1),
            },
            "rss_mb": memory,
            "rss_total_mb": round(sum(memory.values()), 1),
        }
        print(json.dumps(result, indent=2))
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
