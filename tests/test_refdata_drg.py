"""DRG codes, MDC and the derived medical/surgical type (samhandling.refdata.drg)."""

from __future__ import annotations

from samhandling.refdata import drgs, mdc_names


def _drg(code: str) -> dict[str, object]:
    rows = [r for r in drgs().to_pylist() if r["drg"] == code]
    assert len(rows) == 1
    return rows[0]


def test_surgical_and_medical_drgs() -> None:
    assert _drg("1A") == {
        "drg": "1A",
        "mdc": "01",
        "drg_type": "K",
        "name_no": "Intrakraniell operasjon for svulst i sentralnervesystemet",
        "first_year": 2011,
        "last_year": 2022,
    }
    assert _drg("14A")["drg_type"] == "M"
    assert _drg("127")["drg_type"] == "M"
    assert _drg("162O")["drg_type"] == "K"
    # vaginal delivery: rules go both ways, NPR treats it as medical
    assert (_drg("372")["drg_type"], _drg("372")["mdc"]) == ("M", "14")
    # ungroupable: no type
    assert (_drg("470")["drg_type"], _drg("470")["mdc"]) == (None, "99")


def test_codes_only_in_older_lists_keep_their_years() -> None:
    # 103O appears in SKDE's lists 2011-2014 only
    row = _drg("103O")
    assert (row["first_year"], row["last_year"], row["drg_type"]) == (2011, 2014, None)
    assert row["mdc"] == "05"


def test_every_drg_once_and_types_are_m_or_k() -> None:
    table = drgs()
    codes = table["drg"].to_pylist()
    assert len(codes) == len(set(codes)) == 1086
    assert set(table["drg_type"].to_pylist()) == {"M", "K", None}


def test_mdc_names() -> None:
    rows = mdc_names().to_pylist()
    assert len(rows) == 27
    assert rows[0] == {"mdc": "00", "name_en": "Pre MDC"}
    assert {"mdc": "14", "name_en": "Pregnancy, childbirth and puerperium"} in rows
