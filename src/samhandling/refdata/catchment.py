"""Catchment areas (opptaksområder): municipality -> health trust (HF) -> regional authority (RHF).

Source: SKDE's 'boområder' (``data/catchment/``), whose area ids (bohf) are mapped to the
organisation numbers of the health trusts by ``skde_bohf_helseforetak.csv`` (our mapping, each
decision documented there and in ``docs/refdata.md``).
"""

from __future__ import annotations

from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

from samhandling.errors import SamhandlingError
from samhandling.refdata._files import read_csv, schema, texts
from samhandling.refdata.borders import code_map
from samhandling.refdata.municipalities import valid_codes

CATCHMENT_SCHEMA = schema(
    municipality=pa.string(),
    hf_code=pa.string(),
    hf_name=pa.string(),
    hf_orgnr=pa.string(),
    rhf_code=pa.string(),
    rhf_name=pa.string(),
    rhf_orgnr=pa.string(),
)

HEALTH_TRUST_SCHEMA = schema(
    orgnr=pa.string(),
    name=pa.string(),
    short_name=pa.string(),
    level=pa.int8(),
    parent_orgnr=pa.string(),
)

_NATIONAL_ROOT = "1"  # the org tree's pseudo-node above the four RHFs
_FIRST_SKDE_BORDERS = 2020  # SKDE's catchment lists exist for 2020 and 2024 codes


@cache
def health_trusts() -> pa.Table:
    """Regional health authorities, health trusts and their hospitals (org tree, vintage 2020).

    Columns: orgnr, name (as in the Central Coordinating Register), short_name, level
    (1 RHF, 2 HF or hospital owner, 3 hospital/location), parent_orgnr (null for RHFs).
    ``999`` is the source's pseudo-node grouping private hospitals (level 1).
    """
    raw = read_csv(
        "catchment/helseforetak_organisasjonsstruktur_imongr.csv", strings=("OrgNr", "NivaaOpp")
    )
    raw = raw.filter(pc.not_equal(raw["Nivaa"], pa.scalar(0)))
    parent = raw["NivaaOpp"]
    parent = pc.if_else(
        pc.equal(parent, pa.scalar(_NATIONAL_ROOT)), pa.scalar(None, pa.string()), parent
    )
    table = pa.table(
        [raw["OrgNr"], raw["OrgNavnEnhetsreg"], raw["Kortnavn"], raw["Nivaa"], parent],
        names=HEALTH_TRUST_SCHEMA.names,
    )
    return table.cast(HEALTH_TRUST_SCHEMA).sort_by([("level", "ascending"), ("orgnr", "ascending")])


@cache
def _area_to_trust() -> dict[str, tuple[str, str]]:
    """SKDE bohf id -> (HF org number, HF name)."""
    raw = read_csv("catchment/skde_bohf_helseforetak.csv", strings=("bohf", "hf_orgnr"))
    return {
        area: (orgnr, name)
        for area, orgnr, name in zip(
            texts(raw["bohf"]),
            texts(raw["hf_orgnr"]),
            texts(raw["hf_navn"]),
            strict=True,
        )
    }


@cache
def _skde_areas(borders: int) -> pa.Table:
    """Municipality-level rows of the SKDE file for ``borders`` (city districts left out)."""
    if 2020 <= borders <= 2023:
        path = "catchment/opptaksomrader_skde_komnr2020.csv"
    elif 2024 <= borders <= 2026:
        path = "catchment/opptaksomrader_skde_komnr2024.csv"
    else:
        raise SamhandlingError(f"Opptaksområder finnes ikke for kommunegrensene i {borders}")
    raw = read_csv(path, strings=("kommunenummer", "bydelsnummer", "bohf", "borhf"))
    # Every municipality has one row without a district; split cities add district rows.
    whole = pc.and_(
        pc.equal(raw["bydelsnummer"], pa.scalar("")),
        pc.is_in(raw["kommunenummer"], pa.array(sorted(valid_codes(borders)))),
    )
    return raw.filter(whole).select(["kommunenummer", "bohf", "borhf", "borhf_navn"])


@cache
def catchment(borders: int = 2024) -> pa.Table:
    """The health trust (HF) and regional health authority (RHF) of each municipality.

    One row per municipality valid in ``borders`` (2006–2026; before 2020 each municipality
    takes the catchment of its 2020 successor): municipality, hf_code (SKDE area id),
    hf_name, hf_orgnr (9 digits), rhf_code (SKDE region id), rhf_name, rhf_orgnr.
    """
    if borders < _FIRST_SKDE_BORDERS:
        return _catchment_of_successors(borders)
    areas = _skde_areas(borders)
    trusts = _area_to_trust()
    parents = dict(
        zip(
            health_trusts()["orgnr"].to_pylist(),
            health_trusts()["parent_orgnr"].to_pylist(),
            strict=True,
        )
    )
    columns: dict[str, list[str]] = {name: [] for name in CATCHMENT_SCHEMA.names}
    for municipality, area, region, region_name in zip(
        texts(areas["kommunenummer"]),
        texts(areas["bohf"]),
        texts(areas["borhf"]),
        texts(areas["borhf_navn"]),
        strict=True,
    ):
        orgnr, name = trusts[area]
        columns["municipality"].append(municipality)
        columns["hf_code"].append(area)
        columns["hf_name"].append(name)
        columns["hf_orgnr"].append(orgnr)
        columns["rhf_code"].append(region)
        columns["rhf_name"].append(region_name)
        region_orgnr = parents[orgnr]
        if region_orgnr is None:
            raise SamhandlingError(f"Helseforetak {orgnr} mangler overordnet RHF i org-treet")
        columns["rhf_orgnr"].append(region_orgnr)
    table = pa.table(columns, schema=CATCHMENT_SCHEMA).sort_by("municipality")
    missing = valid_codes(borders) - set(columns["municipality"])
    if missing:
        raise SamhandlingError(
            f"Opptaksområde mangler for kommune(r) {', '.join(sorted(missing))} i {borders}"
        )
    return table


def _catchment_of_successors(borders: int) -> pa.Table:
    """Older borders: each municipality takes the 2020 catchment of its (largest) successor.

    No pre-2020 catchment list was found; the few municipalities that changed health trust
    with the 2020 reform (e.g. Halsa, from Møre og Romsdal to St. Olav) are therefore shown
    with their 2020 trust.
    """
    mapping = code_map(borders, _FIRST_SKDE_BORDERS)
    successor: dict[str, tuple[float, str]] = {}
    for older, newer, weight in zip(
        texts(mapping["from_code"]),
        texts(mapping["to_code"]),
        mapping["weight"].to_pylist(),
        strict=True,
    ):
        share = float(weight or 0.0)
        if older not in successor or share > successor[older][0]:
            successor[older] = (share, newer)
    later = catchment(_FIRST_SKDE_BORDERS)
    index = {code: i for i, code in enumerate(texts(later["municipality"]))}
    olders = sorted(successor)
    rows = later.take(pa.array([index[successor[code][1]] for code in olders]))
    return rows.set_column(0, "municipality", pa.array(olders, pa.string()))
