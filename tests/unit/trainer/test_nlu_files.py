"""Accepted examples are written into the trainers' files by a YAML round trip: comments and
formatting kept, the file still valid for Rasa, the example where it belongs; and
`tiepdan nlu inbox export` prints a patch that `git apply` takes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.loading import load_data

from bot.trainer.nlu_files import (
    DataFileError,
    PendingLine,
    add_example,
    export_patch,
    intent_catalogue,
    search_intents,
)


def examples_of(path: Path, intent: str) -> list[str]:
    data = load_data(str(path))
    return [m.get("text") for m in data.intent_examples if m.get("intent") == intent]


def test_an_example_is_added_with_comments_and_other_lines_untouched(data_dir: Path) -> None:
    path = data_dir / "vi" / "services.yml"
    before = path.read_text(encoding="utf-8").splitlines()

    written = add_example(data_dir, "vi", "ask_office_hours", "thứ bảy phường có làm không ạ")

    after = path.read_text(encoding="utf-8").splitlines()
    assert written.added and written.relative == "vi/services.yml"
    assert after[written.line_number - 1] == "    - thứ bảy phường có làm không ạ"
    # Exactly one line more, every other line (comments first) as it was.
    assert len(after) == len(before) + 1
    assert after[: written.line_number - 1] + after[written.line_number :] == before
    assert before[0].startswith("# Skill: services")
    assert "thứ bảy phường có làm không ạ" in examples_of(path, "ask_office_hours")


def test_an_example_already_there_is_not_written_twice(data_dir: Path) -> None:
    first = add_example(data_dir, "en", "greet", "hiya there friend")
    again = add_example(data_dir, "en", "greet", "hiya there friend")
    assert first.added and not again.added
    assert examples_of(data_dir / "en" / "chitchat.yml", "greet").count("hiya there friend") == 1


def test_an_intent_new_to_a_language_gets_a_block_in_the_same_skill_file(data_dir: Path) -> None:
    path = data_dir / "en" / "services.yml"
    text = path.read_text(encoding="utf-8").replace(
        "- intent: ask_contact", "- intent: ask_contact_x"
    )
    path.write_text(text, encoding="utf-8")  # only vi has ask_contact now

    written = add_example(data_dir, "en", "ask_contact", "who do I call about the drains")

    assert written.relative == "en/services.yml"
    assert examples_of(path, "ask_contact") == ["who do I call about the drains"]


def test_a_broken_file_is_reported_with_its_name_not_overwritten(data_dir: Path) -> None:
    path = data_dir / "vi" / "chitchat.yml"
    path.write_text(
        "nlu:\n- intent: greet\n  examples: |\n    - chào\n  bad: [\n", encoding="utf-8"
    )
    broken = path.read_text(encoding="utf-8")
    with pytest.raises(DataFileError, match="chitchat.yml"):
        add_example(data_dir, "vi", "greet", "chào em")
    assert path.read_text(encoding="utf-8") == broken


def test_unknown_intent_is_refused(data_dir: Path) -> None:
    with pytest.raises(DataFileError, match="ask_weather"):
        add_example(data_dir, "vi", "ask_weather", "mai trời mưa không")


def test_intents_are_listed_with_examples_and_found_without_diacritics(data_dir: Path) -> None:
    catalogue = intent_catalogue(data_dir)
    assert {"greet", "ask_service_info", "out_of_scope"} <= set(catalogue)
    assert (
        catalogue["greet"].count("vi") > 10 and catalogue["greet"].files["en"] == "en/chitchat.yml"
    )
    found = [info.name for info in search_intents(catalogue, "gio lam viec")]
    assert found == ["ask_office_hours"]
    # The intent most of whose examples say it comes first (another has one stray example).
    assert search_intents(catalogue, "opening hours")[0].name == "ask_office_hours"


def test_the_export_is_a_patch_git_applies_to_the_original_data(
    tmp_path: Path, data_dir: Path
) -> None:
    original = tmp_path / "repo"
    (original / "nlu_data").mkdir(parents=True)
    subprocess.run(["cp", "-r", f"{data_dir}/.", str(original / "nlu_data")], check=True)
    lines = [
        add_example(data_dir, "vi", "ask_service_info", "làm căn cước gắn chip ở đâu"),
        add_example(data_dir, "en", "out_of_scope", "who wins the derby tonight"),
    ]
    patch = export_patch(data_dir, [PendingLine(w.relative, w.line) for w in lines], "nlu_data")

    assert "+    - làm căn cước gắn chip ở đâu" in patch
    assert patch.count("\n+    - ") == 2
    subprocess.run(["git", "init", "-q"], cwd=original, check=True)
    (tmp_path / "change.patch").write_text(patch, encoding="utf-8")
    subprocess.run(["git", "apply", str(tmp_path / "change.patch")], cwd=original, check=True)
    for written in lines:
        assert (original / "nlu_data" / written.relative).read_text() == written.path.read_text()
