"""The real catalog files load, are complete, and agree with the NLU data."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pytest

from bot.catalog import CATEGORY_IDS, Catalog, check_catalog, main_check
from bot.catalog.loader import DEFAULT_DIRECTORY
from bot.settings import PROJECT_ROOT

CATALOG_DIR = PROJECT_ROOT / "catalog"

SERVICE_IDS = {
    "birth_registration", "marriage_registration", "death_registration", "certified_copy",
    "signature_authentication", "permanent_residence", "temporary_residence",
    "household_business", "construction_permit", "land_certificate_renewal",
    "land_certificate_reissue", "new_water_connection", "new_power_connection",
    "water_bill_dispute", "power_bill_dispute", "social_allowance",
    "poor_household_certificate", "marital_status_certificate", "judicial_record",
    "wastewater_connection", "tree_cutting_permit", "sidewalk_use_permit",
    "waste_collection_registration", "parentage_recognition", "name_change",
    "land_use_change", "residence_confirmation", "disability_certificate",
    "meritorious_allowance", "excavation_permit",
}  # fmt: skip

UNIT_IDS = {
    "one_stop", "ward_committee", "natural_resources", "urban_management", "justice",
    "labour_social", "ward_police", "water_company", "power_company", "drainage_company",
    "waste_company", "public_lighting", "customer_care",
}  # fmt: skip


def test_real_catalog_has_the_units_and_services_the_nlu_uses(catalog: Catalog) -> None:
    assert len(catalog.units) >= 12
    assert len(catalog.services) >= 30
    assert set(catalog.units) >= UNIT_IDS
    assert set(catalog.services) >= SERVICE_IDS


def test_real_catalog_checks_clean() -> None:
    assert check_catalog(CATALOG_DIR) == []
    out = io.StringIO()
    assert main_check(CATALOG_DIR, out=out) == 0
    assert "catalog OK: 13 units, 30 services, 14 categories" in out.getvalue()


def test_default_directory_is_the_project_catalog() -> None:
    assert DEFAULT_DIRECTORY == CATALOG_DIR


def test_every_category_is_routed_to_exactly_one_unit(catalog: Catalog) -> None:
    for category in CATEGORY_IDS:
        owners = [u.id for u in catalog.units.values() if category in u.categories]
        assert len(owners) == 1, (category, owners)
        assert catalog.unit_for_category(category).id == owners[0]


def test_complaints_reach_the_unit_a_resident_would_expect(catalog: Catalog) -> None:
    assert catalog.unit_for_category("street_lighting").id == "public_lighting"
    assert catalog.unit_for_category("water_supply").id == "water_company"
    assert catalog.unit_for_category("electricity").id == "power_company"
    assert catalog.unit_for_category("other").id == "customer_care"
    assert catalog.unit_for_category("admin_procedure").id == "one_stop"


def test_an_unknown_category_goes_to_customer_care_not_nowhere(catalog: Catalog) -> None:
    assert catalog.unit_for_category("potholes_on_mars").id == "customer_care"


def test_every_service_has_a_unit_that_lists_it(catalog: Catalog) -> None:
    for service in catalog.services.values():
        unit = catalog.unit_for_service(service.id)
        assert service.id in unit.services


def test_every_service_speaks_both_languages(catalog: Catalog) -> None:
    for service in catalog.services.values():
        assert service.documents.vi and len(service.documents.vi) == len(service.documents.en)
        assert service.aliases.vi and service.aliases.en
        assert service.name.vi != service.name.en


def test_birth_registration_is_free_same_day_at_the_ward(catalog: Catalog) -> None:
    birth = catalog.service("birth_registration")
    assert birth.fee.amount == 0
    assert birth.processing_days == 0
    assert {"in_person", "online"} <= set(birth.submission.channels)
    assert "UBND Phường 7" in birth.submission.where.vi
    assert any("chứng sinh" in item for item in birth.documents.vi)


def test_utilities_keep_24_hour_hotlines(catalog: Catalog) -> None:
    for unit_id in ("water_company", "power_company", "drainage_company", "public_lighting"):
        unit = catalog.unit(unit_id)
        assert unit.hotline_24h and unit.hotline


def test_only_the_one_stop_desk_receives_on_saturday_morning(catalog: Catalog) -> None:
    receiving = [u.id for u in catalog.units.values() if u.saturday_morning_receipt]
    assert receiving == ["one_stop"]


@pytest.mark.parametrize(
    "day",
    [
        "2025-01-01", "2025-01-29", "2025-04-07", "2025-04-30", "2025-05-01", "2025-09-02",
        "2026-02-17", "2026-04-26", "2026-04-27", "2027-02-06", "2027-04-16",
        "2028-01-26", "2028-04-04", "2029-02-13", "2029-04-23", "2030-02-03", "2030-04-12",
    ],
)  # fmt: skip
def test_public_holidays_2025_to_2030_are_listed(catalog: Catalog, day: str) -> None:
    holiday = catalog.holiday_on(date.fromisoformat(day))
    assert holiday is not None
    assert holiday.name.vi and holiday.name.en


def test_each_year_has_five_tet_days_off_on_working_days_or_in_lieu(catalog: Catalog) -> None:
    for year in range(2025, 2031):
        tet_weekdays = [
            h.day
            for h in catalog.holidays
            if h.day.year == year and "Tết Nguyên đán" in h.name.vi and h.day.weekday() < 5
        ]
        assert len(tet_weekdays) == 5, (year, tet_weekdays)


def test_the_2025_bridge_day_has_its_makeup_saturday(catalog: Catalog) -> None:
    makeup = catalog.makeup_day_on(date(2025, 4, 26))
    assert makeup is not None and makeup.replaces == date(2025, 5, 2)
    assert catalog.holiday_on(date(2025, 5, 2)) is not None
    assert catalog.calendar.is_working_day(date(2025, 4, 26))
    assert not catalog.calendar.is_working_day(date(2025, 5, 2))


def test_holiday_comments_name_the_right_weekday() -> None:
    text = (CATALOG_DIR / "holidays.yml").read_text(encoding="utf-8")
    for found in re.finditer(r"date: (\d{4}-\d\d-\d\d).*# (Mon|Tue|Wed|Thu|Fri|Sat|Sun)", text):
        assert date.fromisoformat(found[1]).strftime("%a") == found[2], found[0]


def test_data_files_say_they_are_sample_data() -> None:
    for path in CATALOG_DIR.glob("*.yml"):
        assert "SAMPLE DATA" in path.read_text(encoding="utf-8").split("\n", 3)[1], path


def _nlu_synonym_ids(path: Path) -> set[str]:
    return set(re.findall(r"^- synonym: (\w+)", path.read_text(encoding="utf-8"), re.M))


def test_nlu_service_and_category_ids_exist_in_the_catalog(catalog: Catalog) -> None:
    lookups = CATALOG_DIR.parent / "nlu_data" / "lookups"
    if not (lookups / "services.yml").exists():
        pytest.skip("NLU lookups not present")
    assert _nlu_synonym_ids(lookups / "services.yml") <= set(catalog.services)
    if (lookups / "categories.yml").exists():
        assert _nlu_synonym_ids(lookups / "categories.yml") <= set(catalog.categories)
