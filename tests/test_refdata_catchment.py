"""Catchment areas and the health-trust tree (samhandling.refdata.catchment)."""

from __future__ import annotations

from collections import Counter

import pytest

from samhandling.errors import SamhandlingError
from samhandling.refdata import catchment, health_trusts, valid_codes

OUS = "993467049"
VESTRE_VIKEN = "894166762"
HELSE_SOR_OST = "991324968"


def _row(borders: int, municipality: str) -> dict[str, str]:
    rows = [r for r in catchment(borders).to_pylist() if r["municipality"] == municipality]
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize("borders", [2012, 2019, 2020, 2024])
def test_one_row_per_municipality(borders: int) -> None:
    table = catchment(borders)
    assert table["municipality"].to_pylist() == sorted(valid_codes(borders))


def test_municipalities_per_regional_authority_2024() -> None:
    # opptaksomrader_skde_komnr2024.csv, municipality-level rows counted by borhf_navn
    assert Counter(catchment(2024)["rhf_name"].to_pylist()) == {
        "Helse Sør-Øst RHF": 146,
        "Helse Nord RHF": 80,
        "Helse Vest RHF": 66,
        "Helse Midt-Norge RHF": 65,
    }


def test_known_municipalities() -> None:
    assert _row(2024, "3201") == {
        "municipality": "3201",
        "hf_code": "20",
        "hf_name": "Vestre Viken HF",
        "hf_orgnr": VESTRE_VIKEN,
        "rhf_code": "4",
        "rhf_name": "Helse Sør-Øst RHF",
        "rhf_orgnr": HELSE_SOR_OST,
    }
    assert _row(2024, "5501")["hf_orgnr"] == "983974899"  # Tromsø -> UNN
    assert _row(2024, "1804")["hf_name"] == "Nordlandssykehuset HF"
    assert _row(2024, "4602")["hf_name"] == "Helse Førde HF"


def test_oslo_as_a_whole_belongs_to_ous() -> None:
    oslo = _row(2024, "0301")
    assert (oslo["hf_code"], oslo["hf_orgnr"], oslo["rhf_orgnr"]) == ("30", OUS, HELSE_SOR_OST)


def test_older_borders_take_the_catchment_of_their_successor() -> None:
    assert _row(2012, "0219")["hf_orgnr"] == VESTRE_VIKEN  # Bærum
    assert _row(2012, "1401")["hf_name"] == "Helse Førde HF"  # Flora -> Kinn
    assert _row(2012, "1703")["hf_name"] == "Helse Nord-Trøndelag HF"  # Namsos


def test_every_trust_is_in_the_org_tree_under_its_authority() -> None:
    trusts = {r["orgnr"]: r for r in health_trusts().to_pylist()}
    for borders in (2020, 2024):
        for row in catchment(borders).to_pylist():
            trust = trusts[row["hf_orgnr"]]
            assert trust["level"] == 2
            assert trust["parent_orgnr"] == row["rhf_orgnr"]
            assert trusts[row["rhf_orgnr"]]["level"] == 1
            assert len(row["hf_orgnr"]) == 9


def test_health_trust_tree() -> None:
    trusts = {r["orgnr"]: r for r in health_trusts().to_pylist()}
    assert trusts[HELSE_SOR_OST] == {
        "orgnr": HELSE_SOR_OST,
        "name": "HELSE SØR-ØST RHF",
        "short_name": "Helse Sør-Øst RHF",
        "level": 1,
        "parent_orgnr": None,
    }
    # Lovisenberg owns its Oslo catchment though it is not an HF
    assert trusts["965985166"]["parent_orgnr"] == HELSE_SOR_OST
    assert trusts["974588951"]["parent_orgnr"] == OUS  # OUS Aker, a hospital (level 3)
    assert len(trusts) == 198


def test_borders_outside_the_lists_are_a_user_error() -> None:
    with pytest.raises(SamhandlingError):
        catchment(2005)
