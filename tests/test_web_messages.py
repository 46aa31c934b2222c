"""The portal's message endpoint (POST XML → AppRec) and the page of received messages.

Warehouse: the tiny hand-made one (see ``test_web.py``). E1 is P1's stay at Nordlandssykehuset
(983974910) for Bodø (1804), 10.01.2013–20.01.2013, discharge-ready 15.01. The tests post:

- a withdrawal (Avmelding, PLO 1.6) for E1 on 18.01.2013: accepted, one ``withdrawn`` event;
- a message for a patient the warehouse does not know: rejected with AppRec error E35.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
from lxml import etree

from samhandling.engine import DuckDBEngine
from samhandling.messages.plo import OutgoingEvent, OutgoingMessage, Party, write_logistics
from samhandling.rules import load_rules
from samhandling.store import Store
from samhandling.warehouse import Warehouse
from web_helpers import csrf_of, http_client, ingest_tiny, portal_store, serve_portal

RULES = load_rules()
APPREC_11 = "{http://www.kith.no/xmlstds/apprec/2012-02-15}"


def avmelding(msg_id: str, patient: str) -> bytes:
    day = datetime(2013, 1, 18)
    return write_logistics(
        OutgoingMessage(
            msg_type="LOG_AVMELDING",
            version="1.6",
            msg_id=msg_id,
            gen_date=datetime(2013, 1, 18, 10),
            sender=Party("NORDLANDSSYKEHUSET HF", "983974910", "ENH"),
            receiver=Party("Bodø kommune", "1804", "LOK"),
            patient_id=patient,
            events=(
                OutgoingEvent("9121", "1", "Pasient innlagt", datetime(2013, 1, 10, 8)),
                OutgoingEvent("9121", "3", "Pasient utskrivningsklar", datetime(2013, 1, 15)),
                OutgoingEvent("9121", "4", "Avmelding av utskrivningsklar pasient", day),
            ),
        ),
        RULES,
    )


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return ingest_tiny(tmp_path_factory.mktemp("web_messages"))


@pytest.fixture(scope="module")
def store(warehouse: Warehouse) -> Iterator[Store]:
    with portal_store(warehouse.path) as opened:
        yield opened


@pytest.fixture(scope="module")
def base_url(warehouse: Warehouse, store: Store) -> Iterator[str]:
    with serve_portal(warehouse.path, store) as url:
        yield url


def token(c: httpx.Client) -> str:
    return csrf_of(c.get("/meldinger").text)


@pytest.fixture(scope="module")
def posted(base_url: str, warehouse: Warehouse) -> dict[str, httpx.Response]:
    """The two messages, posted once by the health trust's user."""
    with http_client(base_url, "nlsh") as c:
        headers = {"Content-Type": "application/xml", "X-CSRF-Token": token(c)}
        ok = c.post("/meldinger/motta", content=avmelding("web-1", "P1"), headers=headers)
        bad = c.post("/meldinger/motta", content=avmelding("web-2", "P999"), headers=headers)
    return {"ok": ok, "bad": bad}


def test_posting_a_message_returns_the_apprec(
    posted: dict[str, httpx.Response], warehouse: Warehouse
) -> None:
    ok = posted["ok"]
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("application/xml")
    assert ok.headers["X-Mottak"] == "M000001" and ok.headers["X-Kvittering-Status"] == "OK"
    root = etree.fromstring(ok.content)
    assert root.tag == f"{APPREC_11}AppRec"
    status = root.find(f"{APPREC_11}Status")
    assert status is not None and status.get("V") == "1"
    original = root.find(f"{APPREC_11}OriginalMsgId/{APPREC_11}Id")
    assert original is not None and original.text == "web-1"
    with DuckDBEngine() as engine:
        warehouse.register(engine)
        rows = engine.query(
            "SELECT episode_id, type, \"at\" FROM events WHERE source = 'plo' "
            "AND event_id LIKE 'plo-%'"
        ).to_pylist()
    assert rows == [{"episode_id": "E1", "type": "withdrawn", "at": datetime(2013, 1, 18)}]


