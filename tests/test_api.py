"""PxWebApi 2.0 resources, limits (429 + Retry-After) and RFC 7807 problems."""

from __future__ import annotations

import re
import warnings
from importlib import resources

from samhandling.api import ApiLimits, create_app
from samhandling.tables.output import validate_jsonstat
from test_acceptance_questions import acceptance_catalog

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette prefers httpx2 for its test client
    from fastapi.testclient import TestClient


def _client(**limits: int) -> TestClient:
    return TestClient(create_app(acceptance_catalog(), limits=ApiLimits(**limits)))


def test_mirrored_paths_exist_in_the_pxweb_spec() -> None:
    spec = resources.files("samhandling.tables").joinpath("specs", "pxwebapi", "PxAPI-2.yml")
    paths = set(re.findall(r"^  (/[^:]+):", spec.read_text("utf-8"), flags=re.MULTILINE))
    app = create_app(acceptance_catalog())
    ours = {
        r.path.removeprefix("/api/v2")
        .replace("{table_id}", "{id}")
        .replace("{codelist_id}", "{id}")
        for r in app.routes
        if r.path.startswith("/api/v2/")
    }
    ours -= {"/openapi.json", "/docs"}
    assert ours <= paths
    assert {
        "/tables",
        "/tables/{id}",
        "/tables/{id}/metadata",
        "/tables/{id}/data",
        "/codelists/{id}",
        "/config",
    } <= ours


def test_config_publishes_limits() -> None:
    got = (
        _client(max_data_cells=1000, max_calls_per_time_window=7, time_window_s=9)
        .get("/api/v2/config")
        .json()
    )
    assert (got["maxDataCells"], got["maxCallsPerTimeWindow"], got["timeWindow"]) == (1000, 7, 9)
    assert got["dataFormats"] == ["json-stat2", "csv", "xlsx", "parquet"]


def test_tables_metadata_and_codelist() -> None:
    client = _client()
    listing = client.get("/api/v2/tables?query=utskrivningssted").json()
    assert [t["id"] for t in listing["tables"]] == ["SD03"]
    assert listing["page"]["totalElements"] == 1
    meta = client.get("/api/v2/tables/SD03/metadata").json()
    assert meta["id"] == ["region", "period", "discharged_to", "ContentsCode"]
    assert meta["dimension"]["discharged_to"]["category"]["label"]["nursing_home"] == "Sykehjem"
    codes = client.get("/api/v2/codelists/vs_discharged_to").json()
    assert codes["values"][0] == {
        "code": "_T",
        "label": "Alle utskrivningssteder",
        "valueMap": ["_T"],
    }


def test_pxweb_post_selection_with_placement() -> None:
    body = {
        "selection": [
            {"variableCode": "region", "valueCodes": ["1703"]},
            {"variableCode": "period", "valueCodes": ["2010"]},
            {"variableCode": "discharged_to", "valueCodes": ["home", "nursing_home"]},
            {"variableCode": "ContentsCode", "valueCodes": ["opphold"]},
        ],
        "placement": {"heading": ["region"], "stub": ["discharged_to"]},
    }
    doc = _client().post("/api/v2/tables/SD03/data?outputFormat=json-stat2", json=body).json()
    assert doc["id"] == ["discharged_to", "region", "period", "ContentsCode"]
    assert doc["value"] == [6, 6]
    assert validate_jsonstat(doc) == []


def test_other_formats_download() -> None:
    client = _client()
    url = "/api/v2/tables/SD03/data?valuecodes[region]=1703&valuecodes[period]=2010"
    csv_response = client.get(url + "&outputFormat=csv")
    assert csv_response.headers["content-type"].startswith("text/csv")
    assert csv_response.text.splitlines()[0].startswith("region,region_tekst")
    assert client.get(url + "&outputFormat=xlsx").content[:2] == b"PK"
    assert client.get(url + "&outputFormat=parquet").content[:4] == b"PAR1"


