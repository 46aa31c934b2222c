"""The steering-data API: PxWebApi 2.0 resources over the protected table catalogue.

Mirrors PxTools/PxApiSpecs v2.2.0 (``tables/specs/pxwebapi/PxAPI-2.yml``) under ``/api/v2`` so that
existing PxWeb clients can read the tables: ``/tables``, ``/tables/{id}``,
``/tables/{id}/metadata``, ``/tables/{id}/defaultselection``, ``/tables/{id}/data`` (GET with
``valuecodes[var]=a,b`` or POST with a ``VariablesSelection``), ``/codelists/{id}``, ``/config``.
Limits are published in ``/config``; calls beyond them get 429 with ``Retry-After``; errors are
RFC 7807 problem documents; nothing internal (stack traces, SQL) reaches a client.

Peers (sammenlignbare kommuner) are value sets of the region variable, one per municipality and
kind: ``vs_peers_catchment_1804`` (same catchment area as Bodø), ``vs_peers_county_1804``,
``vs_peers_population_band_1804``. A client applies one with ``codelist[region]=<id>`` (GET) or
``"codelist": "<id>"`` in a POST ``VariablesSelection``; ``valuecodes[region]=*`` (or no value
codes) then selects every member, and ``/codelists/<id>`` lists them. A value set only selects
published municipality cells; it never adds an aggregate, so disclosure control is unchanged.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from samhandling.errors import SamhandlingError
from samhandling.tables.catalog import Catalog
from samhandling.tables.cube import CONTENTS, ProtectedCube, TableError
from samhandling.tables.output import FORMATS, MEDIA_TYPES, Format, render, to_jsonstat
from samhandling.version import __version__

__all__ = ["ApiLimits", "create_app"]

PREFIX = "/api/v2"
PEERS_PREFIX = "vs_peers_"
LANGUAGE = "no"
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class ApiLimits:
    """Published limits (``/config``): cells per request and calls per time window per client."""

    max_data_cells: int = 150_000
    max_calls_per_time_window: int = 30
    time_window_s: int = 10


class _RateLimiter:
    """Sliding window per client address; thread-safe (uvicorn may serve from several threads)."""

    def __init__(self, limits: ApiLimits) -> None:
        self._limits = limits
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int | None:
        now = time.monotonic()
        window = self._limits.time_window_s
        with self._lock:
            calls = self._calls.setdefault(client, deque())
            while calls and calls[0] <= now - window:
                calls.popleft()
            if len(calls) >= self._limits.max_calls_per_time_window:
                return max(1, math.ceil(calls[0] + window - now))
            calls.append(now)
            return None


def _problem(status: int, title: str, detail: str, instance: str) -> JSONResponse:
    return JSONResponse(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": instance,
        },
        status_code=status,
        media_type=PROBLEM,
    )


def _links(base: str, table_id: str) -> list[dict[str, str]]:
    return [
        {"rel": "self", "hreflang": LANGUAGE, "href": f"{base}{PREFIX}/tables/{table_id}"},
        {
            "rel": "metadata",
            "hreflang": LANGUAGE,
            "href": f"{base}{PREFIX}/tables/{table_id}/metadata",
        },
        {"rel": "data", "hreflang": LANGUAGE, "href": f"{base}{PREFIX}/tables/{table_id}/data"},
    ]


def _table_info(cube: ProtectedCube, base: str) -> dict[str, Any]:
    spec = cube.spec
    periods = [c for c, _ in next(d for d in spec.dimensions if d.id == "period").codes]
    years = sorted({p[:4] for p in periods})
    return {
        "type": "Table",
        "id": spec.id,
        "label": spec.title,
        "description": spec.description,
        "updated": cube.built,
        "firstPeriod": years[0] if years else None,
        "lastPeriod": years[-1] if years else None,
        "category": "public",
        "variableNames": [d.label for d in spec.dimensions] + ["statistikkvariabel"],
        "discontinued": False,
        "source": "samhandling",
        "subjectCode": "SD",
        "timeUnit": "Other",
        "paths": [[{"id": "SD", "label": "Styringsdata for kommuner"}]],
        "links": _links(base, spec.id),
    }


def _deep_object(request: Request, name: str) -> dict[str, list[str]]:
    """``name[var]=a,b`` query parameters (OpenAPI deepObject style)."""
    out: dict[str, list[str]] = {}
    prefix = f"{name}["
    for key, value in request.query_params.multi_items():
        if key.startswith(prefix) and key.endswith("]"):
            var = key[len(prefix) : -1]
            out.setdefault(var, []).extend(v.strip() for v in value.split(",") if v.strip())
    return out


def _selection_from_query(
    request: Request,
) -> tuple[dict[str, list[str]], dict[str, str], list[str], list[str]]:
    """``valuecodes[var]=a,b``, ``codelist[var]=id``, plus ``stub`` and ``heading`` placement."""
    selection = _deep_object(request, "valuecodes")
    codelists = {var: ids[-1] for var, ids in _deep_object(request, "codelist").items() if ids}
    for var in codelists:
        selection.setdefault(var, [])
    stub = [s for s in request.query_params.get("stub", "").split(",") if s]
    heading = [s for s in request.query_params.get("heading", "").split(",") if s]
    return selection, codelists, stub, heading


def _peer_codelist(catalog: Catalog, codelist_id: str) -> tuple[str, list[str]]:
    """(label, member codes) of a ``vs_peers_<kind>_<municipality>`` value set."""
    rest = codelist_id[len(PEERS_PREFIX) :]
    kind, _, municipality = rest.rpartition("_")
    if not kind or not municipality:
        raise TableError(f"Ukjent tabell «{codelist_id}» (kodeliste)")
    group = catalog.peer_group(kind, municipality)
    return group.label, list(group.members)


def _valueset(catalog: Catalog, cube: ProtectedCube, var: str, codelist_id: str) -> list[str]:
    """The codes of value set ``codelist_id`` of variable ``var`` in ``cube``."""
    if codelist_id == f"vs_{var}":
        return [c for c, _ in cube.spec.dimension(var).codes]
    if var == "region" and codelist_id.startswith(PEERS_PREFIX):
        known = cube.spec.dimension(var).labels
        return [m for m in _peer_codelist(catalog, codelist_id)[1] if m in known]
    raise TableError(f"Kodelisten «{codelist_id}» gjelder ikke variabelen «{var}»")


def _expand(
    cube: ProtectedCube,
    selection: dict[str, list[str]],
    valuesets: dict[str, list[str]] | None = None,
) -> dict[str, list[str]]:
    """Resolve ``*``, ``top(n)`` and ``bottom(n)`` against the table's codes or a value set."""
    contents = [c[0] for c in cube.spec.contents]
    valuesets = valuesets or {}
    out: dict[str, list[str]] = {}
    for var, requested in selection.items():
        codes = requested
        if var in valuesets:
            all_codes = valuesets[var]
            outside = [c for c in codes if c != "*" and "(" not in c and c not in all_codes]
            if outside:
                raise TableError(f"Koden «{outside[0]}» er ikke i kodelisten for «{var}»")
            codes = codes or ["*"]
        elif var == CONTENTS:
            all_codes = contents
        else:
            all_codes = [c for c, _ in cube.spec.dimension(var).codes]
        chosen: list[str] = []
        for code in codes:
            lowered = code.lower()
            if code == "*":
                chosen += all_codes
            elif lowered.startswith(("top(", "bottom(")) and code.endswith(")"):
                try:
                    n = int(code[code.index("(") + 1 : -1])
                except ValueError:
                    raise TableError(f"Ugyldig utvalg «{code}» for «{var}»") from None
                chosen += all_codes[:n] if lowered.startswith("top(") else all_codes[-n:]
            else:
                chosen.append(code)
        out[var] = list(dict.fromkeys(chosen))
    return out


