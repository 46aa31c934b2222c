"""Portal pages for the municipal emergency 24-hour beds (KAD).

``/kad``: the units and the spread of occupancy across them; ``/kad/enhet/{id}``: one unit,
occupancy per month (chart and table), its bed history and, for those who may, the edit forms;
``/kad/avlastning``: KAD stays against emergency medical hospital admissions per 1 000;
``/kad/tilskudd``: each municipality's funding. Municipality users edit their own units (the
host municipality), national users all; every change is checked on the server, needs the
session's CSRF token and goes to the audit log. The public sees aggregates only, with cells of
fewer than ``disclosure.threshold`` patients suppressed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import pyarrow as pa
from fastapi import Depends, FastAPI, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from samhandling.engine import Engine
from samhandling.formatting import MONTHS
from samhandling.registries.emergency_beds import grant as grants
from samhandling.registries.emergency_beds import occupancy as occ
from samhandling.registries.emergency_beds import units as registry
from samhandling.tables.disclosure import disclosure_threshold
from samhandling.web._app import (
    ForbiddenError,
    Portal,
    add_nav,
    await_jobs,
    client_of,
    portal_of,
    principal_of,
    render,
    require_login,
    year_param,
)
from samhandling.web.charts import Series, bar_chart
from samhandling.web.security import Principal

__all__ = ["add_views", "can_edit_unit", "can_register_for", "sees_small_counts"]

NAV_LABEL = "Akutte døgnplasser (KAD)"
_YEAR = re.compile(r"^\d{4}$")


def sees_small_counts(principal: Principal) -> bool:
    """Logged-in users of a municipality, a health trust or the nation see unsuppressed figures."""
    return principal.logged_in and principal.role != "public"


def can_edit_unit(principal: Principal, unit: registry.Unit) -> bool:
    """National users edit every unit; a municipality user the units its municipality hosts."""
    return principal.role == "national" or (
        principal.role == "municipality" and principal.organisation == unit.host_municipality
    )


def can_register_for(principal: Principal, host: str) -> bool:
    return principal.role == "national" or (
        principal.role == "municipality" and principal.organisation == host
    )


def _names(units: list[registry.Unit], year: int | None = None) -> dict[str, str]:
    """Municipality names (code → name) of the units' municipalities, in the codes' years."""
    from samhandling.web.views import municipality_name

    return {
        m: municipality_name(m, year or u.opened_on.year) for u in units for m in u.municipalities
    }


def _pct(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(round(value, 1)))


def _units(portal: Portal) -> list[registry.Unit]:
    return registry.list_units(portal.store)


def _job(
    portal: Portal,
    units: list[registry.Unit],
    what: str,
    label: str,
    compute: Callable[[Engine], Any],
) -> Any:
    # Results depend on the registry as well as on the warehouse: its digest is in the key.
    key = ("emergency_beds", what, registry.units_fingerprint(units))
    return portal.computations.submit(key, label, compute)


def _monthly_job(portal: Portal, units: list[registry.Unit]) -> Any:
    rules = portal.rules
    end = occ.period_end(portal.warehouse.status().years)
    return _job(
        portal,
        units,
        "month",
        "KAD: belegg per måned",
        lambda engine: occ.occupancy_by_month(engine, rules, units, as_of=end),
    )


def _yearly_job(portal: Portal, units: list[registry.Unit]) -> Any:
    rules = portal.rules
    end = occ.period_end(portal.warehouse.status().years)
    return _job(
        portal,
        units,
        "year",
        "KAD: belegg per år",
        lambda engine: occ.occupancy_by_year(engine, rules, units, as_of=end),
    )


def _suppress(
    rows: list[dict[str, Any]], principal: Principal, threshold: int
) -> list[dict[str, Any]]:
    """Mark rows describing 1..threshold-1 patients hidden for users who may not see them."""
    open_view = sees_small_counts(principal)
    for row in rows:
        small = 0 < int(row["patients"] or 0) < threshold
        row["hidden"] = small and not open_view
    return rows


def _threshold(portal: Portal, year: int | None) -> int:
    day = date(year, 12, 31) if year else date.today()
    return disclosure_threshold(portal.rules, day)[0]


def _years_of(table: pa.Table) -> list[int]:
    return sorted({int(y) for y in table["year"].to_pylist() if y is not None})


def _form_context(
    portal: Portal,
    principal: Principal,
    *,
    unit: registry.Unit | None = None,
    values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    groups = portal.rules["emergency_beds.patient_groups"]
    options = {r.key: r.value for r in groups.rows if r.key is not None}
    if values is None:
        values = {
            "navn": unit.name if unit else "",
            "kommune": unit.host_municipality
            if unit
            else (principal.organisation or "" if principal.role == "municipality" else ""),
            "hf": unit.health_trust if unit else "",
            "apnet": unit.opened_on.isoformat() if unit else "",
            "nedlagt": unit.closed_on.isoformat() if unit and unit.closed_on else "",
            "deltakere": " ".join(unit.participants) if unit else "",
            "sokt": unit.applied_on.isoformat() if unit and unit.applied_on else "",
            "senger": "",
            "gruppe": list(unit.patient_groups) if unit else [],
        }
    return {"options": options, "values": values, "unit": unit}


def units_page(request: Request, aar: str | None = None) -> Response:
    principal = principal_of(request)
    portal = portal_of(request)
    units = _units(portal)
    context: dict[str, Any] = {
        "units": units,
        "year": None,
        "years": [],
        "spread": None,
        "yearly": [],
        "may_register": principal.role in ("municipality", "national"),
        "today": date.today(),
        "names": _names(units),
    }
    if not units:
        return render(request, "emergency_beds_list.html", context, title=NAV_LABEL)
    job = _yearly_job(portal, units)
    waiting = await_jobs(request, [job], NAV_LABEL)
    if waiting is not None:
        return waiting
    yearly: pa.Table = job.result()
    years = _years_of(yearly) if yearly.num_rows else []
    year = year_param(aar, years)
    context.update(years=years, year=year)
    if year is None:
        return render(request, "emergency_beds_list.html", context, title=NAV_LABEL)
    threshold = _threshold(portal, year)
    monthly_job = _monthly_job(portal, units)
    waiting = await_jobs(request, [monthly_job], NAV_LABEL)
    if waiting is not None:
        return waiting
    rows = _unit_year_rows(yearly, monthly_job.result(), year, principal, threshold)
    shown = [r for r in rows if not r["hidden"] and r["occupancy_pct"] is not None]
    spread_table = pa.table(
        {
            "year": pa.array([year] * len(shown), pa.int32()),
            "occupancy_pct": pa.array([r["occupancy_pct"] for r in shown], pa.float64()),
        }
    )
    spread = occ.occupancy_spread(spread_table, year)
    ordered = sorted(shown, key=lambda r: r["occupancy_pct"])
    context.update(
        yearly=rows,
        spread=spread,
        threshold=threshold,
        chart=(
            bar_chart(
                "kad-spredning",
                f"Belegg per KAD-enhet {year}, lavest til høyest",
                [r["name"] for r in ordered],
                [Series("Belegg (%)", tuple(_pct(r["occupancy_pct"]) for r in ordered))],
                description="Årsbelegg i prosent per enhet; tallene står i tabellen under.",
                decimals=1,
            )
            if ordered
            else None
        ),
    )
    return render(request, "emergency_beds_list.html", context, title=NAV_LABEL)


def unit_page(request: Request, unit_id: int, aar: str | None = None) -> Response:
    principal = principal_of(request)
    portal = portal_of(request)
    units = _units(portal)
    unit = next((u for u in units if u.id == unit_id), None)
    if unit is None:
        raise StarletteHTTPException(404)
    job = _monthly_job(portal, units)
    waiting = await_jobs(request, [job], unit.name)
    if waiting is not None:
        return waiting
    monthly: pa.Table = job.result()
    rows_all = [r for r in monthly.to_pylist() if r["unit_id"] == unit_id]
    years = sorted({int(r["year"]) for r in rows_all})
    year = year_param(aar, years)
    threshold = _threshold(portal, year)
    rows = _suppress([r for r in rows_all if r["year"] == year], principal, threshold)
    for row in rows:
        row["label"] = f"{MONTHS[row['month'].month - 1]} {row['month'].year}"
    context: dict[str, Any] = {
        "unit": unit,
        "year": year,
        "years": years,
        "rows": rows,
        "threshold": threshold,
        "may_edit": can_edit_unit(principal, unit),
        "names": _names([unit]),
        "group_names": {r.key: r.value for r in portal.rules["emergency_beds.patient_groups"].rows},
        "chart": (
            bar_chart(
                "kad-belegg",
                f"Belegg per måned {year}: {unit.name}",
                [MONTHS[r["month"].month - 1][:3] for r in rows],
                [
                    Series(
                        "Belegg (%)",
                        tuple(None if r["hidden"] else _pct(r["occupancy_pct"]) for r in rows),
                    )
                ],
                description="Belegg i prosent per måned; tallene står i tabellen under.",
                decimals=1,
            )
            if rows
            else None
        ),
        **_form_context(portal, principal, unit=unit),
    }
    return render(request, "emergency_beds_unit.html", context, title=unit.name)


def new_form(request: Request) -> Response:
    principal = require_login(request)
    if principal.role not in ("municipality", "national"):
        raise ForbiddenError("Bare kommuner og nasjonale brukere kan registrere KAD-enheter.")
    portal = portal_of(request)
    return render(
        request,
        "emergency_beds_form.html",
        {**_form_context(portal, principal), "problems": []},
        title="Ny KAD-enhet",
    )


def create(
    request: Request,
    *,
    csrf_token: str = Form("", alias="csrf_token"),
    values: Annotated[dict[str, Any], Depends(_unit_fields)],
) -> Response:
    principal = _posted_by(request, csrf_token)
    if not can_register_for(principal, values["kommune"].strip()):
        raise ForbiddenError("Du kan bare registrere enheter for din egen kommune.")
    portal = portal_of(request)
    try:
        data = _unit_input(values)
        unit = registry.register_unit(portal.store, portal.rules, data, by=_who(principal))
    except registry.UnitValidationError as exc:
        return render(
            request,
            "emergency_beds_form.html",
            {**_form_context(portal, principal, values=values), "problems": exc.problems},
            title="Ny KAD-enhet",
            status_code=400,
        )
    return _saved(request, portal, principal, "kad_register", unit.id)


def update(
    request: Request,
    unit_id: int,
    *,
    csrf_token: str = Form("", alias="csrf_token"),
    fields: Annotated[dict[str, Any], Depends(_unit_fields)],
) -> Response:
    principal = _posted_by(request, csrf_token)
    portal = portal_of(request)
    unit = _editable(portal, principal, unit_id)
    if not can_register_for(principal, fields["kommune"].strip()):
        raise ForbiddenError("Du kan ikke flytte enheten til en annen kommune.")
    # update_unit ignores the bed count (it changes through its own form, keeping history).
    values = {**fields, "senger": "1"}
    try:
        data = _unit_input(values)
        registry.update_unit(portal.store, portal.rules, unit.id, data, by=_who(principal))
    except registry.UnitValidationError as exc:
        return render(
            request,
            "emergency_beds_form.html",
            {
                **_form_context(portal, principal, unit=unit, values=values),
                "problems": exc.problems,
            },
            title=f"Endre {unit.name}",
            status_code=400,
        )
    return _saved(request, portal, principal, "kad_update", unit.id)


def beds(
    request: Request,
    unit_id: int,
    csrf_token: str = Form("", alias="csrf_token"),
    fra: str = Form(""),
    senger: str = Form(""),
) -> Response:
    principal = _posted_by(request, csrf_token)
    portal = portal_of(request)
    unit = _editable(portal, principal, unit_id)
    try:
        day = registry.parse_date_field(fra, "Fra-dato")
        count = registry.parse_beds_field(senger)
        registry.change_beds(portal.store, unit.id, day, count, by=_who(principal))
    except registry.UnitValidationError as exc:
        return render(
            request,
            "error.html",
            {"message": " ".join(exc.problems)},
            title="Sengetallet ble ikke lagret",
            status_code=400,
        )
    return _saved(request, portal, principal, "kad_beds", unit.id)


def relief_page(request: Request, aar: str | None = None) -> Response:
    principal = principal_of(request)
    portal = portal_of(request)
    units = _units(portal)
    years = portal.warehouse.status().years
    wanted = [y for y in years if y >= 2011] or years
    job = _job(
        portal,
        units,
        ("relief", tuple(wanted)).__repr__(),
        "KAD mot øyeblikkelig hjelp-innleggelser",
        lambda engine: occ.stays_vs_admissions(engine, units, wanted),
    )
    waiting = await_jobs(request, [job], "Avlaster KAD sykehuset?")
    if waiting is not None:
        return waiting
    table: pa.Table = job.result()
    summary = occ.relief_summary(table)
    served = [s for s in summary if s["served"]]
    others = {int(s["year"]): s for s in summary if not s["served"]}
    chart_years = [int(s["year"]) for s in served]
    detail: list[dict[str, Any]] = []
    threshold = _threshold(portal, max(wanted) if wanted else None)
    if sees_small_counts(principal):
        detail = [r for r in table.to_pylist() if r["served"]]
    for s in summary:
        small_kad = 0 < int(s["kad_patients"]) < threshold
        small_emergency = 0 < int(s["emergency_patients"]) < threshold
        s["kad_hidden"] = small_kad and not sees_small_counts(principal)
        s["emergency_hidden"] = small_emergency and not sees_small_counts(principal)
    return render(
        request,
        "emergency_beds_relief.html",
        {
            "summary": summary,
            "detail": detail,
            "names": _names(units),
            "chart": (
                bar_chart(
                    "kad-avlastning",
                    "Per 1 000 innbyggere i kommuner med KAD-enhet",
                    [str(y) for y in chart_years],
                    [
                        Series(
                            "KAD-opphold",
                            tuple(
                                None if s["kad_hidden"] else _pct(float(s["kad_per_1000"]))
                                for s in served
                            ),
                        ),
                        Series(
                            "ØH medisinske innleggelser",
                            tuple(
                                None
                                if s["emergency_hidden"]
                                else _pct(float(s["emergency_per_1000"]))
                                for s in served
                            ),
                        ),
                    ],
                    description=(
                        "Opphold per 1 000 innbyggere per år; tallene står i tabellen under."
                    ),
                    decimals=1,
                )
                if served
                else None
            ),
            "others": others,
            "threshold": threshold,
        },
        title="Avlaster KAD sykehuset?",
    )


def grant_page(request: Request, aar: str | None = None) -> Response:
    principal = principal_of(request)
    portal = portal_of(request)
    units = _units(portal)
    years = list(range(2012, 2017))
    if aar and (not _YEAR.match(aar) or int(aar) not in years):
        raise StarletteHTTPException(400, "Ugyldig år.")
    year = int(aar) if aar else 2014
    lookup = grants.agreement_lookup(portal.store)
    lines = grants.grant_lines(units, portal.rules, [year], lookup, grants.refdata_population)
    served = sorted(
        {
            m
            for u in units
            if u.days_open(date(year, 1, 1), date(year + 1, 1, 1))
            for m in u.municipalities
        }
    )
    block = (
        grants.block_grant_lines(portal.rules, year, served, grants.refdata_population)
        if year not in grants.scheme_years(portal.rules)
        else []
    )
    if principal.role == "municipality":
        # A municipality's own lines first; the others stay visible (funding is public).
        lines.sort(key=lambda ln: (ln.municipality != principal.organisation, ln.municipality))
    return render(
        request,
        "emergency_beds_grant.html",
        {
            "year": year,
            "years": years,
            "lines": lines,
            "block": block,
            "reasons": grants.REASONS,
            "names": _names(units, year),
            "no_registry": lookup is None,
            "grant_total": sum((ln.grant for ln in lines), Decimal(0)),
            "trust_total": sum((ln.health_trust_part for ln in lines), Decimal(0)),
            "block_total": sum((b.amount for b in block), Decimal(0)),
            "scheme": year in grants.scheme_years(portal.rules),
            "deadline": (
                portal.rules["emergency_beds.application_deadline"].value_on(date(year, 1, 1)).value
                if year in grants.scheme_years(portal.rules)
                else None
            ),
        },
        title="Tilskudd til KAD",
    )


def add_views(app: FastAPI) -> None:
    add_nav(
        app, "/kad", NAV_LABEL, {"municipality", "health_trust", "national", "public", "anonymous"}
    )
    app.add_api_route("/kad", units_page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route(
        "/kad/enhet/{unit_id}", unit_page, methods=["GET"], response_class=HTMLResponse
    )
    app.add_api_route("/kad/ny", new_form, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/kad/ny", create, methods=["POST"], response_class=HTMLResponse)
    app.add_api_route("/kad/enhet/{unit_id}", update, methods=["POST"], response_class=HTMLResponse)
    app.add_api_route(
        "/kad/enhet/{unit_id}/senger", beds, methods=["POST"], response_class=HTMLResponse
    )
    app.add_api_route("/kad/avlastning", relief_page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/kad/tilskudd", grant_page, methods=["GET"], response_class=HTMLResponse)


def _who(principal: Principal) -> str:
    return principal.user.username if principal.user else ""


def _posted_by(request: Request, csrf_token: str) -> Principal:
    """The logged-in principal of a form post that carries the session's CSRF token."""
    principal = require_login(request)
    if not principal.csrf_ok(csrf_token):
        raise ForbiddenError("Skjemaet manglet gyldig sikkerhetskode (CSRF).")
    return principal


