"""The table catalogue: the steering-data tables (styringsdatatabeller) users can slice.

Each table is a cube (see :mod:`samhandling.tables.cube`). Ids follow PxWeb habit (short, stable):

* ``SD01`` contacts, stays, bed days and patients by residence, tertial/year, sector and care
  level
* ``SD02`` somatic activity by residence, tertial/year, sex and age (steering-data bands)
* ``SD03`` somatic inpatient stays by residence, tertial/year and discharge destination
* ``SD04`` somatic activity by residence, tertial/year and main diagnosis (ICD-10 chapter, and
  the diabetes block)
* ``SD05`` somatic inpatient stays by residence, tertial/year, urgency and DRG type (length of stay)
* ``SD06`` co-financing and discharge-ready payments (kroner, per inhabitant) by residence and
  month/tertial/year
* ``SD07`` discharge-ready stays and overliggerdøgn by residence, tertial/year and sector
* ``SD08`` readmissions under both definitions (steering data; national quality indicator) by
  residence and tertial/year
* ``SD09`` somatic stays per 1 000 inhabitants, crude, directly and indirectly age/sex
  standardised, by municipality and year (:mod:`samhandling.tables.standardised`)
* ``SD10``-``SD12`` the detail a municipal cell cannot carry, for the counties, catchment areas,
  RHFs and the country: SD01 by month, SD02 by 5-year age group, SD04 by ICD-10 block (the same
  numbers as their parents where both publish a cell: ``CATALOG_LINKS``)

Each table's notes state its definitions. Discharge destinations (labels and subtotal groups)
are the rule tables ``indicators.discharge_destinations`` and
``indicators.discharge_destination_groups``.
"""

from __future__ import annotations

import contextvars
import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from samhandling.contract import CARE_LEVELS, DISCHARGED_TO, SECTORS
from samhandling.engine import Engine
from samhandling.errors import RuleError
from samhandling.indicators.facts import (
    FACTS,
    UNKNOWN_RESIDENCE,
    episode_years,
    fact_districts,
    fact_years,
    in_years,
    register_contact_facts,
)
from samhandling.indicators.payments import (
    PAYMENT_FACTS,
    payment_facts_of_years,
    prepare_payment_facts,
)
from samhandling.indicators.peers import PeerGroup
from samhandling.indicators.readmission import READMISSION_FACTS, register_readmission_facts
from samhandling.rules import RuleSet, rules_day
from samhandling.tables.cube import (
    CountedCube,
    CubeSpec,
    DerivedMeasure,
    Measure,
    ProtectedCube,
    counted_cube,
)
from samhandling.tables.dimensions import (
    TOTAL,
    Dimension,
    age_dimension,
    category_dimension,
    grouped_category_dimension,
    period_dimension,
    region_dimension,
    sex_dimension,
)
from samhandling.tables.disclosure import PUBLISHED, disclosure_threshold, secondary_method
from samhandling.tables.gauss import linked_patterns
from samhandling.tables.hypercube import Protection, axis_components
from samhandling.tables.standardised import (
    Rates,
    counting_spec,
    standardised_rates,
    standardised_spec,
    with_standardised_rates,
)

__all__ = [
    "CATALOG_LINKS",
    "CHAPTER_PREFIX",
    "MUNICIPAL_BLOCKS",
    "REST_SUFFIX",
    "UNKNOWN_DIAGNOSIS",
    "Catalog",
    "LinkedCells",
    "LinkedView",
    "build_catalog",
    "catalog_districts",
    "catalog_specs",
    "destination_dimension",
    "diagnosis_dimension",
    "link_pairs",
    "link_protection",
    "link_weights",
    "linked_rows",
]

SECTOR_LABELS = {
    "somatic": "Somatikk",
    "mental_health": "Psykisk helsevern",
    "substance_abuse": "Tverrfaglig spesialisert rusbehandling",
    "rehabilitation": "Rehabilitering",
}
CARE_LEVEL_LABELS = {
    "inpatient": "Døgnopphold",
    "day": "Dagbehandling",
    "outpatient": "Poliklinisk kontakt",
}

CONTACTS = Measure("kontakter", "Kontakter", "COUNT(*)", "kontakter")
STAYS = Measure("opphold", "Døgnopphold", "SUM(f.is_stay)", "opphold")
DAY = Measure("dagbehandlinger", "Dagbehandlinger", "SUM(f.is_day)", "kontakter")
OUTPATIENT = Measure(
    "polikliniske", "Polikliniske konsultasjoner", "SUM(f.is_outpatient)", "kontakter"
)
BED_DAYS = Measure("liggedogn", "Liggedøgn", "SUM(f.bed_days)", "døgn")

PER_1000 = 1000


def _rate(measure: str, label: str) -> DerivedMeasure:
    return DerivedMeasure(
        f"{measure}_per_1000", label, measure, "population", PER_1000, "per 1 000 innbyggere", 1
    )


AVG_LOS = DerivedMeasure(
    "gj_liggetid", "Gjennomsnittlig liggetid", "liggedogn", "opphold", 1, "døgn", 2
)

# SD06: money summed in whole øre (two decimals), published in kroner (see cube.Measure).
COFINANCING = Measure("medfinansiering", "Kommunal medfinansiering", "SUM(f.kmf_ore)", "kroner", 2)
DR_PAYMENT = Measure(
    "utskrivningsklar_betaling",
    "Betaling for utskrivningsklare pasienter",
    "SUM(f.dr_ore)",
    "kroner",
    2,
)
DR_BILLED_DAYS = Measure(
    "utskrivningsklar_dogn", "Fakturerte utskrivningsklare døgn", "SUM(f.dr_days)", "døgn"
)

