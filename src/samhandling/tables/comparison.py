"""The comparison of a municipality with its peers and the country: the key indicators of Min
kommune, derived from published cells of the table catalogue.

Every number of the comparison comes from the protected cubes of the table catalogue
(:mod:`samhandling.tables.catalog`): the same cells as the table generator, the public statistics
page and the PxWebApi. Nothing is counted from the facts here, so nothing on the page can be
combined with the catalogue to recover a cell that the catalogue withholds.

* The municipality, its catchment area (``H`` code), its county (``F``) and the country (``0``)
  are codes of the cubes' region variable. Their cells are read as published; a withheld cell
  (primary or secondary) is ``:`` here as everywhere, and its value never leaves the cube.
* The population band (innbyggergruppe) is no code of the cubes. Its rate is the rate of the
  members whose cells are published (sum of numerators / sum of denominators): a function of
  published numbers only, shown with how many of the members it rests on.
* A rate is ``numerator × scale / denominator`` of published cells, the denominator being a
  measure of the same cell or the inhabitants on 1 January (the population of table SD01).

The catalogue is in the municipality borders of ``Catalog.borders``; a municipality code of an
earlier year is compared through the code it became (:func:`catalogue_code`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from samhandling.errors import SamhandlingError
from samhandling.indicators.facts import residence_map
from samhandling.tables.catalog import (
    CHAPTER_PREFIX,
    POPULATION_TABLE,
    REST_SUFFIX,
    UNKNOWN_DIAGNOSIS,
    Catalog,
)
from samhandling.tables.cube import NOT_AVAILABLE, SUPPRESSED, ProtectedCube
from samhandling.tables.dimensions import COUNTRY

__all__ = [
    "CUBE_PEERS",
    "KEY_INDICATORS",
    "MISSING",
    "PEER_SHORT",
    "POPULATION",
    "STANDARDISED",
    "STANDARDISED_AFTER",
    "STANDARDISED_KEY",
    "SUPPRESSED",
    "AreaColumn",
    "Cell",
    "Comparison",
    "DiagnosisRow",
    "Ratio",
    "catalogue_code",
    "comparison",
    "comparison_columns",
    "diagnosis_rows",
    "ratio_cell",
    "region_codes",
    "standardised_cell",
]

DIAGNOSIS_TABLE = "SD04"
MISSING = NOT_AVAILABLE  # Statistics Norway's mark: not available (SUPPRESSED ":": withheld)
POPULATION = "population"  # a Ratio's denominator: Catalog.inhabitants (1 January)
# Short names of the peer kinds for chart axes (the tables carry the full labels).
PEER_SHORT = {
    "catchment": "Opptaksområdet",
    "county": "Fylket",
    "population_band": "Innbyggergruppen",
}
# The region code prefix of the peer kinds that are codes of the cubes.
CUBE_PEERS = {"catchment": "H", "county": "F"}


@dataclass(frozen=True)
class Ratio:
    """A key indicator: ``numerator × scale / denominator`` of one cell of one table."""

    key: str
    label: str
    unit: str
    table: str
    numerator: str
    denominator: str  # a measure of the same cell, or POPULATION
    scale: int
    decimals: int
    selection: tuple[tuple[str, str], ...] = ()


# The key indicators in the order of the page. "somatikk_std" (SD09's directly standardised
# rate) is read as published, not divided; it follows its crude rate.
KEY_INDICATORS = (
    Ratio("kontakter", "Kontakter per 1 000 innbyggere (alle sektorer)", "rå rate",
          "SD01", "kontakter", POPULATION, 1000, 1),
    Ratio("opphold", "Døgnopphold per 1 000 innbyggere (alle sektorer)", "rå rate",
          "SD01", "opphold", POPULATION, 1000, 1),
    Ratio("liggedogn", "Liggedøgn per 1 000 innbyggere (alle sektorer)", "rå rate",
          "SD01", "liggedogn", POPULATION, 1000, 1),
    Ratio("somatikk", "Somatiske døgnopphold per 1 000 innbyggere", "rå rate",
          "SD02", "opphold", POPULATION, 1000, 1),
    Ratio("akutt_medisinsk", "Øyeblikkelig hjelp-innleggelser med medisinsk DRG per 1 000",
          "rå rate", "SD05", "opphold", POPULATION, 1000, 1,
          (("urgency", "emergency"), ("drg_type", "M"))),
    Ratio("overliggerdogn", "Overliggerdøgn per 1 000 innbyggere", "rå rate",
          "SD07", "overliggerdogn", POPULATION, 1000, 1),
    Ratio("kmf", "Kommunal medfinansiering per innbygger", "kroner",
          "SD06", "medfinansiering", POPULATION, 1, 2),
    Ratio("reinnlagt", "Reinnleggelser innen 30 dager (styringsdata)", "prosent",
          "SD08", "reinnlagt_styring", "indeks_styring", 100, 1),
    Ratio("reinnlagt_67", "Reinnleggelser av pasienter 67 år og eldre "
          "(nasjonal kvalitetsindikator)", "prosent",
          "SD08", "reinnlagt_kvalitet", "indeks_kvalitet", 100, 1),
)  # fmt: skip
STANDARDISED = ("SD09", "standardisert_rate")
STANDARDISED_KEY = "somatikk_std"
STANDARDISED_AFTER = "somatikk"


@dataclass(frozen=True)
class Cell:
    """One published value, or the mark saying why there is none."""

    value: Decimal | None
    mark: str = ""
    # What the value rests on when that is not the whole area (a band's published members).
    note: str = ""

    @property
    def shown(self) -> Decimal | None:
        """The value a chart may draw (``None`` when suppressed or missing)."""
        return None if self.mark else self.value


@dataclass(frozen=True)
class AreaColumn:
    """A column of the comparison: the municipality, a peer group or the country.

    ``code`` is the area's code in the cubes' region variable; a group that is no code of the
    cubes (the population band) has none and is pooled from its ``members``.
    """

    key: str
    label: str
    short: str
    members: tuple[str, ...]
    code: str | None


@dataclass(frozen=True)
class Comparison:
    """The municipality (code in the catalogue's borders), its columns and the year compared."""

    catalog: Catalog
    code: str
    year: int
    columns: tuple[AreaColumn, ...]
    cofinancing: bool = False

    @property
    def threshold(self) -> int:
        return self.catalog.cube(POPULATION_TABLE).threshold

    @property
    def own(self) -> AreaColumn:
        return self.columns[0]

    @property
    def country(self) -> AreaColumn:
        return self.columns[-1]


def catalogue_code(catalog: Catalog, code: str, year: int) -> str:
    """The code in the catalogue's borders of municipality ``code`` as it was in ``year``.

    A municipality merged later is compared as the municipality it became (one split later,
    as the successor with the largest share), as residence is mapped for the catalogue.
    """
    table = residence_map([int(year)], catalog.borders)
    found = dict(
        zip(
            [str(v) for v in table["municipality"].to_pylist()],
            [str(v) for v in table["residence"].to_pylist()],
            strict=True,
        )
    )
    if code not in found:
        raise SamhandlingError(f"Kommunenummer {code} fantes ikke i {year}.")
    return found[code]


def region_codes(cube: ProtectedCube) -> set[str]:
    """The codes of ``cube``'s region variable."""
    return {c for c, _ in cube.spec.dimension("region").codes}


def comparison_columns(catalog: Catalog, code: str, name: str) -> tuple[AreaColumn, ...]:
    """The municipality, each of its peer groups (``Catalog.peers``), and the country."""
    region = catalog.cube(POPULATION_TABLE).spec.dimension("region")
    parents = {c for k, c in region.mapping if k == code}
    columns = [AreaColumn("kommune", f"{name} ({code})", name, (code,), code)]
    for group in catalog.peers.get(code, []):
        prefix = CUBE_PEERS.get(group.kind)
        codes = sorted(c for c in parents if prefix and c.startswith(prefix))
        columns.append(
            AreaColumn(
                group.kind,
                group.label,
                PEER_SHORT.get(group.kind, group.label),
                tuple(group.members),
                codes[0] if len(codes) == 1 else None,
            )
        )
    if catalog.scope:  # the data cover one region: its sum, not the country's figure
        columns.append(
            AreaColumn(
                "landet", f"Hele datagrunnlaget ({catalog.scope})", "Datagrunnlaget", (), COUNTRY
            )
        )
    else:
        columns.append(AreaColumn("landet", "Hele landet", "Landet", (), COUNTRY))
    return tuple(columns)


def comparison(
    catalog: Catalog, code: str, name: str, year: int, *, cofinancing: bool = False
) -> Comparison:
    """Min kommune's comparison for municipality ``code`` (of ``year``'s borders) in ``year``.

    Raises :class:`SamhandlingError` (a Norwegian message for the page) when the catalogue has
    no tables for the year or the municipality had no inhabitants then.
    """
    if year not in catalog.years:
        raise SamhandlingError(f"Tabellene har ingen tall for {year}.")
    own = catalogue_code(catalog, code, year)
    if own not in region_codes(catalog.cube(POPULATION_TABLE)) or not catalog.inhabitants(
        own, year
    ):
        raise SamhandlingError(f"Kommunenummer {code} hadde ingen innbyggere i {year}.")
    return Comparison(
        catalog, own, year, comparison_columns(catalog, own, name), cofinancing=cofinancing
    )


# ----------------------------------------------------------------------------- the values


def _divided(numerator: Decimal | None, denominator: Decimal | None, scale: int) -> Cell:
    if numerator is None or not denominator:
        return Cell(None, MISSING)
    return Cell(numerator * scale / denominator)


def _decimal(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _parts(
    catalog: Catalog, ratio: Ratio, region: str, period: str
) -> tuple[Decimal | None, Decimal | None, str | None]:
    """(numerator, denominator, why withheld) of ``ratio`` for one region and period."""
    cube = catalog.cube(ratio.table)
    codes = {"region": region, "period": period, **dict(ratio.selection)}
    numerator, reason = cube.published_value(codes, ratio.numerator)
    if reason is not None:
        return None, None, reason
    if ratio.denominator == POPULATION:
        return numerator, _decimal(catalog.inhabitants(region, period)), None
    denominator, reason = cube.published_value(codes, ratio.denominator)
    if reason is not None:
        return None, None, reason
    return numerator, denominator, None


def ratio_cell(catalog: Catalog, ratio: Ratio, column: AreaColumn, period: str) -> Cell:
    """``ratio`` of one column in ``period``: its own cell, or pooled from published members."""
    if column.code is not None:
        numerator, denominator, reason = _parts(catalog, ratio, column.code, period)
        if reason is not None:
            return Cell(None, SUPPRESSED)
        return _divided(numerator, denominator, ratio.scale)
    numerators, denominators, used, withheld = Decimal(0), Decimal(0), 0, 0
    for member in column.members:
        numerator, denominator, reason = _parts(catalog, ratio, member, period)
        if reason is not None:
            withheld += 1
        elif numerator is not None and denominator:
            numerators += numerator
            denominators += denominator
            used += 1
    if not used:
        return Cell(None, SUPPRESSED if withheld else MISSING)
    cell = _divided(numerators, denominators, ratio.scale)
    if used == len(column.members):
        return cell
    return Cell(cell.value, cell.mark, f"{used} av {len(column.members)} kommuner")


def standardised_cell(catalog: Catalog, column: AreaColumn, year: int) -> Cell:
    """SD09's directly standardised rate: published for municipalities and the country only."""
    table, measure = STANDARDISED
    cube = catalog.cube(table)
    if column.code is None or column.code not in region_codes(cube):
        return Cell(None, MISSING)
    value, reason = cube.published_value({"region": column.code, "period": str(year)}, measure)
    if reason is not None:
        return Cell(None, SUPPRESSED)
    return Cell(None, MISSING) if value is None else Cell(value)


# ----------------------------------------------------------------------------- diagnoses


@dataclass(frozen=True)
class DiagnosisRow:
    """Somatic stays and bed days of one ICD-10 chapter (or block): municipality and country."""

    code: str
    label: str
    stays: Cell
    bed_days: Cell
    share_of_bed_days: Cell
    stays_per_1000: Cell
    country_stays_per_1000: Cell


def _diagnosis_groups(cube: ProtectedCube, level: str) -> list[tuple[str, str, str]]:
    """(cube code, shown code, label) of the chapters (``K<chapter>``) or of the blocks.

    The chapters are the parts of the total's line (with ``ukjent``, the stays without a valid
    diagnosis, which belongs to both levels); the blocks are the parts of the chapters' lines.
    SD04 has every region level, so its blocks are only those it keeps for municipalities
    (diabetes): the rest of a chapter (``K<chapter>_annet``) is no diagnosis group and not
    ranked; the other blocks are published for the upper levels only (SD12).
    """
    dimension = cube.spec.dimension("diagnosis")
    lines = dict(dimension.lines)
    chapters = set(lines.get(dimension.total, ()))
    out = []
    for code, label in dimension.codes:
        if code == dimension.total:
            continue
        chapter = code in chapters
        if code.endswith(REST_SUFFIX):
            continue
        if code == UNKNOWN_DIAGNOSIS or (level == "chapter") == chapter:
            shown = code.removeprefix(CHAPTER_PREFIX) if chapter else code
            out.append((code, shown, label.removeprefix(f"{code} ")))
    return out


def diagnosis_rows(
    comp: Comparison, *, level: str = "chapter", limit: int = 10
) -> list[DiagnosisRow]:
    """The groups with the most bed days among the municipality's residents (table SD04).

    Only published cells take part: a withheld group is left out of the ranking (its size would
    otherwise show through the order).
    """
    catalog, year, period = comp.catalog, comp.year, str(comp.year)
    cube = catalog.cube(DIAGNOSIS_TABLE)
    own, country = comp.own.code or comp.code, COUNTRY
    bed_days_total, reason = cube.published_value({"region": own, "period": period}, "liggedogn")
    own_people = catalog.inhabitants(own, year)
    country_people = catalog.inhabitants(country, year)
    found: list[tuple[str, str, Decimal, Decimal, Cell]] = []
    for code, shown, label in _diagnosis_groups(cube, level):
        codes = {"region": own, "period": period, "diagnosis": code}
        stays, withheld = cube.published_value(codes, "opphold")
        bed_days, _ = cube.published_value(codes, "liggedogn")
        if withheld is not None or stays is None or bed_days is None or not stays:
            continue
        national, national_withheld = cube.published_value(
            {"region": country, "period": period, "diagnosis": code}, "opphold"
        )
        national_rate = (
            Cell(None, SUPPRESSED)
            if national_withheld is not None
            else _divided(national, _decimal(country_people), 1000)
        )
        found.append((shown, label, stays, bed_days, national_rate))
    found.sort(key=lambda g: (-g[3], g[0]))
    rows = []
    for shown, label, stays, bed_days, national_rate in found[:limit]:
        share = (
            Cell(None, SUPPRESSED)
            if reason is not None
            else _divided(bed_days, bed_days_total, 100)
        )
        rows.append(
            DiagnosisRow(
                shown,
                label,
                Cell(stays),
                Cell(bed_days),
                share,
                _divided(stays, _decimal(own_people), 1000),
                national_rate,
            )
        )
    return rows
