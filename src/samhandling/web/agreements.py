"""Portal pages for the cooperation agreements (samarbeidsavtaler).

Read access for everyone (anonymous included): the registry, one agreement with its history
and the diff between revisions, the documents, and the monitoring per RHF and HF with its
spreadsheet. Editing (a new agreement, a new revision, uploads) is for the parties' users: a
municipality user for agreements the municipality is party to, a health-trust user for the
trust's agreements, national users for all. Every form carries the session's CSRF token, the
server checks every permission itself, and every change is written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from samhandling.formatting import date_no
from samhandling.refdata import catchment, names
from samhandling.registries.agreements import (
    OTHER,
    OVERALL,
    Agreement,
    AgreementDraft,
    AgreementError,
    AgreementValidationError,
    PartDraft,
    add_revision,
    agreement,
    agreements,
    document,
    health_trust_names,
    register_agreement,
)
from samhandling.registries.agreements.domain import (
    RULE_DOCUMENT_MAX_BYTES,
    RULE_RECOMMENDED,
    RULE_STATUTORY,
    Revision,
)
from samhandling.registries.agreements.export import DEFINITIONS, monitoring_xlsx
from samhandling.registries.agreements.history import diff_revisions, validity
from samhandling.registries.agreements.monitoring import Monitoring, monitor_agreements
from samhandling.rules import RuleSet
from samhandling.store import User
from samhandling.web._app import (
    AUDIT_ACTIONS,
    ForbiddenError,
    Portal,
    add_nav,
    client_of,
    portal_of,
    principal_of,
    render,
    require_login,
)
from samhandling.web.charts import Series, bar_chart
from samhandling.web.security import CSRF_FIELD, Principal

__all__ = ["add_views", "can_register", "can_revise"]

BASE = "/samarbeidsavtaler"
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_EDITING_ROLES = ("municipality", "health_trust", "national")
_EXTRA_OTHER_SLOTS = 2


def can_register(principal: Principal, health_trust: str, municipalities: tuple[str, ...]) -> bool:
    """Whether the user may register an agreement between these parties."""
    if principal.role == "national":
        return True
    if principal.role == "health_trust":
        return principal.organisation == health_trust
    if principal.role == "municipality":
        return principal.organisation in municipalities
    return False


def can_revise(principal: Principal, item: Agreement) -> bool:
    """Whether the user may register a new revision of ``item`` (a party's user or national)."""
    return can_register(principal, item.health_trust, item.current.municipalities)


def _may_edit_anything(principal: Principal) -> bool:
    return principal.logged_in and principal.role in _EDITING_ROLES


@dataclass
class _Slot:
    """One row of the parts table in the form: a statutory point, a recommended code, other."""

    slot: str
    key: str
    label: str
    included: bool = False
    signed: str = ""
    valid_from: str = ""
    valid_to: str = ""
    title: str = ""
    link: str = ""
    document_sha: str = ""
    document_name: str = ""


@dataclass
class _FormState:
    """What the form shows: the values entered (or the current revision's) and the errors."""

    health_trust: str = ""
    municipalities: str = ""
    title: str = ""
    signed: str = ""
    valid_from: str = ""
    valid_to: str = ""
    publication_url: str = ""
    change_note: str = ""
    slots: list[_Slot] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _slots(rules: RuleSet, others: int) -> list[_Slot]:
    statutory = sorted(
        {r.key: r.value for r in rules[RULE_STATUTORY].rows if r.key}.items(),
        key=lambda kv: int(kv[0]),
    )
    recommended = sorted({r.key: r.value for r in rules[RULE_RECOMMENDED].rows if r.key}.items())
    slots = [_Slot(OVERALL, OVERALL, "Overordnet avtale")]
    slots += [_Slot(f"p{k}", k, f"Punkt {k}: {name}") for k, name in statutory]
    slots += [_Slot(k, k, f"Anbefalt: {name}") for k, name in recommended]
    slots += [_Slot(f"annet{i}", OTHER, "Annen delavtale") for i in range(1, others + 1)]
    return slots


def _state_of(revision: Revision | None, rules: RuleSet) -> _FormState:
    """The form filled with a revision (for a new revision), or empty."""
    if revision is None:
        return _FormState(slots=_slots(rules, _EXTRA_OTHER_SLOTS))
    other_parts = [p for p in revision.parts if p.key == OTHER]
    slots = _slots(rules, len(other_parts) + _EXTRA_OTHER_SLOTS)
    by_key = {p.key: p for p in revision.parts if p.key != OTHER}
    other_slots = [s for s in slots if s.key == OTHER]
    for slot in slots:
        part = by_key.get(slot.key) if slot.key != OTHER else None
        if part is None:
            continue
        _fill(slot, part)
    for slot, part in zip(other_slots, other_parts, strict=False):
        _fill(slot, part)
    return _FormState(
        health_trust=revision.health_trust,
        municipalities=", ".join(revision.municipalities),
        title=revision.title,
        signed=revision.signed_on.isoformat(),
        valid_from=revision.valid_from.isoformat(),
        valid_to="" if revision.valid_to is None else revision.valid_to.isoformat(),
        publication_url=revision.publication_url,
        slots=slots,
    )


def _fill(slot: _Slot, part: Any) -> None:
    slot.included = True
    slot.signed = part.signed_on.isoformat()
    slot.valid_from = part.valid_from.isoformat()
    slot.valid_to = "" if part.valid_to is None else part.valid_to.isoformat()
    slot.title = part.title
    slot.link = part.document_url
    if part.document is not None:
        slot.document_sha = part.document.sha256
        slot.document_name = part.document.filename


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _day(value: str, what: str, errors: list[str], *, required: bool) -> date | None:
    if not value:
        if required:
            errors.append(f"{what}: dato mangler")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(f"{what}: {value!r} er ikke en dato (ÅÅÅÅ-MM-DD)")
        return None


async def _read_form(
    request: Request, rules: RuleSet, *, others_hint: int
) -> tuple[_FormState, AgreementDraft | None, dict[int, tuple[str, bytes]]]:
    """The submitted form as a state (for showing it again), a draft and the uploads."""
    form = await request.form()
    others = sum(1 for key in form if key.startswith("annet") and key.endswith("_med"))
    slots = _slots(rules, max(others_hint, others, _EXTRA_OTHER_SLOTS))
    state = _FormState(
        health_trust=_text(form, "helseforetak"),
        municipalities=_text(form, "kommuner"),
        title=_text(form, "tittel"),
        signed=_text(form, "signert"),
        valid_from=_text(form, "gyldig_fra"),
        valid_to=_text(form, "gyldig_til"),
        publication_url=_text(form, "publisert"),
        change_note=_text(form, "endringsnotat"),
        slots=slots,
    )
    errors = state.errors
    signed = _day(state.signed, "Avtalen signert", errors, required=True)
    valid_from = _day(state.valid_from, "Avtalen gyldig fra", errors, required=False) or signed
    valid_to = _day(state.valid_to, "Avtalen gyldig til", errors, required=False)
    limit = int(rules[RULE_DOCUMENT_MAX_BYTES].value_on(date.today()).decimal)
    parts: list[PartDraft] = []
    uploads: dict[int, tuple[str, bytes]] = {}
    for slot in slots:
        s = slot.slot
        slot.included = _text(form, f"{s}_med") == "ja"
        slot.signed = _text(form, f"{s}_signert")
        slot.valid_from = _text(form, f"{s}_gyldig_fra")
        slot.valid_to = _text(form, f"{s}_gyldig_til")
        slot.title = _text(form, f"{s}_tittel")
        slot.link = _text(form, f"{s}_lenke")
        slot.document_sha = _text(form, f"{s}_dokument")
        upload = form.get(f"{s}_fil")
        if not slot.included:
            continue
        what = slot.label.split(":")[0]
        part_signed = _day(slot.signed, f"{what} signert", errors, required=True)
        part_from = _day(slot.valid_from, f"{what} gyldig fra", errors, required=False)
        part_to = _day(slot.valid_to, f"{what} gyldig til", errors, required=False)
        if part_signed is None:
            continue
        if isinstance(upload, UploadFile) and upload.filename:
            # Read one byte past the limit: enough to say the file is too large.
            content = await upload.read(limit + 1)
            uploads[len(parts)] = (upload.filename, content)
        parts.append(
            PartDraft(
                key=slot.key,
                signed_on=part_signed,
                valid_from=part_from or part_signed,
                valid_to=part_to,
                title=slot.title,
                document_url=slot.link,
                document_sha256=slot.document_sha,
            )
        )
    municipalities = tuple(
        code for code in state.municipalities.replace(",", " ").split() if code.strip()
    )
    if errors or signed is None or valid_from is None:
        return state, None, {}
    draft = AgreementDraft(
        health_trust=state.health_trust,
        municipalities=municipalities,
        title=state.title,
        signed_on=signed,
        valid_from=valid_from,
        valid_to=valid_to,
        parts=tuple(parts),
        publication_url=state.publication_url,
        change_note=state.change_note,
    )
    return state, draft, uploads


def _check_csrf(principal: Principal, form: FormData) -> None:
    token = form.get(CSRF_FIELD)
    if not principal.csrf_ok(token if isinstance(token, str) else None):
        raise ForbiddenError("Skjemaet manglet gyldig sikkerhetskode (CSRF).")


def _poster(request: Request, form: FormData) -> Principal:
    """The logged-in principal of a form post that carries the session's CSRF token."""
    principal = principal_of(request)
    if not principal.logged_in:
        raise ForbiddenError("Du må være logget inn for å registrere.")
    _check_csrf(principal, form)
    return principal


async def _read_draft(
    request: Request, principal: Principal, rules: RuleSet, *, others_hint: int
) -> tuple[_FormState, AgreementDraft | None, dict[int, tuple[str, bytes]]]:
    """:func:`_read_form`, refused when the draft names parties ``principal`` may not sign for."""
    state, draft, uploads = await _read_form(request, rules, others_hint=others_hint)
    if draft is not None and not can_register(principal, draft.health_trust, draft.municipalities):
        raise ForbiddenError(
            "Du kan bare registrere avtaler der din kommune eller ditt helseforetak er part."
        )
    return state, draft, uploads


def _parse_on(value: str | None) -> date:
    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise StarletteHTTPException(400, f"Ugyldig dato {value!r} (ÅÅÅÅ-MM-DD)") from None


def _monitoring(request: Request, on: date) -> tuple[Monitoring, list[Agreement]]:
    portal = portal_of(request)
    items = agreements(portal.store)
    try:
        return monitor_agreements(items, on, portal.rules), items
    except (AgreementError, ValueError) as exc:
        raise StarletteHTTPException(400, str(exc)) from exc


def _form_context(
    request: Request,
    state: _FormState,
    *,
    item: Agreement | None,
) -> dict[str, Any]:
    principal = principal_of(request)
    trusts = health_trust_names()
    if principal.role == "health_trust" and principal.organisation in trusts:
        choices = {principal.organisation: trusts[principal.organisation]}
    else:
        choices = dict(sorted(trusts.items(), key=lambda kv: kv[1]))
    return {
        "state": state,
        "item": item,
        "trusts": choices,
        "action": f"{BASE}/ny" if item is None else f"{BASE}/{item.id}/revisjon",
        "max_mb": int(
            portal_of(request).rules[RULE_DOCUMENT_MAX_BYTES].value_on(date.today()).decimal
        )
        // (1024 * 1024),
    }


def _new_state_for(principal: Principal, rules: RuleSet) -> _FormState:
    state = _state_of(None, rules)
    if principal.role == "health_trust" and principal.organisation:
        state.health_trust = principal.organisation
    if principal.role == "municipality" and principal.organisation:
        state.municipalities = principal.organisation
        home = {r["municipality"]: r["hf_orgnr"] for r in catchment(date.today().year).to_pylist()}
        state.health_trust = home.get(principal.organisation, "")
    return state


def registry_page(request: Request, hf: str | None = None, kommune: str | None = None) -> Response:
    portal = portal_of(request)
    principal = principal_of(request)
    trusts = health_trust_names()
    items = agreements(portal.store, health_trust=hf or None, municipality=(kommune or None))
    rows = [
        {
            "item": item,
            "rev": item.current,
            "trust": trusts.get(item.health_trust, item.health_trust),
            "places": _places(item.current),
            "validity": validity(item.current.valid_from, item.current.valid_to),
        }
        for item in items
    ]
    return render(
        request,
        "agreements_list.html",
        {
            "rows": rows,
            "trusts": dict(sorted(trusts.items(), key=lambda kv: kv[1])),
            "hf": hf or "",
            "kommune": kommune or "",
            "can_edit": _may_edit_anything(principal),
        },
        title="Samarbeidsavtaler",
    )


def monitoring_page(request: Request, dato: str | None = None, hf: str | None = None) -> Response:
    on = _parse_on(dato)
    result, _items = _monitoring(request, on)
    selected = next((a for a in result.by_hf if a.orgnr == hf), None) if hf else None
    if hf and selected is None:
        raise StarletteHTTPException(404)
    areas = list(result.by_rhf)
    chart = bar_chart(
        "avtaler-rhf",
        f"Kommuner med samarbeidsavtale per RHF, {date_no(on)}",
        [a.name for a in areas],
        [
            Series("Kommuner", tuple(a.municipalities for a in areas)),
            Series("Med avtale", tuple(a.with_agreement for a in areas)),
            Series("Med overordnet avtale", tuple(a.with_overall for a in areas)),
            Series("Alle lovpålagte delavtaler", tuple(a.complete for a in areas)),
        ],
        description="Antall kommuner per RHF-område; tallene står i tabellen under.",
    )
    municipalities = [m for m in result.municipalities if m.hf_orgnr == hf] if selected else []
    return render(
        request,
        "agreements_monitoring.html",
        {
            "result": result,
            "on": on,
            "chart": chart,
            "selected": selected,
            "municipalities": municipalities,
            "recommended": dict(result.recommended_names),
            "definitions": DEFINITIONS,
        },
        title="Oppfølging av samarbeidsavtalene",
    )


def monitoring_download(request: Request, dato: str | None = None) -> Response:
    on = _parse_on(dato)
    result, items = _monitoring(request, on)
    content = monitoring_xlsx(result, items, portal_of(request).rules)
    filename = f"samarbeidsavtaler-{on.isoformat()}.xlsx"
    return Response(
        content,
        media_type=_XLSX,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def document_download(request: Request, sha256: str) -> Response:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256.lower()):
        raise StarletteHTTPException(404)
    try:
        info, content = document(portal_of(request).store, sha256)
    except AgreementError:
        raise StarletteHTTPException(404) from None
    return Response(
        content,
        media_type=info.media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(info.filename)}"},
    )