# SD07: same definitions as indicators.discharge.discharge_ready.
OVERLIGGER_SQL = (
    "SUM(CASE WHEN CAST(f.discharged_at AS DATE) > f.discharge_ready_at "
    "THEN DATEDIFF('day', f.discharge_ready_at, CAST(f.discharged_at AS DATE)) ELSE 0 END)"
)
READY_STAYS = Measure(
    "utskrivningsklare_opphold", "Opphold med utskrivningsklar-dato", "COUNT(*)", "opphold"
)
OVERLIGGER = Measure("overliggerdogn", "Overliggerdøgn", OVERLIGGER_SQL, "døgn")

# SD08: index episodes and readmissions of both definitions (indicators.readmission).
IDX_STEERING = Measure(
    "indeks_styring", "Indeksepisoder (styringsdata)", "SUM(f.idx_steering)", "episoder"
)
RE_STEERING = Measure(
    "reinnlagt_styring", "Reinnleggelser (styringsdata)", "SUM(f.re_steering)", "episoder"
)
IDX_QUALITY = Measure(
    "indeks_kvalitet",
    "Indeksepisoder 67+ (kvalitetsindikator)",
    "SUM(f.idx_quality)",
    "episoder",
)
RE_QUALITY = Measure(
    "reinnlagt_kvalitet",
    "Reinnleggelser 67+ (kvalitetsindikator)",
    "SUM(f.re_quality)",
    "episoder",
)
PERCENT = 100


CHAPTER_PREFIX = "K"  # the diagnosis code of an ICD-10 chapter: K + the roman numeral
UNKNOWN_DIAGNOSIS = "ukjent"  # stays without a valid main diagnosis (chapter and block level)
REST_SUFFIX = "_annet"  # K<chapter>_annet: a chapter's blocks that a table does not show
# The blocks of the tables of every region level (SD04): diabetes, as the steering data and
# acceptance question 4 ask for it per municipality; the other blocks are in SD12 (upper levels).
MUNICIPAL_BLOCKS = ("E10-E14",)

DESTINATIONS = "indicators.discharge_destinations"
DESTINATION_GROUPS = "indicators.discharge_destination_groups"
GROUP_PREFIX = "G_"


def destination_dimension(rules: RuleSet, on: date) -> Dimension:
    """Discharge destination (utskrevet til) with the municipal-services subtotal, from rules.

    Labels are rule ``indicators.discharge_destinations`` (key = interchange value, note = the
    group); groups with two or more destinations are published as subtotals coded
    ``G_<group>`` with the label of rule ``indicators.discharge_destination_groups``. Every
    interchange value must have a label: a stay is never left out of a table. The labels are
    those in force on ``on``; a destination introduced later (KAD, 2012, in a table of 2011)
    keeps the label it is introduced with.
    """
    rows = rules[DESTINATIONS].names_on(on)
    wanted = (*DISCHARGED_TO, "unknown")
    missing = [d for d in wanted if d not in rows]
    if missing:
        raise RuleError(
            f"Regelen {DESTINATIONS} mangler utskrivningssted {', '.join(missing)} per {on}"
        )
    values = [(d, rows[d].value) for d in wanted]
    group_labels = rules[DESTINATION_GROUPS].keys_on(on)
    members: dict[str, list[str]] = {}
    for d in wanted:
        group = rows[d].note
        if group:
            if group not in group_labels:
                raise RuleError(f"Regelen {DESTINATIONS}: ukjent gruppe «{group}» for {d}")
            members.setdefault(group, []).append(d)
    groups = [
        (f"{GROUP_PREFIX}{g}", group_labels[g].value, tuple(m))
        for g, m in members.items()
        if len(m) > 1
    ]
    return grouped_category_dimension(
        "discharged_to",
        "utskrevet til",
        "discharged_to",
        values,
        groups=groups,
        total_label="Alle utskrivningssteder",
    )


def diagnosis_dimension(blocks: pa.Table, *, kept: Sequence[str] | None = None) -> Dimension:
    """Main diagnosis: ICD-10 chapter and block (hovedtilstand), from the facts' block table.

    ``kept`` (block codes) gives the chapters with only these blocks (the tables of every
    region level, municipalities included): a chapter with a kept block gets the rest of the
    chapter as a code of its own (``K<chapter>_annet``), so the chapter is still the sum of its
    parts. ``None``: every block.
    """
    block_codes = [str(v) for v in blocks["icd_block"].to_pylist()]
    chapters = [str(v) for v in blocks["icd_chapter"].to_pylist()]
    block_labels = (
        [str(v) for v in blocks["block_label"].to_pylist()]
        if "block_label" in blocks.column_names
        else block_codes
    )
    chapter_labels = (
        dict(zip(chapters, [str(v) for v in blocks["chapter_label"].to_pylist()], strict=True))
        if "chapter_label" in blocks.column_names
        else {c: f"Kapittel {c}" for c in chapters}
    )
    shown = set(block_codes if kept is None else kept)
    with_kept = {c for b, c in zip(block_codes, chapters, strict=True) if b in shown}
    chapter_parts: dict[str, list[str]] = {}
    mapping: list[tuple[str, str]] = []
    rest_codes: list[tuple[str, str]] = []
    for block, chapter in zip(block_codes, chapters, strict=True):
        code = f"{CHAPTER_PREFIX}{chapter}"
        mapping += [(block, code), (block, TOTAL)]
        if block in shown:
            mapping.append((block, block))
            chapter_parts.setdefault(code, []).append(block)
        elif chapter in with_kept:
            rest = f"{code}{REST_SUFFIX}"
            mapping.append((block, rest))
            if rest not in chapter_parts.setdefault(code, []):
                chapter_parts[code].append(rest)
                kept_here = [k for k, c in zip(block_codes, chapters, strict=True) if c == chapter]
                others = ", ".join(k for k in kept_here if k in shown)
                rest_codes.append((rest, f"Andre diagnoser i kapittel {chapter} (utenom {others})"))
    mapping += [(UNKNOWN_DIAGNOSIS, UNKNOWN_DIAGNOSIS), (UNKNOWN_DIAGNOSIS, TOTAL)]
    codes = [(TOTAL, "Alle diagnoser")]
    for chapter in dict.fromkeys(chapters):
        codes.append((f"{CHAPTER_PREFIX}{chapter}", chapter_labels[chapter]))
    codes += [
        (b, f"{b} {label}")
        for b, label in zip(block_codes, block_labels, strict=True)
        if b in shown
    ]
    codes += rest_codes
    codes.append((UNKNOWN_DIAGNOSIS, "Ukjent eller ugyldig diagnose"))
    lines = [
        (TOTAL, (*dict.fromkeys(f"{CHAPTER_PREFIX}{c}" for c in chapters), UNKNOWN_DIAGNOSIS)),
        *[(k, tuple(v)) for k, v in chapter_parts.items()],
    ]
    return Dimension(
        id="diagnosis",
        label="hovedtilstand (ICD-10)",
        key_sql="f.icd_block",
        mapping=tuple(mapping),
        codes=tuple(codes),
        lines=tuple(lines),
        total=TOTAL,
    )


