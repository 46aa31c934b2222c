"""Min kommune's indicators: the municipality against its peers and the country.

One computation per data year (:func:`year_indicators`, shared by every municipality's page)
derives the contact facts in that year's municipality borders and asks the indicator library
(:mod:`samhandling.indicators`) for counts per residence: contacts, stays, bed days,
emergency medical admissions, overliggerdøgn, co-financing, readmissions under both
definitions, stays by ICD-10 chapter and block, and contacts and stays by tertial for the
year and the two before it. The page then adds up any set of residences (the municipality,
each peer group of :func:`samhandling.indicators.peers.peer_groups`, the country) and takes
the rates of the sums, so a group's rate is the rate of its inhabitants, not an average of
rates. Standardised rates of groups pool the age/sex strata of their members with the same
standard population as :func:`~samhandling.indicators.standardisation.direct_standardised_rates`.

Disclosure: every value rests on a number of patients; a value resting on at least one but
fewer than ``disclosure.threshold`` patients is suppressed (``:``) and never reaches the page,
for the municipality as for its peers and the country.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pyarrow as pa

from samhandling.engine import Engine
from samhandling.indicators import register_contact_facts
from samhandling.indicators.activity import activity_counts
from samhandling.indicators.discharge import discharge_ready
from samhandling.indicators.facts import icd10_block_table
from samhandling.indicators.length_of_stay import EMERGENCY_MEDICAL
from samhandling.indicators.payments import cofinancing_per_inhabitant
from samhandling.indicators.peers import PeerGroup, peer_groups, population_in_borders
from samhandling.indicators.readmission import readmissions
from samhandling.indicators.standardisation import (
    _strata,  # the strata direct_standardised_rates weighs; pooled here for peer groups
    direct_standardised_rates,
    standard_population,
)
from samhandling.rules import RuleSet
from samhandling.tables.disclosure import disclosure_threshold

__all__ = [
    "AreaColumn",
    "Cell",
    "YearIndicators",
    "municipality_peers",
    "pooled_standardised_rate",
    "year_indicators",
]

SUPPRESSED = ":"  # Statistics Norway's mark: withheld for confidentiality
MISSING = ".."  # not available
TERTIAL_MONTHS = {1: (1, 4), 2: (5, 8), 3: (9, 12)}
TREND_YEARS = 3
# Short names of the peer kinds for chart axes (the tables carry the full labels).
PEER_SHORT = {
    "catchment": "Opptaksområdet",
    "county": "Fylket",
    "population_band": "Innbyggergruppen",
}
READMISSION_DEFINITIONS = ("steering", "quality")

Strata = dict[tuple[str, int, int], int]


@dataclass(frozen=True)
class YearIndicators:
    """Counts per residence (codes of the year's borders) for one data year."""

    year: int
    threshold: int
    # residence → measure → count (money as Decimal); "<measure>_patients" are the patients.
    residences: dict[str, dict[str, Any]]
    # (year, tertial) → residence → contacts, contacts_patients, stays, stays_patients, population
    tertials: dict[tuple[int, int], dict[str, dict[str, int]]]
    # residence → ICD-10 chapter (roman) → stays, bed_days, patients; and the same by block
    chapters: dict[str, dict[str, dict[str, int]]]
    blocks: dict[str, dict[str, dict[str, int]]]
    chapter_labels: dict[str, str]
    block_labels: dict[str, str]
    # measure → events and inhabitants by (residence, sex, age group), and the standard weights
    strata: dict[str, tuple[Strata, Strata]]
    standard: dict[tuple[int, int], int]
    # residence → measure → (standardised rate, interval low, high) from the indicator library
    standardised: dict[str, dict[str, tuple[float, float, float]]]
    cofinancing: bool = False


def _by_residence(table: pa.Table, columns: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """residence → {name: row[column]} for the given column → name pairs."""
    out: dict[str, dict[str, Any]] = {}
    for row in table.to_pylist():
        out[str(row["residence"])] = {name: row[col] or 0 for col, name in columns.items()}
    return out


def _merge(target: dict[str, dict[str, Any]], part: dict[str, dict[str, Any]]) -> None:
    for residence, values in part.items():
        target.setdefault(residence, {}).update(values)


def _readmission_counts(engine: Engine, detail: pa.Table, year: int) -> dict[str, dict[str, int]]:
    """residence → index episodes, readmissions, readmitted patients (episodes ending ``year``)."""
    engine.register_arrow("kommune_readmissions", detail)
    got = engine.query(
        "SELECT r.residence, COUNT(*) AS index_episodes, SUM(r.readmitted) AS readmitted, "
        "COUNT(DISTINCT CASE WHEN r.readmitted = 1 THEN r.patient_id END) AS patients "
        f"FROM kommune_readmissions AS r WHERE r.year = {int(year)} GROUP BY r.residence"
    )
    return {
        str(row["residence"]): {
            "index": int(row["index_episodes"]),
            "readmitted": int(row["readmitted"] or 0),
            "patients": int(row["patients"] or 0),
        }
        for row in got.to_pylist()
    }


def year_indicators(engine: Engine, rules: RuleSet, year: int) -> YearIndicators:
    """Counts behind Min kommune's indicators for data year ``year`` (a portal computation).

    The facts are derived in the borders of ``year`` (the codes of the year's bills); the
    tertials of the two years before are moved to those borders like residence is
    (:func:`samhandling.indicators.peers.population_in_borders` for their inhabitants).
    """
    register_contact_facts(engine, borders=year)
    threshold, _version = disclosure_threshold(rules, date(year, 12, 31))
    this_year = f"f.year = {int(year)}"
    residences: dict[str, dict[str, Any]] = {
        m: {"population": n} for m, n in population_in_borders(engine, year, borders=year).items()
    }
    activity = activity_counts(engine, by=("residence",), where=this_year)
    _merge(
        residences,
        _by_residence(
            activity,
            {"contacts": "contacts", "bed_days": "bed_days", "patients": "contacts_patients"},
        ),
    )
    stays = activity_counts(engine, by=("residence",), where=f"{this_year} AND f.is_stay = 1")
    _merge(residences, _by_residence(stays, {"stays": "stays", "patients": "stays_patients"}))
    emergency = activity_counts(
        engine,
        by=("residence",),
        where=f"{this_year} AND f.sector = 'somatic' AND {EMERGENCY_MEDICAL}",
    )
    _merge(
        residences,
        _by_residence(emergency, {"stays": "emergency", "patients": "emergency_patients"}),
    )
    ready = discharge_ready(engine, by=("residence",), where=this_year)
    _merge(
        residences,
        _by_residence(ready, {"overliggerdogn": "overligger", "patients": "overligger_patients"}),
    )
    for definition in READMISSION_DEFINITIONS:
        detail = readmissions(engine, rules, definition=definition, detail=True)  # type: ignore[arg-type]
        for residence, counts in _readmission_counts(engine, detail, year).items():
            residences.setdefault(residence, {}).update(
                {
                    f"readm_{definition}_index": counts["index"],
                    f"readm_{definition}": counts["readmitted"],
                    f"readm_{definition}_patients": counts["patients"],
                }
            )
    share = rules["cofinancing.share"]
    cofinancing = any(r.valid_from.year <= year <= r.valid_to.year for r in share.rows)
    if cofinancing:
        amounts = cofinancing_per_inhabitant(engine, rules, year=year)
        for row in amounts.to_pylist():
            residences.setdefault(str(row["municipality"]), {})["cofinancing"] = Decimal(
                row["amount"]
            )
        # The patients behind each municipality's amount (episodes that cost something).
        paid = engine.query(
            "SELECT municipality, COUNT(DISTINCT patient_id) AS patients FROM kmf_episodes "
            "WHERE amount > 0 GROUP BY municipality"
        )
        for row in paid.to_pylist():
            residences.setdefault(str(row["municipality"]), {})["cofinancing_patients"] = int(
                row["patients"]
            )
    tertials = _tertials(engine, year)
    chapters, blocks = _diagnoses(engine, year)
    block_table = icd10_block_table()
    chapter_labels = dict(
        zip(
            [str(v) for v in block_table["icd_chapter"].to_pylist()],
            [str(v) for v in block_table["chapter_label"].to_pylist()],
            strict=True,
        )
    )
    block_labels = dict(
        zip(
            [str(v) for v in block_table["icd_block"].to_pylist()],
            [str(v) for v in block_table["block_label"].to_pylist()],
            strict=True,
        )
    )
    strata: dict[str, tuple[Strata, Strata]] = {}
    standardised: dict[str, dict[str, tuple[float, float, float]]] = defaultdict(dict)
    standard = standard_population(rules)
    for measure in ("stays", "contacts"):
        strata[measure] = _strata(engine, rules, measure, year, "TRUE")
        rates = direct_standardised_rates(
            engine, rules, year=year, measure=measure, standard=standard
        )
        for row in rates.to_pylist():
            standardised[str(row["residence"])][measure] = (
                float(row["standardised_per_1000"]),
                float(row["ci_low"]),
                float(row["ci_high"]),
            )
    return YearIndicators(
        year=year,
        threshold=threshold,
        residences=residences,
        tertials=tertials,
        chapters=chapters,
        blocks=blocks,
        chapter_labels=chapter_labels,
        block_labels=block_labels,
        strata=strata,
        standard=standard,
        standardised=dict(standardised),
        cofinancing=cofinancing,
    )


def _tertials(engine: Engine, year: int) -> dict[tuple[int, int], dict[str, dict[str, int]]]:
    present = engine.query("SELECT DISTINCT f.year AS y FROM contact_facts AS f")
    years = sorted(int(y) for y in present["y"].to_pylist() if y is not None and int(y) <= year)
    out: dict[tuple[int, int], dict[str, dict[str, int]]] = {}
    for y in years[-TREND_YEARS:]:
        population = population_in_borders(engine, y, borders=year)
        for tertial, (first, last) in TERTIAL_MONTHS.items():
            where = f"f.year = {y} AND f.month BETWEEN {first} AND {last}"
            cells: dict[str, dict[str, int]] = {m: {"population": n} for m, n in population.items()}
            _merge(
                cells,
                _by_residence(
                    activity_counts(engine, by=("residence",), where=where),
                    {"contacts": "contacts", "patients": "contacts_patients"},
                ),
            )
            _merge(
                cells,
                _by_residence(
                    activity_counts(engine, by=("residence",), where=f"{where} AND f.is_stay = 1"),
                    {"stays": "stays", "patients": "stays_patients"},
                ),
            )
            out[(y, tertial)] = cells
    return out


def _diagnoses(
    engine: Engine, year: int
) -> tuple[dict[str, dict[str, dict[str, int]]], dict[str, dict[str, dict[str, int]]]]:
    found = []
    for level in ("icd_chapter", "icd_block"):
        table = activity_counts(
            engine, by=("residence", level), where=f"f.year = {int(year)} AND f.is_stay = 1"
        )
        grouped: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
        for row in table.to_pylist():
            grouped[str(row["residence"])][str(row[level])] = {
                "stays": int(row["stays"] or 0),
                "bed_days": int(row["bed_days"] or 0),
                "patients": int(row["patients"] or 0),
            }
        found.append(dict(grouped))
    return found[0], found[1]


def municipality_peers(engine: Engine, rules: RuleSet, code: str, year: int) -> list[PeerGroup]:
    """The peer groups of ``code`` in ``year``'s borders (a portal computation)."""
    return peer_groups(engine, code, year, rules, borders=year)


# ----------------------------------------------------------------------------- the page


@dataclass(frozen=True)
class Cell:
    """One published value: the number, or the mark saying why there is none."""

    value: Decimal | None
    mark: str = ""

    @property
    def shown(self) -> Decimal | None:
        """The value a chart may draw (``None`` when suppressed or missing)."""
        return None if self.mark else self.value


@dataclass(frozen=True)
class AreaColumn:
    """A column of the comparison: the municipality, a peer group or the country."""

    key: str
    label: str
    short: str
    members: tuple[str, ...]


def _sum(indicators: Mapping[str, Mapping[str, Any]], members: Iterable[str], key: str) -> Any:
    total: Any = 0
    for member in members:
        value = indicators.get(member, {}).get(key)
        if value is not None:
            total += value
    return total


def publish(value: Decimal | None, patients: int, threshold: int) -> Cell:
    """``value`` unless it rests on 1 to ``threshold`` − 1 patients (then ``:``)."""
    if 0 < patients < threshold:
        return Cell(None, SUPPRESSED)
    if value is None:
        return Cell(None, MISSING)
    return Cell(value)


def _ratio(numerator: Any, denominator: Any, scale: int) -> Decimal | None:
    if not denominator:
        return None
    return Decimal(numerator) * scale / Decimal(denominator)


def pooled_standardised_rate(
    events: Strata,
    population: Strata,
    standard: Mapping[tuple[int, int], int],
    members: AbstractSet[str],
) -> Decimal | None:
    """The directly standardised rate per 1 000 of the inhabitants of ``members`` together.

    Events and inhabitants are summed per stratum (sex, age group) over the members, then
    weighted by the standard population exactly as
    :func:`~samhandling.indicators.standardisation.direct_standardised_rates` weighs one
    municipality's strata (strata without inhabitants carry no weight).
    """
    d: dict[tuple[int, int], int] = defaultdict(int)
    n: dict[tuple[int, int], int] = defaultdict(int)
    for (m, s, g), count in population.items():
        if m in members:
            n[(s, g)] += count
    if not any(n.values()):
        return None
    for (m, s, g), count in events.items():
        if m in members:
            d[(s, g)] += count
    total = Decimal(sum(standard.values()))
    rate = sum(
        (
            Decimal(standard.get(k, 0)) / total * Decimal(d.get(k, 0)) / Decimal(inhabitants)
            for k, inhabitants in n.items()
            if inhabitants > 0
        ),
        Decimal(0),
    )
    return rate * 1000


@dataclass(frozen=True)
class KeyRow:
    """A key indicator across the comparison's columns."""

    key: str
    label: str
    unit: str
    decimals: int
    cells: tuple[Cell, ...]
    note: str = ""


def key_rows(ind: YearIndicators, columns: Sequence[AreaColumn]) -> list[KeyRow]:
    """The key indicators (crude and standardised rates, shares) for each column."""
    r = ind.residences
    t = ind.threshold

    def rate(measure: str, patients: str, scale: int = 1000) -> tuple[Cell, ...]:
        return tuple(
            publish(
                _ratio(_sum(r, c.members, measure), _sum(r, c.members, "population"), scale),
                _sum(r, c.members, patients),
                t,
            )
            for c in columns
        )

    def standardised(measure: str, patients: str) -> tuple[Cell, ...]:
        events, population = ind.strata[measure]
        return tuple(
            publish(
                pooled_standardised_rate(events, population, ind.standard, set(c.members)),
                _sum(r, c.members, patients),
                t,
            )
            for c in columns
        )

    def share(definition: str) -> tuple[Cell, ...]:
        return tuple(
            publish(
                _ratio(
                    _sum(r, c.members, f"readm_{definition}"),
                    _sum(r, c.members, f"readm_{definition}_index"),
                    100,
                ),
                _sum(r, c.members, f"readm_{definition}_patients"),
                t,
            )
            for c in columns
        )

    rows = [
        KeyRow("kontakter", "Kontakter per 1 000 innbyggere", "rå rate", 1,
               rate("contacts", "contacts_patients")),
        KeyRow("kontakter_std", "Kontakter per 1 000 innbyggere", "standardisert", 1,
               standardised("contacts", "contacts_patients")),
        KeyRow("opphold", "Døgnopphold per 1 000 innbyggere", "rå rate", 1,
               rate("stays", "stays_patients")),
        KeyRow("opphold_std", "Døgnopphold per 1 000 innbyggere", "standardisert", 1,
               standardised("stays", "stays_patients")),
        KeyRow("liggedogn", "Liggedøgn per 1 000 innbyggere", "rå rate", 1,
               rate("bed_days", "stays_patients")),
        KeyRow("akutt_medisinsk", "Øyeblikkelig hjelp-innleggelser med medisinsk DRG per 1 000",
               "rå rate", 1, rate("emergency", "emergency_patients")),
        KeyRow("overliggerdogn", "Overliggerdøgn per 1 000 innbyggere", "rå rate", 1,
               rate("overligger", "overligger_patients")),
    ]  # fmt: skip
    if ind.cofinancing:
        rows.append(
            KeyRow(
                "kmf",
                "Kommunal medfinansiering per innbygger",
                "kroner",
                2,
                rate("cofinancing", "cofinancing_patients", scale=1),
            )
        )
    rows += [
        KeyRow("reinnlagt", "Reinnleggelser innen 30 dager (styringsdata)", "prosent", 1,
               share("steering")),
        KeyRow("reinnlagt_67", "Reinnleggelser av pasienter 67 år og eldre "
               "(nasjonal kvalitetsindikator)", "prosent", 1, share("quality")),
    ]  # fmt: skip
    return rows


def round_half_up(value: Decimal | None, decimals: int) -> Decimal | None:
    if value is None:
        return None
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class TertialRow:
    """Contacts and stays per 1 000 inhabitants in one tertial: municipality and country."""

    label: str
    contacts: Cell
    stays: Cell
    country_contacts: Cell
    country_stays: Cell


def tertial_rows(ind: YearIndicators, own: AreaColumn, country: AreaColumn) -> list[TertialRow]:
    rows = []
    for (y, tertial), cells in sorted(ind.tertials.items()):

        def cell(column: AreaColumn, measure: str, cells: Mapping[str, Any] = cells) -> Cell:
            return publish(
                _ratio(_sum(cells, column.members, measure),
                       _sum(cells, column.members, "population"), 1000),
                _sum(cells, column.members, f"{measure}_patients"),
                ind.threshold,
            )  # fmt: skip

        rows.append(
            TertialRow(
                f"{y} {tertial}. tertial",
                cell(own, "contacts"),
                cell(own, "stays"),
                cell(country, "contacts"),
                cell(country, "stays"),
            )
        )
    return rows


@dataclass(frozen=True)
class DiagnosisRow:
    """Stays and bed days of one ICD-10 chapter (or block): the municipality and the country."""

    code: str
    label: str
    stays: Cell
    bed_days: Cell
    share_of_bed_days: Cell
    stays_per_1000: Cell
    country_stays_per_1000: Cell


def diagnosis_rows(
    ind: YearIndicators,
    own: AreaColumn,
    country: AreaColumn,
    *,
    level: str = "chapter",
    limit: int = 10,
) -> list[DiagnosisRow]:
    """The groups with the most bed days among the municipality's residents (published ones).

    Groups whose patients are under the threshold are left out of the ranking (their size
    would otherwise show through the order).
    """
    groups = ind.chapters if level == "chapter" else ind.blocks
    labels = ind.chapter_labels if level == "chapter" else ind.block_labels
    t = ind.threshold
    own_groups: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for member in own.members:
        for group, counts in groups.get(member, {}).items():
            for k, v in counts.items():
                own_groups[group][k] += v
    country_groups: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for member in country.members:
        for group, counts in groups.get(member, {}).items():
            for k, v in counts.items():
                country_groups[group][k] += v
    own_population = _sum(ind.residences, own.members, "population")
    country_population = _sum(ind.residences, country.members, "population")
    total_bed_days = sum(g["bed_days"] for g in own_groups.values())
    published = {g: c for g, c in own_groups.items() if not 0 < c["patients"] < t}
    ranked = sorted(published, key=lambda g: (-published[g]["bed_days"], g))[:limit]
    rows = []
    for group in ranked:
        counts = own_groups[group]
        national = country_groups[group]
        rows.append(
            DiagnosisRow(
                group,
                labels.get(group, "Ukjent eller ugyldig diagnose" if group == "ukjent" else group),
                Cell(Decimal(counts["stays"])),
                Cell(Decimal(counts["bed_days"])),
                publish(_ratio(counts["bed_days"], total_bed_days, 100), counts["patients"], t),
                publish(_ratio(counts["stays"], own_population, 1000), counts["patients"], t),
                publish(
                    _ratio(national["stays"], country_population, 1000), national["patients"], t
                ),
            )
        )
    return rows


def comparison_columns(
    ind: YearIndicators, code: str, name: str, peers: Sequence[PeerGroup]
) -> list[AreaColumn]:
    """The municipality, each of its peer groups, and the country (every residence)."""
    columns = [AreaColumn("kommune", f"{name} ({code})", name, (code,))]
    columns += [
        AreaColumn(p.kind, p.label, PEER_SHORT.get(p.kind, p.label), tuple(p.members))
        for p in peers
    ]
    columns.append(AreaColumn("landet", "Hele landet", "Landet", tuple(sorted(ind.residences))))
    return columns


def page_context(
    ind: YearIndicators, code: str, name: str, peers: Sequence[PeerGroup]
) -> dict[str, Any]:
    """Everything Min kommune's indicator sections show, charts and their tables."""
    from samhandling.web.charts import Series, bar_chart

    columns = comparison_columns(ind, code, name, peers)
    own, country = columns[0], columns[-1]
    rows = key_rows(ind, columns)
    by_key = {row.key: row for row in rows}
    year = ind.year
    stays_chart = bar_chart(
        "nokkel-chart",
        f"Døgnopphold per 1 000 innbyggere {year}: {name}, sammenlignbare kommuner og landet",
        [c.short for c in columns],
        [
            Series("Rå rate", tuple(c.shown for c in by_key["opphold"].cells)),
            Series("Standardisert", tuple(c.shown for c in by_key["opphold_std"].cells)),
        ],
        description="Rå og alders- og kjønnsstandardisert rate; tallene står i tabellen under.",
        decimals=1,
    )
    readmission_chart = bar_chart(
        "reinnlagt-chart",
        f"Reinnleggelser {year}, prosent",
        [c.short for c in columns],
        [
            Series("Styringsdata", tuple(c.shown for c in by_key["reinnlagt"].cells)),
            Series("67 år og eldre", tuple(c.shown for c in by_key["reinnlagt_67"].cells)),
        ],
        description="Andel reinnleggelser etter begge definisjoner; tallene står i tabellen under.",
        decimals=1,
    )
    trend = tertial_rows(ind, own, country)
    trend_chart = bar_chart(
        "tertial-chart",
        f"Døgnopphold per 1 000 innbyggere per tertial: {name} og landet",
        [r.label.replace(". tertial", ". t.") for r in trend],
        [
            Series(name, tuple(r.stays.shown for r in trend)),
            Series("Landet", tuple(r.country_stays.shown for r in trend)),
        ],
        description="Døgnopphold per 1 000 innbyggere i hvert tertial; tallene står i tabellen "
        "under.",
        decimals=1,
    )
    chapters = diagnosis_rows(ind, own, country, level="chapter")
    blocks = diagnosis_rows(ind, own, country, level="block")
    diagnosis_chart = (
        bar_chart(
            "diagnose-chart",
            f"Døgnopphold per 1 000 innbyggere etter diagnosekapittel {year}: {name} og landet",
            [f"Kap. {r.code}" for r in chapters],
            [
                Series(name, tuple(r.stays_per_1000.shown for r in chapters)),
                Series("Landet", tuple(r.country_stays_per_1000.shown for r in chapters)),
            ],
            description="ICD-10-kapitlene med flest liggedøgn blant kommunens innbyggere; "
            "tallene står i tabellen under.",
            decimals=1,
        )
        if chapters
        else None
    )
    return {
        "columns": columns,
        "key_rows": rows,
        "stays_chart": stays_chart,
        "readmission_rows": [by_key["reinnlagt"], by_key["reinnlagt_67"]],
        "readmission_chart": readmission_chart,
        "trend": trend,
        "trend_chart": trend_chart,
        "chapters": chapters,
        "blocks": blocks,
        "diagnosis_chart": diagnosis_chart,
        "threshold": ind.threshold,
    }
