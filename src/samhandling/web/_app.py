"""The portal application: configuration, authentication, and the pages every role shares."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Form, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from samhandling import formatting as fmt
from samhandling.errors import SamhandlingError
from samhandling.ingest.reasons import REASONS as QUARANTINE_REASONS
from samhandling.rules import RuleSet, load_rules
from samhandling.store import Store
from samhandling.version import __version__
from samhandling.warehouse import Warehouse
from samhandling.web.jobs import Computation, Computations
from samhandling.web.security import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    LOGIN_FORM_MAX_AGE_S,
    SESSION_COOKIE,
    LoginForms,
    LoginPolicy,
    Principal,
)

ROLE_NAMES = {
    "municipality": "Kommune",
    "health_trust": "Helseforetak",
    "national": "Nasjonal",
    "public": "Publikum",
}
SECTOR_NAMES = {
    "somatic": "Somatikk",
    "mental_health": "Psykisk helsevern",
    "substance_abuse": "Rusbehandling (TSB)",
    "rehabilitation": "Rehabilitering",
}
AUDIT_ACTIONS = {
    "view_line_items": "Så fakturalinjer",
    "download_line_items": "Lastet ned fakturalinjer",
    "explain": "Så forklaring av episode",
    "login": "Logget inn",
    "logout": "Logget ut",
}
# Rule ids start with their area; the Rules page groups by it under these names.
RULE_AREAS = {
    "acsc": "Unngåelige innleggelser (ACSC)",
    "cofinancing": "Kommunal medfinansiering",
    "discharge_ready": "Utskrivningsklare pasienter",
    "disclosure": "Personvern og prikking",
    "indicators": "Indikatorer",
    "ingest": "Innlesing og kontroll",
    "isf": "Innsatsstyrt finansiering (ISF)",
    "readmission": "Reinnleggelser",
    "scenario": "Scenarioer for medfinansiering",
    "web": "Portalen",
    "agreements": "Samarbeidsavtaler",
    "emergency_beds": "Kommunale akutte døgnplasser (KAD)",
    "messages": "Elektroniske meldinger (PLO)",
    "pathways": "Pasientforløp",
}
# Areas that add their own pages: each module has ``add_views(app)`` and may call ``add_nav``.
FEATURE_VIEWS = (
    "samhandling.web.agreements",
    "samhandling.web.emergency_beds",
    "samhandling.web.messages",
    "samhandling.web.pathways",
)
KIND_NAMES = {
    "episodes": "Episoder",
    "events": "Hendelser",
    "municipal_care": "Kommunale tjenester",
    "population": "Befolkning",
}

# Content security policy: everything from the portal itself, nothing inline, no framing.
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

_FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" '
    'rx="3" fill="#123b5c"/><path d="M4 8h8M8 4v8" stroke="#fff" stroke-width="2"/></svg>'
)


class LoginRequiredError(Exception):
    """The page needs a logged-in user; pages redirect to the login form, JSON gets 401."""


class ForbiddenError(Exception):
    """The user is logged in but may not see this (403)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class NavEntry:
    """A main-menu link an area adds: shown to the listed roles (``"anonymous"``: not logged in)."""

    href: str
    label: str
    roles: frozenset[str]

    def shown_to(self, principal: Principal) -> bool:
        key = principal.role if principal.user is not None else "anonymous"
        return key in self.roles


def add_nav(app: FastAPI, href: str, label: str, roles: set[str] | frozenset[str]) -> None:
    """Add a link to the main menu for ``roles`` (role names, or ``"anonymous"``)."""
    entries: list[NavEntry] = app.state.nav
    entries.append(NavEntry(href, label, frozenset(roles)))


@dataclass
class Portal:
    """Everything a request needs: warehouse, store, rules, computations, templates."""

    warehouse: Warehouse
    store: Store
    rules: RuleSet
    policy: LoginPolicy
    login_forms: LoginForms
    computations: Computations
    templates: Jinja2Templates
    https: bool | None
    wait_seconds: float

    def secure_cookies(self, request: Request) -> bool:
        return self.https if self.https is not None else request.url.scheme == "https"


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def client_of(request: Request) -> str:
    return request.client.host if request.client else "ukjent"