def catalog_specs(
    rules: RuleSet,
    *,
    borders: int,
    years: Sequence[int],
    blocks: pa.Table,
    districts: Sequence[tuple[str, str, str]] = (),
) -> list[CubeSpec]:
    """The catalogue's tables for data years ``years`` in the borders of ``borders``.

    ``districts`` (municipality, city district, label) adds city districts to the region of
    the tables counted from contact facts (the payment and readmission facts carry none).
    Every rule (labels, groups, bands) is read for the last day of the latest data year
    (:func:`~samhandling.rules.rules_day`).
    """
    on = rules_day(years)
    region = region_dimension(borders, districts)
    plain_region = region_dimension(borders)
    # The detail a municipal cell could not carry (months × sector × care level, 5-year age
    # groups × sex × tertial, ICD-10 blocks) is published in tables of the upper levels
    # (SD10-SD12); docs/indicators.md, "Table design by level".
    upper = region_dimension(borders, municipalities=False)
    months = period_dimension(years, months=True)
    tertials = period_dimension(years, months=False)
    somatic = "f.sector = 'somatic'"
    sector = category_dimension(
        "sector", "sektor", "sector", [(s, SECTOR_LABELS[s]) for s in SECTORS], "Alle sektorer"
    )
    care = category_dimension(
        "care_level",
        "omsorgsnivå",
        "care_level",
        [(c, CARE_LEVEL_LABELS[c]) for c in CARE_LEVELS],
        "Alle omsorgsnivåer",
    )
    destination = destination_dimension(rules, on)
    urgency = category_dimension(
        "urgency",
        "hastegrad",
        "urgency",
        [("emergency", "Øyeblikkelig hjelp"), ("elective", "Planlagt")],
        "All hastegrad",
    )
    drg_type = category_dimension(
        "drg_type",
        "DRG-type",
        "drg_type",
        [("M", "Medisinsk DRG"), ("K", "Kirurgisk DRG"), ("U", "Uten DRG")],
        "Alle DRG-typer",
    )
    activity = (CONTACTS, STAYS, DAY, OUTPATIENT, BED_DAYS)
    activity_rates = (
        _rate("kontakter", "Kontakter per 1 000 innbyggere"),
        _rate("pasienter", "Pasienter per 1 000 innbyggere"),
        AVG_LOS,
    )
    somatic_rates = (
        _rate("opphold", "Døgnopphold per 1 000 innbyggere"),
        _rate("kontakter", "Kontakter per 1 000 innbyggere"),
        _rate("pasienter", "Pasienter per 1 000 innbyggere"),
        AVG_LOS,
    )
    upper_note = (
        "Bosted: fylke, opptaksområde (helseforetak), helseregion og landet. Kommunene har "
        "de samme tallene med grovere inndeling i tabell {table}: en kommunecelle med denne "
        "detaljen ville for det meste være prikket."
    )
    return [
        CubeSpec(
            id="SD01",
            title="Kontakter, døgnopphold, liggedøgn og pasienter etter bosted, periode, sektor "
            "og omsorgsnivå",
            description="All specialist activity of residents by tertial and year (months by "
            "county, health trust, RHF and the country: SD10).",
            dimensions=(region, tertials, sector, care),
            measures=activity,
            derived=activity_rates,
        ),
        CubeSpec(
            id="SD02",
            title="Somatikk: kontakter, døgnopphold og pasienter etter bosted, periode, kjønn "
            "og alder",
            description="Somatic activity of residents by sex and steering-data age band "
            "(5-year groups by county, health trust, RHF and the country: SD11).",
            dimensions=(
                region,
                tertials,
                sex_dimension(),
                age_dimension(rules, on, five_year=False),
            ),
            measures=activity,
            derived=somatic_rates,
            where=somatic,
        ),
        CubeSpec(
            id="SD03",
            title="Somatiske døgnopphold etter bosted, periode og utskrivningssted",
            description="Somatic inpatient stays of residents by discharge destination.",
            dimensions=(region, tertials, destination),
            measures=(STAYS, BED_DAYS),
            derived=(AVG_LOS,),
            where=f"{somatic} AND f.is_stay = 1",
        ),
        CubeSpec(
            id="SD04",
            title="Somatikk: døgnopphold og polikliniske konsultasjoner etter bosted, periode og "
            "hovedtilstand",
            description="Somatic activity of residents by ICD-10 chapter of the main diagnosis, "
            "with the diabetes block E10-E14 (every block by county, health trust, RHF and the "
            "country: SD12).",
            dimensions=(region, tertials, diagnosis_dimension(blocks, kept=MUNICIPAL_BLOCKS)),
            measures=activity,
            where=somatic,
        ),
        CubeSpec(
            id="SD05",
            title="Somatiske døgnopphold og liggetid etter bosted, periode, hastegrad og DRG-type",
            description="Somatic inpatient stays by urgency and DRG type; emergency medical "
            "admissions are urgency=emergency, drg_type=M.",
            dimensions=(region, tertials, urgency, drg_type),
            measures=(STAYS, BED_DAYS),
            derived=(AVG_LOS,),
            where=f"{somatic} AND f.is_stay = 1",
        ),
        CubeSpec(
            id="SD06",
            title="Kommunal medfinansiering og betaling for utskrivningsklare pasienter etter "
            "bosted og periode",
            description="What residents' hospital use cost the municipality: co-financing and "
            "discharge-ready payments, in kroner and per inhabitant.",
            dimensions=(plain_region, months),
            measures=(COFINANCING, DR_PAYMENT, DR_BILLED_DAYS),
            derived=(
                DerivedMeasure(
                    "medfinansiering_per_innbygger",
                    "Kommunal medfinansiering per innbygger",
                    COFINANCING.id,
                    "population",
                    1,
                    "kroner",
                    2,
                ),
                DerivedMeasure(
                    "utskrivningsklar_betaling_per_innbygger",
                    "Betaling for utskrivningsklare pasienter per innbygger",
                    DR_PAYMENT.id,
                    "population",
                    1,
                    "kroner",
                    2,
                ),
            ),
            facts=PAYMENT_FACTS,
            notes=(
                "Kommunal medfinansiering: beløpet per episode fra samhandling.instruments "
                "(forskrift 18.11.2011 nr. 1115, regelsett oppgitt i tabellen), datert etter "
                "aktivitetsdato og plassert etter pasientens bostedskommune.",
                "Betaling for utskrivningsklare pasienter: fakturerte døgn × døgnpris (regel "
                "discharge_ready.daily_rate), datert etter fakturamåned og plassert etter "
                "betalende kommune.",
                "Per innbygger: beløp / folkemengde 1. januar i året, avrundet til øre.",
                "Pasienter = pasienter med minst ett beløp i cellen (grunnlag for prikking).",
                "Måned også for kommunene: beløpene faktureres per måned.",
            ),
        ),
        CubeSpec(
            id="SD07",
            title="Utskrivningsklare pasienter og overliggerdøgn etter bosted, periode og sektor",
            description="Inpatient stays with a discharge-ready date and the days from that "
            "date to discharge (overliggerdøgn).",
            dimensions=(region, tertials, sector),
            measures=(READY_STAYS, OVERLIGGER),
            derived=(
                DerivedMeasure(
                    "overliggerdogn_per_1000",
                    "Overliggerdøgn per 1 000 innbyggere",
                    OVERLIGGER.id,
                    "population",
                    PER_1000,
                    "per 1 000 innbyggere",
                    1,
                ),
                DerivedMeasure(
                    "gj_overliggerdogn",
                    "Gjennomsnittlig antall overliggerdøgn per opphold",
                    OVERLIGGER.id,
                    READY_STAYS.id,
                    1,
                    "døgn",
                    2,
                ),
            ),
            where="f.is_stay = 1 AND f.discharge_ready_at IS NOT NULL",
            notes=(
                "Utskrivningsklare opphold: døgnopphold med utskrivningsklar-dato (NPR "
                "utskrklardato), datert etter utskrivningsdato.",
                "Overliggerdøgn: kalenderdøgn fra utskrivningsklar-dato til utskrivning "
                "(statistikken, ikke de fakturerte døgnene i SD06).",
            ),
        ),
        CubeSpec(
            id="SD08",
            title="Reinnleggelser etter bosted og periode (styringsdata og nasjonal "
            "kvalitetsindikator)",
            description="Readmissions under both definitions, after merging stays less than "
            "8 hours apart into episodes of care.",
            dimensions=(plain_region, tertials),
            measures=(IDX_STEERING, RE_STEERING, IDX_QUALITY, RE_QUALITY),
            derived=(
                DerivedMeasure(
                    "andel_reinnlagt_styring",
                    "Andel reinnlagt (styringsdata)",
                    RE_STEERING.id,
                    IDX_STEERING.id,
                    PERCENT,
                    "prosent",
                    1,
                ),
                DerivedMeasure(
                    "andel_reinnlagt_kvalitet",
                    "Andel reinnlagt 67+ (kvalitetsindikator)",
                    RE_QUALITY.id,
                    IDX_QUALITY.id,
                    PERCENT,
                    "prosent",
                    1,
                ),
            ),
            facts=READMISSION_FACTS,
            notes=(
                "Opphold som begynner mindre enn 8 timer etter forrige utskrivning slås sammen "
                "til ett sykehusopphold (regler readmission.steering/readmission.quality).",
                "Styringsdata: øyeblikkelig hjelp-innleggelse 1–30 døgn etter utskrivning fra "
                "et døgnopphold (rehabilitering unntatt).",
                "Kvalitetsindikator: pasienter 67 år og eldre, hovedtilstand i en av 11 "
                "indeksgrupper (regel readmission.quality_index_groups), øyeblikkelig "
                "hjelp-innleggelse 8 timer–30 døgn etter utskrivning.",
                "Periode = utskrivning fra indeksoppholdet; de siste 30 døgnene av siste år "
                "mangler oppfølging.",
            ),
        ),
        standardised_spec(plain_region, years),
        CubeSpec(
            id="SD10",
            title="Kontakter, døgnopphold, liggedøgn og pasienter etter bosted (fylke, "
            "helseforetak, helseregion og landet), måned, sektor og omsorgsnivå",
            description="All specialist activity of residents by month, tertial and year, for "
            "the upper region levels (municipalities: SD01, tertials and years).",
            dimensions=(upper, months, sector, care),
            measures=activity,
            derived=activity_rates,
            notes=(upper_note.format(table="SD01"),),
        ),
        CubeSpec(
            id="SD11",
            title="Somatikk: kontakter, døgnopphold og pasienter etter bosted (fylke, "
            "helseforetak, helseregion og landet), periode, kjønn og alder (femårige "
            "aldersgrupper)",
            description="Somatic activity of residents by sex, 5-year age group and "
            "steering-data age band, for the upper region levels (municipalities: SD02).",
            dimensions=(upper, tertials, sex_dimension(), age_dimension(rules, on)),
            measures=activity,
            derived=somatic_rates,
            where=somatic,
            notes=(upper_note.format(table="SD02"),),
        ),
        CubeSpec(
            id="SD12",
            title="Somatikk: døgnopphold og polikliniske konsultasjoner etter bosted (fylke, "
            "helseforetak, helseregion og landet), periode og hovedtilstand (ICD-10-kapittel "
            "og -blokk)",
            description="Somatic activity of residents by ICD-10 chapter and block of the main "
            "diagnosis, for the upper region levels (municipalities: SD04, chapters).",
            dimensions=(upper, tertials, diagnosis_dimension(blocks)),
            measures=activity,
            where=somatic,
            notes=(upper_note.format(table="SD04"),),
        ),
    ]


