"""`make bench`: every benchmark in turn (catalog look-ups, opening tickets, in-process NLU
parsing, the running stack). Each prints its own figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["bench_catalog.py", "bench_tickets.py", "bench_nlu.py", "bench_stack.py"]


def main() -> int:
    status = 0
    for name in BENCHES:
        print(f"\n== {name}", flush=True)
        status |= subprocess.run([sys.executable, str(HERE / name)], check=False).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
