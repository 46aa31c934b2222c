"""The agreement pages of the portal: public reading, editing by the parties, CSRF, audit.

A real server on the tiny warehouse with the demo agreements (``seed_demo``): agreement 1 is
Bodø's single agreement with Nordlandssykehuset HF (two revisions), agreement 2 the joint
agreement of the Salten municipalities, and Moskenes (1874) has none.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from samhandling.registries.agreements import agreement, agreements
from samhandling.registries.agreements.demo import demo_pdf, seed_demo
from samhandling.registries.agreements.export import SHEETS
from samhandling.store import Store
from samhandling.warehouse import Warehouse
from web_helpers import csrf_of, http_client, ingest_tiny, login, portal_store, serve_portal

BODO_AGREEMENT = 1
SALTEN_AGREEMENT = 2


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingest_tiny(tmp_path_factory.mktemp("web-agreements")).path


@pytest.fixture(scope="module")
def store(warehouse: Path) -> Iterator[Store]:
    with portal_store(warehouse) as opened:
        seed_demo(Warehouse.open(warehouse), opened)
        yield opened


@pytest.fixture(scope="module")
def base_url(warehouse: Path, store: Store) -> Iterator[str]:
    with serve_portal(warehouse, store) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with http_client(base_url) as c:
        yield c


class _Form(HTMLParser):
    """The fields a browser would send for the form with ``action`` (files left out)."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.data: dict[str, str] = {}
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type") != "file":
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.data[name] = a.get("value") or "on"
            else:
                self.data[name] = a.get("value") or ""
        elif tag == "select":
            self.select = name
        elif tag == "option" and "selected" in a and self.select:
            self.data[self.select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self.textarea = name
            self.data[name] = ""

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.data[self.textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self.textarea = None


def form_fields(page: str, action: str) -> dict[str, str]:
    parser = _Form(action)
    parser.feed(page)
    assert parser.data, f"no form posting to {action}"
    return parser.data


def errors_in(page: str) -> list[str]:
    block = page.split('id="feil"', 1)
    return re.findall(r"<li>([^<]*)</li>", block[1].split("</div>")[0]) if len(block) > 1 else []


# ----------------------------------------------------------------------------- reading


@pytest.mark.parametrize("user", [None, "publikum", "bodo", "oslo", "nlsh", "nasjonal"])
def test_everyone_reads_the_registry_history_and_monitoring(
    client: httpx.Client, user: str | None
) -> None:
    if user is not None:
        login(client, user)
    listing = client.get("/samarbeidsavtaler")
    assert listing.status_code == 200
    assert '<a href="/samarbeidsavtaler" aria-current="page">Samarbeidsavtaler</a>' in listing.text
    menu = client.get("/regler").text  # the menu link on every page, for every role
    assert '<li><a href="/samarbeidsavtaler">Samarbeidsavtaler</a></li>' in menu
    assert "Samarbeidsavtale mellom Salten-kommunene og Nordlandssykehuset HF" in listing.text
    assert "Fellesavtale" in listing.text
    detail = client.get(f"/samarbeidsavtaler/{BODO_AGREEMENT}")
    assert detail.status_code == 200
    assert "Historikk" in detail.text and "Endringsnotat: Andre forhandlingsrunde" in detail.text
    assert client.get(f"/samarbeidsavtaler/{BODO_AGREEMENT}?revisjon=1").status_code == 200
    diff = client.get(f"/samarbeidsavtaler/{BODO_AGREEMENT}/diff?fra=1&til=2")
    assert diff.status_code == 200 and "lagt til" in diff.text
    page = client.get("/samarbeidsavtaler/oppfolging?dato=2012-12-31")
    assert page.status_code == 200 and "<svg" in page.text and 'id="per-rhf"' in page.text
    sha = re.search(r"/samarbeidsavtaler/dokument/([0-9a-f]{64})", detail.text)
    assert sha is not None
    doc = client.get(f"/samarbeidsavtaler/dokument/{sha.group(1)}")
    assert doc.status_code == 200 and doc.headers["content-type"] == "application/pdf"
    assert doc.content.startswith(b"%PDF-")
    # Editing links only for those who may edit.
    may_revise = user in ("bodo", "nlsh", "nasjonal")
    assert (f"/samarbeidsavtaler/{BODO_AGREEMENT}/revisjon" in detail.text) is may_revise


def test_monitoring_page_shows_the_hf_area_and_its_municipalities(client: httpx.Client) -> None:
    page = client.get("/samarbeidsavtaler/oppfolging?dato=2012-12-31&hf=983974910")
    assert page.status_code == 200
    table = page.text.split('id="per-kommune"')[1].split("</table>")[0]
    rows = re.findall(r'<tr(?: class="row-gap")?><th scope="row">([^<]+)</th>', table)
    assert len(rows) == 20 and "Moskenes (1874)" in rows
    moskenes = table.split("Moskenes (1874)")[1].split("</tr>")[0]
    assert "<td>nei</td>" in moskenes and "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11" in moskenes
    hf_row = page.text.split('id="per-hf"')[1].split("Nordlandssykehuset HF</a>")[1]
    cells = re.findall(r'<td class="num">([^<]+)</td>', hf_row.split("</tr>")[0])
    # Kommuner, med avtale, overordnet, felles, enkelt, frist passert, then points 1..11.
    assert cells[:6] == ["20", "19", "19", "8", "11", "6"]
    assert cells[6:17] == ["1", "1", "1", "4", "1", "2", "2", "4", "3", "2", "3"]


def test_monitoring_downloads_as_xlsx(client: httpx.Client) -> None:
    response = client.get("/samarbeidsavtaler/oppfolging.xlsx?dato=2012-12-31")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        'attachment; filename="samarbeidsavtaler-2012-12-31.xlsx"'
    )
    book = load_workbook(io.BytesIO(response.content))
    assert tuple(book.sheetnames) == SHEETS
    nordland = next(
        r for r in book["Per HF"].iter_rows(min_row=3, values_only=True) if r[2] == "983974910"
    )
    assert nordland[3:5] == (20, 19)


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/samarbeidsavtaler/999", 404),
        ("/samarbeidsavtaler/1?revisjon=9", 404),
        ("/samarbeidsavtaler/1/diff?fra=1&til=9", 404),
        ("/samarbeidsavtaler/dokument/abc", 404),
        ("/samarbeidsavtaler/dokument/" + "0" * 64, 404),
        ("/samarbeidsavtaler/oppfolging?dato=31.12.2012", 400),
        ("/samarbeidsavtaler/oppfolging?dato=2031-01-01", 400),  # no municipality list
        ("/samarbeidsavtaler/oppfolging?dato=2012-12-31&hf=123", 404),
    ],
)
def test_unknown_things_are_404_and_bad_dates_400(
    client: httpx.Client, url: str, status: int
) -> None:
    assert client.get(url).status_code == status