def new_form(request: Request) -> Response:
    principal = require_login(request)
    if not _may_edit_anything(principal):
        raise ForbiddenError("Bare brukere i kommuner, helseforetak og nasjonalt kan registrere.")
    state = _new_state_for(principal, portal_of(request).rules)
    return render(
        request,
        "agreements_form.html",
        _form_context(request, state, item=None),
        title="Ny samarbeidsavtale",
    )


async def new_submit(request: Request) -> Response:
    form = await request.form()
    try:
        return await _new_submit(request, form)
    finally:
        await form.close()  # uploaded files are spooled to temporary files


async def _new_submit(request: Request, form: FormData) -> Response:
    principal = _poster(request, form)
    if not _may_edit_anything(principal):
        raise ForbiddenError("Bare brukere i kommuner, helseforetak og nasjonalt kan registrere.")
    portal = portal_of(request)
    state, draft, uploads = await _read_draft(request, principal, portal.rules, others_hint=0)
    if draft is None:
        return _form_again(request, state, None)
    user = principal.user
    assert user is not None
    try:
        saved = await run_in_threadpool(
            lambda: register_agreement(
                portal.store, draft, by=user.username, rules=portal.rules, uploads=uploads
            )
        )
    except AgreementValidationError as exc:
        state.errors = list(exc.errors)
        return _form_again(request, state, None)
    return _saved(request, portal, user, "agreement_register", saved)


