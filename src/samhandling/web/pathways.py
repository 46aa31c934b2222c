"""Portal pages of patient pathways (pasientforløp).

* ``/forlop``: pathway patterns of a municipality (or the country) as a flow diagram with the
  table of numbers beside it; open to everyone, published (suppressed) figures only.
* ``/forlop/pasient/{id}``: one patient's timeline, for national users, a municipality user for
  the municipality's own residents and a health-trust user for the trust's own patients. Every
  opening is written to the audit log; a patient the user may not see is "not found", so the
  page does not confirm that the person exists.

Every number comes from :mod:`samhandling.pathways` (the same functions as the CLI).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from html import escape
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from starlette.exceptions import HTTPException as StarletteHTTPException

from samhandling.formatting import date_no, number
from samhandling.pathways import (
    Flow,
    PathwayDefinition,
    PathwayReport,
    PatientNotFoundError,
    PatientTimeline,
    flows,
    pathway_definition,
    pathway_report,
    patient_timeline,
)
from samhandling.pathways.rows import local_time, pattern_rows, readmission_rows
from samhandling.pathways.timeline import ELLIPSIS
from samhandling.web._app import (
    AUDIT_ACTIONS,
    add_nav,
    await_jobs,
    client_of,
    portal_of,
    principal_of,
    render,
    require_login,
    year_param,
)
from samhandling.web.jobs import job
from samhandling.web.security import Principal

__all__ = ["add_views", "flow_diagram", "may_view_patient", "timeline_diagram"]

AUDIT_VIEW = "view_pathway"
_MUNICIPALITY = re.compile(r"^\d{4}$")
_PATIENT = re.compile(r"^[\w.:-]{1,64}$")
_COLOURS = (
    "#7a1f1f",
    "#c2571a",
    "#b8860b",
    "#1f5f8b",
    "#4d7c0f",
    "#6b21a8",
    "#0f766e",
    "#9d174d",
    "#475569",
    "#2f6f3e",
    "#8a6d3b",
)
_FLOW_W = 760
_FLOW_H = 420
_NODE_W = 14
_TOP = 28
_GAP = 8


def state_colours(d: PathwayDefinition) -> dict[str, str]:
    """A fixed colour per state (by priority order), shared by every diagram and legend."""
    return {s: _COLOURS[i % len(_COLOURS)] for i, s in enumerate(d.states_by_priority)}


def _state_label(d: PathwayDefinition, state: str) -> str:
    return "…" if state == ELLIPSIS else d.label(state)


def flow_diagram(flow: Flow, d: PathwayDefinition, title: str) -> Markup:
    """A Sankey-like flow between states, step by step, drawn from ``flow`` (published cells)."""
    colours = state_colours(d)
    order = {s: i for i, s in enumerate(d.states_by_priority)}
    steps = sorted({step for step, _ in flow.nodes})
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_FLOW_W} {_FLOW_H}" '
        'role="img" aria-labelledby="flyt-title flyt-desc" class="chart pathway-flow">',
        f'<title id="flyt-title">{escape(title)}</title>',
        '<desc id="flyt-desc">Forløp fra tilstand til tilstand, steg for steg. Bredden på hvert '
        "bånd er antall forløp; tallene står i tabellen ved siden av.</desc>",
    ]
    if not steps:
        parts.append(
            '<text x="20" y="40" font-size="13" fill="#333">Ingen publiserte mønstre å '
            "tegne.</text></svg>"
        )
        return Markup("".join(parts))
    n_cols = len(steps)
    col_w = (_FLOW_W - 40 - _NODE_W) / max(1, n_cols - 1)
    height_room = _FLOW_H - _TOP - 16
    column_total: dict[int, int] = {}
    column_count: dict[int, int] = {}
    for (step, _state), value in flow.nodes.items():
        column_total[step] = column_total.get(step, 0) + value
        column_count[step] = column_count.get(step, 0) + 1
    scale = min(
        (height_room - _GAP * (column_count[s] - 1)) / column_total[s] for s in column_total
    )
    place: dict[tuple[int, str], tuple[float, float, float]] = {}  # x, y, height
    for step in steps:
        x = 20 + step * col_w
        y = float(_TOP)
        for state in sorted(
            (s for st, s in flow.nodes if st == step), key=lambda s: order.get(s, 99)
        ):
            h = max(1.0, flow.nodes[(step, state)] * scale)
            place[(step, state)] = (x, y, h)
            y += h + _GAP
        parts.append(
            f'<text x="{x + _NODE_W / 2:.1f}" y="16" text-anchor="middle" font-size="11" '
            f'fill="#333">{"Start" if step == 0 else f"Steg {step}"}</text>'
        )
    out_used: dict[tuple[int, str], float] = {}
    in_used: dict[tuple[int, str], float] = {}
    for (step, source, target), value in sorted(
        flow.links.items(),
        key=lambda item: (item[0][0], order.get(item[0][1], 99), order.get(item[0][2], 99)),
    ):
        sx, sy, _ = place[(step, source)]
        tx, ty, _ = place[(step + 1, target)]
        h = value * scale
        y0 = sy + out_used.get((step, source), 0.0)
        y1 = ty + in_used.get((step + 1, target), 0.0)
        out_used[(step, source)] = out_used.get((step, source), 0.0) + h
        in_used[(step + 1, target)] = in_used.get((step + 1, target), 0.0) + h
        x0, x1 = sx + _NODE_W, tx
        xm = (x0 + x1) / 2
        parts.append(
            f'<path d="M{x0:.1f},{y0:.1f} C{xm:.1f},{y0:.1f} {xm:.1f},{y1:.1f} {x1:.1f},{y1:.1f} '
            f"L{x1:.1f},{y1 + h:.1f} C{xm:.1f},{y1 + h:.1f} {xm:.1f},{y0 + h:.1f} "
            f'{x0:.1f},{y0 + h:.1f} Z" fill="{colours.get(source, "#888")}" fill-opacity="0.35">'
            f"<title>{escape(_state_label(d, source))} → {escape(_state_label(d, target))}: "
            f"{escape(number(value))} forløp</title></path>"
        )
    for (step, state), (x, y, h) in place.items():
        label = f"{_state_label(d, state)}: {number(flow.nodes[(step, state)])}"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{_NODE_W}" height="{h:.1f}" '
            f'fill="{colours.get(state, "#888")}"><title>{escape(label)}</title></rect>'
        )
        if h >= 12:
            anchor, tx = ("end", x - 3) if step == steps[-1] else ("start", x + _NODE_W + 3)
            parts.append(
                f'<text x="{tx:.1f}" y="{y + min(h / 2 + 4, 14):.1f}" text-anchor="{anchor}" '
                f'font-size="10" fill="#111">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def timeline_diagram(timeline: PatientTimeline) -> Markup:
    """One lane per pathway state over time: a bar per island (open ends drawn to the data end)."""
    d = timeline.definition
    colours = state_colours(d)
    islands = timeline.islands
    start = islands[0].start_at
    ends = [i.end_at for i in islands if i.end_at is not None]
    last = max([*ends, islands[-1].start_at]) + timedelta(days=7)
    span = max((last - start).total_seconds(), 1.0)
    states = [s for s in d.states_by_priority if any(i.state == s for i in islands)]
    lane_h, left, width = 22, 250, 800
    height = 30 + lane_h * len(states) + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        'aria-labelledby="tid-title tid-desc" class="chart pathway-timeline">',
        f'<title id="tid-title">Tidslinje for pasient {escape(timeline.patient_id)}</title>',
        '<desc id="tid-desc">Én rad per tilstand; hver stolpe er en periode i tilstanden. '
        "Tallene står i tabellen under.</desc>",
    ]

    def x_of(moment: datetime) -> float:
        return left + (moment - start).total_seconds() / span * (width - left - 10)

    for lane, state in enumerate(states):
        y = 24 + lane * lane_h
        parts.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" font-size="11" fill="#111">'
            f"{escape(d.label(state))}</text>"
            f'<line x1="{left}" x2="{width - 10}" y1="{y + lane_h - 2}" y2="{y + lane_h - 2}" '
            'stroke="#e2e5e9" stroke-width="1"/>'
        )
        for island in islands:
            if island.state != state:
                continue
            x0 = x_of(island.start_at)
            x1 = x_of(island.end_at or last)
            until = date_no(island.end_at.date()) if island.end_at else "pågår"
            parts.append(
                f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 2.0):.1f}" '
                f'height="{lane_h - 8}" fill="{colours.get(state, "#888")}">'
                f"<title>{escape(d.label(state))}: {escape(date_no(island.start_at.date()))}"
                f" – {escape(until)}</title></rect>"
            )
    parts.append(
        f'<text x="{left}" y="{height - 6}" font-size="11" fill="#333">'
        f"{escape(date_no(start.date()))}</text>"
        f'<text x="{width - 10}" y="{height - 6}" text-anchor="end" font-size="11" fill="#333">'
        f"{escape(date_no(last.date()))}</text></svg>"
    )
    return Markup("".join(parts))


def may_view_patient(principal: Principal, timeline: PatientTimeline) -> bool:
    """National users; a municipality's users for its residents; a trust's users its patients."""
    if principal.role == "national":
        return True
    if principal.role == "municipality":
        return principal.organisation in timeline.municipalities
    if principal.role == "health_trust":
        return principal.organisation in timeline.health_trusts
    return False


def _legend(d: PathwayDefinition, states: set[str]) -> list[dict[str, str]]:
    colours = state_colours(d)
    return [
        {"state": s, "label": d.label(s), "colour": colours[s]}
        for s in d.states_by_priority
        if s in states
    ]


def patterns_page(request: Request, kommune: str | None = None, aar: str | None = None) -> Response:
    principal = principal_of(request)
    portal = portal_of(request)
    if kommune and not _MUNICIPALITY.match(kommune):
        raise StarletteHTTPException(400, "Ugyldig kommunenummer.")
    municipality = kommune or (principal.organisation if principal.role == "municipality" else None)
    years = portal.warehouse.status().years
    year = year_param(aar, years)
    context: dict[str, Any] = {
        "year": year,
        "years": years,
        "municipality": municipality,
        "may_open_patients": principal.logged_in and principal.role != "public",
    }
    title = "Pasientforløp"
    if year is None:
        return render(request, "pathways_patterns.html", context, title=title)
    d = pathway_definition(portal.rules, date(year, 12, 31))
    computation = job(portal, f"Pasientforløp {year}", pathway_report, year)
    waiting = await_jobs(request, [computation], title)
    if waiting is not None:
        return waiting
    report: PathwayReport = computation.result()
    known = report.municipalities()
    if municipality is not None and municipality not in known:
        context.update({"report": None, "known": known, "names": _names(known, year)})
        return render(request, "pathways_patterns.html", context, title=title)
    names = _names(known, year)
    where = names.get(municipality, municipality) if municipality else "Hele landet"
    flow = flows(report, municipality)
    context.update(
        {
            "report": report,
            "known": known,
            "names": names,
            "where": where,
            "rows": pattern_rows(report, municipality),
            "readmissions": readmission_rows(report, municipality),
            "flow": flow,
            "diagram": flow_diagram(flow, d, f"Forløpsmønstre {year}, {where}"),
            "legend": _legend(d, {s for _, s in flow.nodes}),
            "unverified": d.unverified,
        }
    )
    return render(request, "pathways_patterns.html", context, title=f"{title}: {where}")


def patient_lookup(request: Request, pasient: str = "") -> Response:
    require_login(request)
    if not _PATIENT.match(pasient):
        raise StarletteHTTPException(400, "Ugyldig pasient-id.")
    return RedirectResponse(f"/forlop/pasient/{pasient}", status_code=303)


def patient_page(request: Request, patient_id: str) -> Response:
    principal = require_login(request)
    if not _PATIENT.match(patient_id):
        raise StarletteHTTPException(404)
    portal = portal_of(request)
    computation = job(portal, f"Tidslinje for {patient_id}", patient_timeline, patient_id)
    waiting = await_jobs(request, [computation], "Pasientforløp")
    if waiting is not None:
        return waiting
    try:
        timeline: PatientTimeline = computation.result()
    except PatientNotFoundError:
        raise StarletteHTTPException(404) from None
    if not may_view_patient(principal, timeline):
        # Not found rather than forbidden: do not confirm that the person exists.
        raise StarletteHTTPException(404)
    portal.store.audit(
        principal.user,
        AUDIT_VIEW,
        f"forlop/pasient/{patient_id}",
        [patient_id],
        client=client_of(request),
    )
    d = timeline.definition
    return render(
        request,
        "pathways_patient.html",
        {
            "t": timeline,
            "diagram": timeline_diagram(timeline),
            "patterns": [
                {
                    "no": int(p["pathway_no"]) + 1,
                    "municipality": p["municipality"],
                    "year": p["year"],
                    "label": " → ".join(_state_label(d, s) for s in str(p["pattern"]).split(">")),
                    "open_end": bool(p["open_end"]),
                }
                for p in timeline.pathways
            ],
            "unverified": d.unverified,
            "when": local_time,
        },
        title=f"Pasientforløp for {patient_id}",
    )


def add_views(app: FastAPI) -> None:
    """Register the pathway pages and the menu link."""
    AUDIT_ACTIONS.setdefault(AUDIT_VIEW, "Så pasientforløp")
    add_nav(
        app,
        "/forlop",
        "Pasientforløp",
        {"municipality", "health_trust", "national", "public", "anonymous"},
    )
    app.add_api_route("/forlop", patterns_page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route(
        "/forlop/pasient", patient_lookup, methods=["GET"], response_class=HTMLResponse
    )
    app.add_api_route(
        "/forlop/pasient/{patient_id}", patient_page, methods=["GET"], response_class=HTMLResponse
    )


def _names(codes: list[str], year: int) -> dict[str, str]:
    from samhandling.web.views import municipality_name

    return {c: municipality_name(c, year) for c in codes}
