"""Broken copies of the real files produce messages that name the file, the line and the fix."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.catalog import CatalogError, check_catalog, load_catalog, main_check


def edit(path: Path, old: str, new: str) -> int:
    """Replace the first `old` in `path` with `new`; return the 1-based line it starts on."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    position = text.index(old)
    path.write_text(text[:position] + new + text[position + len(old) :], encoding="utf-8")
    return text.count("\n", 0, position) + 1


def line_of(path: Path, snippet: str) -> int:
    text = path.read_text(encoding="utf-8")
    return text.count("\n", 0, text.index(snippet)) + 1


def only_problem(directory: Path) -> str:
    problems = check_catalog(directory)
    assert len(problems) == 1, problems
    return problems[0]


def test_unknown_unit_names_file_line_service_and_the_known_units(catalog_copy: Path) -> None:
    services = catalog_copy / "services.yml"
    line = edit(services, "    unit: one_stop\n", "    unit: one_stopp\n")
    problem = only_problem(catalog_copy)
    assert problem.startswith(f"{services}:{line}: service 'certified_copy': ")
    assert "unit 'one_stopp' does not exist — did you mean 'one_stop'?" in problem
    assert "known units: one_stop, ward_committee" in problem


def test_missing_english_text_is_reported_where_the_text_is(catalog_copy: Path) -> None:
    units = catalog_copy / "units.yml"
    line = line_of(units, "    name:\n      vi: Bộ phận Một cửa UBND Phường 7")
    edit(units, "      en: Ward 7 One-Stop Desk\n", "")
    problem = only_problem(catalog_copy)
    assert problem == (
        f"{units}:{line}: unit 'one_stop': name: missing 'en' text — every user-facing text "
        "needs both 'vi' and 'en'"
    )


def test_missing_language_in_a_document_list(catalog_copy: Path) -> None:
    services = catalog_copy / "services.yml"
    line = line_of(services, "    documents:\n      vi:\n        - Tờ khai đăng ký khai sinh")
    text = services.read_text(encoding="utf-8")
    start = text.index("      en:\n        - Birth registration form")
    end = text.index("    fee:", start)
    services.write_text(text[:start] + text[end:], encoding="utf-8")
    problem = only_problem(catalog_copy)
    assert problem.startswith(f"{services}:{line}: service 'birth_registration': documents:")
    assert "missing 'en' list" in problem


def test_bad_interval_names_the_day_and_the_format(catalog_copy: Path) -> None:
    units = catalog_copy / "units.yml"
    line = edit(
        units,
        'mon: ["07:30-11:30", "13:30-17:00"]',
        'mon: ["07:30-11:30", "13:30-11:00"]',
    )
    problem = only_problem(catalog_copy)
    assert problem.startswith(f"{units}:{line}: unit 'one_stop': hours.mon: '13:30-11:00'")
    assert "write 'HH:MM-HH:MM'" in problem


def test_intervals_out_of_order_are_rejected(catalog_copy: Path) -> None:
    units = catalog_copy / "units.yml"
    line = edit(
        units,
        'tue: ["07:30-11:30", "13:30-17:00"]',
        'tue: ["13:30-17:00", "07:30-11:30"]',
    )
    problem = only_problem(catalog_copy)
    assert problem.startswith(f"{units}:{line}: unit 'one_stop': hours.tue:")
    assert "list intervals in order, without overlaps" in problem


def test_duplicate_id_points_at_the_first_use(catalog_copy: Path) -> None:
    services = catalog_copy / "services.yml"
    first = line_of(services, "  - id: death_registration")
    second = edit(services, "  - id: marital_status_certificate", "  - id: death_registration")
    problems = check_catalog(catalog_copy)
    expected = (
        f"{services}:{second}: service 'death_registration': service id 'death_registration' "
        f"is already used at line {first} — ids must be unique; rename one"
    )
    assert expected in problems


def test_yaml_syntax_error_names_the_line(catalog_copy: Path) -> None:
    services = catalog_copy / "services.yml"
    line = edit(services, "    processing_days: 0\n", "    processing_days: 0\n  bad: [unclosed\n")
    problems = check_catalog(catalog_copy)
    assert len(problems) == 1
    assert problems[0].startswith(f"{services}:")
    assert "YAML syntax error" in problems[0]
    reported = int(problems[0].split(":")[1])
    assert line <= reported <= line + 3