# ----------------------------------------------------------------------------- linked tables


@dataclass(frozen=True)
class LinkedView:
    """One table's cells of a :class:`LinkedCells`: the codes of its other variables (the rest
    at their totals) and its names of the group's measures (``None``: it does not publish one)."""

    table: str
    at: tuple[tuple[str, str], ...]
    measures: tuple[str | None, ...]


@dataclass(frozen=True)
class LinkedCells:
    """Cells that several tables publish (linked tables): for every combination of codes of
    the ``shared`` variables that the tables have in common (region and period unless said
    otherwise), each view's cell counts the same facts, so its ``measures`` are the same
    numbers (``tests/test_linked_tables.py`` checks that cell by cell)."""

    label: str
    measures: tuple[str, ...]
    views: tuple[LinkedView, ...]
    shared: tuple[str, ...] = ("region", "period")


_ACTIVITY = (*(m.id for m in (CONTACTS, STAYS, DAY, OUTPATIENT, BED_DAYS)), "pasienter")
_STAYS = ("opphold", "liggedogn", "pasienter")
_SOMATIC = (("sector", "somatic"),)
# SD06 and SD08 count other facts; SD07 only stays with a discharge-ready date. The tables of
# the upper region levels (SD10-SD12) publish their parent's cells at the parent's codes: the
# regions above the municipalities, the tertials and years, the steering-data age bands, the
# ICD-10 chapters (and the blocks the parent keeps).
CATALOG_LINKS = (
    LinkedCells(
        "somatikk",
        _ACTIVITY,
        (
            LinkedView("SD01", _SOMATIC, _ACTIVITY),
            LinkedView("SD02", (), _ACTIVITY),
            LinkedView("SD04", (), _ACTIVITY),
            LinkedView("SD10", _SOMATIC, _ACTIVITY),
            LinkedView("SD11", (), _ACTIVITY),
            LinkedView("SD12", (), _ACTIVITY),
        ),
    ),
    LinkedCells(
        "somatiske døgnopphold",
        _STAYS,
        (
            LinkedView("SD01", (*_SOMATIC, ("care_level", "inpatient")), _STAYS),
            LinkedView("SD03", (), _STAYS),
            LinkedView("SD05", (), _STAYS),
            LinkedView("SD09", (), ("opphold", None, "pasienter")),
            LinkedView("SD10", (*_SOMATIC, ("care_level", "inpatient")), _STAYS),
        ),
    ),
    LinkedCells(
        "aktivitet etter sektor og omsorgsnivå",
        _ACTIVITY,
        (LinkedView("SD01", (), _ACTIVITY), LinkedView("SD10", (), _ACTIVITY)),
        ("region", "period", "sector", "care_level"),
    ),
    LinkedCells(
        "somatikk etter kjønn og alder",
        _ACTIVITY,
        (LinkedView("SD02", (), _ACTIVITY), LinkedView("SD11", (), _ACTIVITY)),
        ("region", "period", "sex", "age"),
    ),
    LinkedCells(
        "somatikk etter hovedtilstand",
        _ACTIVITY,
        (LinkedView("SD04", (), _ACTIVITY), LinkedView("SD12", (), _ACTIVITY)),
        ("region", "period", "diagnosis"),
    ),
)
SHARED = ("region", "period")
# What hiding a cell that another table publishes too costs, per such table, relative to an
# unlinked cell (see link_weights; measured in docs/performance.md, "Linked tables").
LINKED_CELL_WEIGHT = 1.0
STANDARDISED_TABLE = "SD09"  # counted and protected as its stays; rates attached after
POPULATION_TABLE = "SD01"  # its region × year cells carry the inhabitants of every table's rates
IntArray = npt.NDArray[np.int64]


