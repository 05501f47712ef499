"""`tiepdan nlu check`: one small data folder per rule that triggers it; each finding names
file and line and says how to fix it; errors make the exit status non-zero, warnings not."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

import pytest

from bot.nlu.check import check_data
from bot.nlu.cli import cmd_nlu_check

DOMAIN_OK = """\
version: "3.1"
intents: [greet, goodbye]
responses:
  utter_greet:
    - text: "Dạ, em chào anh/chị."
    - condition:
        - type: slot
          name: language
          value: en
      text: "Hello!"
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content), encoding="utf-8")
    return root / "nlu_data"


def nlu(intent: str, *examples: str) -> str:
    lines = "".join(f"    - {e}\n" for e in examples)
    return f'version: "3.1"\nnlu:\n- intent: {intent}\n  examples: |\n{lines}'


def findings_for(tmp_path: Path, files: dict[str, str]) -> list:  # type: ignore[type-arg]
    files = {"domain.yml": DOMAIN_OK, **files}
    return check_data(write(tmp_path, files))


def matching(findings, severity: str, text: str):  # type: ignore[no-untyped-def]
    return [f for f in findings if f.severity == severity and text in f.message]


def test_the_same_sentence_under_two_intents_is_an_error_with_both_lines(tmp_path: Path) -> None:
    found = findings_for(
        tmp_path,
        {
            "nlu_data/vi/a.yml": nlu("greet", "xin chào", "Chào em"),
            "nlu_data/vi/b.yml": nlu("goodbye", "tạm biệt", "chao em!"),
        },
    )
    [error] = matching(found, "error", "under several intents")
    assert "nlu_data/vi/a.yml:6" in error.message and "nlu_data/vi/b.yml:6" in error.message
    assert error.where == "nlu_data/vi/a.yml:6" and error.fix


def test_near_duplicates_across_intents_are_a_warning(tmp_path: Path) -> None:
    found = findings_for(
        tmp_path,
        {
            "nlu_data/vi/a.yml": nlu("check_status", "phản ánh của tôi tới đâu rồi"),
            "nlu_data/vi/b.yml": nlu("file_complaint", "tôi phản ánh tới đâu của rồi ạ"),
        },
    )
    [warning] = matching(found, "warning", "near-duplicates")
    assert "check_status" in warning.message and "file_complaint" in warning.message
    assert warning.where.startswith("nlu_data/vi/") and warning.fix


def test_intents_below_the_minimum_per_language_are_named(tmp_path: Path) -> None:
    found = findings_for(tmp_path, {"nlu_data/en/a.yml": nlu("greet", "hello", "hi there")})
    [warning] = matching(found, "warning", "'greet' has 2 en example(s), fewer than 25")
    assert warning.where == "nlu_data/en/a.yml:5" and "23 more" in warning.fix
    assert matching(found, "warning", "'greet' has 0 vi example(s)")


def test_vietnamese_without_unaccented_examples_is_flagged(tmp_path: Path) -> None:
    accented = nlu("greet", *[f"chào em lần {i}" for i in range(10)])
    found = findings_for(tmp_path, {"nlu_data/vi/a.yml": accented})
    [warning] = matching(found, "warning", "typed without diacritics")
    assert "only 0 of 10" in warning.message and "cho toi hoi" in warning.fix
    plain = nlu("greet", *[f"chào em lần {i}" for i in range(7)], "chao em", "chao ad", "hi em")
    assert not matching(
        findings_for(tmp_path / "ok", {"nlu_data/vi/a.yml": plain}), "warning", "diacritics"
    )


def test_entity_values_and_wordings_missing_from_the_lookups(tmp_path: Path) -> None:
    found = findings_for(
        tmp_path,
        {
            "nlu_data/lookups/services.yml": (
                'version: "3.1"\nnlu:\n- synonym: birth_registration\n  examples: |\n'
                "    - khai sinh\n    - giấy khai sinh\n"
            ),
            "nlu_data/vi/a.yml": nlu(
                "ask_service_info",
                '[giấy khai sinh]{"entity": "service", "value": "birth_registration"} ở đâu',
                '[làm khai sinh cho bé]{"entity": "service", "value": "birth_registration"} ở đâu',
                '[cấp hộ chiếu]{"entity": "service", "value": "passport"} ở đâu',
            ),
        },
    )
    [unknown_id] = matching(found, "warning", "'passport'")
    assert unknown_id.where == "nlu_data/vi/a.yml:7" and "synonym: passport" in unknown_id.fix
    [wording] = matching(found, "warning", "'làm khai sinh cho bé'")
    assert "not among its synonyms" in wording.message
    assert not matching(found, "warning", "'giấy khai sinh'")


def test_a_response_without_english_is_an_error_at_its_line(tmp_path: Path) -> None:
    domain = DOMAIN_OK + '  utter_goodbye:\n    - text: "Dạ, chào anh/chị."\n'
    found = check_data(
        write(tmp_path, {"domain.yml": domain, "nlu_data/vi/a.yml": nlu("greet", "chào")})
    )
    [error] = matching(found, "error", "utter_goodbye has no en text")
    assert error.where == "domain.yml:11" and "value: en" in error.fix
    assert not matching(found, "error", "utter_greet")


def test_rules_that_contradict_each_other_are_an_error(tmp_path: Path) -> None:
    rules = """\
    version: "3.1"
    rules:
      - rule: say hello
        steps:
          - intent: greet
          - action: utter_greet

      - rule: say goodbye to a hello
        steps:
          - intent: greet
          - action: utter_goodbye
    """
    found = findings_for(
        tmp_path, {"nlu_data/rules/chat.yml": rules, "nlu_data/vi/a.yml": nlu("greet", "chào")}
    )
    [error] = matching(found, "error", "runs utter_goodbye where rule 'say hello'")
    assert (
        error.where == "nlu_data/rules/chat.yml:8" and "nlu_data/rules/chat.yml:3" in error.message
    )


def test_a_broken_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    found = findings_for(tmp_path, {"nlu_data/vi/a.yml": "nlu:\n- intent: greet\n  examples: [\n"})
    assert matching(found, "error", "cannot be read")


@pytest.mark.parametrize(
    ("files", "status"),
    [
        ({"nlu_data/en/a.yml": nlu("greet", "hello")}, 0),  # warnings only
        (
            {
                "nlu_data/en/a.yml": nlu("greet", "hello"),
                "nlu_data/en/b.yml": nlu("goodbye", "Hello!"),
            },
            1,
        ),
    ],
)
def test_exit_status_is_non_zero_only_on_errors(tmp_path: Path, files, status: int, capsys) -> None:  # type: ignore[no-untyped-def]
    data = write(tmp_path, {"domain.yml": DOMAIN_OK, **files})
    args = argparse.Namespace(data=str(data), domain=str(tmp_path / "domain.yml"), skip_rasa=True)
    assert cmd_nlu_check(argparse.Namespace(root=tmp_path), args) == status
    assert "fix:" in capsys.readouterr().out


def test_rasa_data_validate_failing_is_an_error(tmp_path: Path) -> None:
    """Rasa's own validation runs too (slow: one run, on a domain that cannot load)."""
    from bot.nlu.check import run_rasa_validate

    data = write(
        tmp_path,
        {
            "domain.yml": "version: '3.1'\nresponses:\n  utter_x: [ {text: 1\n",
            "nlu_data/vi/a.yml": nlu("greet", "chào"),
        },
    )
    found = run_rasa_validate(data, tmp_path / "domain.yml", tmp_path)
    assert matching(found, "error", "failed (exit")
