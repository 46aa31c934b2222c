"""The views of the bills: Min kommune, the health trust, the country, line items, explain.

Every number comes from :mod:`samhandling.instruments` (the same functions as the CLI and the
exports); this module only picks rows, checks who may see them and lays them out.
"""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from samhandling.errors import SamhandlingError
from samhandling.formatting import MONTHS, month_no
from samhandling.instruments import (
    DIFFERENCE_REASONS,
    REASONS,
    cofinancing_akonto,
    cofinancing_statement,
    discharge_ready_by_trust,
    discharge_ready_invoices,
    discharge_ready_lines,
    discharge_ready_statistics,
    explain_episode,
    export_table,
)
from samhandling.instruments.discharge_ready import DISCHARGE_READY_RULES
from samhandling.instruments.explain import EpisodeNotFoundError, Explanation
from samhandling.tables.comparison import comparison
from samhandling.tables.disclosure import disclosure_threshold
from samhandling.tables.stay_rates import stay_rates
from samhandling.web._app import (
    SECTOR_NAMES,
    ForbiddenError,
    Portal,
    await_jobs,
    client_of,
    portal_of,
    render,
    require_login,
    year_param,
)
from samhandling.web.charts import Series, bar_chart
from samhandling.web.jobs import Computation, job
from samhandling.web.maps import (
    DISCHARGE_READY_INDICATORS,
    RATE_SWITCH,
    STAY_RATE_INDICATORS,
    borders_for,
    discharge_ready_map,
    stay_rate_map,
)
from samhandling.web.municipality import page_context
from samhandling.web.security import (
    Principal,
    can_view_health_trust,
    can_view_line_items,
    can_view_municipality,
)
from samhandling.web.tables import catalog_job