def linked_rows(
    cells: pa.Table,
    spec: CubeSpec,
    at: Sequence[tuple[str, str]],
    shared: Sequence[str] = SHARED,
) -> dict[tuple[str, ...], int]:
    """Codes of the ``shared`` variables → row of ``cells``, for the cells of a link's side
    (the other variables at ``at``, else at their totals)."""
    fixed = dict(at)
    mask = np.ones(cells.num_rows, dtype=bool)
    for d in spec.dimensions:
        if d.id not in shared:
            same = pc.equal(cells[d.id].cast(pa.string()), pa.scalar(fixed.get(d.id, d.total)))
            mask &= same.to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(mask)
    columns = [[str(v) for v in cells[s].cast(pa.string()).take(rows).to_pylist()] for s in shared]
    return {key: int(i) for key, i in zip(zip(*columns, strict=True), rows.tolist(), strict=True)}


def link_pairs(
    counted: Mapping[str, CountedCube], links: Sequence[LinkedCells]
) -> list[tuple[str, IntArray, str, IntArray]]:
    """(table, rows, other table, rows) of the common cells of every two views of each link.

    Common cells are those with the same codes of the link's shared variables (the codes both
    tables have). Two tables linked twice (SD01 and SD10: somatic totals and every sector)
    give one pair, each common cell once.
    """
    found: dict[tuple[str, str], list[tuple[IntArray, IntArray]]] = {}
    for link in links:
        views = [v for v in link.views if v.table in counted]
        rows = {
            v.table: linked_rows(counted[v.table].cells, counted[v.table].spec, v.at, link.shared)
            for v in views
        }
        for first, second in itertools.combinations(views, 2):
            rows_a, rows_b = rows[first.table], rows[second.table]
            common = sorted(rows_a.keys() & rows_b.keys())
            at_a = np.array([rows_a[k] for k in common], dtype=np.int64)
            at_b = np.array([rows_b[k] for k in common], dtype=np.int64)
            if (second.table, first.table) in found:
                found[(second.table, first.table)].append((at_b, at_a))
            else:
                found.setdefault((first.table, second.table), []).append((at_a, at_b))
    pairs: list[tuple[str, IntArray, str, IntArray]] = []
    for (a, b), parts in found.items():
        at_a = np.concatenate([p for p, _ in parts])
        at_b = np.concatenate([q for _, q in parts])
        if len(parts) > 1:
            both = np.unique(np.stack([at_a, at_b], axis=1), axis=0)
            at_a, at_b = both[:, 0].copy(), both[:, 1].copy()
        pairs.append((a, at_a, b, at_b))
    return pairs


