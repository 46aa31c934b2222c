"""The portal on a tiny hand-made warehouse: login, access control, CSRF, pages and their numbers.

The warehouse (``tests/browser/tiny_warehouse``, shared with the browser tests) holds three
somatic inpatient stays in 2013, one row that ingest quarantines (municipality 9999) and six
outpatient mental-health consultations of six Bodø residents in May 2013 (E5–E10: no
co-financing, no discharge-ready days; they make Bodø's table cells large enough to publish):

- E1: Bodø (1804) at Nordlandssykehuset HF (983974910), 1.000 DRG points, discharge-ready
  15.01.2013 (notified the same day, municipality cannot receive), discharged 20.01.2013:
  billable days 15–19 January = 5 days × 4 125 kr (2013 rate, unverified) = 20 625,00 kr;
  co-financing 0,2 × 1,000 × 38 384 kr (2013 unit price, unverified) = 7 676,80 kr.
- E2: Oslo (0301) at Oslo universitetssykehus HF (993467049), 1.500 points, ready 05.02,
  discharged 08.02: 3 days × 4 125 = 12 375,00 kr; co-financing 0,2 × 1,5 × 38 384 = 11 515,20.
- E3: Bodø at Nordlandssykehuset, 0.800 points, ready 04.03, discharged 06.03: 2 days × 4 125 =
  8 250,00 kr; co-financing 0,2 × 0,8 × 38 384 = 6 141,44 kr.

So Bodø's co-financing for 2013 is 7 676,80 + 6 141,44 = 13 818,24 kr (Helse Nord RHF); with no
2012 activity the forecast is 0, so the whole à-konto is December's adjustment to the revised
forecast, January–August annualised (revision month 8): 13 818,24 × 12 / 8 = 20 727,36 kr, and
à-konto − accrued = 6 909,12 kr. Oslo's
11 515,20 (Helse Sør-Øst RHF), the country's 25 333,44; Nordlandssykehuset invoices Bodø
20 625,00 + 8 250,00 = 28 875,00 kr and the country's discharge-ready invoices total
41 250,00 kr.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from portal_server import serve
from samhandling.engine import Engine
from samhandling.formatting import date_no, datetime_no, money, month_no, number, percent
from samhandling.rules import load_rules
from samhandling.store import Store
from samhandling.warehouse import Warehouse
from samhandling.web import create_app, create_demo_users
from samhandling.web.charts import Series, bar_chart
from samhandling.web.jobs import Computations, report_progress
from samhandling.web.security import LoginPolicy
from web_helpers import FAST_HASH, NBSP, csrf_of, http_client, ingest_tiny, kr, login, portal_store


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingest_tiny(tmp_path_factory.mktemp("web")).path


@pytest.fixture(scope="module")
def store(warehouse: Path) -> Iterator[Store]:
    with portal_store(warehouse) as opened:
        yield opened


@pytest.fixture(scope="module")
def app(warehouse: Path, store: Store) -> FastAPI:
    return create_app(warehouse, store=store, wait_seconds=60)


@pytest.fixture(scope="module")
def base_url(app: FastAPI) -> Iterator[str]:
    with serve(app) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with http_client(base_url) as c:
        yield c


# ----------------------------------------------------------------------------- formatting


def test_norwegian_numbers_and_dates() -> None:
    assert number(1234567) == kr("1 234 567")
    assert number(Decimal("-1234.5"), 1) == kr("-1 234,5")
    assert number(Decimal("999.995"), 2) == kr("1 000,00")
    assert money(Decimal("20625")) == kr("20 625,00")
    assert money(None) == "–"
    assert percent(Decimal("12.34")) == kr("12,3 %")
    assert date_no(date(2013, 1, 5)) == "05.01.2013"
    assert month_no(date(2013, 3, 1)) == "mars 2013"
    assert month_no("2013-12") == "desember 2013"
    # 23:30 UTC on 31 December is already New Year's Day in Oslo (UTC+1 in winter).
    assert datetime_no(datetime(2013, 12, 31, 23, 30, tzinfo=UTC)) == "01.01.2014 kl. 00:30"


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False))
def test_money_reads_back_to_the_same_amount(amount: Decimal) -> None:
    text = money(amount)
    assert Decimal(text.replace(NBSP, "").replace(",", ".")) == amount
    whole = text.lstrip("-").split(",")[0].split(NBSP)
    assert all(len(g) == 3 for g in whole[1:]) and 1 <= len(whole[0]) <= 3


def test_bar_chart_has_a_bar_per_value_and_a_title() -> None:
    svg = str(bar_chart("t", "Døgn & kroner", ["jan", "feb"], [Series("A", (Decimal(3), None))]))
    assert svg.count("<rect") == 2  # one bar (feb is missing) and one legend key
    assert '<title id="t-title">Døgn &amp; kroner</title>' in svg
    with pytest.raises(ValueError, match="one value per category"):
        bar_chart("t", "x", ["jan"], [Series("A", (1, 2))])


# ----------------------------------------------------------------------------- policy


def test_login_policy_comes_from_the_rule_tables() -> None:
    policy = LoginPolicy.from_rules(load_rules(), date(2026, 1, 1))
    assert (policy.max_failures_per_user, policy.max_failures_per_client) == (5, 20)
    assert policy.window == timedelta(minutes=15)
    assert policy.session_lifetime == timedelta(hours=8)
    assert policy.session_idle == timedelta(minutes=30)


# ----------------------------------------------------------------------------- login


def test_login_sets_a_safe_session_cookie_and_lands_on_own_page(client: httpx.Client) -> None:
    page = client.get("/logg-inn")
    assert page.status_code == 200 and 'lang="nb"' in page.text
    response = client.post(
        "/logg-inn",
        data={
            "brukernavn": "bodo",
            "passord": "pw-bodo",
            "csrf_token": csrf_of(page.text),
            "neste": "/",
        },
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "samhandling_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    home = client.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/kommune/1804"


def test_cookie_is_secure_when_served_over_https(warehouse: Path, store: Store) -> None:
    app = create_app(warehouse, store=store, https=True)
    with serve(app) as url, httpx.Client(base_url=url, follow_redirects=False) as c:
        page = c.get("/logg-inn")
        assert "Secure" in page.headers["set-cookie"]
        # The login cookie is Secure, so a plain-http client does not send it back: refused.
        response = c.post(
            "/logg-inn",
            data={
                "brukernavn": "nasjonal",
                "passord": "pw-nasjonal",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert response.status_code == 400


def test_wrong_password_is_refused_without_saying_which_part(client: httpx.Client) -> None:
    page = client.get("/logg-inn")
    for user, password in [("bodo", "feil"), ("finnes-ikke", "pw-bodo")]:
        response = client.post(
            "/logg-inn",
            data={"brukernavn": user, "passord": password, "csrf_token": csrf_of(page.text)},
        )
        assert response.status_code == 401
        assert "Feil brukernavn eller passord." in response.text
        assert "samhandling_session" not in response.headers.get("set-cookie", "")


def test_login_without_form_token_is_refused(client: httpx.Client) -> None:
    response = client.post("/logg-inn", data={"brukernavn": "bodo", "passord": "pw-bodo"})
    assert response.status_code == 400
    forged = client.post(
        "/logg-inn",
        data={"brukernavn": "bodo", "passord": "pw-bodo", "csrf_token": "forfalsket"},
    )
    assert forged.status_code == 400


def test_login_is_rate_limited_per_username(store: Store, base_url: str) -> None:
    store.add_user("sperres", "riktig", "national")
    # Five failures 20 minutes ago are outside the 15-minute window and do not count.
    old = datetime.now(UTC) - timedelta(minutes=20)
    for _ in range(5):
        store.record_login_attempt("sperres", "10.9.9.9", succeeded=False, at=old)
    with httpx.Client(base_url=base_url, follow_redirects=False) as c:
        token = csrf_of(c.get("/logg-inn").text)

        def attempt(password: str) -> int:
            return c.post(
                "/logg-inn",
                data={"brukernavn": "sperres", "passord": password, "csrf_token": token},
            ).status_code

        assert [attempt("feil") for _ in range(5)] == [401] * 5
        blocked = c.post(
            "/logg-inn",
            data={"brukernavn": "sperres", "passord": "riktig", "csrf_token": token},
        )
        assert blocked.status_code == 429
        assert "For mange mislykkede innlogginger" in blocked.text
        # Another user from the same client is not blocked (5 < 20 failures per client).
        assert (
            c.post(
                "/logg-inn",
                data={"brukernavn": "nasjonal", "passord": "pw-nasjonal", "csrf_token": token},
            ).status_code
            == 303
        )


def test_each_login_gets_a_new_session_and_ends_the_old(
    client: httpx.Client, base_url: str
) -> None:
    login(client, "nasjonal")
    old = client.cookies["samhandling_session"]
    login(client, "bodo")
    assert client.cookies["samhandling_session"] != old
    with httpx.Client(base_url=base_url, cookies={"samhandling_session": old}) as stale:
        assert stale.get("/data", follow_redirects=False).status_code == 303


def test_next_page_must_be_on_this_site(client: httpx.Client) -> None:
    for evil in ["//evil.example/x", "/\\evil.example", "https://evil.example/"]:
        page = client.get("/logg-inn", params={"neste": evil})
        assert 'name="neste" value="/"' in page.text, evil
    page = client.get("/logg-inn?neste=/data")
    assert 'name="neste" value="/data"' in page.text


def test_logout_needs_the_session_csrf_token(client: httpx.Client) -> None:
    login(client, "nasjonal")
    page = client.get("/regler")
    assert client.post("/logg-ut", data={"csrf_token": "feil"}).status_code == 403
    assert client.get("/data").status_code == 200
    assert client.post("/logg-ut", data={"csrf_token": csrf_of(page.text)}).status_code == 303
    assert client.get("/data").status_code == 303


def test_every_form_post_is_csrf_protected(app: FastAPI, client: httpx.Client) -> None:
    login(client, "nasjonal")
    posts = [
        r.path  # type: ignore[attr-defined]
        for r in app.routes
        if "POST" in getattr(r, "methods", set())
    ]
    assert {"/logg-inn", "/logg-ut"} <= set(posts)
    for path in ("/logg-inn", "/logg-ut"):
        assert client.post(path, data={}).status_code in (400, 403), path
    # The areas' forms (agreements, emergency beds, ...): a post without the session's token
    # is refused whatever else it carries (path parameters filled with a placeholder).
    for path in posts:
        filled = re.sub(r"\{[^}]+\}", "1", path)
        status = client.post(filled, data={"csrf_token": "feil"}).status_code
        assert 400 <= status < 500, (path, status)


# ----------------------------------------------------------------------------- access


@pytest.mark.parametrize(
    ("user", "url", "status"),
    [
        (None, "/kommune/1804", 303),
        (None, "/json/kommune/1804/utskrivningsklare/983974910/2013-01", 401),
        (None, "/statistikk?aar=2013", 200),
        (None, "/json/statistikk?aar=2013", 200),
        ("publikum", "/statistikk?aar=2013", 200),
        ("publikum", "/kommune/1804", 403),
        ("bodo", "/kommune/1804", 200),
        ("bodo", "/kommune/0301", 403),
        ("bodo", "/kommune/1804/utskrivningsklare/983974910/2013-01", 200),
        ("bodo", "/kommune/0301/utskrivningsklare/993467049/2013-02", 403),
        ("bodo", "/json/kommune/0301/utskrivningsklare/993467049/2013-02", 403),
        ("bodo", "/helseforetak/983974910", 403),
        ("bodo", "/land", 403),
        ("bodo", "/forklar/E1", 200),
        ("bodo", "/forklar/E2", 404),
        ("oslo", "/kommune/1804/utskrivningsklare/983974910/2013-01", 403),
        ("oslo", "/json/kommune/1804/utskrivningsklare/983974910/2013-01", 403),
        ("oslo", "/forklar/E1", 404),
        ("nlsh", "/helseforetak/983974910", 200),
        ("nlsh", "/helseforetak/993467049", 403),
        ("nlsh", "/kommune/1804/utskrivningsklare/983974910/2013-01", 200),
        ("nlsh", "/kommune/0301/utskrivningsklare/993467049/2013-02", 403),
        ("nlsh", "/kommune/1804", 403),
        ("nasjonal", "/kommune/0301/utskrivningsklare/993467049/2013-02", 200),
        ("nasjonal", "/json/kommune/1804/utskrivningsklare/983974910/2013-01", 200),
        ("nasjonal", "/land", 200),
        ("nasjonal", "/forklar/E2", 200),
        ("nasjonal", "/forklar/E99", 404),
        ("nasjonal", "/revisjonslogg", 200),
        ("bodo", "/revisjonslogg", 403),
        ("nlsh", "/revisjonslogg", 403),
        ("nasjonal", "/kommune/18x4", 404),
        ("nasjonal", "/kommune/1804/utskrivningsklare/983974910/2013-13", 404),
    ],
)
def test_access_is_enforced_on_the_server(
    client: httpx.Client, user: str | None, url: str, status: int
) -> None:
    if user is not None:
        login(client, user)
    assert client.get(url).status_code == status


# ----------------------------------------------------------------------------- pages


def test_min_kommune_shows_bills_of_own_municipality(client: httpx.Client) -> None:
    page = login(client, "bodo").get("/kommune/1804").text
    assert "Min kommune: Bodø" in page
    assert f"{kr('13 818,24')} kr" in page  # co-financing 2013
    assert kr("7 676,80") in page and kr("6 141,44") in page
    assert f'Betalt à-konto</dt><dd class="num">{kr("20 727,36")} kr' in page
    assert f"{kr('6 909,12')} kr" in page
    # Overliggerdøgn: E1 15.01–20.01 = 5, E3 04.03–06.03 = 2; all 7 billed.
    stats = page.split('id="overligger"')[1].split("</dl>")[0]
    assert re.findall(r'<dd class="num">([^<]*)</dd>', stats)[:4] == ["2", "2", "7", "7"]
    assert kr("20 625,00") in page and kr("8 250,00") in page
    assert f"{kr('28 875,00')} kr</strong> for 7" in page
    assert "ikke verifisert" in page  # 2013 unit price and daily rate are unverified
    assert "/kommune/1804/utskrivningsklare/983974910/2013-01" in page
    assert kr("11 515,20") not in page  # Oslo's amount


def test_line_items_sum_to_the_invoice_and_are_audited(client: httpx.Client, store: Store) -> None:
    login(client, "bodo")
    page = client.get("/kommune/1804/utskrivningsklare/983974910/2013-01").text
    assert "15.01.2013" in page and "19.01.2013" in page
    assert f"{kr('20 625,00')} kr" in page and ">E1</a>" in page
    data = client.get("/json/kommune/1804/utskrivningsklare/983974910/2013-01").json()
    assert data["amount"] == "20625.00" and data["days"] == 5
    assert [
        (r["episode_id"], r["line_from"], r["line_to"], r["daily_rate"], r["amount"])
        for r in data["lines"]
    ] == [("E1", "2013-01-15", "2013-01-19", "4125.00", "20625.00")]
    audit_page = login(client, "nasjonal").get("/revisjonslogg?bruker=bodo").text
    assert (
        "Så fakturalinjer" in audit_page
        and "utskrivningsklare/1804/983974910/2013-01" in audit_page
    )
    log = store.audit_log(username="bodo", limit=2)
    assert [(e.action, e.resource, e.item_ids) for e in log] == [
        ("view_line_items", "json/utskrivningsklare/1804/983974910/2013-01", ("E1",)),
        ("view_line_items", "utskrivningsklare/1804/983974910/2013-01", ("E1",)),
    ]


def test_health_trust_view_puts_municipalities_side_by_side(client: httpx.Client) -> None:
    page = login(client, "nlsh").get("/helseforetak/983974910?aar=2013").text
    assert "Nordlandssykehuset" in page and "Bodø (1804)" in page
    assert f"{kr('28 875,00')} kr</strong> til 1 kommuner" in page
    assert "Oslo" not in page.split("<main", 1)[1]
    assert "<svg" in page and "Vis tallene" in page


def test_country_view_totals(client: httpx.Client) -> None:
    page = login(client, "nasjonal").get("/land").text
    assert f"Kommunal medfinansiering 2013: {kr('25 333,44')} kr" in page
    assert kr("13 818,24") in page and kr("11 515,20") in page
    assert f"{kr('41 250,00')} kr fakturert" in page


def test_explain_shows_the_rules_and_arithmetic(client: httpx.Client) -> None:
    page = login(client, "bodo").get("/forklar/E1").text
    assert kr("7 676,80") in page and kr("20 625,00") in page
    assert "/regler/discharge_ready.daily_rate" in page
    assert "/regler/isf.unit_price_somatic" in page
    assert "ikke verifisert" in page


def test_rules_page_lists_every_rule_and_marks_unverified(client: httpx.Client) -> None:
    page = client.get("/regler")
    assert page.status_code == 200
    rules = load_rules()
    for rule_id in rules.tables:
        assert f'href="/regler/{rule_id}"' in page.text
    rate = client.get("/regler/discharge_ready.daily_rate").text
    assert "01.01.2013" in rate and "31.12.2013" in rate and "4125" in rate
    assert rate.count("⚠ ikke verifisert") == 2  # the table and the 2013 row (2012: SSB)
    assert client.get("/regler/finnes.ikke").status_code == 404


def test_indicators_page_lists_every_definition(client: httpx.Client) -> None:
    from samhandling.indicators import all_definitions

    page = client.get("/indikatorer")
    assert page.status_code == 200
    definitions = all_definitions()
    assert definitions
    for d in definitions:
        assert f"<code>{d.id}</code>" in page.text
        for rule_id in d.rules:
            assert f'href="/regler/{rule_id}"' in page.text


def test_data_page_needs_login_and_shows_deliveries(client: httpx.Client) -> None:
    redirect = client.get("/data")
    assert redirect.status_code == 303
    assert redirect.headers["location"] == "/logg-inn?neste=/data"
    page = login(client, "bodo").get("/data").text
    assert "D0001" in page and "registry" in page and "30.06.2014" in page
    assert "kommunenummeret fantes ikke det året" in page
    # 2013: 6 mental health, 3 somatic, 9 in all (E4 was quarantined).
    assert re.search(
        r'<td class="num">6</td>\s*<td class="num">3</td>\s*<td class="num">9</td>', page
    )


def test_security_headers(client: httpx.Client) -> None:
    response = client.get("/regler")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    css = client.get("/static/portal.css")
    assert css.status_code == 200 and "cache-control" not in css.headers


def test_pages_never_load_anything_from_other_sites(client: httpx.Client) -> None:
    login(client, "nasjonal")
    for url in ["/", "/land", "/regler", "/indikatorer", "/data", "/kommune/1804", "/forklar/E1"]:
        text = client.get(url, follow_redirects=True).text
        assert not re.search(r'(src|href)="(https?:)?//', text), url


# ----------------------------------------------------------------------------- table generator

TABLE_QUERY = (
    "region=1804&period=2013&sector=_T&sector=mental_health&sector=somatic"
    "&maal=kontakter&maal=pasienter"
)


def test_table_generator_shows_suppression_and_reopens_from_its_url(client: httpx.Client) -> None:
    listing = client.get("/tabeller")
    assert listing.status_code == 200 and 'href="/tabeller/SD01"' in listing.text
    page = client.get(f"/tabeller/SD01?{TABLE_QUERY}").text
    rows = re.findall(r'<tr><th scope="row">(.*?)</tr>', page)
    # Bodø's somatic cell has 2 patients (E1, E3): under 5, primary suppression. The total
    # would then give it away as total − mental health, so the total or the mental-health cell
    # (or both) is suppressed too (secondary); secondary cells come first, so note 1.
    assert [re.findall(r"<td>([^<]*)</td>", r)[1] for r in rows] == [
        "Alle sektorer",
        "Psykisk helsevern",
        "Somatikk",
    ]
    notes = [re.findall(r"<sup>(\d)</sup>", r) for r in rows]
    assert notes[2] == ["2", "2"]
    assert ["1", "1"] in notes[:2] and all(n in (["1", "1"], []) for n in notes[:2])
    assert '<li value="1">: prikket for å beskytte en annen celle (sekundærprikking)</li>' in page
    assert '<li value="2">: færre enn 5 pasienter (primærprikking)</li>' in page
    # The form shows the choices the URL made, so the shared address reopens the same table.
    assert '<option value="1804" selected>' in page
    assert '<option value="mental_health" selected>' in page
    assert f'href="/tabeller/SD01/data.csv?{TABLE_QUERY.replace("&", "&amp;")}"' in page


def test_table_downloads_carry_the_same_marks(client: httpx.Client) -> None:
    csv_text = client.get(f"/tabeller/SD01/data.csv?{TABLE_QUERY}").text
    lines = [line.split(",") for line in csv_text.strip().splitlines()]
    assert lines[0][-2:] == ["verdi", "prikking"]
    cells = {(r[4], r[6]): (r[8], r[9]) for r in lines[1:]}
    assert list(cells) == [
        (sector, measure)
        for sector in ("_T", "mental_health", "somatic")
        for measure in ("kontakter", "pasienter")
    ]
    # Bodø's somatic cell (2 patients) is primary; then the total or mental health (or both)
    # must be hidden as secondary, or total − mental health would give it away. A cell left
    # published shows its count: 8 contacts of 8 patients in all, 6 of 6 in mental health.
    assert cells[("somatic", "kontakter")] == cells[("somatic", "pasienter")] == (":", "primary")
    hidden = {sector for (sector, _m), (_v, reason) in cells.items() if reason == "secondary"}
    assert hidden in ({"_T"}, {"mental_health"}, {"_T", "mental_health"})
    published = {"_T": "8", "mental_health": "6"}
    for sector, count in published.items():
        expected = (":", "secondary") if sector in hidden else (count, "")
        assert cells[(sector, "kontakter")] == cells[(sector, "pasienter")] == expected
    stat = client.get(f"/tabeller/SD01/data.json?{TABLE_QUERY}").json()
    assert stat["class"] == "dataset"
    assert stat["value"] == [None if v == ":" else int(v) for v, _reason in cells.values()]
    assert client.get("/tabeller/SD01/data.xlsx").content[:2] == b"PK"
    assert client.get("/tabeller/NOPE").status_code == 404
    assert client.get("/tabeller/SD01?region=0000").status_code == 400


# ----------------------------------------------------------------------------- computations


def test_a_slow_computation_shows_progress_and_blocks_nobody(warehouse: Path) -> None:
    started = threading.Event()
    release = threading.Event()
    computations = Computations(Warehouse(warehouse), workers=1)
    try:

        def slow(engine: Engine) -> int:
            report_progress("steg 1 av 2")
            started.set()
            release.wait(10)
            return int(engine.query("SELECT COUNT(*) AS n FROM episodes").column("n")[0].as_py())

        job = computations.submit(("slow",), "Treg beregning", slow)
        assert started.wait(10)
        assert computations.wait([job], 0.05) is False
        assert job.status == "steg 1 av 2"  # what the progress page shows beside the label
        # The same key gives the same running computation, not a second one.
        assert computations.submit(("slow",), "Treg beregning", slow) is job
        release.set()
        assert computations.wait([job], 10) and job.result() == 9
    finally:
        release.set()
        computations.close()


def test_page_shows_progress_while_computing(warehouse: Path, store: Store) -> None:
    app = create_app(warehouse, store=store, wait_seconds=0)
    with serve(app) as url, httpx.Client(base_url=url, follow_redirects=False, timeout=60) as c:
        login(c, "nasjonal")
        first = c.get("/land?aar=2013")
        if first.status_code == 202:
            assert "Beregner" in first.text and "<progress" in first.text
            assert '<meta http-equiv="refresh"' in first.text
        for _ in range(200):
            page = c.get("/land?aar=2013")
            if page.status_code == 200:
                break
            threading.Event().wait(0.05)
        assert page.status_code == 200 and kr("41 250,00") in page.text


# ----------------------------------------------------------------------------- demo users


def test_demo_users_cover_every_role_and_can_log_in(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 's.sqlite3'}", password_hasher=FAST_HASH) as s:
        first = create_demo_users(s)
        again = create_demo_users(s)
        assert first == again
        assert sorted(u.role for u in first) == [
            "health_trust",
            "municipality",
            "national",
            "public",
        ]
        for demo in first:
            user = s.verify_password(demo.username, demo.password)
            assert user is not None and user.organisation == demo.organisation


# ----------------------------------------------------------------------------- CLI


def test_users_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAMHANDLING_DB_URL", raising=False)
    import typer
    from typer.testing import CliRunner

    from samhandling.cli.web import register

    cli = typer.Typer()
    register(cli)
    runner = CliRunner()
    wh = ["--warehouse", str(tmp_path)]
    demo = runner.invoke(cli, ["users", "demo", *wh])
    assert demo.exit_code == 0, demo.output
    assert "bodo" in demo.output and "demo-kommune" in demo.output
    added = runner.invoke(
        cli,
        ["users", "add", "kari", "--rolle", "municipality", "--org", "4601", *wh],
        input="hemmelig\nhemmelig\n",
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(cli, ["users", "list", *wh])
    assert "kari" in listed.output and "4601" in listed.output and "hemmelig" not in listed.output
    with Store(f"sqlite:///{tmp_path / 'portal.sqlite3'}") as s:
        user = s.verify_password("kari", "hemmelig")
        assert user is not None and user.organisation == "4601"
    bad = runner.invoke(cli, ["users", "add", "ola", "--rolle", "admin", *wh])
    assert bad.exit_code != 0


def test_public_surface_is_small_and_exported() -> None:
    import samhandling.store
    import samhandling.web

    assert sorted(samhandling.web.__all__) == ["DemoUser", "create_app", "create_demo_users"]
    for module in (samhandling.web, samhandling.store):
        for name in module.__all__:
            assert hasattr(module, name), (module.__name__, name)


def test_an_app_with_full_paths_is_served_under_its_mount() -> None:
    from samhandling.web._app import _UnderOwnPaths

    api = FastAPI()

    @api.get("/api/v2/config")
    def config() -> dict[str, str]:
        return {"apiVersion": "2.0"}

    portal = FastAPI()
    portal.mount("/api", _UnderOwnPaths(api))
    with serve(portal) as url:
        assert httpx.get(f"{url}/api/v2/config").json() == {"apiVersion": "2.0"}
        assert httpx.get(f"{url}/api/v2/other").status_code == 404
