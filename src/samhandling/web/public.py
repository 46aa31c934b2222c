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

from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from samhandling.tables.cube import SUPPRESSED
from samhandling.tables.dimensions import COUNTRY
from samhandling.tables.public_figures import (
    PUBLIC_INDICATORS,
    PublicIndicator,
    PublicRow,
    public_table,
)
from samhandling.web._app import add_nav, await_jobs, portal_of, render, year_param
from samhandling.web.maps import IndicatorMap, indicator_map
from samhandling.web.tables import BORDERS, catalog_job

__all__ = ["add_public_views"]

_BY_KEY = {i.key: i for i in PUBLIC_INDICATORS}

PATH = "/statistikk"
SUPPRESSED_NOTE = "færre enn {threshold} pasienter, eller skjult for å beskytte en annen celle"


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
                {"id": i.key, "navn": i.label, "desimaler": i.decimals} for i in PUBLIC_INDICATORS
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


def add_public_views(app: FastAPI) -> None:
    add_nav(app, PATH, "Statistikk for kommunene", {"anonymous", "public"})
    app.add_api_route(PATH, public_page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route(f"/json{PATH}", public_json, methods=["GET"])