def link_weights(
    counted: Mapping[str, CountedCube],
    links: Sequence[LinkedCells] = CATALOG_LINKS,
    per_table: float = LINKED_CELL_WEIGHT,
) -> dict[str, npt.NDArray[np.float64]]:
    """Per table, what hiding each cell costs relative to an unlinked one: 1 + ``per_table`` for
    every other table that publishes it (hidden in one, it is hidden in all, and protected there
    too), so protection prefers other cells where it has a choice."""
    weights = {t: np.ones(c.cells.num_rows) for t, c in counted.items()}
    # A cell that k tables publish is in k - 1 pairs on its own side.
    for a, rows_a, b, rows_b in link_pairs(counted, links):
        weights[a][rows_a] += per_table
        weights[b][rows_b] += per_table
    return weights


def link_protection(
    counted: Mapping[str, CountedCube],
    threshold: int,
    links: Sequence[LinkedCells] = CATALOG_LINKS,
    on_round: Callable[[int, Sequence[str]], None] | None = None,
    *,
    certify: bool = True,
) -> int:
    """Make linked tables withhold the same cells; the number of rounds it took.

    ``certify=False`` (after an elimination of all tables in one matrix, where no hidden cell
    is a combination of what all tables publish): a forced cell is only hidden, without a
    certificate of its own; hiding more never discloses anything.

    A cell that one table withholds and another publishes would give the first table's
    protection away. Each such cell is forced hidden in the tables that publish it, which then
    protect it like a primary cell (new secondary cells, perhaps more common cells hidden); the
    rounds go on until no common cell is published in one table and withheld in another. Hidden
    cells only grow, so it ends. Like tau-ARGUS's modular method for linked tables, each table
    is then safe on its own lines with the common cells consistent; the attacker's intervals
    are not proven for all tables' lines at once.
    """
    pairs = link_pairs(counted, links)
    forced = {t: np.zeros(c.cells.num_rows, dtype=bool) for t, c in counted.items()}
    rounds = 0
    while True:
        grown: set[str] = set()
        for a, at_a, b, at_b in pairs:
            hidden = (counted[a].reasons[at_a] != PUBLISHED) | (
                counted[b].reasons[at_b] != PUBLISHED
            )
            for table, at in ((a, at_a), (b, at_b)):
                new = at[hidden & (counted[table].reasons[at] == PUBLISHED)]
                if len(new):
                    forced[table][new] = True
                    grown.add(table)
        if not grown:
            return rounds
        rounds += 1
        if on_round:
            on_round(rounds, sorted(grown))
        for table in sorted(grown):
            if certify:
                counted[table].protect(threshold, forced[table], "hypercube")
            else:
                counted[table].hide(forced[table])


def _period_parts(cube: CountedCube) -> npt.NDArray[np.object_]:
    """Each cell's part of the period: the first code of the codes its period code shares fact
    keys with (a year's months, tertials and the year are one part, named by the year)."""
    coords, axes, *_ = cube.elimination_input()
    at = [d.id for d in cube.spec.dimensions].index("period")
    axis = axes[at]
    label = np.empty(len(axis.codes), dtype=object)
    for group in axis_components(axis):
        label[group] = axis.codes[group[0]]
    return label[coords[:, at]]


def linked_elimination(
    counted: Mapping[str, CountedCube],
    threshold: int,
    links: Sequence[LinkedCells] = CATALOG_LINKS,
    on_year: Callable[[str], None] | None = None,
    workers: int | None = None,
) -> tuple[dict[str, npt.NDArray[np.bool_]], dict[str, npt.NDArray[np.bool_]]]:
    """Gaussian elimination of all tables in one matrix (:func:`gauss.linked_patterns`): per
    table, the cells it hides, and the cells it shares with another table.

    No line adds two years, so each year (each part of the period no key links to another) is
    eliminated on its own: the same result, a matrix a year at a time, on up to ``workers``
    threads (default: the CPUs). ``on_year(part)`` is told each part (its year) as it starts.
    """
    tables = list(counted)
    at = {t: i for i, t in enumerate(tables)}
    pairs = link_pairs(counted, links)
    inputs = {t: counted[t].elimination_input() for t in tables}
    year_of = {t: _period_parts(counted[t]) for t in tables}
    hidden = {t: np.zeros(c.cells.num_rows, dtype=bool) for t, c in counted.items()}
    shared = {t: np.zeros(c.cells.num_rows, dtype=bool) for t, c in counted.items()}
    for a, rows_a, b, rows_b in pairs:
        shared[a][rows_a] = True
        shared[b][rows_b] = True

    def one_year(year: str) -> list[npt.NDArray[np.bool_]]:
        if on_year:
            on_year(year)
        rows = {t: np.flatnonzero(year_of[t] == year) for t in tables}
        local = {}
        for t in tables:
            index = np.full(len(year_of[t]), -1, dtype=np.int64)
            index[rows[t]] = np.arange(len(rows[t]))
            local[t] = index
        same = []
        for a, rows_a, b, rows_b in pairs:
            mine = local[a][rows_a] >= 0
            same.append((at[a], local[a][rows_a[mine]], at[b], local[b][rows_b[mine]]))
        part = [
            (coords[rows[t]], axes, patients[rows[t]], cost[rows[t]], lines)
            for t in tables
            for coords, axes, patients, cost, lines in [inputs[t]]
        ]
        return linked_patterns(part, threshold, same)

    years = sorted({y for t in tables for y in year_of[t].tolist()})
    # The compiled elimination lets go of the GIL: the years run side by side, one per core.
    with ThreadPoolExecutor(
        max_workers=max(1, min(len(years), workers or os.cpu_count() or 1))
    ) as pool:
        for year, found_all in zip(years, pool.map(one_year, years), strict=True):
            for t, found in zip(tables, found_all, strict=True):
                hidden[t][year_of[t] == year] = found
    return hidden, shared


