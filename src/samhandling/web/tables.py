"""The table generator (tabellgenerator): choose measures, dimensions and filters, download.

The tables are the protected cubes of :mod:`samhandling.tables` (the same ones the PxWebApi
under ``/api`` serves): every cell is disclosure-controlled before it reaches this module, and
suppressed cells keep their mark (``:``) and reason here and in every download. The whole choice
is in the URL's query string, so a table can be shared by its address and reopens as it was.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from samhandling.engine import Engine
from samhandling.formatting import number
from samhandling.rules import RuleSet
from samhandling.tables.catalog import Catalog
from samhandling.tables.cube import CONTENTS, SUPPRESSED, StatTable, TableError
from samhandling.tables.output import MEDIA_TYPES, REASON_LABELS, render
from samhandling.tables.published import published_catalog
from samhandling.warehouse import Warehouse
from samhandling.web._app import Portal, await_jobs, portal_of
from samhandling.web._app import render as render_page
from samhandling.web.jobs import Computation, job, report_progress

MEASURE_PARAM = "maal"
# Download suffix → output format of samhandling.tables.output.
DOWNLOADS = {"json": "json-stat2", "csv": "csv", "xlsx": "xlsx"}
# Borders the published tables use (the municipalities of the latest reform).
BORDERS = 2024


def stored_catalog(engine: Engine, rules: RuleSet, warehouse: Warehouse, borders: int) -> Catalog:
    """Every table of the catalogue, protected, in the municipalities of ``borders``.

    Read from the warehouse when built for its current state (by the demo or
    ``samhandling table-build``); otherwise built on ``engine`` and stored for next time.
    """

    def step(table: str, done: int, steps: int) -> None:
        report_progress(f"tabell {table}, steg {done} av {steps}")

    return published_catalog(warehouse, rules, borders, engine=engine, on_progress=step)


def catalog_job(portal: Portal) -> Computation:
    """The protected cubes (shared by the table generator and the public statistics page)."""
    return job(portal, "Tabeller med prikking", stored_catalog, portal.warehouse, BORDERS)


def _slice(catalog: Catalog, table_id: str, request: Request) -> StatTable:
    try:
        cube = catalog.cube(table_id)
    except TableError:
        raise StarletteHTTPException(404) from None
    params = request.query_params
    selection = {d.id: params.getlist(d.id) for d in cube.spec.dimensions if params.getlist(d.id)}
    return cube.slice(selection, params.getlist(MEASURE_PARAM) or None)


def _grid(stat: StatTable) -> dict[str, Any]:
    """Rows (one per combination of the chosen codes) × columns (one per measure)."""
    dims = [d for d in stat.dimensions if d[0] != CONTENTS]
    measures = next(d for d in stat.dimensions if d[0] == CONTENTS)[2]
    reasons_used: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    width = len(measures)
    for start in range(0, len(stat.values), width):
        cells = []
        for offset, (code, _label) in enumerate(measures):
            index = start + offset
            reason = stat.reasons.get(index)
            if reason is not None:
                note = reasons_used.setdefault(reason, len(reasons_used) + 1)
                cells.append({"text": SUPPRESSED, "note": note, "suppressed": True})
            else:
                _unit, decimals = stat.units[code]
                cells.append({"text": number(stat.values[index], decimals), "note": None})
        rows.append({"cells": cells})
    # Labels of each row: the row-major product of the chosen codes of each dimension.
    labels: list[list[str]] = [[]]
    for _id, _label, codes, _role in dims:
        labels = [[*prefix, label] for prefix in labels for _code, label in codes]
    for row, row_labels in zip(rows, labels, strict=True):
        row["labels"] = row_labels
    footnotes = [
        (n, REASON_LABELS.get(reason, reason).format(threshold=stat.threshold))
        for reason, n in sorted(reasons_used.items(), key=lambda item: item[1])
    ]
    return {
        "dimensions": [(d[0], d[1]) for d in dims],
        "measures": measures,
        "rows": rows,
        "footnotes": footnotes,
    }


def tables_page(request: Request) -> Response:
    portal = portal_of(request)
    job = catalog_job(portal)
    waiting = await_jobs(request, [job], "Tabeller")
    if waiting is not None:
        return waiting
    catalog: Catalog = job.result()
    return render_page(
        request,
        "tables.html",
        {"cubes": [c.spec for c in catalog.cubes.values()], "scope": catalog.scope},
        title="Tabeller",
    )


def table_page(request: Request, table_id: str) -> Response:
    portal = portal_of(request)
    job = catalog_job(portal)
    waiting = await_jobs(request, [job], "Tabell")
    if waiting is not None:
        return waiting
    catalog: Catalog = job.result()
    stat = _slice(catalog, table_id, request)
    cube = catalog.cube(table_id)
    params = request.query_params
    chosen = {d.id: set(params.getlist(d.id)) for d in cube.spec.dimensions}
    chosen_measures = set(params.getlist(MEASURE_PARAM)) or {c[0] for c in cube.spec.contents}
    query = str(request.url.query)
    return render_page(
        request,
        "table.html",
        {
            "spec": cube.spec,
            "stat": stat,
            "grid": _grid(stat),
            "chosen": chosen,
            "chosen_measures": chosen_measures,
            "measure_param": MEASURE_PARAM,
            "downloads": {
                suffix: f"/tabeller/{table_id}/data.{suffix}" + (f"?{query}" if query else "")
                for suffix in DOWNLOADS
            },
            "suppressed": SUPPRESSED,
            "scope": catalog.scope,
        },
        title=stat.title,
    )


def table_download(request: Request, table_id: str, suffix: str) -> Response:
    if suffix not in DOWNLOADS:
        raise StarletteHTTPException(404)
    catalog: Catalog = catalog_job(portal_of(request)).result()
    stat = _slice(catalog, table_id, request)
    fmt = DOWNLOADS[suffix]
    return Response(
        render(stat, fmt),  # type: ignore[arg-type]
        media_type=MEDIA_TYPES[fmt],  # type: ignore[index]
        headers={"Content-Disposition": f'attachment; filename="{table_id}.{suffix}"'},
    )


def add_table_views(app: FastAPI) -> None:
    app.add_api_route("/tabeller", tables_page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route(
        "/tabeller/{table_id}", table_page, methods=["GET"], response_class=HTMLResponse
    )
    app.add_api_route("/tabeller/{table_id}/data.{suffix}", table_download, methods=["GET"])