def principal_of(request: Request) -> Principal:
    """The user of the request's session cookie, or the anonymous public."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    portal = portal_of(request)
    principal = Principal()
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        session = portal.store.session(token, idle=portal.policy.session_idle)
        if session is not None:
            principal = Principal(session.user, session.csrf_token, token)
    request.state.principal = principal
    return principal


def require_login(request: Request) -> Principal:
    """A logged-in user with a role beyond the public's (which sees published aggregates only)."""
    principal = principal_of(request)
    if not principal.logged_in:
        raise LoginRequiredError()
    if principal.role == "public":
        raise ForbiddenError(
            "Denne siden krever en bruker i en kommune, et helseforetak eller nasjonalt."
        )
    return principal


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/json/")


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never ``//host`` or a full URL) is a valid place to go after."""
    # Browsers read "/\\host" like "//host": refuse backslashes and control characters too.
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 for c in target)
    ):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    title: str = "",
) -> HTMLResponse:
    portal = portal_of(request)
    principal = principal_of(request)
    full = {
        "principal": principal,
        "user": principal.user,
        "role_name": ROLE_NAMES[principal.role],
        "csrf_field": CSRF_FIELD,
        "csrf_token": principal.csrf_token or "",
        "rule_set": portal.rules.label,
        "version": __version__,
        "title": title,
        "path": request.url.path,
        "nav_extra": [e for e in request.app.state.nav if e.shown_to(principal)],
        **(context or {}),
    }
    response: HTMLResponse = portal.templates.TemplateResponse(
        request, template, full, status_code=status_code
    )
    return response


def await_jobs(request: Request, jobs: list[Computation], title: str) -> HTMLResponse | None:
    """``None`` when all jobs are done, else a progress page that reloads itself."""
    portal = portal_of(request)
    if portal.computations.wait(jobs, portal.wait_seconds):
        return None
    done = sum(1 for j in jobs if j.done)
    return render(
        request,
        "progress.html",
        {
            "jobs": jobs,
            "done": done,
            "total": len(jobs),
            "elapsed": max(j.elapsed for j in jobs),
        },
        title=title,
        status_code=202,
    )


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("samhandling.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        number=fmt.number,
        money=fmt.money,
        percent=fmt.percent,
        date_no=fmt.date_no,
        datetime_no=fmt.datetime_no,
        month_no=fmt.month_no,
    )
    return env