def agreement_page(request: Request, agreement_id: int, revisjon: int | None = None) -> Response:
    item = _agreement_or_404(request, agreement_id)
    try:
        rev = item.current if revisjon is None else item.revision(revisjon)
    except AgreementError:
        raise StarletteHTTPException(404) from None
    principal = principal_of(request)
    on = date.today()
    in_force = item.in_force(on)
    history = []
    previous: Revision | None = None
    for r in item.revisions:
        history.append(
            {
                "rev": r,
                "diff": None if previous is None else diff_revisions(previous, r),
                "validity": validity(r.valid_from, r.valid_to),
            }
        )
        previous = r
    return render(
        request,
        "agreements_detail.html",
        {
            "item": item,
            "rev": rev,
            "trust": health_trust_names().get(item.health_trust, item.health_trust),
            "places": _places(rev),
            "validity": validity(rev.valid_from, rev.valid_to),
            "history": list(reversed(history)),
            "in_force": in_force,
            "today": on,
            "can_revise": principal.logged_in and can_revise(principal, item),
        },
        title=rev.title,
    )


def diff_page(request: Request, agreement_id: int, fra: int, til: int) -> Response:
    item = _agreement_or_404(request, agreement_id)
    try:
        old, new = item.revision(fra), item.revision(til)
    except AgreementError:
        raise StarletteHTTPException(404) from None
    return render(
        request,
        "agreements_diff.html",
        {"item": item, "old": old, "new": new, "diff": diff_revisions(old, new)},
        title=f"Avtale {item.id}: revisjon {fra} mot {til}",
    )


