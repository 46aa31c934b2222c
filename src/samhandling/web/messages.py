"""Portal: receive PLO messages over HTTP (answered with AppRec) and list received messages.

- ``POST /meldinger/motta``: one message as the request body (``application/xml``), with the
  session's CSRF token in the ``X-CSRF-Token`` header; or the form on ``/meldinger`` (field
  ``melding`` and the usual ``csrf_token``). Health-trust, municipality and national users only.
  The answer is the AppRec XML (for the form: a redirect to the message's page).
- ``GET /meldinger``: received messages with status and receipt; national users see all, others
  the messages of their own organisation (the stay's health trust or municipality, or sent by
  them). ``GET /meldinger/{id}``: one message, its receipt and the message as received.
  ``GET /meldinger/{id}/kvittering.xml``: the receipt. Opening messages is audit logged.
"""

from __future__ import annotations

import re
from datetime import date

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from samhandling.messages.inbox import Inbox, Received, receive
from samhandling.web._app import (
    AUDIT_ACTIONS,
    ForbiddenError,
    add_nav,
    client_of,
    portal_of,
    render,
    require_login,
)
from samhandling.web.security import Principal

__all__ = ["add_views", "can_view_message"]

_RECEIVED_ID = re.compile(r"^M[0-9]{6}$")
_SENDER_ROLES = frozenset({"health_trust", "municipality", "national"})
CSRF_HEADER = "X-CSRF-Token"


def can_view_message(principal: Principal, entry: Received) -> bool:
    """National users see every message; others those of their own organisation."""
    if principal.role == "national":
        return True
    org = principal.organisation
    if org is None:
        return False
    if principal.role == "health_trust" and entry.health_trust == org:
        return True
    if principal.role == "municipality" and entry.municipality == org:
        return True
    return entry.submitted_org == org


def _max_bytes(request: Request) -> int:
    rules = portal_of(request).rules
    return int(rules["messages.max_message_bytes"].value_on(date.today()).decimal)


def _sender(request: Request) -> Principal:
    principal = require_login(request)
    if principal.role not in _SENDER_ROLES:
        raise ForbiddenError(
            "Bare helseforetak, kommuner og nasjonale brukere kan sende meldinger."
        )
    return principal


async def receive_message(request: Request) -> Response:
    principal = _sender(request)
    content_type = request.headers.get("content-type", "")
    limit = _max_bytes(request)
    form_post = content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    )
    if form_post:
        form = await request.form()
        token = str(form.get("csrf_token") or "")
        raw = str(form.get("melding") or "").encode("utf-8")
    else:
        token = request.headers.get(CSRF_HEADER, "")
        raw = await request.body()
    if not principal.csrf_ok(token):
        raise ForbiddenError("Forespørselen manglet gyldig sikkerhetskode (CSRF).")
    if not raw.strip():
        raise StarletteHTTPException(400, "Meldingen er tom.")
    if len(raw) > limit:
        raise StarletteHTTPException(413, f"Meldingen er større enn {limit} byte.")
    portal = portal_of(request)
    user = principal.user
    assert user is not None
    # Reading and loading do file and DuckDB work: off the event loop.
    result = await run_in_threadpool(
        receive,
        portal.warehouse,
        [("http", raw)],
        rules=portal.rules,
        submitted_by=user.username,
        submitted_org=principal.organisation,
    )
    entry = result.received[0]
    portal.store.audit(
        user,
        "send_message",
        f"meldinger/{entry.received_id}",
        [entry.episode_id] if entry.episode_id else [],
        client=client_of(request),
    )
    if form_post:
        return RedirectResponse(f"/meldinger/{entry.received_id}", status_code=303)
    receipt = result.receipts.get(entry.received_id)
    headers = {
        "X-Mottak": entry.received_id,
        "X-Kvittering-Status": "OK" if entry.accepted else "Avvist",
    }
    if receipt is None:  # a receipt was received: it is recorded, never answered
        return Response(status_code=202, headers=headers)
    return Response(receipt, media_type="application/xml", headers=headers)


def messages_page(request: Request) -> Response:
    principal = require_login(request)
    portal = portal_of(request)
    entries = [e for e in Inbox(portal.warehouse).entries() if can_view_message(principal, e)]
    entries.reverse()  # newest first
    portal.store.audit(
        principal.user,
        "view_messages",
        "meldinger",
        sorted({e.episode_id for e in entries if e.episode_id}),
        client=client_of(request),
    )
    return render(
        request,
        "messages_list.html",
        {
            "entries": entries,
            "accepted": sum(1 for e in entries if e.accepted),
            "rejected": sum(1 for e in entries if not e.accepted),
            "can_send": principal.role in _SENDER_ROLES,
        },
        title="Meldinger",
    )


def _entry(request: Request, received_id: str) -> tuple[Principal, Inbox, Received]:
    principal = require_login(request)
    if not _RECEIVED_ID.match(received_id):
        raise StarletteHTTPException(404, "Ugyldig mottaksnummer.")
    inbox = Inbox(portal_of(request).warehouse)
    entry = inbox.entry(received_id)
    if entry is None or not can_view_message(principal, entry):
        raise StarletteHTTPException(404, "Fant ikke meldingen.")
    return principal, inbox, entry


def message_page(request: Request, received_id: str) -> Response:
    principal, inbox, entry = _entry(request, received_id)
    portal_of(request).store.audit(
        principal.user,
        "view_message",
        f"meldinger/{received_id}",
        [entry.episode_id] if entry.episode_id else [],
        client=client_of(request),
    )
    raw = inbox.raw_path(entry).read_bytes().decode("utf-8", errors="replace")
    receipt = (
        inbox.receipt_path(entry).read_text("utf-8")
        if entry.answered and inbox.receipt_path(entry).is_file()
        else None
    )
    return render(
        request,
        "messages_detail.html",
        {"e": entry, "raw": raw, "receipt": receipt},
        title=f"Melding {received_id}",
    )


def receipt_file(request: Request, received_id: str) -> Response:
    principal, inbox, entry = _entry(request, received_id)
    path = inbox.receipt_path(entry)
    if not entry.answered or not path.is_file():
        raise StarletteHTTPException(404, "Meldingen har ingen kvittering.")
    portal_of(request).store.audit(
        principal.user,
        "view_message",
        f"meldinger/{received_id}/kvittering",
        [entry.episode_id] if entry.episode_id else [],
        client=client_of(request),
    )
    return Response(path.read_bytes(), media_type="application/xml")


def add_views(app: FastAPI) -> None:
    """Add the message pages and the receiving endpoint to the portal."""
    AUDIT_ACTIONS.setdefault("view_messages", "Så mottatte meldinger")
    AUDIT_ACTIONS.setdefault("view_message", "Åpnet en mottatt melding")
    AUDIT_ACTIONS.setdefault("send_message", "Sendte en melding")
    add_nav(app, "/meldinger", "Meldinger", {"health_trust", "municipality", "national"})
    app.add_api_route("/meldinger/motta", receive_message, methods=["POST"])
    app.add_api_route("/meldinger", messages_page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route(
        "/meldinger/{received_id}", message_page, methods=["GET"], response_class=HTMLResponse
    )
    app.add_api_route("/meldinger/{received_id}/kvittering.xml", receipt_file, methods=["GET"])
