"""The catalog loader and the command line against broken files and bad arguments: every
problem is reported with file, line and a fix, never as a traceback."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest

from bot import cli
from bot.catalog import CatalogError, load_catalog
from bot.settings import PROJECT_ROOT

CATALOG = PROJECT_ROOT / "catalog"
FILES = sorted(p.name for p in CATALOG.glob("*.yml"))
LOCATED = re.compile(r"^(/?[\w.-]+/)*[\w.-]+\.yml(:\d+)?: \S")


def mutations(text: str, seed: int) -> list[tuple[str, str | bytes]]:
    lines = text.splitlines(keepends=True)
    rng = random.Random(seed)
    some = rng.randrange(len(lines))
    return [
        ("empty", ""),
        ("only a comment", "# nothing here\n"),
        ("a list at the top", "- a\n- b\n"),
        ("a number", "42\n"),
        ("null", "null\n"),
        ("tab indentation", text.replace("  ", "\t", 3)),
        ("unclosed quote", text + '\nbroken: "no end\n'),
        ("unclosed bracket", text + "\nbroken: [1, 2\n"),
        ("duplicate document", text + "\n---\n" + text),
        ("truncated", text[: len(text) // 2]),
        ("line removed", "".join(lines[:some] + lines[some + 1 :])),
        ("line doubled", "".join(lines[: some + 1] + lines[some:])),
        ("lines shuffled", "".join(rng.sample(lines, len(lines)))),
        (
            "indent broken",
            "".join(" " + line if i == some else line for i, line in enumerate(lines)),
        ),
        (
            "anchors bomb",
            "a: &a [x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n",
        ),
        ("python tag", "!!python/object/apply:os.system ['echo pwned']\n"),
        ("binary", bytes(range(256))),
        ("latin-1", text.encode("latin-1", "replace")),
        ("utf-16", text.encode("utf-16")),
        ("nul bytes", text.replace("\n", "\x00\n", 2)),
        ("huge value", text + "\nextra: " + "x" * 2_000_000 + "\n"),
        ("html", text.replace(":", ": <script>alert(1)</script>", 1)),
    ]


# Every mutation on the richest file, the structural ones on the others (each check reads
# the whole catalog, so the list is kept to what adds something).
SMALL = {"empty", "a list at the top", "tab indentation", "truncated", "binary", "html"}
CASES = [
    pytest.param(name, mutation, content, id=f"{name}-{mutation}")
    for number, name in enumerate(FILES)
    for mutation, content in mutations((CATALOG / name).read_text(encoding="utf-8"), number)
    if name == "services.yml" or mutation in SMALL
]


@pytest.mark.parametrize(("name", "mutation", "content"), CASES)
def test_a_broken_catalog_file_is_reported_with_file_and_line(
    tmp_path: Path, name: str, mutation: str, content: str | bytes
) -> None:
    folder = tmp_path / "catalog"
    shutil.copytree(CATALOG, folder)
    target = folder / name
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content, encoding="utf-8")
    try:
        load_catalog(folder)
    except CatalogError as error:
        assert error.problems
        for problem in error.problems:
            assert LOCATED.match(problem), problem
            assert len(problem) < 2000, problem[:200]
    # else: a harmless change (a comment, shuffled lines that still make a valid file)


BAD_COMMANDS = [
    ([], 2),
    (["nonsense"], 2),
    (["run", "--model"], 2),
    (["report", "--period", "2026-13"], 2),
    (["report", "--period", "Q5-2026"], 2),
    (["report", "--period", "' OR 1=1"], 2),
    (["report", "--period", "2026-11", "--format", "exe"], 2),
    (["report", "--period", "2026", "--out", "/proc/version"], None),
    (["staff", "add"], 2),
    (["staff", "add", "x", "--role", "god"], 2),
    (["staff", "disable", "nobody-here"], None),
    (["staff", "reset-password", "<script>"], None),
    (["catalog", "check", "--extra"], 2),
    (["db"], 2),
    (["purge", "--days", "abc"], 2),
]


@pytest.mark.parametrize(("argv", "status"), BAD_COMMANDS)
def test_bad_commands_say_what_is_wrong_without_a_traceback(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    status: int | None,
) -> None:
    monkeypatch.setenv("TIEPDAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("TIEPDAN_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    try:
        code = cli.main(argv)  # an unexpected exception fails the test with its traceback
    except SystemExit as stop:  # argparse: usage and the reason on stderr
        code = stop.code
    error = capsys.readouterr().err
    assert code != 0
    if status is not None:
        assert code == status
    assert error.strip(), "an error must say what is wrong"
    assert "Traceback" not in error