_MUNICIPALITY = re.compile(r"^\d{4}$")
_ORGNR = re.compile(r"^\d{9}$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_EPISODE = re.compile(r"^[\w.:-]{1,64}$")
_SHORT_MONTHS = tuple(m[:3] for m in MONTHS)
# The indicators the country map can show: key (the ``kart`` parameter) → label.
_MAP_INDICATORS = {
    key: label
    for key, (label, _column) in (DISCHARGE_READY_INDICATORS | STAY_RATE_INDICATORS).items()
}
_DOWNLOADS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@cache
def _trust_names() -> dict[str, str]:
    from samhandling.refdata import catchment, health_trusts

    rows: list[dict[str, Any]] = health_trusts().select(["orgnr", "short_name"]).to_pylist()
    names = {str(r["orgnr"]): str(r["short_name"]) for r in rows}
    # The catchment list spells health trusts as people know them ("Nordlandssykehuset HF").
    areas: list[dict[str, Any]] = catchment().select(["hf_orgnr", "hf_name"]).to_pylist()
    names.update({str(r["hf_orgnr"]): str(r["hf_name"]) for r in areas})
    return names


def trust_name(orgnr: str) -> str:
    return _trust_names().get(orgnr, orgnr)


@cache
def _municipality_names(year: int) -> dict[str, str]:
    from samhandling.refdata import names

    try:
        return names(year)
    except SamhandlingError:
        return {}


def municipality_name(code: str, year: int) -> str:
    return _municipality_names(year).get(code, code)


def cofinancing_year(portal: Portal, year: int) -> bool:
    """Whether co-financing was in force in ``year`` (the validity of ``cofinancing.share``)."""
    share = portal.rules["cofinancing.share"]
    return any(r.valid_from.year <= year <= r.valid_to.year for r in share.rows)


def _check(pattern: re.Pattern[str], value: str, what: str) -> None:
    if not pattern.match(value):
        raise StarletteHTTPException(404, f"Ugyldig {what}.")


def _month(value: str) -> date:
    found = _MONTH.match(value)
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise StarletteHTTPException(404, "Ugyldig måned.")
    return date(int(found.group(1)), int(found.group(2)), 1)


def _rows(table: pa.Table, **equal: Any) -> list[dict[str, Any]]:
    mask = None
    for column, value in equal.items():
        test = pc.equal(table[column], pa.scalar(value, table.schema.field(column).type))
        mask = test if mask is None else pc.and_(mask, test)
    picked = table if mask is None else table.filter(mask)
    rows: list[dict[str, Any]] = picked.to_pylist()
    return rows


def _sum(rows: list[dict[str, Any]], column: str) -> Decimal:
    return sum((Decimal(r[column]) for r in rows if r[column] is not None), Decimal(0))


@dataclass(frozen=True)
class MonthRow:
    """One month of Min kommune's co-financing: accrued, paid à-konto, difference."""

    month: int
    label: str
    amount: Decimal
    unverified: Decimal
    akonto: Decimal | None

    @property
    def difference(self) -> Decimal | None:
        return None if self.akonto is None else self.akonto - self.amount


def _invoices_job(portal: Portal, year: int) -> Computation:
    return job(
        portal,
        f"Utskrivningsklare pasienter: fakturaer {year}",
        discharge_ready_invoices,
        year=year,
    )


def _statistics_job(portal: Portal, year: int) -> Computation:
    return job(
        portal,
        f"Utskrivningsklare pasienter: overliggerdøgn {year}",
        discharge_ready_statistics,
        year,
    )


def _statement_job(portal: Portal, year: int, level: str) -> Computation:
    return job(
        portal,
        f"Medfinansiering per måned {year}",
        cofinancing_statement,
        year,
        period="month",
        level=level,
    )


def _lines_job(portal: Portal) -> Computation:
    return job(portal, "Utskrivningsklare pasienter: fakturalinjer", discharge_ready_lines)


def _invoice_table(lines: pa.Table, municipality: str, health_trust: str, month: date) -> pa.Table:
    """The billed line items of one invoice (health trust → municipality, one month)."""
    mask = pc.and_(
        pc.and_(
            pc.equal(lines["paying_municipality"], pa.scalar(municipality)),
            pc.equal(lines["health_trust"], pa.scalar(health_trust)),
        ),
        pc.and_(
            pc.equal(
                lines["invoice_month"], pa.scalar(month, lines.schema.field("invoice_month").type)
            ),
            pc.equal(lines["billed"], pa.scalar(True)),
        ),
    )
    return lines.filter(mask)


def _line_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "episode_id": row["episode_id"],
        "period_no": row["period_no"],
        "patient_id": row["patient_id"],
        "sector": row["sector"],
        "line_from": row["line_from"].isoformat(),
        "line_to": (row["line_until"] - timedelta(days=1)).isoformat(),
        "days": row["days"],
        "daily_rate": str(row["daily_rate"]),
        "amount": str(row["amount"]),
        "unverified": row["unverified"],
        "rule_versions": row["rule_versions"],
    }


def municipality_page(request: Request, code: str, aar: str | None = None) -> Response:
    principal = require_login(request)
    _check(_MUNICIPALITY, code, "kommunenummer")
    if not can_view_municipality(principal, code):
        raise ForbiddenError("Du har ikke tilgang til denne kommunens regninger.")
    portal = portal_of(request)
    years = portal.warehouse.status().years
    year = year_param(aar, years)
    name = municipality_name(code, year or date.today().year)
    context: dict[str, Any] = {
        "code": code,
        "name": name,
        "year": year,
        "years": years,
        "cofinancing": None,
        "invoices": [],
    }
    if year is None:
        return render(request, "municipality.html", context, title=f"Min kommune: {name}")
    jobs = [_invoices_job(portal, year), _statistics_job(portal, year)]
    has_cof = cofinancing_year(portal, year)
    if has_cof:
        jobs += [
            _statement_job(portal, year, "municipality"),
            job(portal, f"À-konto {year}", cofinancing_akonto, year),
        ]
    # The comparison reads the protected tables (shared with the table generator and the
    # public statistics): built once per warehouse state, stored, then read.
    tables = catalog_job(portal)
    started = time.monotonic()
    waiting = await_jobs(request, jobs, f"Min kommune: {name}")
    if waiting is not None:
        return waiting
    # The bills are shown as soon as they are ready; the comparison (a computation over
    # every municipality) fills in when it is done, the page reloading itself meanwhile.
    remaining = max(0.0, portal.wait_seconds - (time.monotonic() - started))
    if portal.computations.wait([tables], remaining):
        context.update(_indicator_context(tables, code, name, year, has_cof))
    else:
        context["indicators_pending"] = [tables]
    stats = _rows(jobs[1].result(), municipality=code)
    context["dr_stats"] = stats[0] if stats else None
    invoices = _rows(jobs[0].result(), paying_municipality=code)
    for row in invoices:
        row["trust_name"] = trust_name(row["health_trust"])
    context["invoices"] = invoices
    context["invoice_total"] = _sum(invoices, "amount")
    context["invoice_days"] = sum(int(r["days"]) for r in invoices)
    context["invoice_unverified"] = _sum(invoices, "unverified_amount")
    if has_cof:
        context["cofinancing"] = _cofinancing_months(jobs[2].result(), jobs[3].result(), code, year)
    return render(request, "municipality.html", context, title=f"Min kommune: {name}")