def test_misspelt_key_is_caught_with_a_suggestion(catalog_copy: Path) -> None:
    services = catalog_copy / "services.yml"
    line = edit(services, "    processing_days: 7\n", "    proccessing_days: 7\n")
    problems = check_catalog(catalog_copy)
    assert any(
        p.startswith(f"{services}:{line}: service 'permanent_residence': unknown key "
                     "'proccessing_days' — did you mean 'processing_days'?")
        for p in problems
    ), problems  # fmt: skip
    assert any("missing required field 'processing_days'" in p for p in problems)


def test_category_routed_twice_and_category_not_routed(catalog_copy: Path) -> None:
    units = catalog_copy / "units.yml"
    line = edit(units, "categories: [roads, trees]", "categories: [roads, trees, noise]")
    edit(units, "categories: [noise]", "categories: []")
    problems = check_catalog(catalog_copy)
    assert problems == []  # noise moved, still routed once

    edit(units, "categories: [water_supply]", "categories: [water_supply, noise]")
    problems = check_catalog(catalog_copy)
    assert len(problems) == 1
    assert "category 'noise' is already handled by unit 'urban_management'" in problems[0]
    assert line > 0

    edit(units, "categories: [street_lighting]", "categories: []")
    problems = check_catalog(catalog_copy)
    categories = catalog_copy / "categories.yml"
    assert any(
        p.startswith(f"{categories}:{line_of(categories, 'id: street_lighting')}: ")
        and "category 'street_lighting' is not routed to any unit" in p
        for p in problems
    ), problems


def test_impossible_date_is_reported_not_crashed_on(catalog_copy: Path) -> None:
    holidays = catalog_copy / "holidays.yml"
    line = edit(holidays, "date: 2025-04-07,", "date: 2025-02-30,")
    problem = only_problem(catalog_copy)
    assert problem.startswith(f"{holidays}:{line}: holiday: date: '2025-02-30' is not a valid date")


def test_makeup_day_must_be_a_weekend(catalog_copy: Path) -> None:
    holidays = catalog_copy / "holidays.yml"
    line = edit(holidays, "date: 2025-04-26, replaces", "date: 2025-04-25, replaces")
    problem = only_problem(catalog_copy)
    assert problem.startswith(f"{holidays}:{line}: make-up working day 2025-04-25:")
    assert "must fall on a weekend" in problem


def test_unquoted_phone_number_loses_its_zero_and_says_so(catalog_copy: Path) -> None:
    units = catalog_copy / "units.yml"
    line = edit(units, 'phone: "0236 3 555 101"', "phone: 02363555101")
    problem = only_problem(catalog_copy)
    assert problem.startswith(f"{units}:{line}: unit 'one_stop': phone:")
    assert "quote it" in problem


def test_online_channel_needs_a_portal(catalog_copy: Path) -> None:
    services = catalog_copy / "services.yml"
    edit(services, "      portal_url: https://dichvucong.gov.vn\n", "")
    problem = only_problem(catalog_copy)
    assert "service 'birth_registration'" in problem
    assert "'online' is listed but there is no portal_url" in problem


def test_all_problems_are_reported_at_once(catalog_copy: Path) -> None:
    edit(catalog_copy / "services.yml", "    unit: one_stop\n", "    unit: nowhere\n")
    edit(catalog_copy / "units.yml", 'sun: ["08:00-17:00"]', 'sun: ["8h-17h"]')
    edit(catalog_copy / "holidays.yml", "date: 2030-09-03,", "date: 2030-09-31,")
    problems = check_catalog(catalog_copy)
    assert len(problems) == 3
    assert {p.split(":")[0].rsplit("/", 1)[-1] for p in problems} == {
        "services.yml",
        "units.yml",
        "holidays.yml",
    }


def test_load_catalog_raises_with_every_problem(catalog_copy: Path) -> None:
    edit(catalog_copy / "services.yml", "    unit: one_stop\n", "    unit: nowhere\n")
    with pytest.raises(CatalogError) as raised:
        load_catalog(catalog_copy)
    assert len(raised.value.problems) == 1
    assert "unit 'nowhere' does not exist" in str(raised.value)


def test_check_command_prints_problems_and_fails(catalog_copy: Path) -> None:
    edit(catalog_copy / "services.yml", "    unit: one_stop\n", "    unit: nowhere\n")
    out = io.StringIO()
    assert main_check(catalog_copy, out=out) == 1
    assert "unit 'nowhere' does not exist" in out.getvalue()
    assert "1 problem in" in out.getvalue()


def test_missing_file_is_named(catalog_copy: Path) -> None:
    (catalog_copy / "holidays.yml").unlink()
    problem = only_problem(catalog_copy)
    assert problem.startswith(f"{catalog_copy / 'holidays.yml'}: file not found")
