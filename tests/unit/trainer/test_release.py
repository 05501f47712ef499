"""Releasing a model: refused when held-out macro-F1 drops by more than the margin (small
evaluation fixtures stand in for scoring a trained model), loaded into Rasa otherwise,
recorded either way; restore brings the previous one back; the admin's model page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.db import transaction
from bot.trainer import release as releases
from bot.trainer.release import ModelRelease, RasaServer, RasaSwapFailed, compare
from tests.unit.console.conftest import csrf_in, log_in
from tests.unit.trainer.conftest import RASA_TOKEN

LIVE_FIGURES = {
    "macro_f1": 0.90,
    "per_intent_f1": {"greet": 0.95, "file_complaint": 0.90, "ask_contact": 0.85},
    "sets": {"vi": 0.91, "en": 0.89},
}
WORSE = {
    "macro_f1": 0.85,
    "per_intent_f1": {"greet": 0.96, "file_complaint": 0.80, "ask_contact": 0.79},
    "sets": {"vi": 0.86, "en": 0.84},
}
SLIGHTLY_WORSE = {
    "macro_f1": 0.89,
    "per_intent_f1": {"greet": 0.97, "file_complaint": 0.86, "ask_contact": 0.84},
    "sets": {"vi": 0.90, "en": 0.88},
}


@pytest.fixture
def models(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "models"
    folder.mkdir()
    files = {}
    for name in ("old", "new"):
        files[name] = folder / f"tiepdan-{name}.tar.gz"
        files[name].write_bytes(b"model " + name.encode())
    return files


@pytest.fixture
def live(sessions, models) -> int:  # type: ignore[no-untyped-def]
    with transaction(sessions) as session:
        record = ModelRelease(
            model_file=str(models["old"]),
            created_at=releases.utcnow(),
            released_at=releases.utcnow(),
            released_by="ada",
            status=releases.LIVE,
            macro_f1=LIVE_FIGURES["macro_f1"],
            figures=json.dumps(LIVE_FIGURES),
        )
        session.add(record)
        session.flush()
        return record.id


def server(fake_rasa) -> RasaServer:  # type: ignore[no-untyped-def]
    return RasaServer(fake_rasa.url, RASA_TOKEN)


def statuses(sessions) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with transaction(sessions) as session:
        return [(Path(r.model_file).name, r.status) for r in reversed(releases.history(session))]


def test_comparison_lists_the_intents_that_got_worse() -> None:
    comparison = compare(LIVE_FIGURES, WORSE, margin=0.02)
    assert comparison.worse == ["ask_contact", "file_complaint"]
    assert comparison.drop == pytest.approx(0.05) and comparison.regression
    assert ("greet", 0.95, 0.96) in comparison.per_intent
    assert not compare(None, WORSE, margin=0.02).regression  # nothing live to compare with


async def test_a_regression_is_refused_recorded_and_never_loaded(
    sessions, fake_rasa, models, live
) -> None:
    outcome = await _release(sessions, fake_rasa, models["new"], WORSE)
    assert not outcome.swapped and outcome.release.status == releases.REFUSED
    assert fake_rasa.loaded == []
    assert statuses(sessions) == [("tiepdan-old.tar.gz", "live"), ("tiepdan-new.tar.gz", "refused")]


async def test_forcing_releases_it_anyway(sessions, fake_rasa, models, live) -> None:
    outcome = await _release(sessions, fake_rasa, models["new"], WORSE, force=True)
    assert outcome.swapped and fake_rasa.loaded == [str(models["new"].resolve())]
    assert statuses(sessions) == [("tiepdan-old.tar.gz", "retired"), ("tiepdan-new.tar.gz", "live")]


async def test_a_drop_within_the_margin_goes_live_and_restore_brings_the_old_one_back(
    sessions, fake_rasa, models, live
) -> None:
    outcome = await _release(sessions, fake_rasa, models["new"], SLIGHTLY_WORSE)
    assert outcome.swapped and outcome.comparison.worse == ["ask_contact", "file_complaint"]

    import asyncio

    restored = await asyncio.to_thread(releases.restore, sessions, server(fake_rasa), actor="ada")
    assert Path(restored.model_file) == models["old"]
    assert fake_rasa.loaded[-1] == str(models["old"])
    assert statuses(sessions)[-1] == ("tiepdan-old.tar.gz", "live")
    with transaction(sessions) as session:
        assert len([r for r in releases.history(session) if r.status == releases.LIVE]) == 1


async def test_rasa_refusing_the_model_leaves_the_live_one(
    sessions, fake_rasa, models, live
) -> None:
    fake_rasa.model_status = 400
    with pytest.raises(RasaSwapFailed, match="HTTP 400"):
        await _release(sessions, fake_rasa, models["new"], SLIGHTLY_WORSE)
    assert statuses(sessions) == [("tiepdan-old.tar.gz", "live"), ("tiepdan-new.tar.gz", "failed")]


async def test_the_cli_refuses_a_regression_with_a_clear_message(
    settings, fake_rasa, models, live, monkeypatch, capsys
) -> None:
    from bot.trainer import cli

    monkeypatch.setattr(cli, "_evaluator", lambda _settings: lambda _path: WORSE)
    import argparse
    import asyncio

    args = argparse.Namespace(model=str(models["new"]), force=False, actor="cli")
    code = await asyncio.to_thread(cli.cmd_model_release, settings, args)
    captured = capsys.readouterr()
    assert code == 1
    assert "release refused" in captured.err and "--force" in captured.err
    assert "file_complaint" in captured.out and "worse" in captured.out
    assert fake_rasa.loaded == []


async def test_the_admin_model_page_shows_the_live_model_and_restores(
    client, sessions, fake_rasa, models, live
) -> None:
    await _release(sessions, fake_rasa, models["new"], SLIGHTLY_WORSE)
    await log_in(client, "ada")
    page = await (await client.get("/console/model")).text()
    assert "tiepdan-new.tar.gz" in page and "0.890" in page
    assert str(models["new"].resolve()) in page  # what Rasa reports it serves
    response = await client.post("/console/model/restore", data={"csrf": csrf_in(page)})
    assert "Đã khôi phục mô hình trước" in await response.text()
    assert fake_rasa.loaded[-1] == str(models["old"])


async def _release(sessions, fake_rasa, candidate: Path, figures: dict, force: bool = False):  # type: ignore[no-untyped-def]
    import asyncio

    return await asyncio.to_thread(
        releases.release,
        sessions,
        server(fake_rasa),
        candidate,
        actor="ada",
        evaluate=lambda _path: figures,
        margin=0.02,
        force=force,
    )