# ----------------------------------------------------------------------------- editing rights


@pytest.mark.parametrize(
    ("user", "url", "status"),
    [
        (None, "/samarbeidsavtaler/ny", 303),
        ("publikum", "/samarbeidsavtaler/ny", 403),
        ("bodo", "/samarbeidsavtaler/ny", 200),
        ("nlsh", "/samarbeidsavtaler/ny", 200),
        ("nasjonal", "/samarbeidsavtaler/ny", 200),
        (None, f"/samarbeidsavtaler/{BODO_AGREEMENT}/revisjon", 303),
        ("publikum", f"/samarbeidsavtaler/{BODO_AGREEMENT}/revisjon", 403),
        ("bodo", f"/samarbeidsavtaler/{BODO_AGREEMENT}/revisjon", 200),
        ("oslo", f"/samarbeidsavtaler/{BODO_AGREEMENT}/revisjon", 403),
        ("nlsh", f"/samarbeidsavtaler/{BODO_AGREEMENT}/revisjon", 200),
        ("nasjonal", f"/samarbeidsavtaler/{BODO_AGREEMENT}/revisjon", 200),
        ("bodo", f"/samarbeidsavtaler/{SALTEN_AGREEMENT}/revisjon", 403),
        ("nlsh", f"/samarbeidsavtaler/{SALTEN_AGREEMENT}/revisjon", 200),
    ],
)
def test_editing_forms_by_role(
    client: httpx.Client, user: str | None, url: str, status: int
) -> None:
    if user is not None:
        login(client, user)
    assert client.get(url).status_code == status


def test_every_agreement_post_refuses_a_missing_or_wrong_csrf_token(
    client: httpx.Client, store: Store
) -> None:
    before = [len(a.revisions) for a in agreements(store)]
    url = f"/samarbeidsavtaler/{BODO_AGREEMENT}/revisjon"
    assert client.post(url, data={"endringsnotat": "x"}).status_code == 403  # anonymous
    login(client, "bodo")
    fields = form_fields(client.get(url).text, url)
    fields["endringsnotat"] = "Forsøk uten gyldig kode"
    fields["tittel"] = "Endret tittel"
    for token in ("", "forfalsket"):
        assert client.post(url, data={**fields, "csrf_token": token}).status_code == 403
    new = form_fields(client.get("/samarbeidsavtaler/ny").text, "/samarbeidsavtaler/ny")
    assert client.post("/samarbeidsavtaler/ny", data={**new, "csrf_token": "x"}).status_code == 403
    assert [len(a.revisions) for a in agreements(store)] == before


