"""Putting a model live: evaluate, compare with the live one, swap it into the running Rasa.

`release` trains if needed (bot.training), scores the candidate on the held-out sets, and
refuses when its macro-F1 is more than the allowed margin below the live model's (unless
forced). It then asks the running Rasa server to load the file, with the token (our REST
channel's swap, or Rasa's `PUT /model`; see bot.trainer.rasa_channel): the new model is
loaded next to the old one, which keeps answering until the switch. Each release is recorded (`model_release`): which file,
when trained, from which data (fingerprint and git commit), its figures and who released it.
`restore` puts the previous live model back the same way.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Column, DateTime, Float, Integer, String, Text, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import Base, transaction

LIVE, RETIRED, REFUSED, FAILED = "live", "retired", "refused", "failed"
# Rasa loads the model before answering PUT /model: allow for a big one on a busy machine.
LOAD_TIMEOUT = 600.0


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class ModelRelease(Base):
    """One attempt to put a model live, and what came of it."""

    __tablename__ = "model_release"

    id = Column(Integer, primary_key=True)
    model_file = Column(String(512), nullable=False)
    fingerprint = Column(String(64), nullable=True)
    data_version = Column(String(128), nullable=True)  # git commit (+ "dirty")
    trained_at = Column(DateTime, nullable=True)
    created_at = Column(DateTime, nullable=False)
    released_at = Column(DateTime, nullable=True)
    released_by = Column(String(64), nullable=False)
    status = Column(String(16), nullable=False, index=True)
    macro_f1 = Column(Float, nullable=True)
    figures = Column(Text, nullable=True)  # JSON: per-intent F1, per-set macro-F1, n
    note = Column(Text, nullable=True)
    previous_id = Column(Integer, nullable=True)

    @property
    def figures_dict(self) -> dict[str, Any]:
        return json.loads(self.figures) if self.figures else {}


class ReleaseRefused(RuntimeError):
    """The candidate is worse than the live model by more than the margin."""


class RasaSwapFailed(RuntimeError):
    """The running Rasa did not take the model; the live one is unchanged."""


@dataclass(frozen=True)
class Comparison:
    before_macro: float | None
    after_macro: float
    per_intent: list[tuple[str, float | None, float | None]]  # intent, before, after
    worse: list[str]
    drop: float  # before - after (0 when there is nothing to compare with)
    margin: float

    @property
    def regression(self) -> bool:
        return self.before_macro is not None and self.drop > self.margin


def compare(
    before: dict[str, Any] | None, after: dict[str, Any], margin: float, tolerance: float = 0.005
) -> Comparison:
    """Per-intent F1 before and after, the intents that got worse, and the macro-F1 drop."""
    before_per = (before or {}).get("per_intent_f1") or {}
    after_per = after.get("per_intent_f1") or {}
    rows = []
    worse = []
    for intent in sorted(set(before_per) | set(after_per)):
        old, new = before_per.get(intent), after_per.get(intent)
        rows.append((intent, old, new))
        if old is not None and (new is None or new < old - tolerance):
            worse.append(intent)
    before_macro = (before or {}).get("macro_f1")
    after_macro = float(after.get("macro_f1") or 0.0)
    drop = (float(before_macro) - after_macro) if before_macro is not None else 0.0
    return Comparison(
        float(before_macro) if before_macro is not None else None,
        after_macro,
        rows,
        worse,
        round(drop, 6),
        margin,
    )


def format_comparison(comparison: Comparison) -> str:
    def f(value: float | None) -> str:
        return "   -  " if value is None else f"{value:6.3f}"

    lines = [f"{'intent':22} {'before':>6} {'after':>6}"]
    for intent, old, new in comparison.per_intent:
        mark = "  worse" if intent in comparison.worse else ""
        lines.append(f"{intent:22} {f(old)} {f(new)}{mark}")
    lines.append(
        f"{'macro-F1':22} {f(comparison.before_macro)} {f(comparison.after_macro)}"
        f"  (allowed drop {comparison.margin:.3f})"
    )
    lines.append(
        "intents that got worse: " + (", ".join(comparison.worse) if comparison.worse else "none")
    )
    return "\n".join(lines)


# ---------------------------------------------------------------- what is live


def live_release(session: Session) -> ModelRelease | None:
    return (
        session.execute(
            select(ModelRelease).where(ModelRelease.status == LIVE).order_by(ModelRelease.id.desc())
        )
        .scalars()
        .first()
    )


def history(session: Session, limit: int = 20) -> list[ModelRelease]:
    return list(
        session.execute(
            select(ModelRelease).order_by(ModelRelease.id.desc()).limit(limit)
        ).scalars()
    )


def previous_release(session: Session) -> ModelRelease | None:
    """The model that was live before the current one (what `restore` brings back)."""
    live = live_release(session)
    if live is None or live.previous_id is None:
        return None
    return session.get(ModelRelease, live.previous_id)


class RasaServer:
    """Rasa's HTTP API, token-protected: which model is served, and swapping it."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url.rstrip("/"), token

    def status(self) -> dict[str, Any]:
        try:
            response = requests.get(
                f"{self.base_url}/status", params={"token": self.token}, timeout=10
            )
        except requests.RequestException as error:
            raise RasaSwapFailed(f"Rasa at {self.base_url} is not reachable: {error}") from error
        if response.status_code != 200:
            raise RasaSwapFailed(f"Rasa /status answered HTTP {response.status_code}")
        return response.json()

    def load(self, model: Path) -> None:
        """Our REST channel's swap (loads in a worker thread, see bot.trainer.rasa_channel);
        Rasa's own PUT /model (loads in the event loop) when Rasa runs without it."""
        body = {"model_file": str(model.resolve())}
        try:
            response = requests.put(
                f"{self.base_url}/webhooks/rest/model",
                params={"token": self.token},
                json=body,
                timeout=LOAD_TIMEOUT,
            )
            if response.status_code in (404, 405):
                response = requests.put(
                    f"{self.base_url}/model",
                    params={"token": self.token},
                    json=body,
                    timeout=LOAD_TIMEOUT,
                )
        except requests.RequestException as error:
            raise RasaSwapFailed(f"Rasa at {self.base_url} is not reachable: {error}") from error
        if response.status_code != 204:
            raise RasaSwapFailed(
                f"Rasa refused the model (HTTP {response.status_code}): {response.text[:300]}"
            )


