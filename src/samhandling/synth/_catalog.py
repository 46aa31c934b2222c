"""What the model draws from: ICD-10 categories, DRGs with their weights, health trusts.

Everything is taken from refdata (valid codes only) and shaped by ``model.toml``. DRG cost weights
are not public data in refdata, so each DRG gets a deterministic weight: a lognormal number from a
hash of its code around the median of its group (inpatient medical/surgical, day procedure,
outpatient), documented in docs/synthetic-data.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from samhandling.errors import SamhandlingError
from samhandling.refdata import catchment, health_trusts
from samhandling.synth._params import floats, section
from samhandling.synth._random import normal, stream_salt

F64 = NDArray[np.float64]
I32 = NDArray[np.int32]

_OUTPATIENT = re.compile(r"^9\d\d[A-Z]$")  # 9xxO: poliklinisk konsultasjon
_DAY_PROCEDURE = re.compile(r"^8\d\d[A-Z]$")  # 8xxA-Z: polikliniske prosedyrer / dagbehandling
_DRUG_INFUSION = re.compile(r"^8\d\dH$")  # 8xxH: infusion of specified expensive drugs
BANDS = 7


@dataclass(frozen=True)
class Distribution:
    """Categories (indices into Catalog.categories) and their cumulative probabilities."""

    items: I32
    cumulative: F64

    def draw(self, u: F64) -> I32:
        pick = np.searchsorted(self.cumulative, u * self.cumulative[-1], side="right")
        result: I32 = self.items[np.minimum(pick, len(self.items) - 1)]
        return result


@dataclass(frozen=True)
class Catalog:
    """ICD-10 categories and DRGs as the model uses them."""

    categories: tuple[str, ...]
    category_index: dict[str, int]
    category_mdc: tuple[str, ...]
    general: dict[tuple[str, int, int], Distribution]  # (inpatient|outpatient, band, sex) -> dist
    named: dict[str, Distribution]  # mental, substance, rehabilitation, delivery, sick_newborn
    drgs: tuple[str, ...]
    drg_index: dict[str, int]
    drg_type: tuple[str, ...]
    drg_mdc: tuple[str, ...]
    drg_points_milli: NDArray[np.int64]  # weight × 1000, rounded
    drg_drug_excluded: NDArray[np.bool_]
    pools: dict[tuple[str, str], I32]  # (mdc, group) -> drg indices; group in GROUPS

    def drg(self, code: str) -> int:
        try:
            return self.drg_index[code]
        except KeyError:
            raise SamhandlingError(f"DRG {code} finnes ikke i referansedataene") from None


GROUPS = ("inpatient_M", "inpatient_K", "day_M", "day_K", "outpatient")


def _group_of(code: str, drg_type: str) -> tuple[str, str]:
    """The group (and group weight key) of a DRG code by its form."""
    if _OUTPATIENT.match(code):
        return "outpatient", "outpatient"
    if _DAY_PROCEDURE.match(code):
        return "day_M", "day_procedure"
    if code.endswith("O"):  # other xxxO: dagkirurgisk behandling
        return "day_K", "day_surgical"
    if drg_type == "K":
        return "inpatient_K", "inpatient_surgical"
    return "inpatient_M", "inpatient_medical"


@cache
def catalog(year: int) -> Catalog:
    """The catalog for ``year`` built from refdata and model.toml (cached per process).

    DRGs are those valid in the year (refdata covers 2011-2022; other years use the nearest).
    """
    from samhandling.refdata import drg as drg_module
    from samhandling.refdata import icd10

    codes = icd10.codes()
    chapters = [int(c) for c in np.asarray(codes["chapter"].to_numpy(), dtype=np.int64)]
    categories = tuple(str(c) for c in codes["category3"].to_pylist())
    category_index = {c: i for i, c in enumerate(categories)}
    diag = section("diagnoses")
    mdc_cfg = section("mdc")
    category_mdc = tuple(
        str(mdc_cfg["categories"].get(c, mdc_cfg["chapters"].get(str(ch), "23")))
        for c, ch in zip(categories, chapters, strict=True)
    )
    chapter_of = np.asarray(chapters, dtype=np.int64)
    common = {k: float(v) for k, v in diag["common"].items()}
    base_weight = np.asarray([common.get(c, 1.0) for c in categories], dtype=np.float64)
    reserved = set(diag["reserved"])
    base_weight[[category_index[c] for c in reserved if c in category_index]] = 0.0
    male_only = np.isin(np.asarray(categories), diag["male_only"])
    female_only = np.isin(np.asarray(categories), diag["female_only"]) | (chapter_of == 15)
    general: dict[tuple[str, int, int], Distribution] = {}
    for kind in ("inpatient", "outpatient"):
        table = diag[f"{kind}_chapters"]
        for band in range(BANDS):
            chapter_weight = np.zeros(23, dtype=np.float64)
            for ch, weights in table.items():
                chapter_weight[int(ch)] = float(weights[band])
            for sex in (1, 2):
                w = base_weight.copy()
                w[female_only if sex == 1 else male_only] = 0.0
                totals = np.bincount(chapter_of, weights=w, minlength=23)
                scale = np.divide(chapter_weight, totals, out=np.zeros(23), where=totals > 0)
                w = w * scale[chapter_of]
                general[(kind, band, sex)] = _distribution(w)
    named = {
        name: _named(diag[name], category_index)
        for name in ("mental", "substance", "rehabilitation", "delivery", "sick_newborn")
    }
    drgs_table = drg_module.drgs()
    first_years = np.asarray(drgs_table["first_year"].to_numpy(), dtype=np.int64)
    last_years = np.asarray(drgs_table["last_year"].to_numpy(), dtype=np.int64)
    in_force = min(max(year, int(first_years.min())), int(last_years.max()))
    drgs_table = drgs_table.filter(pa.array((first_years <= in_force) & (last_years >= in_force)))
    return _with_drgs(
        Catalog(
            categories=categories,
            category_index=category_index,
            category_mdc=category_mdc,
            general=general,
            named=named,
            drgs=(),
            drg_index={},
            drg_type=(),
            drg_mdc=(),
            drg_points_milli=np.zeros(0, dtype=np.int64),
            drg_drug_excluded=np.zeros(0, dtype=np.bool_),
            pools={},
        ),
        drgs_table,
    )


def _distribution(weights: F64) -> Distribution:
    items = np.flatnonzero(weights > 0).astype(np.int32)
    return Distribution(items, np.cumsum(weights[items]))


def _named(weights: dict[str, float], index: dict[str, int]) -> Distribution:
    missing = [c for c in weights if c not in index]
    if missing:
        raise SamhandlingError(f"model.toml: ukjente ICD-10-kategorier {missing}")
    items = np.asarray([index[c] for c in weights], dtype=np.int32)
    return Distribution(items, np.cumsum(floats(list(weights.values()))))


def _with_drgs(base: Catalog, table: pa.Table) -> Catalog:
    table = table.filter(pc.is_in(table["drg_type"], pa.array(["M", "K"])))
    codes = tuple(str(c) for c in table["drg"].to_pylist())
    types = tuple(str(t) for t in table["drg_type"].to_pylist())
    mdcs = tuple(str(m) for m in table["mdc"].to_pylist())
    weights_cfg = section("drg_weight")
    keys = np.asarray(
        [int.from_bytes(c.encode().ljust(8, b"\0")[:8], "little") for c in codes], dtype=np.uint64
    )
    z = normal(keys, stream_salt("drg-weight"))
    medians = np.empty(len(codes), dtype=np.float64)
    pools: dict[tuple[str, str], list[int]] = {}
    healthy_newborn = str(section("mdc")["healthy_newborn_drg"])
    for i, (code, drg_type, mdc) in enumerate(zip(codes, types, mdcs, strict=True)):
        group, weight_key = _group_of(code, drg_type)
        medians[i] = float(weights_cfg[weight_key])
        if code != healthy_newborn:  # given only to healthy newborns, never drawn
            pools.setdefault((mdc, group), []).append(i)
    points = medians * np.exp(float(weights_cfg["sd"]) * z)
    return Catalog(
        categories=base.categories,
        category_index=base.category_index,
        category_mdc=base.category_mdc,
        general=base.general,
        named=base.named,
        drgs=codes,
        drg_index={c: i for i, c in enumerate(codes)},
        drg_type=types,
        drg_mdc=mdcs,
        drg_points_milli=np.maximum(np.rint(points * 1000), 1).astype(np.int64),
        drg_drug_excluded=np.asarray([bool(_DRUG_INFUSION.match(c)) for c in codes]),
        pools={k: np.asarray(v, dtype=np.int32) for k, v in pools.items()},
    )


def draw_drgs(cat: Catalog, mdc: NDArray[np.object_], group: NDArray[np.object_], u: F64) -> I32:
    """A DRG per episode from the pool of its MDC and group (fallbacks keep it valid)."""
    result = np.empty(len(u), dtype=np.int32)
    keys = np.char.add(mdc.astype(str), np.char.add("|", group.astype(str)))
    for key in np.unique(keys):
        rows = keys == key
        m, g = str(key).split("|")
        pool = _pool(cat, m, g)
        result[rows] = pool[np.minimum((u[rows] * len(pool)).astype(np.int64), len(pool) - 1)]
    return result


def _pool(cat: Catalog, mdc: str, group: str) -> I32:
    fallbacks = {
        "inpatient_M": ("inpatient_M", "inpatient_K"),
        "inpatient_K": ("inpatient_K", "inpatient_M"),
        "day_M": ("day_M", "outpatient", "inpatient_M"),
        "day_K": ("day_K", "day_M", "inpatient_K"),
        "outpatient": ("outpatient", "day_M", "inpatient_M"),
    }[group]
    for candidate in fallbacks:
        pool = cat.pools.get((mdc, candidate))
        if pool is not None and len(pool):
            return pool
    for candidate in fallbacks:
        merged = [p for (m, g), p in cat.pools.items() if g == candidate]
        if merged:
            return np.sort(np.concatenate(merged))
    raise SamhandlingError(f"ingen DRG-er i gruppen {group}")


@dataclass(frozen=True)
class Trusts:
    """Health trusts (HF) and private hospitals by organisation number."""

    orgnrs: tuple[str, ...]
    home_trust: dict[str, int]  # 2024 municipality -> index of its catchment HF
    home_region: dict[str, int]  # 2024 municipality -> index of its RHF
    region_of: dict[int, int]  # HF index -> its RHF index
    same_region: dict[int, I32]  # HF index -> other HFs of the same RHF
    private: dict[int, I32]  # HF index -> private hospitals to use for its residents
    all_trusts: I32


@cache
def trusts() -> Trusts:
    """Catchment HFs for each 2024 municipality and the private hospitals per region."""
    rows = catchment(2024).to_pylist()
    orgs = health_trusts().to_pylist()
    private_rows = [o for o in orgs if o["level"] == 2 and not str(o["short_name"]).endswith(" HF")]
    hf = sorted({str(r["hf_orgnr"]) for r in rows})
    rhf = sorted({str(r["rhf_orgnr"]) for r in rows})
    privates = sorted(str(o["orgnr"]) for o in private_rows)
    orgnrs = tuple(hf + rhf + privates)
    index = {o: i for i, o in enumerate(orgnrs)}
    region_of_hf = {str(r["hf_orgnr"]): str(r["rhf_orgnr"]) for r in rows}
    same_region = {
        index[h]: np.asarray(
            [index[o] for o in hf if o != h and region_of_hf[o] == region_of_hf[h]] or [index[h]],
            dtype=np.int32,
        )
        for h in hf
    }
    private: dict[int, I32] = {}
    for h in hf:
        own = [index[str(o["orgnr"])] for o in private_rows if o["parent_orgnr"] == region_of_hf[h]]
        other = [index[str(o["orgnr"])] for o in private_rows if o["parent_orgnr"] == "999"]
        private[index[h]] = np.asarray(own or other, dtype=np.int32)
    return Trusts(
        orgnrs=orgnrs,
        home_trust={str(r["municipality"]): index[str(r["hf_orgnr"])] for r in rows},
        home_region={str(r["municipality"]): index[str(r["rhf_orgnr"])] for r in rows},
        region_of={index[h]: index[region_of_hf[h]] for h in hf},
        same_region=same_region,
        private=private,
        all_trusts=np.asarray([index[h] for h in hf], dtype=np.int32),
    )
