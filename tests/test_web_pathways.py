"""Portal pages of patient pathways: published patterns for all, one timeline by role, audited.

A hand-made warehouse (2013):

- B1–B6: Bodø (1804) residents, one emergency stay each at Nordlandssykehuset (983974910), home
  again after it: pattern home → emergency admission → home, 6 patients (published).
- B7: Bodø, emergency stay, discharge-ready 08.03 (event), discharged 10.03 to a short-term
  place 10.03–20.03: home → emergency → discharge-ready → short-term → home, 1 patient
  (primary-suppressed; nationally folded into "Andre forløp").
- B8–B12: Bodø, one elective stay each: home → elective admission → home, 5 patients.
- O1: Oslo (0301) resident at Oslo universitetssykehus (993467049), elective stay.

B7's pattern has 1 patient nationally: it is "Andre forløp" everywhere. In Bodø "other" would
then describe 1 patient, so the smallest shown pattern (elective, 5) is folded into it: Bodø
publishes emergency 6, other 6, total 12, and elective as ":". Oslo (1 patient) is hidden whole.
The national table is the sum of the published municipal cells: emergency 6, elective 0, other
6, total 12.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from samhandling.store import Store
from samhandling.warehouse import Warehouse
from samhandling.web.pathways import AUDIT_VIEW
from web_helpers import http_client, login, portal_store, serve_portal

NLSH = "983974910"
OUS = "993467049"
EPISODE_HEADER = (
    "episode_id,patient_id,birth_year,sex,municipality,health_trust,provider_type,sector,"
    "care_level,urgency,admitted_at,discharged_at,main_diagnosis,drg,drg_type,drg_points,"
    "discharged_to"
)


def _write_delivery(folder: Path) -> None:
    folder.mkdir(parents=True)
    episodes = [EPISODE_HEADER]
    for n in range(1, 7):
        episodes.append(
            f"E{n},B{n},1940,2,1804,{NLSH},public,somatic,inpatient,emergency,"
            f"2013-0{n % 6 + 1}-10 08:00,2013-0{n % 6 + 1}-14 12:00,J441,88,M,1.000,home"
        )
    for n in range(8, 13):
        episodes.append(
            f"E{n + 10},B{n},1945,1,1804,{NLSH},public,somatic,inpatient,elective,"
            f"2013-0{n - 6}-20 08:00,2013-0{n - 6}-22 12:00,J441,88,M,1.000,home"
        )
    episodes.append(
        f"E7,B7,1930,1,1804,{NLSH},public,somatic,inpatient,emergency,"
        "2013-03-01 08:00,2013-03-10 12:00,S720,209,K,2.000,other_municipal"
    )
    episodes.append(
        f"E8,O1,1950,1,0301,{OUS},public,somatic,inpatient,elective,"
        "2013-04-01 08:00,2013-04-03 12:00,I500,127,M,1.500,home"
    )
    (folder / "episodes.csv").write_text("\n".join(episodes) + "\n", "utf-8")
    (folder / "events.csv").write_text(
        "event_id,episode_id,type,at,source\nV1,E7,discharge_ready,2013-03-08 09:00,plo\n",
        "utf-8",
    )
    (folder / "municipal_care.csv").write_text(
        "care_id,patient_id,municipality,service,start,end\n"
        "C1,B7,1804,short_term_institution,2013-03-10,2013-03-20\n",
        "utf-8",
    )


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("web-pathways")
    _write_delivery(base / "delivery")
    warehouse = Warehouse(base / "warehouse")
    report = warehouse.ingest(base / "delivery", as_of=date(2014, 6, 30))
    assert report.rejected == 0
    return warehouse.path


@pytest.fixture(scope="module")
def store(warehouse: Path) -> Iterator[Store]:
    with portal_store(warehouse) as opened:
        yield opened


@pytest.fixture(scope="module")
def base_url(warehouse: Path, store: Store) -> Iterator[str]:
    with serve_portal(warehouse, store) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with http_client(base_url, timeout=120) as c:
        yield c


def _cells(page: str, table_id: str) -> list[tuple[str, str]]:
    table = page.split(f'id="{table_id}"')[1].split("</table>", maxsplit=1)[0]
    rows = re.findall(r'<th scope="row">([^<]*)</th><td class="num">([^<]*)</td>', table)
    return [(label, value) for label, value in rows]


def test_patterns_are_public_and_suppressed(client: httpx.Client) -> None:
    page = client.get("/forlop?kommune=1804&aar=2013")
    assert page.status_code == 200, page.text
    cells = dict(_cells(page.text, "tabell-monstre"))
    home = "Hjemme → Øyeblikkelig hjelp-innleggelse → Hjemme"
    assert cells[home] == "6"
    assert cells["Hjemme → Planlagt innleggelse → Hjemme"] == ":"  # folded into other
    assert cells["Andre forløp"] == "6"  # B7 + the 5 elective pathways
    assert cells["Alle forløp"] == "12"
    assert "<svg" in page.text and 'class="chart pathway-flow"' in page.text
    assert 'href="/forlop"' in page.text  # menu link for anonymous users
    assert 'action="/forlop/pasient"' not in page.text  # no patient look-up for the public


def test_national_patterns_publish_what_is_safe(client: httpx.Client) -> None:
    page = client.get("/forlop?aar=2013")
    cells = dict(_cells(page.text, "tabell-monstre"))
    # The sums of the published municipal cells: Oslo's single pathway is not in them.
    assert cells["Hjemme → Øyeblikkelig hjelp-innleggelse → Hjemme"] == "6"
    assert cells["Hjemme → Planlagt innleggelse → Hjemme"] == "0"
    assert cells["Andre forløp"] == "6"
    assert cells["Alle forløp"] == "12"
    assert "1 kommune med færre enn 5 pasienter" in page.text


def test_unknown_municipality_code_is_rejected(client: httpx.Client) -> None:
    assert client.get("/forlop?kommune=18a4").status_code == 400


@pytest.mark.parametrize(
    ("user", "patient", "status"),
    [
        ("nasjonal", "B1", 200),
        ("nasjonal", "O1", 200),
        ("bodo", "B7", 200),  # own resident
        ("bodo", "O1", 404),  # another municipality's resident: not even confirmed
        ("oslo", "B1", 404),
        ("oslo", "O1", 200),
        ("nlsh", "B1", 200),  # own patient
        ("nlsh", "O1", 404),  # treated at OUS
        ("publikum", "B1", 403),
        ("nasjonal", "NOBODY", 404),
    ],
)
def test_patient_timeline_by_role(
    client: httpx.Client, store: Store, user: str, patient: str, status: int
) -> None:
    login(client, user)
    before = len(store.audit_log(limit=1000, username=user))
    response = client.get(f"/forlop/pasient/{patient}")
    assert response.status_code == status, response.text
    log = store.audit_log(limit=1000, username=user)
    if status == 200:
        assert "Pasientforløp for pasient" in response.text
        assert len(log) == before + 1
        assert (log[0].action, log[0].resource, log[0].item_ids) == (
            AUDIT_VIEW,
            f"forlop/pasient/{patient}",
            (patient,),
        )
    else:
        assert len(log) == before


def test_anonymous_patient_view_goes_to_login(client: httpx.Client) -> None:
    response = client.get("/forlop/pasient/B1")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/logg-inn")


def test_patient_page_shows_the_states_and_rows(client: httpx.Client) -> None:
    page = login(client, "bodo").get("/forlop/pasient/B7").text
    table = page.split('id="tabell-tidslinje"')[1]
    states = re.findall(r'<th scope="row">([^<]*)</th>', table)
    assert states == [
        "Øyeblikkelig hjelp-innleggelse",
        "Utskrivningsklar, venter på kommunen",
        "Korttidsopphold i institusjon",
        "Hjemme",
    ]
    assert 'href="/forklar/E7"' in table and "C1" in table
    # 08.03 09:00 to 10.03 12:00 waiting: 2,1 days; times as written in the data (local time)
    assert "<td>08.03.2013 kl. 09:00</td><td>10.03.2013 kl. 12:00</td>" in table
    assert "2,1" in table


def test_patient_lookup_form_redirects(client: httpx.Client) -> None:
    login(client, "nasjonal")
    response = client.get("/forlop/pasient?pasient=B2")
    assert response.status_code == 303 and response.headers["location"] == "/forlop/pasient/B2"
    assert client.get("/forlop/pasient?pasient=%3Cx%3E").status_code == 400
