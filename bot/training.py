"""Model training, cached by a fingerprint of everything that shapes the model.

A model is named `tiepdan-<fingerprint>.tar.gz`; when one with the current fingerprint
exists, training is skipped. The fingerprint covers the Rasa files, the trainer-owned data
and the code of our own NLU components.
"""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

MODEL_PREFIX = "tiepdan-"
# Modules of bot/nlu that tooling uses but the trained pipeline never loads: editing them
# must not force every developer and CI run to retrain.
NLU_TOOLING = {"__init__.py", "check.py", "cli.py", "evaluate.py"}


@dataclass(frozen=True)
class TrainingResult:
    model_path: Path
    trained: bool
    seconds: float


def training_inputs(root: Path) -> list[Path]:
    files = [root / "config.yml", root / "domain.yml"]
    for folder in ("nlu_data", "bot/nlu"):
        files += sorted(
            p
            for p in (root / folder).rglob("*")
            if p.is_file()
            and p.suffix in {".yml", ".yaml", ".py"}
            and not (folder == "bot/nlu" and p.name in NLU_TOOLING)
        )
    return files


def fingerprint(root: Path) -> str:
    digest = hashlib.sha256()
    for path in training_inputs(root):
        if path.exists():
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def model_path_for(root: Path, models_dir: Path) -> Path:
    return models_dir / f"{MODEL_PREFIX}{fingerprint(root)}.tar.gz"


def train(
    root: Path, models_dir: Path, *, force: bool = False, log_path: Path | None = None
) -> TrainingResult:
    """Train (NLU and dialogue) unless a model for the current fingerprint exists.

    Rasa's output goes to `log_path` when given (the console gets one line), else to ours.
    """
    target = model_path_for(root, models_dir)
    if target.exists() and not force:
        return TrainingResult(target, trained=False, seconds=0.0)
    models_dir.mkdir(parents=True, exist_ok=True)
    # Two test runs or a test run and `tiepdan run` started together train once: the second
    # waits for the first and then finds the model.
    with (models_dir / ".train.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists() and not force:
            return TrainingResult(target, trained=False, seconds=0.0)
        return _train(root, target, log_path)


def _train(root: Path, target: Path, log_path: Path | None) -> TrainingResult:
    models_dir = target.parent
    started = time.monotonic()
    command = [
        sys.executable, "-m", "rasa", "train",
        "--config", str(root / "config.yml"),
        "--domain", str(root / "domain.yml"),
        "--data", str(root / "nlu_data"),
        "--out", str(models_dir),
        "--fixed-model-name", target.name.removesuffix(".tar.gz"),
    ]  # fmt: skip
    if log_path is None:
        completed = subprocess.run(command, cwd=root, check=False)
        where = "the output above"
    else:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            completed = subprocess.run(
                command, cwd=root, check=False, stdout=log, stderr=subprocess.STDOUT
            )
        where = str(log_path)
    if completed.returncode != 0 or not target.exists():
        raise RuntimeError(
            f"Training failed (exit {completed.returncode}); {where} says why. "
            "`rasa data validate` points at data problems."
        )
    return TrainingResult(target, trained=True, seconds=time.monotonic() - started)


def latest_model(models_dir: Path) -> Path | None:
    models = sorted(models_dir.glob(f"{MODEL_PREFIX}*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None
