"""The public key figures of every municipality (Statistikk for kommunene): published cells of
the table catalogue, and rates per inhabitant of published counts.

What ``/statistikk`` and ``/json/statistikk`` show, and nothing else: a cell that disclosure
control withheld is ``:`` (its value never leaves the catalogue), a figure that does not exist
(no inhabitants, no cell) is ``..``. A rate per inhabitant is the published count times
``per`` over the inhabitants on 1 January (the population of table SD01), rounded half up to
the indicator's decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from samhandling.refdata import names
from samhandling.tables.catalog import Catalog
from samhandling.tables.cube import NOT_AVAILABLE, SUPPRESSED
from samhandling.tables.dimensions import COUNTRY

__all__ = ["PUBLIC_INDICATORS", "PublicCell", "PublicIndicator", "PublicRow", "public_table"]


@dataclass(frozen=True)
class PublicIndicator:
    """A key indicator of the public page: which cube, which cell, which measure."""

    key: str
    label: str
    table: str
    measure: str
    selection: tuple[tuple[str, str], ...] = ()
    # When set, the published count is divided by the inhabitants (per this many),
    # Catalog.inhabitants (the population of table SD01).
    per: int | None = None
    decimals: int = 1


PUBLIC_INDICATORS = (
    PublicIndicator(
        "kontakter", "Kontakter per 1 000 innbyggere (alle sektorer)", "SD01", "kontakter_per_1000"
    ),
    PublicIndicator(
        "opphold", "Somatiske døgnopphold per 1 000 innbyggere", "SD02", "opphold_per_1000"
    ),
    PublicIndicator(
        "akutt_medisinsk",
        "Øyeblikkelig hjelp-innleggelser med medisinsk DRG per 1 000 innbyggere",
        "SD05",
        "opphold",
        (("urgency", "emergency"), ("drg_type", "M")),
        per=1000,
    ),
    PublicIndicator(
        "liggetid", "Gjennomsnittlig liggetid, somatikk (døgn)", "SD02", "gj_liggetid", decimals=2
    ),
)


@dataclass(frozen=True)
class PublicCell:
    """A published value, or the mark that says why there is none (``:`` or ``..``)."""

    value: Decimal | None
    mark: str = ""


@dataclass(frozen=True)
class PublicRow:
    code: str
    name: str
    cells: tuple[PublicCell, ...]


def _column(
    catalog: Catalog, indicator: PublicIndicator, codes: list[str], year: int
) -> list[PublicCell]:
    cube = catalog.cube(indicator.table)
    selection: dict[str, list[str]] = {"region": codes, "period": [str(year)]}
    selection.update({dim: [code] for dim, code in indicator.selection})
    stat = cube.slice(selection, [indicator.measure])
    quantum = Decimal(1).scaleb(-indicator.decimals)
    cells = []
    for index, code in enumerate(codes):
        if index in stat.reasons:
            cells.append(PublicCell(None, SUPPRESSED))
            continue
        raw = stat.values[index]
        if raw is None:
            cells.append(PublicCell(None, NOT_AVAILABLE))
            continue
        value = Decimal(str(raw))
        if indicator.per is not None:
            population = catalog.inhabitants(code, year)
            if not population:
                cells.append(PublicCell(None, NOT_AVAILABLE))
                continue
            value = value * indicator.per / Decimal(population)
        cells.append(PublicCell(value.quantize(quantum, rounding=ROUND_HALF_UP)))
    return cells


def public_table(catalog: Catalog, year: int) -> tuple[list[PublicRow], int]:
    """The country and every municipality (``BORDERS``) with each public indicator; threshold."""
    region = catalog.cube("SD01").spec.dimension("region")
    municipalities = sorted(c for c, _label in region.codes if len(c) == 4 and c != "9999")
    municipality_names = names(catalog.borders)
    codes = [COUNTRY, *municipalities]
    columns = [_column(catalog, i, codes, year) for i in PUBLIC_INDICATORS]
    rows = [
        PublicRow(
            code,
            "Hele landet" if code == COUNTRY else municipality_names.get(code, code),
            tuple(column[n] for column in columns),
        )
        for n, code in enumerate(codes)
    ]
    return rows, catalog.cube("SD01").threshold
