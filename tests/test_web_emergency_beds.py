"""Portal pages for the emergency beds (KAD): who sees what, who edits what, and the numbers.

Warehouse: the tiny hand-made delivery of ``tests/browser/tiny_warehouse`` plus KAD stays of
Bodø residents (municipal_care, service ``kad``) in 2013: six patients one night each in March
and two patients one night each in April. Bodø's unit has 2 beds from 1 January 2013:

- March: capacity 31 × 2 = 62 bed days, 6 occupied → 6 × 100 / 62 = 9,7 %;
- April: capacity 30 × 2 = 60, 2 occupied → 3,3 %, but only two patients: suppressed for the
  public (threshold 5 in ``disclosure.threshold``), shown to logged-in users.

Oslo's unit (0301) has no stays. The municipality user ``bodo`` edits Bodø's unit only; the
health-trust user edits nothing; the national user edits all.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from samhandling.registries.emergency_beds import UnitInput, get_unit, list_units, register_unit
from samhandling.rules import load_rules
from samhandling.store import Store
from samhandling.warehouse import Warehouse
from web_helpers import NBSP, TINY, csrf_of, http_client, login, portal_store, serve_portal

# The users this module's store holds (of web_helpers.USERS).
USER_NAMES = ("bodo", "nlsh", "nasjonal", "publikum")


def kad_rows() -> str:
    lines = ["care_id,patient_id,municipality,service,start,end"]
    for i in range(6):
        day = 1 + 2 * i
        lines.append(f"K{i},KP{i},1804,kad,2013-03-{day:02d},2013-03-{day + 1:02d}")
    lines.append("K10,KP10,1804,kad,2013-04-10,2013-04-11")
    lines.append("K11,KP11,1804,kad,2013-04-20,2013-04-21")
    lines.append("H1,KP1,1804,home_nursing,2013-03-01,2013-03-30")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("kadweb")
    shutil.copytree(TINY, base / "delivery")
    (base / "delivery" / "municipal_care.csv").write_text(kad_rows(), encoding="utf-8")
    wh = Warehouse(base / "warehouse")
    wh.ingest(base / "delivery", as_of=date(2014, 6, 30))
    return wh.path


@pytest.fixture(scope="module")
def store(warehouse: Path) -> Iterator[Store]:
    with portal_store(warehouse, USER_NAMES) as opened:
        rules = load_rules()
        register_unit(
            opened,
            rules,
            UnitInput(
                name="Bodø ØHD",
                host_municipality="1804",
                health_trust="983974910",
                opened_on=date(2013, 1, 1),
                beds=2,
                patient_groups=["observation_treatment"],
                applied_on=date(2012, 12, 1),
            ),
            by="test",
        )
        register_unit(
            opened,
            rules,
            UnitInput(
                name="Oslo KAD",
                host_municipality="0301",
                health_trust="993467049",
                opened_on=date(2013, 1, 1),
                beds=4,
            ),
            by="test",
        )
        yield opened


@pytest.fixture(scope="module")
def base_url(warehouse: Path, store: Store) -> Iterator[str]:
    with serve_portal(warehouse, store) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with http_client(base_url) as c:
        yield c


def unit_id(store: Store, name: str) -> int:
    return next(u.id for u in list_units(store) if u.name == name)


def csrf(client: httpx.Client, path: str) -> str:
    return csrf_of(client.get(path).text)


def row_of(page: str, label: str) -> str:
    found = re.search(rf"<tr><th scope=\"row\">{re.escape(label)}(?:</th>)?(.*?)</tr>", page, re.S)
    assert found is not None, label
    return found.group(1)


def test_public_sees_units_and_menu_link(client: httpx.Client) -> None:
    page = client.get("/kad")
    assert page.status_code == 200
    assert 'href="/kad"' in page.text and "Akutte døgnplasser (KAD)" in page.text
    assert "Bodø ØHD" in page.text and "Oslo KAD" in page.text
    assert "Registrer ny enhet" not in page.text
    # Bodø 2013 has a month of two patients: its yearly figures are hidden from the public.
    assert "prikket" in page.text


def test_public_unit_page_suppresses_small_months(client: httpx.Client, store: Store) -> None:
    page = client.get(f"/kad/enhet/{unit_id(store, 'Bodø ØHD')}?aar=2013").text
    march = row_of(page, "mars 2013")
    assert '<td class="num">62</td>' in march and f"9,7{NBSP}%" in march
    april = row_of(page, "april 2013")
    assert "prikket" in april and "3,3" not in april
    assert "Endre sengetall" not in page and 'method="post" action="/kad/enhet/' not in page


def test_municipality_user_sees_all_months_and_edits_own_unit(
    client: httpx.Client, store: Store
) -> None:
    login(client, "bodo")
    bodo = unit_id(store, "Bodø ØHD")
    page = client.get(f"/kad/enhet/{bodo}?aar=2013").text
    assert f"3,3{NBSP}%" in row_of(page, "april 2013")
    assert "Endre sengetall" in page
    token = csrf(client, f"/kad/enhet/{bodo}")
    refused = client.post(f"/kad/enhet/{bodo}/senger", data={"fra": "2014-01-01", "senger": "3"})
    assert refused.status_code == 403
    done = client.post(
        f"/kad/enhet/{bodo}/senger", data={"fra": "2014-01-01", "senger": "3", "csrf_token": token}
    )
    assert done.status_code == 303
    assert [(c.valid_from, c.beds) for c in get_unit(store, bodo).bed_counts] == [
        (date(2013, 1, 1), 2),
        (date(2014, 1, 1), 3),
    ]
    assert store.audit_log(username="bodo", limit=5)[0].action == "kad_beds"
    bad = client.post(
        f"/kad/enhet/{bodo}/senger", data={"fra": "2014-01-01", "senger": "0", "csrf_token": token}
    )
    assert bad.status_code == 400 and "minst 1" in bad.text


def test_municipality_user_cannot_edit_another_municipality(
    client: httpx.Client, store: Store
) -> None:
    login(client, "bodo")
    oslo = unit_id(store, "Oslo KAD")
    assert "Endre sengetall" not in client.get(f"/kad/enhet/{oslo}").text
    token = csrf(client, "/kad/ny")
    response = client.post(
        f"/kad/enhet/{oslo}/senger", data={"fra": "2014-01-01", "senger": "9", "csrf_token": token}
    )
    assert response.status_code == 403
    new = client.post(
        "/kad/ny",
        data={
            "csrf_token": token, "navn": "Oslo 2", "kommune": "0301", "hf": "993467049",
            "apnet": "2014-01-01", "senger": "2",
        },
    )  # fmt: skip
    assert new.status_code == 403
    assert [c.beds for c in get_unit(store, oslo).bed_counts] == [4]


def test_register_form_reports_every_problem(client: httpx.Client, store: Store) -> None:
    login(client, "bodo")
    token = csrf(client, "/kad/ny")
    response = client.post(
        "/kad/ny",
        data={
            "csrf_token": token, "navn": "", "kommune": "1804", "hf": "12",
            "apnet": "2014-13-01", "senger": "to", "gruppe": ["observation_treatment"],
        },
    )  # fmt: skip
    assert response.status_code == 400
    assert "Åpningsdato «2014-13-01» er ikke en dato" in response.text
    assert "Antall senger «to» er ikke et helt tall." in response.text
    assert len(list_units(store)) == 2


def test_health_trust_and_public_users_cannot_edit(client: httpx.Client, store: Store) -> None:
    login(client, "nlsh")
    assert client.get("/kad/ny").status_code == 403
    bodo = unit_id(store, "Bodø ØHD")
    token = csrf(client, f"/kad/enhet/{bodo}")
    response = client.post(
        f"/kad/enhet/{bodo}/senger", data={"fra": "2015-01-01", "senger": "9", "csrf_token": token}
    )
    assert response.status_code == 403
    with httpx.Client(base_url=str(client.base_url), follow_redirects=False) as anonymous:
        assert anonymous.get("/kad/ny").status_code == 303  # to the login form
        assert (
            anonymous.post(f"/kad/enhet/{bodo}/senger", data={"fra": "2015-01-01"}).status_code
            == 303
        )


def test_national_user_registers_and_edits_any_unit(client: httpx.Client, store: Store) -> None:
    login(client, "nasjonal")
    token = csrf(client, "/kad/ny")
    response = client.post(
        "/kad/ny",
        data={
            "csrf_token": token, "navn": "Salten ØHD", "kommune": "1841", "deltakere": "1840 1845",
            "hf": "983974910", "apnet": "2014-01-01", "senger": "2", "sokt": "2013-02-01",
            "gruppe": ["observation_treatment", "known_condition_worsening"],
        },
    )  # fmt: skip
    assert response.status_code == 303
    salten = get_unit(store, int(response.headers["location"].rsplit("/", 1)[1]))
    assert salten.participants == ("1840", "1845") and salten.bed_counts[0].beds == 2
    assert store.audit_log(username="nasjonal", limit=5)[0].action == "kad_register"
    edit = client.post(
        f"/kad/enhet/{salten.id}",
        data={
            "csrf_token": token, "navn": "Salten ØHD", "kommune": "1841", "deltakere": "1840",
            "hf": "983974910", "apnet": "2014-01-01", "nedlagt": "2016-01-01",
        },
    )  # fmt: skip
    assert edit.status_code == 303
    changed = get_unit(store, salten.id)
    assert changed.participants == ("1840",) and changed.closed_on == date(2016, 1, 1)


def test_grant_page_shows_funding_and_block_grant(client: httpx.Client) -> None:
    page = client.get("/kad/tilskudd?aar=2013")
    assert page.status_code == 200
    assert "Søknadsfrist for 2013: <strong>2013-03-01</strong>" in page.text
    assert "Bodø ØHD" in page.text and "ikke verifisert" in page.text
    block = client.get("/kad/tilskudd?aar=2016").text
    assert "rammetilskuddet" in block
    assert client.get("/kad/tilskudd?aar=abc").status_code == 400


def test_relief_page_details_for_logged_in_users_only(client: httpx.Client) -> None:
    public = client.get("/kad/avlastning")
    assert public.status_code == 200 and "tabell-avlastning" in public.text
    assert "tabell-avlastning-kommuner" not in public.text
    # 2013, Bodø and Oslo (both with a unit): 8 KAD patients are shown; 3 emergency medical
    # patients (E1, E3 Bodø; E2 Oslo) are fewer than 5 and suppressed for the public.
    served = row_of(public.text, "2013</th><td>med KAD-enhet</td")
    assert '<td class="num">8</td>' in served and "prikket" in served
    login(client, "nasjonal")
    page = client.get("/kad/avlastning").text
    assert "tabell-avlastning-kommuner" in page
    served = row_of(page, "2013</th><td>med KAD-enhet</td")
    assert "prikket" not in served and '<td class="num">3</td>' in served
    # Bodø 2013, 49 203 inhabitants: 8 KAD stays (the home-nursing spell is not KAD), 0,16 per
    # 1 000; 2 emergency medical hospital stays (E1, E3), 2 × 1 000 / 49 203 = 0,04.
    bodo = row_of(page, "2013</th><td>Bodø (1804)</td")
    cells = re.findall(r'<td class="num">([^<]+)</td>', bodo)
    assert cells == [f"49{NBSP}203", "8", "0,16", "2", "0,04"]


def test_unknown_unit_is_not_found(client: httpx.Client) -> None:
    assert client.get("/kad/enhet/9999").status_code == 404
