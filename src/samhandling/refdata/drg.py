"""Norwegian DRG codes (NorDRG): major diagnostic category, medical/surgical type and names.

Sources (``data/drg/PROVENANCE.md``): NordDRG definition tables for Norway 2015–2017 (MDC and the
logic from which the type is derived), the NordDRG 2015 name table, and SKDE's yearly name lists
(2011–2016, 2022). No official cost-weight list was available.

``drg_type`` is a heuristic derived from the grouper logic, not the official ISF list: K
(surgical, kirurgisk) where every rule leading to the DRG requires a significant OR procedure,
M (medical) where none does. Vaginal delivery (372, 373, 373O), whose rules go both ways, is M
as NPR treats it. DRGs outside the 2015–2017 tables and 470 (ungroupable) have no type (null).
"""

from __future__ import annotations

from functools import cache

import pyarrow as pa

from samhandling.refdata._files import read_csv, schema, texts

DRGS_SCHEMA = schema(
    drg=pa.string(),
    mdc=pa.string(),
    drg_type=pa.string(),
    name_no=pa.string(),
    first_year=pa.int16(),
    last_year=pa.int16(),
)
MDC_SCHEMA = schema(mdc=pa.string(), name_en=pa.string())

_TYPE_FROM_HEURISTIC = {"K": "K", "M": "M", "blandet": "M"}


@cache
def drgs() -> pa.Table:
    """One row per Norwegian DRG code seen in the shipped lists (2011–2017, 2022).

    Columns: drg, mdc (2 digits, null where unknown), drg_type ('M'/'K', heuristic, null
    where unknown), name_no (latest Norwegian name), first_year, last_year (first and last
    year of the lists that contain the code; the lists cover 2011–2017 and 2022 only).
    """
    years: dict[str, set[int]] = {}
    names: dict[str, tuple[int, str]] = {}
    skde = read_csv("drg/drg_navn_skde_2011_2016_2022.csv", strings=("drg", "drgnavn"))
    for year, code, name in zip(
        skde["aar"].to_pylist(), texts(skde["drg"]), texts(skde["drgnavn"]), strict=True
    ):
        if isinstance(year, int):
            years.setdefault(code, set()).add(year)
            if code not in names or names[code][0] <= year:
                names[code] = (year, name)

    mdc: dict[str, str] = {}
    drg_type: dict[str, str] = {}
    grouper = read_csv(
        "drg/drg_mdc_norddrg_nor_2015_2017.csv",
        strings=("drg", "mdc", "drg_type_utledet_heuristikk", "drgnavn_norddrg"),
    )
    for year, code, group, heuristic, name in zip(
        grouper["aar"].to_pylist(),
        texts(grouper["drg"]),
        texts(grouper["mdc"]),
        texts(grouper["drg_type_utledet_heuristikk"]),
        texts(grouper["drgnavn_norddrg"]),
        strict=True,
    ):
        if not code[:1].isalnum() or not isinstance(year, int):
            continue  # a '#####' filler row in the 2016 table
        years.setdefault(code, set()).add(year)
        if group:
            mdc[code] = group
        if heuristic in _TYPE_FROM_HEURISTIC:
            drg_type[code] = _TYPE_FROM_HEURISTIC[heuristic]
        if name and (code not in names or names[code][0] <= year):
            names[code] = (year, name)

    nordic = read_csv("drg/drg_navn_norddrg_nor_2015.csv", strings=("drg_lokal", "mdc", "drgnavn"))
    for code, group, name in zip(
        texts(nordic["drg_lokal"]), texts(nordic["mdc"]), texts(nordic["drgnavn"]), strict=True
    ):
        if code in years:
            mdc.setdefault(code, group)
            names.setdefault(code, (0, name))

    rows = [
        {
            "drg": code,
            "mdc": mdc.get(code) or None,
            "drg_type": drg_type.get(code),
            "name_no": names[code][1] if code in names else None,
            "first_year": min(seen),
            "last_year": max(seen),
        }
        for code, seen in sorted(years.items())
    ]
    return pa.Table.from_pylist(rows, schema=DRGS_SCHEMA)


@cache
def mdc_names() -> pa.Table:
    """Major diagnostic categories (MDC 00–25, 98) with English names (NordDRG)."""
    raw = read_csv("drg/mdc_liste_norddrg.csv", strings=("mdc", "mdc_navn_engelsk"))
    return pa.table([raw["mdc"], raw["mdc_navn_engelsk"]], names=MDC_SCHEMA.names).cast(MDC_SCHEMA)