def revision_form(request: Request, agreement_id: int) -> Response:
    principal = require_login(request)
    item = _agreement_or_404(request, agreement_id)
    if not can_revise(principal, item):
        raise ForbiddenError("Bare partenes brukere og nasjonale brukere kan endre avtalen.")
    state = _state_of(item.current, portal_of(request).rules)
    return render(
        request,
        "agreements_form.html",
        _form_context(request, state, item=item),
        title=f"Ny revisjon av avtale {item.id}",
    )


async def revision_submit(request: Request, agreement_id: int) -> Response:
    form = await request.form()
    try:
        return await _revision_submit(request, agreement_id, form)
    finally:
        await form.close()


async def _revision_submit(request: Request, agreement_id: int, form: FormData) -> Response:
    principal = _poster(request, form)
    portal = portal_of(request)
    item = await run_in_threadpool(lambda: _agreement_or_404(request, agreement_id))
    if not can_revise(principal, item):
        raise ForbiddenError("Bare partenes brukere og nasjonale brukere kan endre avtalen.")
    others = sum(1 for p in item.current.parts if p.key == OTHER) + _EXTRA_OTHER_SLOTS
    state, draft, uploads = await _read_draft(request, principal, portal.rules, others_hint=others)
    if draft is None:
        return _form_again(request, state, item)
    user = principal.user
    assert user is not None
    try:
        saved = await run_in_threadpool(
            lambda: add_revision(
                portal.store,
                agreement_id,
                draft,
                by=user.username,
                rules=portal.rules,
                uploads=uploads,
            )
        )
    except AgreementValidationError as exc:
        state.errors = list(exc.errors)
        return _form_again(request, state, item)
    except AgreementError as exc:
        state.errors = [str(exc)]
        return _form_again(request, state, item)
    return _saved(request, portal, user, "agreement_revise", saved)