def data_version(root: Path) -> str | None:
    """The git commit of the data, with "+changes" when nlu_data has uncommitted edits."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        )
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "nlu_data", "config.yml", "domain.yml"],
            cwd=root,
            capture_output=True,
            text=True,
        )
    except OSError:
        return None
    return commit.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


Evaluate = Callable[[Path], dict[str, Any]]


@dataclass
class ReleaseOutcome:
    release: ModelRelease
    comparison: Comparison | None
    swapped: bool


def _record(sessions: sessionmaker, record: ModelRelease, retire: int | None = None) -> None:
    with transaction(sessions) as session:
        session.add(record)
        if retire is not None:
            retired = session.get(ModelRelease, retire)
            if retired is not None and retired.status == LIVE:
                retired.status = RETIRED


def release(
    sessions: sessionmaker,
    server: RasaServer,
    candidate: Path,
    *,
    actor: str,
    evaluate: Evaluate,
    margin: float,
    force: bool = False,
    fingerprint: str | None = None,
    version: str | None = None,
    note: str | None = None,
) -> ReleaseOutcome:
    """Evaluate `candidate`, compare with the live model, and load it into Rasa unless it is
    worse by more than `margin` (macro-F1 on the held-out sets) and not `force`d.

    Every attempt is recorded (live, refused or failed). Evaluating and loading take
    minutes: they run outside any database transaction, so residents' messages are never
    held up by a database lock."""
    candidate = candidate.resolve()
    if not candidate.is_file():
        raise FileNotFoundError(f"model file {candidate} does not exist")
    with transaction(sessions) as session:
        live = live_release(session)
        live_id = live.id if live is not None else None
        before = live.figures_dict if live is not None and live.figures else None
    figures = evaluate(candidate)
    comparison = compare(before, figures, margin)
    record = ModelRelease(
        model_file=str(candidate),
        fingerprint=fingerprint,
        data_version=version,
        trained_at=datetime.fromtimestamp(candidate.stat().st_mtime, timezone.utc).replace(
            tzinfo=None
        ),
        created_at=utcnow(),
        released_by=actor,
        macro_f1=figures.get("macro_f1"),
        figures=json.dumps(figures, ensure_ascii=False),
        note=note,
        previous_id=live_id,
    )
    if comparison.regression and not force:
        record.status = REFUSED
        _record(sessions, record)
        return ReleaseOutcome(record, comparison, swapped=False)
    try:
        server.load(candidate)
    except RasaSwapFailed as error:
        record.status, record.note = FAILED, str(error)
        _record(sessions, record)
        raise
    record.status, record.released_at = LIVE, utcnow()
    _record(sessions, record, retire=live_id)
    return ReleaseOutcome(record, comparison, swapped=True)


def restore(sessions: sessionmaker, server: RasaServer, *, actor: str) -> ModelRelease:
    """Load the previously live model again; it becomes live, the current one retired."""
    with transaction(sessions) as session:
        live = live_release(session)
        previous = previous_release(session)
        if live is None or previous is None:
            raise RasaSwapFailed("there is no earlier released model to restore")
        restored = ModelRelease(
            model_file=previous.model_file,
            fingerprint=previous.fingerprint,
            data_version=previous.data_version,
            trained_at=previous.trained_at,
            created_at=utcnow(),
            released_by=actor,
            status=LIVE,
            macro_f1=previous.macro_f1,
            figures=previous.figures,
            note=f"restored release #{previous.id}",
            previous_id=live.id,
        )
    model = Path(restored.model_file)
    if not model.is_file():
        raise RasaSwapFailed(f"the earlier model file {model} is gone; release it again")
    server.load(model)
    restored.released_at = utcnow()
    _record(sessions, restored, retire=restored.previous_id)
    return restored