def create_app(
    source: Catalog | Callable[[], Catalog] | Path | str,
    *,
    limits: ApiLimits | None = None,
    borders: int = 2024,
) -> FastAPI:
    """The FastAPI app. ``source`` is a catalogue, a factory for one, or a warehouse folder."""
    limits = limits or ApiLimits()
    limiter = _RateLimiter(limits)
    lock = threading.Lock()
    cached: list[Catalog] = []

    def catalog() -> Catalog:
        with lock:
            if not cached:
                if isinstance(source, Catalog):
                    cached.append(source)
                elif isinstance(source, str | Path):
                    from samhandling.rules import load_rules
                    from samhandling.tables.published import published_catalog
                    from samhandling.warehouse import Warehouse

                    warehouse = Warehouse.open(source)
                    cached.append(published_catalog(warehouse, load_rules(), borders))
                else:
                    cached.append(source())
            return cached[0]

    app = FastAPI(
        title="samhandling styringsdata-API (PxWebApi 2.0)",
        version=__version__,
        description="Steering data for municipalities, PxWebApi 2.0 compatible. All counts are "
        "disclosure-controlled (cells under the threshold of patients are suppressed).",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
    )

    @app.middleware("http")
    async def rate_limit(request: Request, call_next: Callable[[Request], Any]) -> Response:
        client = request.client.host if request.client else "unknown"
        wait = limiter.retry_after(client)
        if wait is not None:
            response = _problem(
                429,
                "Too Many Requests",
                f"Mer enn {limits.max_calls_per_time_window} kall per "
                f"{limits.time_window_s} sekunder; prøv igjen om {wait} s.",
                str(request.url.path),
            )
            response.headers["Retry-After"] = str(wait)
            return response
        result: Response = await call_next(request)
        return result

    @app.exception_handler(TableError)
    async def table_error(request: Request, exc: TableError) -> JSONResponse:
        status = 404 if str(exc).startswith("Ukjent tabell") else 400
        return _problem(
            status, "Not Found" if status == 404 else "Bad Request", str(exc), str(request.url.path)
        )

    @app.exception_handler(SamhandlingError)
    async def user_error(request: Request, exc: SamhandlingError) -> JSONResponse:
        return _problem(
            400, "Bad Request", str(exc).split("\n--- SQL ---")[0], str(request.url.path)
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        return _problem(400, "Bad Request", detail, str(request.url.path))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _problem(exc.status_code, str(exc.detail), str(exc.detail), str(request.url.path))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Never leak internals: the client gets a problem document, the server log the trace.
        return _problem(
            500, "Internal Server Error", "Uventet feil i tjenesten.", str(request.url.path)
        )

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    @app.get(f"{PREFIX}/config")
    def config() -> dict[str, Any]:
        return {
            "apiVersion": "2.0",
            "appVersion": __version__,
            "languages": [{"id": LANGUAGE, "label": "Norsk bokmål"}],
            "defaultLanguage": LANGUAGE,
            "maxDataCells": limits.max_data_cells,
            "maxCallsPerTimeWindow": limits.max_calls_per_time_window,
            "timeWindow": limits.time_window_s,
            "license": "CC BY 4.0 (syntetiske data)",
            "sourceReferences": [{"language": LANGUAGE, "text": "Kilde: samhandling"}],
            "defaultDataFormat": "json-stat2",
            "dataFormats": list(FORMATS),
            "features": [
                {
                    "id": "disclosureControl",
                    "params": [
                        {
                            "key": "threshold",
                            "value": str(next(iter(catalog().cubes.values())).threshold)
                            if catalog().cubes
                            else "",
                        },
                        {"key": "symbol", "value": ":"},
                    ],
                }
            ],
        }

    @app.get(f"{PREFIX}/tables")
    def tables(
        request: Request,
        query: str | None = None,
        pageNumber: int = 1,  # noqa: N803 - PxWeb parameter name
        pageSize: int = 20,  # noqa: N803
    ) -> dict[str, Any]:
        if pageNumber < 1 or pageSize < 1:
            raise TableError("pageNumber og pageSize må være minst 1")
        items = [_table_info(c, base_url(request)) for c in catalog().cubes.values()]
        if query:
            q = query.lower()
            items = [t for t in items if q in t["label"].lower() or q in t["id"].lower()]
        total_pages = max(1, math.ceil(len(items) / pageSize))
        start = (pageNumber - 1) * pageSize
        return {
            "language": LANGUAGE,
            "tables": items[start : start + pageSize],
            "page": {
                "pageNumber": pageNumber,
                "pageSize": pageSize,
                "totalElements": len(items),
                "totalPages": total_pages,
            },
            "links": [],
        }

    @app.get(f"{PREFIX}/tables/{{table_id}}")
    def table(request: Request, table_id: str) -> dict[str, Any]:
        info = _table_info(catalog().cube(table_id), base_url(request))
        return {**info, "language": LANGUAGE}

    @app.get(f"{PREFIX}/tables/{{table_id}}/metadata")
    def metadata(request: Request, table_id: str) -> dict[str, Any]:
        cube = catalog().cube(table_id)
        selection = {d.id: [c for c, _ in d.codes] for d in cube.spec.dimensions}
        # Metadata only: build the dimension part without touching the cells.
        doc = to_jsonstat(_metadata_table(cube, selection))
        doc["value"] = []
        doc["status"] = {}
        for d in cube.spec.dimensions:
            doc["dimension"][d.id]["extension"] = {
                "elimination": True,
                "eliminationValueCode": d.total,
                "show": "value",
                "codelists": [
                    {
                        "id": f"vs_{d.id}",
                        "label": d.label,
                        "type": "Valueset",
                        "links": [
                            {
                                "rel": "self",
                                "hreflang": LANGUAGE,
                                "href": f"{base_url(request)}{PREFIX}/codelists/vs_{d.id}",
                            }
                        ],
                    }
                ],
            }
        return doc

    @app.get(f"{PREFIX}/tables/{{table_id}}/defaultselection")
    def default_selection(request: Request, table_id: str) -> dict[str, Any]:
        cube = catalog().cube(table_id)
        period = cube.spec.dimension("period")
        last_year = period.total
        return {
            "language": LANGUAGE,
            "selection": [
                {"variableCode": "region", "valueCodes": ["0"]},
                {"variableCode": "period", "valueCodes": [last_year]},
                {"variableCode": CONTENTS, "valueCodes": [cube.spec.contents[0][0]]},
            ],
            "placement": {"heading": ["period"], "stub": ["region"]},
            "links": _links(base_url(request), table_id),
        }

    def data_response(  # noqa: PLR0917 - the PxWeb request's parts
        table_id: str,
        selection: dict[str, list[str]],
        codelists: dict[str, str],
        fmt: str,
        stub: list[str],
        heading: list[str],
    ) -> Response:
        if fmt not in FORMATS:
            raise TableError(f"Ukjent format «{fmt}»; velg blant {', '.join(FORMATS)}")
        cube = catalog().cube(table_id)
        if not selection:
            selection = {"region": ["0"], "period": [cube.spec.dimension("period").total]}
        valuesets = {
            var: _valueset(catalog(), cube, var, codelist_id)
            for var, codelist_id in codelists.items()
        }
        expanded = _expand(cube, selection, valuesets)
        measures = expanded.pop(CONTENTS, None)
        cells = math.prod(len(v) for v in expanded.values()) * len(measures or cube.spec.contents)
        if cells > limits.max_data_cells:
            return _problem(
                403,
                "Forbidden",
                f"Utvalget gir {cells} celler; grensen er {limits.max_data_cells} (se /config).",
                f"{PREFIX}/tables/{table_id}/data",
            )
        result = cube.slice(expanded, measures)
        if stub or heading:
            result = result.reordered([*stub, *heading])
        chosen: Format = fmt
        body = render(result, chosen)
        headers = {}
        if chosen in ("xlsx", "parquet", "csv"):
            ext = {"xlsx": "xlsx", "parquet": "parquet", "csv": "csv"}[chosen]
            headers["Content-Disposition"] = f'attachment; filename="{table_id}.{ext}"'
        return Response(body, media_type=MEDIA_TYPES[chosen], headers=headers)

    @app.get(f"{PREFIX}/tables/{{table_id}}/data")
    def data(request: Request, table_id: str, outputFormat: str = "json-stat2") -> Response:  # noqa: N803
        selection, codelists, stub, heading = _selection_from_query(request)
        return data_response(table_id, selection, codelists, outputFormat, stub, heading)

    @app.post(f"{PREFIX}/tables/{{table_id}}/data")
    def data_post(
        table_id: str,
        body: dict[str, Any] | None = None,
        outputFormat: str = "json-stat2",  # noqa: N803
    ) -> Response:
        selection: dict[str, list[str]] = {}
        codelists: dict[str, str] = {}
        stub: list[str] = []
        heading: list[str] = []
        if body:
            items = body.get("selection")
            if not isinstance(items, list):
                raise TableError("Forespørselen mangler «selection» (liste av variabelutvalg)")
            for item in items:
                if not isinstance(item, dict) or "variableCode" not in item:
                    raise TableError("Hvert utvalg må ha «variableCode» og «valueCodes»")
                var = str(item["variableCode"])
                selection[var] = [str(v) for v in item.get("valueCodes") or []]
                if item.get("codelist"):
                    codelists[var] = str(item["codelist"])
            placement = body.get("placement") or {}
            stub = [str(s) for s in placement.get("stub", [])]
            heading = [str(s) for s in placement.get("heading", [])]
        return data_response(table_id, selection, codelists, outputFormat, stub, heading)

    @app.get(f"{PREFIX}/codelists/{{codelist_id}}")
    def codelist(request: Request, codelist_id: str) -> dict[str, Any]:
        if not codelist_id.startswith("vs_"):
            raise TableError(f"Ukjent tabell «{codelist_id}» (kodeliste)")
        if codelist_id.startswith(PEERS_PREFIX):
            label, members = _peer_codelist(catalog(), codelist_id)
            region_labels: dict[str, str] = {}
            for cube in catalog().cubes.values():
                region_labels.update(cube.spec.dimension("region").labels)
            return {
                "id": codelist_id,
                "label": label,
                "language": LANGUAGE,
                "languages": [LANGUAGE],
                "elimination": False,
                "type": "Valueset",
                "values": [
                    {"code": m, "label": region_labels.get(m, m), "valueMap": [m]} for m in members
                ],
                "links": [
                    {
                        "rel": "self",
                        "hreflang": LANGUAGE,
                        "href": f"{base_url(request)}{PREFIX}/codelists/{codelist_id}",
                    }
                ],
            }
        dim_id = codelist_id[3:]
        for cube in catalog().cubes.values():
            for d in cube.spec.dimensions:
                if d.id == dim_id:
                    return {
                        "id": codelist_id,
                        "label": d.label,
                        "language": LANGUAGE,
                        "languages": [LANGUAGE],
                        "elimination": True,
                        "eliminationValueCode": d.total,
                        "type": "Valueset",
                        "values": [
                            {"code": c, "label": lab, "valueMap": [c]} for c, lab in d.codes
                        ],
                        "links": [
                            {
                                "rel": "self",
                                "hreflang": LANGUAGE,
                                "href": f"{base_url(request)}{PREFIX}/codelists/{codelist_id}",
                            }
                        ],
                    }
        raise TableError(f"Ukjent tabell «{codelist_id}» (kodeliste)")

    return app


def _metadata_table(cube: ProtectedCube, selection: dict[str, list[str]]) -> Any:
    from samhandling.tables.cube import StatTable

    spec = cube.spec
    dims: list[tuple[str, str, list[tuple[str, str]], str | None]] = [
        (d.id, d.label, [(c, lab) for c, lab in d.codes if c in set(selection[d.id])], d.role)
        for d in spec.dimensions
    ]
    dims.append((CONTENTS, "statistikkvariabel", [(c[0], c[1]) for c in spec.contents], "metric"))
    return StatTable(
        id=spec.id,
        title=spec.title,
        dimensions=dims,
        units={c[0]: (c[2], c[3]) for c in spec.contents},
        values=[],
        reasons={},
        notes=list(spec.notes),
        source="samhandling",
        updated=cube.built,
        threshold=cube.threshold,
        rule_version=cube.rule_version,
        dimension_notes={d.id: d.notes for d in spec.dimensions if d.notes},
    )