def add_views(app: FastAPI) -> None:
    add_nav(
        app,
        BASE,
        "Samarbeidsavtaler",
        {"municipality", "health_trust", "national", "public", "anonymous"},
    )
    AUDIT_ACTIONS.setdefault("agreement_register", "Registrerte samarbeidsavtale")
    AUDIT_ACTIONS.setdefault("agreement_revise", "Registrerte ny revisjon av samarbeidsavtale")
    app.add_api_route(BASE, registry_page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route(
        f"{BASE}/oppfolging", monitoring_page, methods=["GET"], response_class=HTMLResponse
    )
    app.add_api_route(f"{BASE}/oppfolging.xlsx", monitoring_download, methods=["GET"])
    app.add_api_route(f"{BASE}/dokument/{{sha256}}", document_download, methods=["GET"])
    app.add_api_route(f"{BASE}/ny", new_form, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route(f"{BASE}/ny", new_submit, methods=["POST"], response_class=HTMLResponse)
    app.add_api_route(
        f"{BASE}/{{agreement_id:int}}", agreement_page, methods=["GET"], response_class=HTMLResponse
    )
    app.add_api_route(
        f"{BASE}/{{agreement_id:int}}/diff", diff_page, methods=["GET"], response_class=HTMLResponse
    )
    app.add_api_route(
        f"{BASE}/{{agreement_id:int}}/revisjon",
        revision_form,
        methods=["GET"],
        response_class=HTMLResponse,
    )
    app.add_api_route(
        f"{BASE}/{{agreement_id:int}}/revisjon",
        revision_submit,
        methods=["POST"],
        response_class=HTMLResponse,
    )


def _places(revision: Revision) -> list[tuple[str, str]]:
    """The parties with their names in the year of signing (validation checked that year)."""
    known = names(revision.signed_on.year)
    return [(code, known.get(code, code)) for code in revision.municipalities]


def _saved(request: Request, portal: Portal, user: User, action: str, saved: Agreement) -> Response:
    """Audit ``action`` on the saved revision (a new agreement's is revision 1) and its
    documents; go to the agreement's page."""
    portal.store.audit(
        user,
        action,
        f"{BASE}/{saved.id}",
        [f"revisjon {saved.current.revision_no}", *_documents_of(saved.current)],
        client=client_of(request),
    )
    return RedirectResponse(f"{BASE}/{saved.id}", status_code=303)


def _documents_of(revision: Revision) -> list[str]:
    return sorted({p.document.sha256 for p in revision.parts if p.document is not None})


def _agreement_or_404(request: Request, agreement_id: int) -> Agreement:
    try:
        return agreement(portal_of(request).store, agreement_id)
    except AgreementError:
        raise StarletteHTTPException(404) from None


def _form_again(request: Request, state: _FormState, item: Agreement | None) -> HTMLResponse:
    return render(
        request,
        "agreements_form.html",
        _form_context(request, state, item=item),
        title="Ny samarbeidsavtale" if item is None else f"Ny revisjon av avtale {item.id}",
        status_code=400,
    )
