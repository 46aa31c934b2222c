"""The table catalogue: the steering-data tables (styringsdatatabeller) users can slice.

Each table is a cube (see :mod:`samhandling.tables.cube`). Ids follow PxWeb habit (short, stable):

* ``SD01`` contacts, stays, bed days and patients by residence, month/tertial/year, sector and
  care level
* ``SD02`` somatic activity by residence, tertial/year, sex and age (5-year groups, steering bands)
* ``SD03`` somatic inpatient stays by residence, tertial/year and discharge destination
* ``SD04`` somatic activity by residence, tertial/year and main diagnosis (ICD-10 chapter/block)
* ``SD05`` somatic inpatient stays by residence, tertial/year, urgency and DRG type (length of stay)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from samhandling.contract import CARE_LEVELS, DISCHARGED_TO, SECTORS
from samhandling.engine import Engine
from samhandling.indicators.facts import register_contact_facts
from samhandling.rules import RuleSet
from samhandling.tables.cube import CubeSpec, DerivedMeasure, Measure, ProtectedCube, build_cube
from samhandling.tables.dimensions import (
    TOTAL,
    Dimension,
    age_dimension,
    category_dimension,
    period_dimension,
    region_dimension,
    sex_dimension,
)
from samhandling.tables.disclosure import disclosure_threshold

__all__ = ["Catalog", "build_catalog", "catalog_specs", "diagnosis_dimension"]

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
DESTINATION_LABELS = {
    "home": "Hjem",
    "nursing_home": "Sykehjem",
    "other_municipal": "Annen kommunal institusjon",
    "kad": "Kommunalt akutt døgnopphold (KAD)",
    "other_hospital": "Annet sykehus",
    "other": "Annet",
    "died": "Død",
    "unknown": "Ukjent",
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


def diagnosis_dimension(blocks: pa.Table) -> Dimension:
    """Main diagnosis: ICD-10 chapter and block (hovedtilstand), from the facts' block table."""
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
    chapter_parts: dict[str, list[str]] = {}
    mapping: list[tuple[str, str]] = []
    for block, chapter in zip(block_codes, chapters, strict=True):
        chapter_parts.setdefault(f"K{chapter}", []).append(block)
        mapping += [(block, block), (block, f"K{chapter}"), (block, TOTAL)]
    mapping += [("ukjent", "ukjent"), ("ukjent", TOTAL)]
    codes = [(TOTAL, "Alle diagnoser")]
    for chapter in dict.fromkeys(chapters):
        codes.append((f"K{chapter}", chapter_labels[chapter]))
    codes += [(b, f"{b} {label}") for b, label in zip(block_codes, block_labels, strict=True)]
    codes.append(("ukjent", "Ukjent eller ugyldig diagnose"))
    lines = [
        (TOTAL, (*chapter_parts, "ukjent")),
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
    rules: RuleSet, *, borders: int, years: Sequence[int], blocks: pa.Table
) -> list[CubeSpec]:
    """The catalogue's tables for data years ``years`` in the borders of ``borders``."""
    region = region_dimension(borders)
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
    destination = category_dimension(
        "discharged_to",
        "utskrevet til",
        "discharged_to",
        [(d, DESTINATION_LABELS[d]) for d in (*DISCHARGED_TO, "unknown")],
        "Alle utskrivningssteder",
    )
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
    return [
        CubeSpec(
            id="SD01",
            title="Kontakter, døgnopphold, liggedøgn og pasienter etter bosted, periode, sektor "
            "og omsorgsnivå",
            description="All specialist activity of residents by month, tertial and year.",
            dimensions=(region, months, sector, care),
            measures=activity,
            derived=(
                _rate("kontakter", "Kontakter per 1 000 innbyggere"),
                _rate("pasienter", "Pasienter per 1 000 innbyggere"),
                AVG_LOS,
            ),
        ),
        CubeSpec(
            id="SD02",
            title="Somatikk: kontakter, døgnopphold og pasienter etter bosted, periode, kjønn "
            "og alder",
            description="Somatic activity of residents by sex and age group.",
            dimensions=(region, tertials, sex_dimension(), age_dimension(rules)),
            measures=activity,
            derived=(
                _rate("opphold", "Døgnopphold per 1 000 innbyggere"),
                _rate("kontakter", "Kontakter per 1 000 innbyggere"),
                _rate("pasienter", "Pasienter per 1 000 innbyggere"),
                AVG_LOS,
            ),
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
            description="Somatic activity of residents by ICD-10 chapter and block of the main "
            "diagnosis.",
            dimensions=(region, tertials, diagnosis_dimension(blocks)),
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
    ]


@dataclass
class Catalog:
    """The protected cubes of one warehouse state, by table id."""

    cubes: dict[str, ProtectedCube]
    borders: int

    def cube(self, table_id: str) -> ProtectedCube:
        from samhandling.tables.cube import TableError

        try:
            return self.cubes[table_id]
        except KeyError:
            raise TableError(f"Ukjent tabell «{table_id}»") from None

    def write(self, folder: Path) -> None:
        for cube in self.cubes.values():
            cube.write(folder)


def _data_years(engine: Engine) -> list[int]:
    got = engine.query("SELECT DISTINCT year FROM contact_facts ORDER BY year")
    found: list[Any] = got["year"].to_pylist()
    return [int(y) for y in found]


def build_catalog(
    engine: Engine,
    rules: RuleSet,
    *,
    borders: int,
    blocks: pa.Table,
    only: Sequence[str] | None = None,
    built: str | None = None,
) -> Catalog:
    """Derive the facts from ``episodes`` on ``engine`` and build every protected cube."""
    from samhandling.console import progress

    register_contact_facts(engine, borders=borders, blocks=blocks)
    threshold, version = disclosure_threshold(rules)
    specs = catalog_specs(rules, borders=borders, years=_data_years(engine), blocks=blocks)
    if only:
        specs = [s for s in specs if s.id in set(only)]
    cubes: dict[str, ProtectedCube] = {}
    with progress() as bar:
        task = bar.add_task("Bygger og prikker tabeller", total=len(specs))
        for spec in specs:
            cubes[spec.id] = build_cube(
                engine,
                spec,
                threshold=threshold,
                rule_version=version,
                borders=borders,
                built=built,
            )
            bar.advance(task)
    return Catalog(cubes, borders)