def test_a_party_registers_a_revision_with_an_upload_and_it_is_audited(
    client: httpx.Client, store: Store
) -> None:
    url = f"/samarbeidsavtaler/{BODO_AGREEMENT}/revisjon"
    login(client, "bodo")
    fields = form_fields(client.get(url).text, url)
    assert fields["kommuner"] == "1804" and fields["p4_med"] == "ja"
    fields |= {
        "endringsnotat": "Punkt 5 reforhandlet",
        "p5_signert": "2014-02-01",
        "p5_gyldig_fra": "2014-03-01",
    }
    pdf = demo_pdf("Punkt 5, 2014")
    response = client.post(
        url, data=fields, files={"p5_fil": ("punkt5.pdf", pdf, "application/pdf")}
    )
    assert response.status_code == 303, errors_in(response.text)
    assert response.headers["location"] == url.removesuffix("/revisjon")
    item = agreement(store, BODO_AGREEMENT)
    rev = item.current
    point5 = rev.part("5")
    assert point5 is not None and point5.document is not None
    assert (rev.recorded_by, rev.change_note, point5.document.filename) == (
        "bodo",
        "Punkt 5 reforhandlet",
        "punkt5.pdf",
    )
    entry = store.audit_log(limit=1, username="bodo")[0]
    assert (entry.action, entry.resource) == ("agreement_revise", f"/samarbeidsavtaler/{item.id}")
    assert f"revisjon {rev.revision_no}" in entry.item_ids
    assert point5.document.sha256 in entry.item_ids
    page = client.get(f"/samarbeidsavtaler/{item.id}")
    assert "Signert: 20.01.2012 → 01.02.2014" in page.text


def test_invalid_input_is_shown_again_with_messages_and_nothing_saved(
    client: httpx.Client, store: Store
) -> None:
    url = f"/samarbeidsavtaler/{BODO_AGREEMENT}/revisjon"
    login(client, "nlsh")
    before = len(agreement(store, BODO_AGREEMENT).revisions)
    fields = form_fields(client.get(url).text, url)
    fields |= {
        "endringsnotat": "Ugyldig",
        "gyldig_til": "2011-01-01",
        "p12_med": "ja",
        "p12_signert": "2015-01-01",
        "p6_signert": "01.01.2015",
    }
    response = client.post(
        url, data=fields, files={"p4_fil": ("virus.exe", b"MZ", "application/octet-stream")}
    )
    assert response.status_code == 400
    assert errors_in(response.text) == [
        "Punkt 6 signert: &#39;01.01.2015&#39; er ikke en dato (ÅÅÅÅ-MM-DD)"
    ]
    fields["p6_signert"] = "2015-01-01"
    response = client.post(
        url, data=fields, files={"p4_fil": ("virus.exe", b"MZ", "application/octet-stream")}
    )
    assert response.status_code == 400
    messages = errors_in(response.text)
    assert "Delavtale punkt 4: Filtypen .exe er ikke tillatt; last opp DOCX, ODT, PDF" in messages
    assert "Avtalen: gyldig til (2011-01-01) er før gyldig fra (2012-01-20)" in messages
    assert any(m.startswith("Delavtale punkt 12 kan ikke gjelde fra 2015-01-01") for m in messages)
    assert 'value="Ugyldig"' not in response.text  # textarea keeps the note as text
    assert ">Ugyldig</textarea>" in response.text
    assert len(agreement(store, BODO_AGREEMENT).revisions) == before


def test_new_agreements_only_between_the_users_own_parties(
    client: httpx.Client, store: Store
) -> None:
    login(client, "oslo")
    fields = form_fields(client.get("/samarbeidsavtaler/ny").text, "/samarbeidsavtaler/ny")
    assert fields["kommuner"] == "0301"
    fields |= {
        "tittel": "Samarbeidsavtale Oslo",
        "signert": "2012-01-30",
        "overordnet_med": "ja",
        "overordnet_signert": "2012-01-30",
        "helseforetak": "993467049",
    }
    refused = {**fields, "kommuner": "1804"}
    assert client.post("/samarbeidsavtaler/ny", data=refused).status_code == 403
    count = len(agreements(store))
    response = client.post("/samarbeidsavtaler/ny", data=fields)
    assert response.status_code == 303, errors_in(response.text)
    assert len(agreements(store)) == count + 1
    assert store.audit_log(limit=1, username="oslo")[0].action == "agreement_register"
    # A health-trust user registers only the trust's own agreements.
    client.cookies.clear()
    login(client, "nlsh")
    page = client.get("/samarbeidsavtaler/ny").text
    assert 'value="993467049"' not in page  # the select offers only the user's trust
    other = {**fields, "csrf_token": csrf_of(page), "helseforetak": "993467049"}
    assert client.post("/samarbeidsavtaler/ny", data=other).status_code == 403