def test_bad_requests_are_problem_documents_without_internals() -> None:
    client = _client()
    bad = client.get("/api/v2/tables/SD03/data?valuecodes[region]=nowhere")
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["title"] == "Bad Request"
    assert "Traceback" not in bad.text and "SELECT" not in bad.text
    missing = client.get("/api/v2/tables/SD99")
    assert missing.status_code == 404
    assert missing.json()["status"] == 404
    wrong_format = client.get("/api/v2/tables/SD03/data?outputFormat=px")
    assert wrong_format.status_code == 400


def test_too_many_cells_is_forbidden() -> None:
    response = _client(max_data_cells=3).get(
        "/api/v2/tables/SD03/data?valuecodes[discharged_to]=*&valuecodes[ContentsCode]=opphold"
    )
    assert response.status_code == 403
    assert "grensen er 3" in response.json()["detail"]


def test_rate_limit_answers_429_with_retry_after() -> None:
    client = _client(max_calls_per_time_window=2, time_window_s=60)
    assert client.get("/api/v2/config").status_code == 200
    assert client.get("/api/v2/config").status_code == 200
    third = client.get("/api/v2/config")
    assert third.status_code == 429
    assert 1 <= int(third.headers["Retry-After"]) <= 60
    assert third.json()["status"] == 429


def test_own_openapi_document_is_served() -> None:
    doc = _client().get("/api/v2/openapi.json").json()
    assert "/api/v2/tables/{table_id}/data" in doc["paths"]


def test_peers_are_region_value_sets() -> None:
    client = _client()
    # The hand-made population gives each of the five municipalities 25 000 inhabitants:
    # one population band (20 000-49 999).
    band = client.get("/api/v2/codelists/vs_peers_population_band_1804").json()
    assert band["label"] == "Samme innbyggergruppe (20 000–49 999 innbyggere)"
    assert [v["code"] for v in band["values"]] == ["0219", "0904", "1401", "1703", "1804"]
    assert band["values"][-1]["label"] == "1804 Bodø"
    catchment = client.get("/api/v2/codelists/vs_peers_catchment_1804").json()
    assert catchment["label"] == "Samme opptaksområde (Nordlandssykehuset HF)"
    assert "1804" in [v["code"] for v in catchment["values"]]
    county = client.get("/api/v2/codelists/vs_peers_county_1804").json()
    assert county["label"] == "Samme fylke (Nordland)"
    assert all(v["code"].startswith("18") for v in county["values"])

    url = (
        "/api/v2/tables/SD03/data?codelist[region]=vs_peers_population_band_1804"
        "&valuecodes[region]=*&valuecodes[period]=2010&valuecodes[ContentsCode]=opphold"
    )
    doc = client.get(url).json()
    assert list(doc["dimension"]["region"]["category"]["index"]) == band_codes(band)
    one_by_one = [
        client.get(
            f"/api/v2/tables/SD03/data?valuecodes[region]={code}&valuecodes[period]=2010"
            "&valuecodes[ContentsCode]=opphold"
        ).json()["value"][0]
        for code in band_codes(band)
    ]
    assert doc["value"] == one_by_one
    body = {
        "selection": [
            {"variableCode": "region", "codelist": "vs_peers_population_band_1804"},
            {"variableCode": "period", "valueCodes": ["2010"]},
            {"variableCode": "ContentsCode", "valueCodes": ["opphold"]},
        ]
    }
    assert client.post("/api/v2/tables/SD03/data", json=body).json()["value"] == one_by_one
    outside = client.get(
        "/api/v2/tables/SD03/data?codelist[region]=vs_peers_county_1804&valuecodes[region]=0219"
    )
    assert outside.status_code == 400
    assert "ikke i kodelisten" in outside.json()["detail"]
    unknown = client.get("/api/v2/codelists/vs_peers_catchment_4242")
    assert unknown.status_code == 400
    assert unknown.headers["content-type"].startswith("application/problem+json")


def band_codes(codelist: dict[str, object]) -> list[str]:
    values = codelist["values"]
    assert isinstance(values, list)
    return [str(v["code"]) for v in values]