def _unit_fields(
    *,
    navn: str = Form(""),
    kommune: str = Form(""),
    hf: str = Form(""),
    apnet: str = Form(""),
    senger: str = Form(""),
    nedlagt: str = Form(""),
    deltakere: str = Form(""),
    sokt: str = Form(""),
    gruppe: list[str] = Form([]),  # noqa: B008 - FastAPI's way to read a repeated field
) -> dict[str, Any]:
    """The unit form's fields as posted (a FastAPI dependency of the create and edit routes)."""
    return {
        "navn": navn, "kommune": kommune, "hf": hf, "apnet": apnet, "senger": senger,
        "nedlagt": nedlagt, "deltakere": deltakere, "sokt": sokt, "gruppe": gruppe,
    }  # fmt: skip


def _unit_input(values: dict[str, Any]) -> registry.UnitInput:
    """The unit form's fields (``values``, as the form would show them again), parsed."""
    return registry.UnitInput.from_text(
        name=values["navn"],
        host_municipality=values["kommune"],
        health_trust=values["hf"],
        opened_on=values["apnet"],
        beds=values["senger"],
        closed_on=values["nedlagt"],
        participants=values["deltakere"],
        patient_groups=values["gruppe"],
        applied_on=values["sokt"],
    )


def _saved(
    request: Request, portal: Portal, principal: Principal, action: str, unit_id: int
) -> Response:
    """Audit ``action`` on the unit and go back to the unit's page."""
    portal.store.audit(principal.user, action, f"kad/enhet/{unit_id}", client=client_of(request))
    return RedirectResponse(f"/kad/enhet/{unit_id}", status_code=303)