def create_app(
    warehouse: Path,
    *,
    store: Store | None = None,
    db_url: str | None = None,
    rules: RuleSet | None = None,
    https: bool | None = None,
    wait_seconds: float = 5.0,
    workers: int = 2,
    api: bool = True,
) -> FastAPI:
    """The portal for ``warehouse``.

    The operational store is ``store``, else the database at ``db_url``, else
    ``$SAMHANDLING_DB_URL``, else SQLite inside the warehouse folder; it is migrated on start.
    ``https`` forces the ``Secure`` flag on cookies (default: when the request came over https).
    A page waits ``wait_seconds`` for its computations before it shows a progress page instead.
    With ``api``, the steering-data API (:mod:`samhandling.api`, PxWebApi 2.0) is served under
    ``/api`` when the package has it.
    """
    wh = Warehouse.open(warehouse)
    opened = store or Store.open(db_url, warehouse=wh.path)
    ruleset = rules or load_rules()
    secret_key = opened.setting("form_signing_key", lambda: secrets.token_urlsafe(48))
    portal = Portal(
        warehouse=wh,
        store=opened,
        rules=ruleset,
        policy=LoginPolicy.from_rules(ruleset),
        login_forms=LoginForms(secret_key),
        computations=Computations(wh, workers=workers),
        templates=Jinja2Templates(env=_environment()),
        https=https,
        wait_seconds=wait_seconds,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        portal.computations.close()

    app = FastAPI(
        lifespan=lifespan,
        title="samhandling",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.portal = portal
    app.state.nav = []
    app.mount("/static", StaticFiles(packages=[("samhandling.web", "static")]), name="static")

    @app.middleware("http")
    async def _security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if portal.secure_cookies(request):
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        if not request.url.path.startswith("/static/"):
            # Pages can hold line items: never keep them in a shared or back-button cache.
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(LoginRequiredError)
    async def _login_required(request: Request, _exc: LoginRequiredError) -> Response:
        if wants_json(request):
            return JSONResponse({"feil": "Du må logge inn."}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/logg-inn?neste={quote(target)}", status_code=303)

    @app.exception_handler(ForbiddenError)
    async def _forbidden(request: Request, exc: ForbiddenError) -> Response:
        if wants_json(request):
            return JSONResponse({"feil": exc.message}, status_code=403)
        return render(
            request, "error.html", {"message": exc.message}, status_code=403, title="Ingen tilgang"
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "Siden finnes ikke.", 405: "Metoden er ikke tillatt."}.get(
            exc.status_code, str(exc.detail)
        )
        if exc.status_code == 400 and exc.detail:
            message = str(exc.detail)
        if wants_json(request):
            return JSONResponse({"feil": message}, status_code=exc.status_code)
        return render(
            request,
            "error.html",
            {"message": message},
            status_code=exc.status_code,
            title="Feil",
        )

    @app.exception_handler(SamhandlingError)
    async def _user_error(request: Request, exc: SamhandlingError) -> Response:
        if wants_json(request):
            return JSONResponse({"feil": str(exc)}, status_code=400)
        return render(request, "error.html", {"message": str(exc)}, status_code=400, title="Feil")

    _shared_routes(app)
    from samhandling.web.views import add_views

    add_views(app)
    from samhandling.web.tables import add_table_views

    add_table_views(app)
    _add_feature_views(app)
    if api:
        _mount_api(app, wh.path)

    return app


def _add_feature_views(app: FastAPI) -> None:
    from importlib import import_module

    for name in FEATURE_VIEWS:
        try:
            module = import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # the area is not part of this build
            raise
        module.add_views(app)


def home(request: Request) -> Response:
    principal = principal_of(request)
    if principal.role == "municipality":
        return RedirectResponse(f"/kommune/{principal.organisation}", status_code=303)
    if principal.role == "health_trust":
        return RedirectResponse(f"/helseforetak/{principal.organisation}", status_code=303)
    if principal.role == "national":
        return RedirectResponse("/land", status_code=303)
    return render(request, "home.html", title="Forside")


def login_form(request: Request, neste: str = "/") -> Response:
    return _login_page(request, _safe_next(neste))


def login(
    request: Request,
    username: str = Form("", alias="brukernavn"),
    password: str = Form("", alias="passord"),
    csrf_token: str = Form("", alias=CSRF_FIELD),
    neste: str = Form("/"),
) -> Response:
    portal = portal_of(request)
    target = _safe_next(neste)
    if not portal.login_forms.valid(csrf_token, request.cookies.get(LOGIN_COOKIE)):
        return _login_page(
            request,
            target,
            error="Skjemaet var utløpt eller ugyldig. Prøv igjen.",
            status_code=400,
        )
    client = client_of(request)
    now = datetime.now(UTC)
    since = now - portal.policy.window
    if (
        portal.store.failed_logins(since, username=username) >= portal.policy.max_failures_per_user
        or portal.store.failed_logins(since, client=client) >= portal.policy.max_failures_per_client
    ):
        minutes = int(portal.policy.window.total_seconds() // 60)
        return _login_page(
            request,
            target,
            error=(
                f"For mange mislykkede innlogginger. Vent {minutes} minutter før du prøver igjen."
            ),
            status_code=429,
            username=username,
        )
    user = portal.store.verify_password(username, password)
    portal.store.record_login_attempt(username, client, succeeded=user is not None, at=now)
    if user is None:
        return _login_page(
            request,
            target,
            error="Feil brukernavn eller passord.",
            status_code=401,
            username=username,
        )
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        # A fresh token at every login: a planted cookie never becomes a logged-in session.
        portal.store.end_session(previous)
    token, _session = portal.store.start_session(
        user, lifetime=portal.policy.session_lifetime, now=now
    )
    portal.store.audit(user, "login", "portal", client=client, at=now)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(portal.policy.session_lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=portal.secure_cookies(request),
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/logg-inn")
    return response


def logout(request: Request, csrf_token: str = Form("", alias=CSRF_FIELD)) -> Response:
    portal = portal_of(request)
    principal = principal_of(request)
    if not principal.logged_in:
        return RedirectResponse("/", status_code=303)
    if not principal.csrf_ok(csrf_token):
        raise ForbiddenError("Skjemaet manglet gyldig sikkerhetskode (CSRF).")
    assert principal.session_token is not None
    portal.store.end_session(principal.session_token)
    portal.store.audit(principal.user, "logout", "portal", client=client_of(request))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def rules_page(request: Request) -> Response:
    rules = portal_of(request).rules
    groups: dict[str, list[Any]] = {}
    for table in sorted(rules.tables.values(), key=lambda t: t.rule_id):
        groups.setdefault(table.rule_id.split(".", 1)[0], []).append(table)
    return render(
        request,
        "rules.html",
        {"groups": groups, "rules": rules, "areas": RULE_AREAS},
        title="Regler",
    )


def rule_page(request: Request, rule_id: str) -> Response:
    rules = portal_of(request).rules
    if rule_id not in rules:
        raise StarletteHTTPException(404)
    table = rules[rule_id]
    return render(request, "rule.html", {"table": table}, title=table.name_no)


def indicators_page(request: Request) -> Response:
    from samhandling.indicators import all_definitions

    return render(
        request,
        "indicators.html",
        {"definitions": all_definitions(), "rules": portal_of(request).rules},
        title="Indikatorer",
    )


def data_page(request: Request) -> Response:
    require_login(request)
    status = portal_of(request).warehouse.status()
    live = {d.delivery_id for d in status.deliveries if d.superseded_by is None}
    sectors = sorted({s for _y, s, _n in status.rows_by_year_sector})
    cells = {(y, s): n for y, s, n in status.rows_by_year_sector}
    years = sorted({y for y, _s, _n in status.rows_by_year_sector})
    return render(
        request,
        "data.html",
        {
            "status": status,
            "live": live,
            "kinds": KIND_NAMES,
            "sectors": sectors,
            "sector_names": SECTOR_NAMES,
            "years": years,
            "cells": cells,
            "reasons": QUARANTINE_REASONS,
        },
        title="Data",
    )


def audit_page(request: Request, bruker: str | None = None) -> Response:
    principal = require_login(request)
    if principal.role != "national":
        raise ForbiddenError("Revisjonsloggen er for nasjonale brukere.")
    entries = portal_of(request).store.audit_log(limit=500, username=bruker or None)
    return render(
        request,
        "audit.html",
        {"entries": entries, "actions": AUDIT_ACTIONS, "who": bruker or ""},
        title="Revisjonslogg",
    )


def favicon() -> Response:
    return Response(_FAVICON, media_type="image/svg+xml")


def health(request: Request) -> dict[str, str]:
    portal = portal_of(request)
    return {"status": "ok", "store": portal.store.revision(), "rules": portal.rules.label}


def _shared_routes(app: FastAPI) -> None:
    app.add_api_route("/", home, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/logg-inn", login_form, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/logg-inn", login, methods=["POST"], response_class=HTMLResponse)
    app.add_api_route("/logg-ut", logout, methods=["POST"])
    app.add_api_route("/regler", rules_page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/regler/{rule_id}", rule_page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/indikatorer", indicators_page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/data", data_page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/revisjonslogg", audit_page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/favicon.ico", favicon, methods=["GET"], include_in_schema=False)
    app.add_api_route("/helse", health, methods=["GET"])


class _UnderOwnPaths:
    """Serve a mounted ASGI app that declares its routes with the full path (``/api/v2/...``).

    A Starlette mount strips its prefix from the path the sub-application routes on; the API
    declares ``/api/v2/...`` itself (so that it can also run alone), so the prefix is given back.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app({**scope, "root_path": ""}, receive, send)


def _mount_api(app: FastAPI, warehouse: Path) -> None:
    try:
        from samhandling.api.app import create_app as create_api
    except ModuleNotFoundError as exc:
        if exc.name in ("samhandling.api", "samhandling.api.app"):
            return
        raise
    app.mount("/api", _UnderOwnPaths(create_api(warehouse)), name="api")


def _login_page(
    request: Request,
    target: str,
    *,
    error: str = "",
    status_code: int = 200,
    username: str = "",
) -> HTMLResponse:
    portal = portal_of(request)
    nonce = request.cookies.get(LOGIN_COOKIE) or LoginForms.new_nonce()
    response = render(
        request,
        "login.html",
        {
            "login_token": portal.login_forms.token_for(nonce),
            "next": target,
            "error": error,
            "username": username,
        },
        status_code=status_code,
        title="Logg inn",
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=LOGIN_FORM_MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=portal.secure_cookies(request),
        path="/logg-inn",
    )
    return response


def year_param(value: str | None, available: list[int]) -> int | None:
    """The year asked for (``?aar=2013``), else the latest year with data."""
    if value:
        if not value.isdigit() or len(value) != 4:
            raise StarletteHTTPException(400, "Ugyldig år.")
        return int(value)
    return available[-1] if available else None
