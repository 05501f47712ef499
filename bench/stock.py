"""Stock Rasa, the baseline of `make bench`: our training data and domain trained with
Rasa's default configuration (bench/stock_config.yml names no pipeline and no policies),
cached in models/ by fingerprint like bot/training.py, and served by a plain `rasa run`.

    .venv/bin/python -m bench.stock        # train (or find) the stock model and print its path
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "bench" / "stock_config.yml"
PREFIX = "stock-"


def training_inputs(root: Path = ROOT) -> list[Path]:
    files = [CONFIG, root / "domain.yml"]
    files += sorted(
        p for p in (root / "nlu_data").rglob("*") if p.is_file() and p.suffix in {".yml", ".yaml"}
    )
    return files


def fingerprint(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for path in training_inputs(root):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def stock_model(root: Path = ROOT, models_dir: Path | None = None) -> Path:
    """The stock model for the current data, trained first when missing (under a lock)."""
    models_dir = models_dir or root / "models"
    target = models_dir / f"{PREFIX}{fingerprint(root)}.tar.gz"
    if target.exists():
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    with (models_dir / ".train-stock.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return target
        log_path = root / "var" / "logs" / "train-stock.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        print(f"bench: training stock Rasa (log: {log_path}); this takes minutes", flush=True)
        started = time.monotonic()
        # Rasa writes the defaults it filled in back into the config file: give it a copy,
        # so the committed file (and its fingerprint) stays as it is.
        config = root / "var" / "run" / "stock_config.yml"
        config.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CONFIG, config)
        command = [
            sys.executable, "-m", "rasa", "train",
            "--config", str(config),
            "--domain", str(root / "domain.yml"),
            "--data", str(root / "nlu_data"),
            "--out", str(models_dir),
            "--fixed-model-name", target.name.removesuffix(".tar.gz"),
        ]  # fmt: skip
        with log_path.open("wb") as log:
            done = subprocess.run(command, cwd=root, stdout=log, stderr=subprocess.STDOUT)
        if done.returncode != 0 or not target.exists():
            raise SystemExit(f"stock training failed (exit {done.returncode}); see {log_path}")
        print(f"bench: stock model trained in {time.monotonic() - started:.0f} s", flush=True)
    return target


if __name__ == "__main__":
    print(stock_model())