def _editable(portal: Portal, principal: Principal, unit_id: int) -> registry.Unit:
    try:
        unit = registry.get_unit(portal.store, unit_id)
    except registry.UnitNotFoundError:
        raise StarletteHTTPException(404) from None
    if not can_edit_unit(principal, unit):
        raise ForbiddenError("Du kan bare endre enheter i din egen kommune.")
    return unit


def _unit_year_rows(
    yearly: pa.Table, monthly: pa.Table, year: int, principal: Principal, threshold: int
) -> list[dict[str, Any]]:
    """Yearly rows of ``year`` with the largest monthly patient count as a lower bound of the
    year's patients: a unit is suppressed for the public if any month of it would be."""
    most: dict[int, int] = {}
    least: dict[int, int] = {}
    for r in monthly.to_pylist():
        if r["year"] != year:
            continue
        n = int(r["patients"])
        most[r["unit_id"]] = max(most.get(r["unit_id"], 0), n)
        if n > 0:
            least[r["unit_id"]] = min(least.get(r["unit_id"], n), n)
    rows = [r for r in yearly.to_pylist() if r["year"] == year]
    open_view = sees_small_counts(principal)
    for r in rows:
        r["patients"] = most.get(r["unit_id"], 0)
        small = 0 < least.get(r["unit_id"], threshold) < threshold
        r["hidden"] = small and not open_view
    return rows
