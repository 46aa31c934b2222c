"""Min kommune's page: the rows and the context of the comparison of a municipality with its
peers and the country.

The numbers come from :mod:`samhandling.tables.comparison` (rates of published cells of the
table catalogue, pooled for the population band); this module only arranges them into the
page's rows (key indicators with their table links, tertials, diagnoses) and charts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from samhandling.tables.comparison import (
    KEY_INDICATORS,
    STANDARDISED,
    STANDARDISED_AFTER,
    STANDARDISED_KEY,
    Cell,
    Comparison,
    diagnosis_rows,
    ratio_cell,
    region_codes,
    standardised_cell,
)

__all__ = ["KeyRow", "TertialRow", "key_rows", "page_context", "tertial_rows"]

TREND_YEARS = 3


@dataclass(frozen=True)
class KeyRow:
    """A key indicator across the comparison's columns, and the table it comes from."""

    key: str
    label: str
    unit: str
    decimals: int
    cells: tuple[Cell, ...]
    table: str
    link: str  # the table generator with the row's cells


def _table_link(
    comp: Comparison, table: str, period: str, selection: tuple[tuple[str, str], ...] = ()
) -> str:
    regions = region_codes(comp.catalog.cube(table))
    params = [("region", c.code) for c in comp.columns if c.code in regions]
    params += [("period", period), *selection]
    return f"/tabeller/{table}?{urlencode(params)}"


def key_rows(comp: Comparison) -> list[KeyRow]:
    """The key indicators of ``comp.year`` for each column (rates of published cells)."""
    rows = []
    period = str(comp.year)
    for ratio in KEY_INDICATORS:
        if ratio.key == "kmf" and not comp.cofinancing:
            continue
        cells = tuple(ratio_cell(comp.catalog, ratio, c, period) for c in comp.columns)
        link = _table_link(comp, ratio.table, period, ratio.selection)
        rows.append(
            KeyRow(ratio.key, ratio.label, ratio.unit, ratio.decimals, cells, ratio.table, link)
        )
        if ratio.key == STANDARDISED_AFTER:
            standardised = tuple(
                standardised_cell(comp.catalog, c, comp.year) for c in comp.columns
            )
            rows.append(
                KeyRow(
                    STANDARDISED_KEY,
                    ratio.label,
                    "standardisert",
                    1,
                    standardised,
                    STANDARDISED[0],
                    _table_link(comp, STANDARDISED[0], period),
                )
            )
    return rows


@dataclass(frozen=True)
class TertialRow:
    """Contacts and stays per 1 000 inhabitants in one tertial: municipality and country."""

    label: str
    contacts: Cell
    stays: Cell
    country_contacts: Cell
    country_stays: Cell


_BY_KEY = {r.key: r for r in KEY_INDICATORS}


def tertial_rows(comp: Comparison) -> list[TertialRow]:
    """The tertials of the year and the two before it (those the catalogue has)."""
    years = [y for y in sorted(comp.catalog.years) if y <= comp.year][-TREND_YEARS:]
    contacts, stays = _BY_KEY["kontakter"], _BY_KEY["opphold"]
    rows = []
    for y in years:
        for tertial in (1, 2, 3):
            period = f"{y}T{tertial}"
            rows.append(
                TertialRow(
                    f"{y} {tertial}. tertial",
                    ratio_cell(comp.catalog, contacts, comp.own, period),
                    ratio_cell(comp.catalog, stays, comp.own, period),
                    ratio_cell(comp.catalog, contacts, comp.country, period),
                    ratio_cell(comp.catalog, stays, comp.country, period),
                )
            )
    return rows


# ----------------------------------------------------------------------------- the page


def page_context(comp: Comparison, name: str) -> dict[str, Any]:
    """Everything Min kommune's indicator sections show, charts and their tables."""
    from samhandling.web.charts import Series, bar_chart

    columns = comp.columns
    rows = key_rows(comp)
    by_key = {row.key: row for row in rows}
    year = comp.year
    stays_chart = bar_chart(
        "nokkel-chart",
        f"Somatiske døgnopphold per 1 000 innbyggere {year}: {name}, sammenlignbare kommuner "
        "og landet",
        [c.short for c in columns],
        [
            Series("Rå rate", tuple(c.shown for c in by_key["somatikk"].cells)),
            Series("Standardisert", tuple(c.shown for c in by_key[STANDARDISED_KEY].cells)),
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
    trend = tertial_rows(comp)
    trend_chart = bar_chart(
        "tertial-chart",
        f"Døgnopphold per 1 000 innbyggere per tertial: {name} og landet",
        [r.label.replace(". tertial", ". t.") for r in trend],
        [
            Series(name, tuple(r.stays.shown for r in trend)),
            Series(comp.country.short, tuple(r.country_stays.shown for r in trend)),
        ],
        description="Døgnopphold per 1 000 innbyggere i hvert tertial; tallene står i tabellen "
        "under.",
        decimals=1,
    )
    chapters = diagnosis_rows(comp, level="chapter")
    blocks = diagnosis_rows(comp, level="block")
    diagnosis_chart = (
        bar_chart(
            "diagnose-chart",
            f"Somatiske døgnopphold per 1 000 innbyggere etter diagnosekapittel {year}: {name} "
            "og landet",
            [f"Kap. {r.code}" for r in chapters],
            [
                Series(name, tuple(r.stays_per_1000.shown for r in chapters)),
                Series(comp.country.short, tuple(r.country_stays_per_1000.shown for r in chapters)),
            ],
            description="ICD-10-kapitlene med flest liggedøgn blant kommunens innbyggere; "
            "tallene står i tabellen under.",
            decimals=1,
        )
        if chapters
        else None
    )
    band = next((c for c in columns if c.code is None), None)
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
        "threshold": comp.threshold,
        "scope": comp.catalog.scope,
        "country_label": comp.country.label,
        "borders": comp.catalog.borders,
        "code": comp.code,
        "pooled": band,
        "peer_year": comp.catalog.peer_year,
    }
