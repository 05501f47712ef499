"""`make bench`: our stack against stock Rasa under the same load (bench/compare.py, about
10 minutes once both models are trained), then the in-process benchmarks (catalog look-ups,
opening tickets, NLU parsing). Arguments go to the comparison:

    make bench                                  # default: 60 s sustained at 25 msg/s
    make bench ARGS="--duration 300"            # the 5-minute sustained run
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = ["bench_catalog.py", "bench_tickets.py", "bench_gateway.py", "bench_nlu.py"]


def main(argv: list[str]) -> int:
    started = time.monotonic()
    print("== compare: ours vs stock Rasa", flush=True)
    status = subprocess.run(
        [sys.executable, "-m", "bench.compare", *argv], cwd=HERE.parent
    ).returncode
    for name in QUICK:
        print(f"\n== {name}", flush=True)
        status |= subprocess.run([sys.executable, str(HERE / name)], check=False).returncode
    print(f"\nmake bench: {time.monotonic() - started:.0f} s", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