def invoice_lines_page(request: Request, code: str, orgnr: str, month: str) -> Response:
    principal = require_login(request)
    _check(_MUNICIPALITY, code, "kommunenummer")
    _check(_ORGNR, orgnr, "organisasjonsnummer")
    first = _month(month)
    _require_line_access(principal, code, orgnr)
    portal = portal_of(request)
    lines_job = _lines_job(portal)
    waiting = await_jobs(request, [lines_job], "Fakturalinjer")
    if waiting is not None:
        return waiting
    lines: list[dict[str, Any]] = _invoice_table(lines_job.result(), code, orgnr, first).to_pylist()
    resource = f"utskrivningsklare/{code}/{orgnr}/{month}"
    portal.store.audit(
        principal.user,
        "view_line_items",
        resource,
        sorted({r["episode_id"] for r in lines}),
        client=client_of(request),
    )
    for row in lines:
        row["last_day"] = row["line_until"] - timedelta(days=1)
    return render(
        request,
        "invoice_lines.html",
        {
            "code": code,
            "name": municipality_name(code, first.year),
            "orgnr": orgnr,
            "trust_name": trust_name(orgnr),
            "month": first,
            "lines": lines,
            "total": _sum(lines, "amount"),
            "days": sum(int(r["days"]) for r in lines),
            "unverified": any(r["unverified"] for r in lines),
            "sector_names": SECTOR_NAMES,
            "json_url": f"/json/kommune/{code}/utskrivningsklare/{orgnr}/{month}",
            "download_url": f"/kommune/{code}/utskrivningsklare/{orgnr}/{month}/linjer",
        },
        title="Fakturalinjer",
    )


def invoice_lines_json(request: Request, code: str, orgnr: str, month: str) -> Response:
    principal = require_login(request)
    _check(_MUNICIPALITY, code, "kommunenummer")
    _check(_ORGNR, orgnr, "organisasjonsnummer")
    first = _month(month)
    _require_line_access(principal, code, orgnr)
    portal = portal_of(request)
    # The API waits for its answer (on this request's thread; the worker pool bounds load).
    table = _invoice_table(_lines_job(portal).result(), code, orgnr, first)
    lines: list[dict[str, Any]] = table.to_pylist()
    portal.store.audit(
        principal.user,
        "view_line_items",
        f"json/utskrivningsklare/{code}/{orgnr}/{month}",
        sorted({r["episode_id"] for r in lines}),
        client=client_of(request),
    )
    return JSONResponse(
        {
            "municipality": code,
            "health_trust": orgnr,
            "invoice_month": first.isoformat(),
            "days": sum(int(r["days"]) for r in lines),
            "amount": str(_sum(lines, "amount")),
            "rule_set": portal.rules.label,
            "lines": [_line_json(r) for r in lines],
        }
    )


