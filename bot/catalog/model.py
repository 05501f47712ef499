"""The service catalog as immutable values: units, services, complaint categories, holidays.

Everything here is built once by `bot.catalog.loader.load_catalog` from the YAML files in
`catalog/` and then only read. Lookups that happen on every message (find a service, route a
category) use indexes computed at load time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from types import MappingProxyType

from bot.calendar import WorkingCalendar
from bot.catalog.matching import SearchIndex
from bot.categories import CATEGORY_IDS  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)

LANGS = ("vi", "en")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CHANNELS = ("in_person", "online", "post")

FALLBACK_CATEGORY = "other"


def normalize_lang(lang: str | None) -> str:
    """'en', 'en-US', 'EN' → 'en'; anything else → 'vi' (the district's language)."""
    return "en" if (lang or "").strip().lower().startswith("en") else "vi"


@dataclass(frozen=True)
class Bilingual:
    """One user-facing text in both languages."""

    vi: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if normalize_lang(lang) == "en" else self.vi


@dataclass(frozen=True)
class BilingualList:
    """A list of user-facing texts in both languages (documents, aliases)."""

    vi: tuple[str, ...] = ()
    en: tuple[str, ...] = ()

    def get(self, lang: str) -> tuple[str, ...]:
        return self.en if normalize_lang(lang) == "en" else self.vi


@dataclass(frozen=True, order=True)
class Interval:
    """Opening interval within one day, [start, end)."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class Unit:
    """An office or company a resident can be sent to."""

    id: str
    name: Bilingual
    short_name: Bilingual | None
    aliases: BilingualList
    categories: tuple[str, ...]
    services: tuple[str, ...]
    phone: str  # digits only; format with bot.catalog.formatting.format_phone
    hotline: str | None
    hotline_24h: bool
    email: str
    address: Bilingual
    hours: tuple[tuple[Interval, ...], ...]  # index 0 = Monday … 6 = Sunday; () = closed
    saturday_morning_receipt: bool
    map_url: str | None
    supervisor: str

    def hours_on(self, weekday: int) -> tuple[Interval, ...]:
        return self.hours[weekday]

    def label(self, lang: str) -> str:
        """Short name for buttons and lists; the full name when there is no short one."""
        return (self.short_name or self.name).get(lang)


@dataclass(frozen=True)
class Fee:
    amount: int | None  # đồng; 0 = free; None = depends on the case (see note)
    note: Bilingual | None
    legal_basis: str | None

    @property
    def is_free(self) -> bool:
        return self.amount == 0


@dataclass(frozen=True)
class Submission:
    channels: tuple[str, ...]  # subset of CHANNELS
    portal_url: str | None
    where: Bilingual


@dataclass(frozen=True)
class Service:
    """An administrative procedure or utility service a resident can ask about."""

    id: str
    name: Bilingual
    aliases: BilingualList
    description: Bilingual
    eligibility: Bilingual
    documents: BilingualList
    fee: Fee
    processing_days: int  # working days; 0 = the same day
    processing_note: Bilingual | None
    submission: Submission
    unit: str
    legal_basis: str
    last_reviewed: date


@dataclass(frozen=True)
class Category:
    """A complaint / problem-report category."""

    id: str
    name: Bilingual


@dataclass(frozen=True)
class Holiday:
    day: date
    name: Bilingual


@dataclass(frozen=True)
class MakeupDay:
    """A weekend day worked in exchange for a bridged day off (`replaces`)."""

    day: date
    name: Bilingual
    replaces: date | None


@dataclass(frozen=True)
class Match:
    """A scored search hit. `score` is 0..1; `matched` is the name or alias that matched."""

    item: Service | Unit
    score: float
    matched: str

    @property
    def id(self) -> str:
        return self.item.id

    @property
    def kind(self) -> str:
        return "service" if isinstance(self.item, Service) else "unit"


@dataclass(frozen=True, eq=False)
class Catalog:
    """Units, services, categories and the working calendar, with fast lookups."""

    units: Mapping[str, Unit]
    services: Mapping[str, Service]
    categories: Mapping[str, Category]
    holidays: tuple[Holiday, ...]
    makeup_days: tuple[MakeupDay, ...]
    calendar: WorkingCalendar
    directory: Path | None = None
    _category_units: Mapping[str, str] = field(default_factory=dict, repr=False)
    _holidays_by_day: Mapping[date, Holiday] = field(default_factory=dict, repr=False)
    _makeup_by_day: Mapping[date, MakeupDay] = field(default_factory=dict, repr=False)
    _service_index: SearchIndex | None = field(default=None, repr=False)
    _unit_index: SearchIndex | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        units: list[Unit],
        services: list[Service],
        categories: list[Category],
        holidays: list[Holiday],
        makeup_days: list[MakeupDay],
        directory: Path | None = None,
    ) -> Catalog:
        """Assemble a catalog and its indexes. Inputs are assumed valid (the loader checks)."""
        category_units = {c: u.id for u in units for c in u.categories}
        return cls(
            units=MappingProxyType({u.id: u for u in units}),
            services=MappingProxyType({s.id: s for s in services}),
            categories=MappingProxyType({c.id: c for c in categories}),
            holidays=tuple(sorted(holidays, key=lambda h: h.day)),
            makeup_days=tuple(sorted(makeup_days, key=lambda m: m.day)),
            calendar=WorkingCalendar.of((h.day for h in holidays), (m.day for m in makeup_days)),
            directory=directory,
            _category_units=MappingProxyType(category_units),
            _holidays_by_day=MappingProxyType({h.day: h for h in holidays}),
            _makeup_by_day=MappingProxyType({m.day: m for m in makeup_days}),
            _service_index=SearchIndex(
                [(s.id, _search_phrases(s.name, s.aliases)) for s in services]
            ),
            _unit_index=SearchIndex(
                [
                    (
                        u.id,
                        _search_phrases(u.name, u.aliases)
                        + _search_phrases(u.short_name, BilingualList()),
                    )
                    for u in units
                ]
            ),
        )

    # -- lookups -----------------------------------------------------------------------

    def unit(self, unit_id: str) -> Unit:
        try:
            return self.units[unit_id]
        except KeyError:
            raise KeyError(f"unknown unit {unit_id!r} (known: {', '.join(self.units)})") from None

    def service(self, service_id: str) -> Service:
        try:
            return self.services[service_id]
        except KeyError:
            raise KeyError(
                f"unknown service {service_id!r} (known: {', '.join(self.services)})"
            ) from None

    def unit_for_service(self, service_id: str) -> Unit:
        return self.unit(self.service(service_id).unit)

    def unit_for_category(self, category_id: str) -> Unit:
        """The one unit responsible for a complaint category.

        An unknown category (a stale NLU label, say) goes to the unit that handles
        `other`, so a resident's report is never dropped; the mismatch is logged.
        """
        unit_id = self._category_units.get(category_id)
        if unit_id is None:
            log.warning("unknown complaint category %r, routing it as %r", category_id, "other")
            unit_id = self._category_units[FALLBACK_CATEGORY]
        return self.units[unit_id]

    def holiday_on(self, day: date) -> Holiday | None:
        return self._holidays_by_day.get(day)

    def makeup_day_on(self, day: date) -> MakeupDay | None:
        return self._makeup_by_day.get(day)

    # -- search ------------------------------------------------------------------------

    def find_services(self, query: str, limit: int = 3) -> list[Match]:
        """Services whose name or alias matches `query`, best first.

        Ignores diacritics, case and word order and tolerates small typos; an exact
        service id (an NLU entity value) scores 1.0.
        """
        if self._service_index is None:
            return []
        return [
            Match(self.services[key], score, phrase)
            for key, score, phrase in self._service_index.search(query, limit)
        ]

    def find_units(self, query: str, limit: int = 3) -> list[Match]:
        """Units whose name, short name or alias matches `query`, best first."""
        if self._unit_index is None:
            return []
        return [
            Match(self.units[key], score, phrase)
            for key, score, phrase in self._unit_index.search(query, limit)
        ]


def _search_phrases(name: Bilingual | None, aliases: BilingualList) -> list[str]:
    phrases: list[str] = []
    if name is not None:
        phrases += [name.vi, name.en]
    phrases += list(aliases.vi) + list(aliases.en)
    return phrases
