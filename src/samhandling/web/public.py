"""The public statistics page (Statistikk for kommunene): published, suppressed aggregates only.

Anyone, logged in or not, may open ``/statistikk``: a map of the municipalities coloured by a
key indicator and the key indicators of every municipality in one table, for one year. Every
number comes from the protected cubes of the table catalogue (:mod:`samhandling.tables`, the
same cubes as the table generator and the PxWebApi): a cell that disclosure control withheld
(primary: fewer patients than ``disclosure.threshold``; secondary: it would give a withheld
cell away) is shown as ``:`` and its value never leaves the server, neither in the page nor in
``/json/statistikk``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from samhandling.refdata import names
from samhandling.tables.catalog import Catalog
from samhandling.tables.cube import SUPPRESSED
from samhandling.tables.dimensions import COUNTRY
from samhandling.web._app import add_nav, await_jobs, portal_of, render, year_param
from samhandling.web.maps import MISSING_MARK, IndicatorMap, indicator_map
from samhandling.web.tables import BORDERS, catalog_job

__all__ = ["PUBLIC_INDICATORS", "PublicIndicator", "add_public_views", "public_table"]

PATH = "/statistikk"
SUPPRESSED_NOTE = "færre enn {threshold} pasienter, eller skjult for å beskytte en annen celle"


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
_BY_KEY = {i.key: i for i in PUBLIC_INDICATORS}


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
            cells.append(PublicCell(None, MISSING_MARK))
            continue
        value = Decimal(str(raw))
        if indicator.per is not None:
            population = catalog.inhabitants(code, year)
            if not population:
                cells.append(PublicCell(None, MISSING_MARK))
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


def _map(
    rows: list[PublicRow], indicator: PublicIndicator, year: int, threshold: int
) -> IndicatorMap:
    column = PUBLIC_INDICATORS.index(indicator)
    values: dict[str, Decimal | None] = {}
    suppressed: set[str] = set()
    for row in rows:
        if row.code == COUNTRY:
            continue
        cell = row.cells[column]
        values[row.code] = cell.value
        if cell.mark == SUPPRESSED:
            suppressed.add(row.code)
    return indicator_map(
        indicator.key,
        indicator.label,
        year,
        borders=BORDERS,
        threshold=threshold,
        values=values,
        suppressed=suppressed,
        decimals=indicator.decimals,
        suppressed_note=SUPPRESSED_NOTE.format(threshold=threshold),
        legend_note="personvern",
    )


def _year(request: Request, aar: str | None) -> int | None:
    return year_param(aar, portal_of(request).warehouse.status().years)


def add_public_views(app: FastAPI) -> None:
    add_nav(app, PATH, "Statistikk for kommunene", {"anonymous", "public"})

    @app.get(PATH, response_class=HTMLResponse)
    def public_page(request: Request, aar: str | None = None, kart: str | None = None) -> Response:
        portal = portal_of(request)
        years = portal.warehouse.status().years
        year = _year(request, aar)
        context: dict[str, Any] = {"year": year, "years": years, "rows": []}
        title = "Statistikk for kommunene"
        if year is None:
            return render(request, "public.html", context, title=title)
        catalog_computation = catalog_job(portal)
        waiting = await_jobs(request, [catalog_computation], title)
        if waiting is not None:
            return waiting
        rows, threshold = public_table(catalog_computation.result(), year)
        indicator = _BY_KEY.get(kart or "", PUBLIC_INDICATORS[1])
        context.update(
            {
                "rows": rows,
                "indicators": PUBLIC_INDICATORS,
                "threshold": threshold,
                "suppressed_note": SUPPRESSED_NOTE.format(threshold=threshold),
                "map": _map(rows, indicator, year, threshold),
                "map_choices": [(i.key, i.label) for i in PUBLIC_INDICATORS],
                "json_url": f"/json{PATH}?aar={year}",
            }
        )
        return render(request, "public.html", context, title=title)

    @app.get(f"/json{PATH}")
    def public_json(request: Request, aar: str | None = None) -> Response:
        year = _year(request, aar)
        if year is None:
            return JSONResponse({"aar": None, "indikatorer": [], "regioner": []})
        # The API waits for its answer (on this request's thread; the worker pool bounds load).
        rows, threshold = public_table(catalog_job(portal_of(request)).result(), year)
        return JSONResponse(
            {
                "aar": year,
                "kommunegrenser": BORDERS,
                "terskel": threshold,
                "indikatorer": [
                    {"id": i.key, "navn": i.label, "desimaler": i.decimals}
                    for i in PUBLIC_INDICATORS
                ],
                "regioner": [
                    {
                        "kode": row.code,
                        "navn": row.name,
                        "verdier": {
                            i.key: None if cell.value is None else str(cell.value)
                            for i, cell in zip(PUBLIC_INDICATORS, row.cells, strict=True)
                        },
                        "merker": {
                            i.key: cell.mark
                            for i, cell in zip(PUBLIC_INDICATORS, row.cells, strict=True)
                            if cell.mark
                        },
                    }
                    for row in rows
                ],
            }
        )