def test_an_unknown_patient_is_rejected_with_e35(posted: dict[str, httpx.Response]) -> None:
    bad = posted["bad"]
    assert bad.status_code == 200 and bad.headers["X-Kvittering-Status"] == "Avvist"
    root = etree.fromstring(bad.content)
    error = root.find(f"{APPREC_11}Error")
    assert error is not None and error.get("V") == "E35" and "P999" in (error.get("OT") or "")
    assert root.find(f"{APPREC_11}Status").get("V") == "2"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("user", "with_token", "status"),
    [(None, False, (303, 401)), ("publikum", False, (403,)), ("nlsh", False, (403,))],
)
def test_posting_needs_a_sender_role_and_the_csrf_token(
    base_url: str, user: str | None, with_token: bool, status: tuple[int, ...]
) -> None:
    with http_client(base_url, user) as c:
        response = c.post(
            "/meldinger/motta",
            content=avmelding("web-x", "P1"),
            headers={"Content-Type": "application/xml"},
        )
        assert response.status_code in status


def test_the_form_on_the_page_posts_and_redirects(
    base_url: str, posted: dict[str, httpx.Response]
) -> None:
    with http_client(base_url, "nasjonal") as c:
        response = c.post(
            "/meldinger/motta",
            data={"melding": "<ikke xml", "csrf_token": token(c)},
        )
        assert response.status_code == 303
        page = c.get(response.headers["location"])
        assert page.status_code == 200 and "T01" in page.text and "Avvist" in page.text


def test_the_list_shows_own_organisation_only(
    base_url: str, posted: dict[str, httpx.Response]
) -> None:
    with http_client(base_url, "nasjonal") as c:
        page = c.get("/meldinger")
        assert "M000001" in page.text and "M000002" in page.text
    with http_client(base_url, "bodo") as c:
        page = c.get("/meldinger")
        assert '<a href="/meldinger" aria-current="page">Meldinger</a>' in page.text
        assert "M000001" in page.text and "M000002" not in page.text
        assert c.get("/meldinger/M000002").status_code == 404
        detail = c.get("/meldinger/M000001")
        assert detail.status_code == 200 and "Godtatt" in detail.text
        assert "AvmeldingUtskrivningsklarPasient" in detail.text  # the raw message
        receipt = c.get("/meldinger/M000001/kvittering.xml")
        assert receipt.status_code == 200 and receipt.content == posted["ok"].content
    with http_client(base_url, "nlsh") as c:
        page = c.get("/meldinger")
        assert "M000001" in page.text and "M000002" in page.text  # sent by them
    with http_client(base_url, "oslo") as c:
        assert "M000001" not in c.get("/meldinger").text
    with http_client(base_url, "publikum") as c:
        assert c.get("/meldinger").status_code == 403
        assert 'href="/meldinger"' not in c.get("/").text


def test_opening_messages_is_audit_logged(
    base_url: str, store: Store, posted: dict[str, httpx.Response]
) -> None:
    with http_client(base_url, "bodo") as c:
        c.get("/meldinger/M000001")
    actions = {(e.username, e.action) for e in store.audit_log(limit=200)}
    assert ("nlsh", "send_message") in actions
    assert ("bodo", "view_message") in actions
    entry = next(e for e in store.audit_log(limit=200) if e.action == "view_message")
    assert tuple(entry.item_ids) == ("E1",)


def test_empty_and_oversized_bodies_are_refused(base_url: str, tmp_path: Path) -> None:
    del tmp_path
    with http_client(base_url, "nlsh") as c:
        headers = {"Content-Type": "application/xml", "X-CSRF-Token": token(c)}
        assert c.post("/meldinger/motta", content=b"  ", headers=headers).status_code == 400
        limit = int(RULES["messages.max_message_bytes"].value_on(date.today()).decimal)
        big = b"<x>" + b"a" * limit + b"</x>"
        assert c.post("/meldinger/motta", content=big, headers=headers).status_code == 413