def invoice_lines_download(
    request: Request, code: str, orgnr: str, month: str, suffix: str
) -> Response:
    principal = require_login(request)
    _check(_MUNICIPALITY, code, "kommunenummer")
    _check(_ORGNR, orgnr, "organisasjonsnummer")
    if suffix not in _DOWNLOADS:
        raise StarletteHTTPException(404)
    first = _month(month)
    _require_line_access(principal, code, orgnr)
    portal = portal_of(request)
    table = _invoice_table(_lines_job(portal).result(), code, orgnr, first)
    name = f"utskrivningsklare-{code}-{orgnr}-{month}.{suffix}"
    with tempfile.TemporaryDirectory(prefix="samhandling-") as folder:
        path = export_table(
            table,
            Path(folder) / name,
            portal.rules,
            sheet="Fakturalinjer",
            rule_ids=DISCHARGE_READY_RULES,
            title=f"Utskrivningsklare pasienter: {trust_name(orgnr)} til "
            f"{municipality_name(code, first.year)}, {month_no(first)}",
        )
        content = path.read_bytes()
    portal.store.audit(
        principal.user,
        "download_line_items",
        f"utskrivningsklare/{code}/{orgnr}/{month}.{suffix}",
        sorted({str(e) for e in table["episode_id"].to_pylist()}),
        client=client_of(request),
    )
    return Response(
        content,
        media_type=_DOWNLOADS[suffix],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def health_trust_page(request: Request, orgnr: str, aar: str | None = None) -> Response:
    principal = require_login(request)
    _check(_ORGNR, orgnr, "organisasjonsnummer")
    if not can_view_health_trust(principal, orgnr):
        raise ForbiddenError("Du har ikke tilgang til dette helseforetakets fakturaer.")
    portal = portal_of(request)
    years = portal.warehouse.status().years
    year = year_param(aar, years)
    name = trust_name(orgnr)
    context: dict[str, Any] = {
        "orgnr": orgnr,
        "name": name,
        "year": year,
        "years": years,
        "municipalities": [],
        "invoices": [],
    }
    if year is None:
        return render(request, "health_trust.html", context, title=name)
    invoices_job = _invoices_job(portal, year)
    waiting = await_jobs(request, [invoices_job], name)
    if waiting is not None:
        return waiting
    invoices = _rows(invoices_job.result(), health_trust=orgnr)
    by_municipality: dict[str, dict[str, Any]] = {}
    for row in invoices:
        code = row["paying_municipality"]
        row["municipality_name"] = municipality_name(code, year)
        agg = by_municipality.setdefault(
            code,
            {
                "code": code,
                "name": row["municipality_name"],
                "stays": 0,
                "days": 0,
                "amount": Decimal(0),
                "unverified": Decimal(0),
                "months": {},
            },
        )
        agg["stays"] += int(row["stays"])
        agg["days"] += int(row["days"])
        agg["amount"] += row["amount"]
        agg["unverified"] += row["unverified_amount"]
        agg["months"][row["invoice_month"].month] = row
    municipalities = sorted(by_municipality.values(), key=lambda m: m["code"])
    context["municipalities"] = municipalities
    context["invoices"] = invoices
    context["total"] = _sum(invoices, "amount")
    context["short_months"] = _SHORT_MONTHS
    context["chart"] = (
        bar_chart(
            "hf-chart",
            f"Utskrivningsklare pasienter: fakturert per kommune {year}",
            [m["name"] for m in municipalities],
            [Series("Fakturert (kr)", tuple(m["amount"] for m in municipalities))],
            description="Fakturert beløp per kommune; tallene står i tabellen under.",
        )
        if municipalities
        else None
    )
    return render(request, "health_trust.html", context, title=name)


def country_page(request: Request, aar: str | None = None, kart: str | None = None) -> Response:
    principal = require_login(request)
    if principal.role != "national":
        raise ForbiddenError("Landsoversikten med regninger er for nasjonale brukere.")
    portal = portal_of(request)
    years = portal.warehouse.status().years
    year = year_param(aar, years)
    context: dict[str, Any] = {"year": year, "years": years, "rhf": None, "trusts": []}
    if year is None:
        return render(request, "country.html", context, title="Landet")
    indicator = kart if kart in _MAP_INDICATORS else "overliggerdogn"
    jobs = [
        job(
            portal,
            f"Utskrivningsklare pasienter: fakturert per helseforetak {year}",
            discharge_ready_by_trust,
            year=year,
        ),
        job(
            portal,
            f"Innleggelser per 1 000 innbyggere {year}",
            stay_rates,
            year,
            borders=borders_for(year),
        )
        if indicator in STAY_RATE_INDICATORS
        else _statistics_job(portal, year),
    ]
    has_cof = cofinancing_year(portal, year)
    if has_cof:
        jobs.append(_statement_job(portal, year, "rhf"))
    waiting = await_jobs(request, jobs, "Landet")
    if waiting is not None:
        return waiting
    by_trust = jobs[0].result()
    context["trusts"] = sorted(
        ({**row, "name": trust_name(row["health_trust"])} for row in by_trust.to_pylist()),
        key=lambda t: t["name"],
    )
    # The page's total is the sum of the rows it shows (each to the øre).
    context["dr_total"] = sum((t["amount"] for t in context["trusts"]), Decimal(0))
    if has_cof:
        context["rhf"] = _rhf_months(jobs[2].result(), year)
    threshold, _version = disclosure_threshold(portal.rules, date(year, 12, 31))
    draw = stay_rate_map if indicator in STAY_RATE_INDICATORS else discharge_ready_map
    context["municipality_map_data"] = draw(jobs[1].result(), year, indicator, threshold)
    context["map_choices"] = list(_MAP_INDICATORS.items())
    context["map_switch"] = RATE_SWITCH.get(indicator)
    return render(request, "country.html", context, title="Landet")


def explain_page(request: Request, episode_id: str) -> Response:
    principal = require_login(request)
    _check(_EPISODE, episode_id, "episode-id")
    portal = portal_of(request)
    explain_job = job(portal, f"Forklaring av episode {episode_id}", explain_episode, episode_id)
    waiting = await_jobs(request, [explain_job], "Forklaring")
    if waiting is not None:
        return waiting
    try:
        explanation: Explanation = explain_job.result()
    except EpisodeNotFoundError:
        raise StarletteHTTPException(404) from None
    if not _may_explain(principal, explanation):
        # Not found rather than forbidden: do not confirm that someone else's episode exists.
        raise StarletteHTTPException(404)
    portal.store.audit(
        principal.user,
        "explain",
        f"forklar/{episode_id}",
        [episode_id],
        client=client_of(request),
    )
    cof = explanation.cofinancing
    return render(
        request,
        "explain.html",
        {
            "x": explanation,
            "cof": cof,
            "reason": REASONS.get(str(cof.get("reason")), str(cof.get("reason") or "")),
            "difference_reasons": DIFFERENCE_REASONS,
            "trust_name": trust_name(str(cof.get("health_trust"))),
            "municipality_name": municipality_name(
                str(cof.get("municipality")), int(cof.get("year") or date.today().year)
            ),
            "stay": explanation.discharge_ready_stay,
            "lines": explanation.discharge_ready_lines,
        },
        title=f"Forklaring av {episode_id}",
    )


def add_views(app: FastAPI) -> None:
    from samhandling.web.public import add_public_views

    add_public_views(app)
    app.add_api_route(
        "/kommune/{code}", municipality_page, methods=["GET"], response_class=HTMLResponse
    )
    app.add_api_route(
        "/kommune/{code}/utskrivningsklare/{orgnr}/{month}",
        invoice_lines_page,
        methods=["GET"],
        response_class=HTMLResponse,
    )
    app.add_api_route(
        "/json/kommune/{code}/utskrivningsklare/{orgnr}/{month}",
        invoice_lines_json,
        methods=["GET"],
    )
    app.add_api_route(
        "/kommune/{code}/utskrivningsklare/{orgnr}/{month}/linjer.{suffix}",
        invoice_lines_download,
        methods=["GET"],
    )
    app.add_api_route(
        "/helseforetak/{orgnr}", health_trust_page, methods=["GET"], response_class=HTMLResponse
    )
    app.add_api_route("/land", country_page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route(
        "/forklar/{episode_id}", explain_page, methods=["GET"], response_class=HTMLResponse
    )


def _indicator_context(
    tables: Computation, code: str, name: str, year: int, cofinancing: bool
) -> dict[str, Any]:
    """Min kommune's comparison with peers and the country (see :mod:`.municipality`)."""
    try:
        compared = comparison(tables.result(), code, name, year, cofinancing=cofinancing)
    except SamhandlingError as exc:
        return {"indicator_error": str(exc)}
    return {"ind": page_context(compared, name)}


def _require_line_access(principal: Principal, municipality: str, health_trust: str) -> None:
    if not can_view_line_items(principal, municipality=municipality, health_trust=health_trust):
        raise ForbiddenError("Du har ikke tilgang til disse fakturalinjene.")


def _may_explain(principal: Principal, explanation: Explanation) -> bool:
    cof = explanation.cofinancing
    pairs = {(str(cof.get("municipality")), str(cof.get("health_trust")))}
    pairs |= {
        (str(line["paying_municipality"]), str(line["health_trust"]))
        for line in explanation.discharge_ready_lines
    }
    return any(can_view_line_items(principal, municipality=m, health_trust=h) for m, h in pairs)


def _cofinancing_months(
    statement: pa.Table, akonto: pa.Table, code: str, year: int
) -> dict[str, Any]:
    accrued = {int(r["period"][5:7]): r for r in _rows(statement, municipality=code)}
    plan = _rows(akonto, municipality=code)
    paid: dict[int, Decimal] = {}
    for row in plan:
        month = int(row["month"])
        paid[month] = paid.get(month, Decimal(0)) + Decimal(row["akonto"])
    # One forecast per RHF the municipality pays to, repeated on each month's row.
    forecast = (
        sum((Decimal(r["forecast"]) for r in plan if int(r["month"]) == 1), Decimal(0))
        if plan
        else None
    )
    months = [
        MonthRow(
            month=m,
            label=f"{MONTHS[m - 1]} {year}",
            amount=Decimal(accrued[m]["amount"]) if m in accrued else Decimal(0),
            unverified=Decimal(accrued[m]["unverified_amount"]) if m in accrued else Decimal(0),
            akonto=paid.get(m),
        )
        for m in range(1, 13)
    ]
    return {
        "months": months,
        "total": sum((m.amount for m in months), Decimal(0)),
        "akonto_total": sum((m.akonto or Decimal(0) for m in months), Decimal(0)),
        "forecast": forecast,
        "unverified": sum((m.unverified for m in months), Decimal(0)),
        "rule_versions": next(iter(accrued.values()))["rule_versions"] if accrued else "",
        "chart": bar_chart(
            "cof-chart",
            f"Kommunal medfinansiering per måned {year}",
            list(_SHORT_MONTHS),
            [
                Series("Påløpt medfinansiering", tuple(m.amount for m in months)),
                Series("Betalt à-konto", tuple(m.akonto for m in months)),
            ],
            description=(
                "Påløpt medfinansiering og betalt à-konto per måned, i kroner. "
                "Tallene står i tabellen under."
            ),
        ),
    }


def _rhf_months(statement: pa.Table, year: int) -> dict[str, Any]:
    regions: dict[str, dict[str, Any]] = {}
    for row in statement.to_pylist():
        region = regions.setdefault(
            row["rhf"],
            {"name": row["rhf_name"], "months": [Decimal(0)] * 12, "unverified": Decimal(0)},
        )
        region["months"][int(row["period"][5:7]) - 1] += Decimal(row["amount"])
        region["unverified"] += Decimal(row["unverified_amount"])
    ordered = sorted(regions.values(), key=lambda r: r["name"])
    for region in ordered:
        region["total"] = sum(region["months"], Decimal(0))
    return {
        "regions": ordered,
        "total": sum((r["total"] for r in ordered), Decimal(0)),
        "short_months": _SHORT_MONTHS,
        "chart": bar_chart(
            "rhf-chart",
            f"Kommunal medfinansiering per regionalt helseforetak {year}",
            [r["name"] for r in ordered],
            [Series("Medfinansiering (kr)", tuple(r["total"] for r in ordered))],
            description="Årsbeløp per RHF; tallene står i tabellen under.",
        ),
    }