@dataclass
class Catalog:
    """The protected cubes of one warehouse state, by table id.

    ``peers`` holds each municipality's peer groups (:mod:`samhandling.indicators.peers`) in the
    catalogue's borders, for the population of ``peer_year``; the API offers them as value sets
    (``vs_peers_<kind>_<municipality>``) of the region variable.
    """

    cubes: dict[str, ProtectedCube]
    borders: int
    peers: dict[str, list[PeerGroup]] = field(default_factory=dict)
    peer_year: int | None = None
    years: list[int] = field(default_factory=list)
    districts: list[tuple[str, str, str]] = field(default_factory=list)

    def cube(self, table_id: str) -> ProtectedCube:
        from samhandling.tables.cube import TableError

        try:
            return self.cubes[table_id]
        except KeyError:
            raise TableError(f"Ukjent tabell «{table_id}»") from None

    def inhabitants(self, region: str, year: int | str) -> int | None:
        """Inhabitants of ``region`` on 1 January ``year`` (a period code's first four digits):
        the population of table SD01, the denominator of the catalogue's per-inhabitant rates."""
        return self.cube(POPULATION_TABLE).population.get((region, str(year)[:4]))

    @cached_property
    def scope(self) -> str | None:
        """What the data cover when it is not the whole country (None when it is, or when
        there is no population): the health region (RHF) whose municipalities are exactly
        those with inhabitants, else "N av M kommuner". The country's cells ("Hele landet") are
        then the sum of those municipalities, and the pages say so."""
        if POPULATION_TABLE not in self.cubes:
            return None
        cube = self.cube(POPULATION_TABLE)
        region = cube.spec.dimension("region")
        municipalities = {
            c for c, _ in region.codes if len(c) == 4 and c.isdigit() and c != UNKNOWN_RESIDENCE
        }
        lived = {key[0] for key, count in cube.population.items() if count}
        covered = municipalities & lived
        if not covered or covered == municipalities:
            return None
        for code, label in region.codes:
            if code.startswith("R") and {k[:4] for k, c in region.mapping if c == code} == covered:
                return label
        return f"{len(covered)} av {len(municipalities)} kommuner"

    def peer_group(self, kind: str, municipality: str) -> PeerGroup:
        """One peer group of a municipality, or a :class:`TableError` naming what is unknown."""
        from samhandling.tables.cube import TableError

        for group in self.peers.get(municipality, []):
            if group.kind == kind:
                return group
        raise TableError(f"Ingen sammenligningsgruppe «{kind}» for kommune «{municipality}»")

    def write(self, folder: Path) -> None:
        for cube in self.cubes.values():
            cube.write(folder)


def catalog_districts(
    engine: Engine, borders: int, *, residence_years: Sequence[int] | None = None
) -> list[tuple[str, str, str]]:
    """(residence, city district, label) found in the contacts; labels from SSB (refdata)."""
    from samhandling.refdata.population import district_population

    pairs = fact_districts(engine, borders=borders, residence_years=residence_years)
    if not pairs:
        return []
    known = district_population([2024])
    labels = dict(
        zip(
            [str(v) for v in known["district"].to_pylist()],
            [str(v) for v in known["district_name"].to_pylist()],
            strict=True,
        )
    )
    return [(m, d, f"{d} {labels.get(d, 'bydel')}") for m, d in pairs]


def _peer_index(
    engine: Engine, rules: RuleSet, borders: int, years: Sequence[int]
) -> tuple[dict[str, list[PeerGroup]], int | None]:
    """Peer groups of every municipality, by the population of the latest year that has one."""
    from samhandling.indicators.peers import all_peer_groups

    if not engine.has_relation("population"):
        return {}, None
    found: list[Any] = engine.query("SELECT DISTINCT year FROM population")["year"].to_pylist()
    with_population = sorted({int(y) for y in found} & {int(y) for y in years})
    if not with_population:
        return {}, None
    year = with_population[-1]
    return all_peer_groups(engine, year, rules, borders=borders), year


# The readmission facts of every year (a stay's readmission may fall in the next year), made
# once; each year's part is taken from them.
READMISSION_SOURCE = "readmission_facts_all"


def build_catalog(
    engine: Engine,
    rules: RuleSet,
    *,
    borders: int,
    blocks: pa.Table,
    only: Sequence[str] | None = None,
    built: str | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    by_year: bool = True,
) -> Catalog:
    """Derive the facts from ``episodes`` on ``engine`` and build every protected cube.

    A year's cells depend on that year's facts alone (no cell, line or linked cell adds two
    years), so the build goes a year at a time (``by_year``; False: all years at once, the same
    catalogue, the tests' reference): the year's facts, its cells counted, then its protection
    (the elimination of all tables in one matrix, the certificates, the linking) on a thread
    while the engine counts the next year. Memory holds one year's facts and two years'
    counted cells, whatever the number of years. ``on_progress(table id, step, steps)`` is told
    each step of each table (counting and protecting); a Rich progress bar shows the same.
    """
    from samhandling.console import progress

    years = fact_years(engine)
    resident = episode_years(engine)  # the years of the residence mapping, read once
    # The rules of the data's period, not of the day the catalogue is built.
    on = rules_day(years)
    threshold, version = disclosure_threshold(rules, on)
    method, method_version = secondary_method(rules, on)
    version = f"{version}, {method_version} ({method})"
    districts = catalog_districts(engine, borders, residence_years=resident)
    specs = catalog_specs(rules, borders=borders, years=years, blocks=blocks, districts=districts)
    if only:
        specs = [s for s in specs if s.id in set(only)]
    facts = {s.facts for s in specs}
    if PAYMENT_FACTS in facts:
        prepare_payment_facts(engine, rules, borders=borders, residence_years=resident)
    if READMISSION_FACTS in facts:
        register_contact_facts(
            engine, borders=borders, blocks=blocks, stays_only=True, residence_years=resident
        )
        register_readmission_facts(engine, rules, name=READMISSION_SOURCE)
    parts = [[y] for y in years] if by_year else [years]
    standardised = next((s for s in specs if s.id == STANDARDISED_TABLE), None)
    rates: Rates = {}
    protected: dict[str, list[CountedCube]] = {s.id: [] for s in specs}
    with progress() as bar:
        task = bar.add_task("Bygger og prikker tabeller", total=len(parts) * (2 * len(specs) + 1))

        def protect(counted: dict[str, CountedCube], label: str) -> None:
            _protect_part(
                counted,
                threshold=threshold,
                method=method,
                label=label,
                bar=bar,
                task=task,
                on_progress=on_progress,
            )
            for table, one in counted.items():
                protected[table].append(one)

        with ThreadPoolExecutor(max_workers=1) as protecting:
            pending: Future[None] | None = None
            for part in parts:
                label = _part_label(part)
                register_contact_facts(
                    engine, borders=borders, blocks=blocks, years=part, residence_years=resident
                )
                if PAYMENT_FACTS in facts:
                    payment_facts_of_years(engine, rules, part)
                if READMISSION_FACTS in facts:
                    engine.create_table(
                        READMISSION_FACTS,
                        f"SELECT * FROM {READMISSION_SOURCE} WHERE {in_years('year', part)}",
                    )
                counted: dict[str, CountedCube] = {}
                for spec in specs:

                    def step(
                        done: int, steps: int, table: str = spec.id, part: str = label
                    ) -> None:
                        bar.update(
                            task, description=f"Teller tabell {table}, {part} ({done}/{steps})"
                        )
                        if on_progress:
                            on_progress(table, done, steps)

                    counting = counting_spec(spec) if spec.id == STANDARDISED_TABLE else spec
                    counted[spec.id] = counted_cube(engine, counting, step)
                    bar.advance(task)
                if standardised is not None:
                    rates.update(standardised_rates(engine, rules, standardised, part))
                if pending is not None:
                    pending.result()
                pending = protecting.submit(contextvars.copy_context().run, protect, counted, label)
            if pending is not None:
                pending.result()
    for relation in (FACTS, PAYMENT_FACTS, READMISSION_FACTS, READMISSION_SOURCE):
        if engine.has_relation(relation):
            engine.drop(relation)
    cubes: dict[str, ProtectedCube] = {}
    for spec in specs:
        whole = _joined(protected[spec.id])
        cube = whole.finish(
            engine, threshold=threshold, rule_version=version, borders=borders, built=built
        )
        if spec.id == STANDARDISED_TABLE:
            cube = with_standardised_rates(spec, cube, rates)
        cubes[spec.id] = cube
    peers, peer_year = _peer_index(engine, rules, borders, years)
    return Catalog(cubes, borders, peers, peer_year, years=years, districts=districts)


def _part_label(part: Sequence[int]) -> str:
    if not part:
        return "ingen år"
    return str(part[0]) if len(part) == 1 else f"{part[0]}–{part[-1]}"


def _protect_part(
    counted: dict[str, CountedCube],
    *,
    threshold: int,
    method: str,
    label: str,
    bar: Any,
    task: Any,
    on_progress: Callable[[str, int, int], None] | None,
) -> None:
    """Protect one part's counted cubes (all linked tables of those years together)."""
    for table, weights in link_weights(counted).items():
        counted[table].weights = weights
    patterns: dict[str, npt.NDArray[np.bool_]] = {}
    if method == "gauss":

        def eliminating(part: str) -> None:
            bar.update(task, description=f"Gauss-eliminasjon av alle tabellene, {part}")

        patterns, _shared = linked_elimination(counted, threshold, on_year=eliminating)
    for table, one in counted.items():
        bar.update(task, description=f"Prikker tabell {table}, {label}")
        if method == "gauss":
            one.protect(threshold, method=method, pattern=patterns[table])
        else:
            one.protect(threshold, method=method)
        if on_progress:
            on_progress(table, 1, 1)
        bar.advance(task)

    def linking(round_: int, tables: Sequence[str]) -> None:
        names = ", ".join(tables)
        bar.update(task, description=f"Samordner prikkingen, {label}, runde {round_} ({names})")
        if on_progress:
            on_progress(f"{names} (samordnet prikking, runde {round_})", 1, 1)

    link_protection(counted, threshold, on_round=linking, certify=method != "gauss")
    bar.advance(task)


def _joined(parts: Sequence[CountedCube]) -> CountedCube:
    """One table's protected parts (years) as one, its cells in code order again."""
    if len(parts) == 1:
        return parts[0]
    spec = parts[0].spec
    cells = pa.concat_tables([p.cells for p in parts])
    reasons = np.concatenate([p.reasons for p in parts])
    proven = np.concatenate([p.protected.proven for p in parts], axis=1)
    order = pc.sort_indices(cells, sort_keys=[(d.id, "ascending") for d in spec.dimensions])
    at = order.to_numpy()
    return CountedCube(spec, cells.take(order), Protection(reasons[at], proven[:, at]))
