"""The synthetic persons of one year: the reference population, one row per person.

A person is a slot in a birth cohort of a municipality in 2024 borders (the identity that survives
mergers): (2024 municipality, sex, birth year, slot). In year Y the cohort's cell of the reference
population has n persons, slots 0..n-1; a slot that is not in next year's cell has left (died or
moved away) during Y. The person lives in the year-Y municipality that the 2024 unit came from;
where a 2024 unit was several municipalities in Y, slots are split between them by population
share. Pseudonym, sampling by ``fraction`` and frailty are hashes of the identity, so the same
person keeps the same id in every year and every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from samhandling.errors import SamhandlingError
from samhandling.refdata import code_map, population, valid_codes
from samhandling.synth._random import U64, hashed, stream_salt, uniform

FIRST_DATA_YEAR = 2010  # refdata population starts here; 2009 is extrapolated
FIRST_YEAR = 2009  # the first year the generator makes (identity generations count from here)
LAST_KNOWN_YEAR = 2026  # the last year with reference population
OLDEST_AGE = 105
I16 = NDArray[np.int16]
I32 = NDArray[np.int32]


@dataclass(frozen=True)
class Persons:
    """Persons resident on 1 January of ``year`` (already sampled by fraction)."""

    year: int
    codes24: tuple[str, ...]
    year_codes: tuple[str, ...]
    home24: I32  # index into codes24 (identity)
    code: I32  # index into year_codes (residence in the year's borders)
    sex: NDArray[np.int8]
    age: I16  # age on 1 January
    slot: I32
    key: U64
    leaves: NDArray[np.bool_]  # not in the population next 1 January
    birth_year: I16

    def __len__(self) -> int:
        return len(self.key)


def person_key(
    home24: NDArray[Any], sex: NDArray[Any], birth_year: NDArray[Any], slot: I32, generation: I32
) -> U64:
    """The identity of a person as one 64-bit integer.

    (2024 code, sex, birth year, slot, generation): the generation counts how often the slot was
    taken up again after being vacated since 2009, so that a person who died or moved away never
    comes back under the same id when the cohort grows again by immigration.
    """
    code = home24.astype(np.uint64)
    head = (code * np.uint64(4) + sex.astype(np.uint64)) * np.uint64(4096) + (
        birth_year.astype(np.int64) - 1800
    ).astype(np.uint64)
    gen = np.minimum(generation, 7).astype(np.uint64)
    shifted = np.left_shift(head, np.uint64(23)) + np.left_shift(gen, np.uint64(20))
    result: U64 = (shifted + slot.astype(np.uint64)).astype(np.uint64)
    return result


@cache
def dense_counts(year: int) -> NDArray[np.int32]:
    """Reference population of ``year`` as an array [2024 municipality, sex - 1, age]."""
    _, code_idx, sex, age, counts = _cells24(year)
    dense = np.zeros((int(code_idx.max()) + 1, 2, OLDEST_AGE + 1), dtype=np.int32)
    dense[code_idx, sex.astype(np.int64) - 1, age.astype(np.int64)] = counts
    return dense


def cohort_count(year: int, home24: I32, sex: NDArray[np.int8], birth_year: I16) -> I32:
    """Size of each person's cohort cell in ``year`` (0 before the cohort is born)."""
    age = year - 1 - birth_year.astype(np.int64)
    dense = dense_counts(year)
    clipped = np.clip(age, 0, OLDEST_AGE)
    result: I32 = np.where(age < 0, 0, dense[home24, sex.astype(np.int64) - 1, clipped])
    return result.astype(np.int32)


def generations(year: int, home24: I32, sex: NDArray[np.int8], birth_year: I16, slot: I32) -> I32:
    """How many times since 2009 each slot was (re)filled up to ``year`` (see person_key)."""
    gen = np.zeros(len(slot), dtype=np.int32)
    before = cohort_count(FIRST_YEAR, home24, sex, birth_year)
    for t in range(FIRST_YEAR + 1, year + 1):
        now = cohort_count(t, home24, sex, birth_year)
        gen += ((slot >= before) & (slot < now)).astype(np.int32)
        before = now
    return gen


def leave_year(year: int, home24: I32, sex: NDArray[np.int8], birth_year: I16, slot: I32) -> I32:
    """First year from ``year`` on in which each person leaves (0 if not before LAST_KNOWN)."""
    result = np.zeros(len(slot), dtype=np.int32)
    for t in range(year, LAST_KNOWN_YEAR):
        gone = (result == 0) & (slot >= cohort_count(t + 1, home24, sex, birth_year))
        result[gone] = t
    return result


def patient_ids(keys: U64) -> pa.Array[Any]:
    """Pseudonymous patient ids (løpenummer): ``P`` + 14 hex digits of a keyed hash.

    56 bits keep the chance of two persons sharing an id over a national population
    (~6 million identities) below 1 in 2 000.
    """
    digits = hashed(keys, stream_salt("patient-id")) >> np.uint64(8)
    shifts = np.arange(52, -1, -4, dtype=np.uint64)
    nibbles = ((digits[:, None] >> shifts[None, :]) & np.uint64(15)).astype(np.uint8)
    alphabet = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    chars = np.empty((len(keys), 15), dtype=np.uint8)
    chars[:, 0] = ord("P")
    chars[:, 1:] = alphabet[nibbles]
    result: pa.Array[Any] = pa.array(chars.view("S15").ravel()).cast(pa.string())
    return result


def sampled(keys: U64, fraction: float, seed: int) -> NDArray[np.bool_]:
    """Whether each person is in the sample (the same persons in every year)."""
    if fraction >= 1.0:
        return np.ones(len(keys), dtype=np.bool_)
    result: NDArray[np.bool_] = uniform(keys, stream_salt("sample", seed)) < fraction
    return result


@cache
def _cells24(year: int) -> tuple[tuple[str, ...], I32, NDArray[np.int8], I16, I32]:
    """Reference population cells in 2024 borders: codes, code index, sex, age, count."""
    if year >= FIRST_DATA_YEAR:
        table = population([year], borders=2024)
        codes = np.asarray(table["municipality"].to_pylist(), dtype=object)
        counts = table["count"].to_numpy().astype(np.int64)
        sex = table["sex"].to_numpy().astype(np.int8)
        age = table["age"].to_numpy().astype(np.int16)
    else:
        # Refdata starts in 2010: follow each cohort one year back. A cohort aged a in 2009 is
        # aged a+1 in 2010, plus those who left it during 2009, estimated by the same cohort's
        # loss from 2010 to 2011 (2010 and 2011 counts in 2024 borders).
        if year != FIRST_DATA_YEAR - 1:
            raise SamhandlingError(f"befolkning for {year} finnes ikke (første år er 2009)")
        base = _cells24(FIRST_DATA_YEAR)
        later = _cells24(FIRST_DATA_YEAR + 1)
        if base[0] != later[0] or len(base[4]) != len(later[4]):
            raise SamhandlingError("befolkningstabellene for 2010 og 2011 har ulik form")
        same_cell = (np.roll(base[1], -1) == base[1]) & (np.roll(base[2], -1) == base[2])
        older_2010 = np.where(same_cell, np.roll(base[4], -1), 0)
        older_2011 = np.where(same_cell, np.roll(later[4], -1), 0)
        loss = np.maximum(base[4].astype(np.int64) - older_2011, 0)
        counts = np.where(same_cell, older_2010 + loss, base[4])
        return base[0], base[1], base[2], base[3], counts.astype(np.int32)
    names = tuple(sorted(set(codes.tolist())))
    index = {c: i for i, c in enumerate(names)}
    code_index = np.fromiter((index[c] for c in codes), dtype=np.int32, count=len(codes))
    order = np.lexsort((age, sex, code_index))
    return names, code_index[order], sex[order], age[order], counts[order].astype(np.int32)


@cache
def year_code_shares(year: int) -> dict[str, tuple[tuple[str, float], ...]]:
    """For each 2024 municipality: the municipalities of ``year`` it consists of, with shares."""
    codes24 = sorted(valid_codes(2024))
    if year >= 2024:
        return {c: ((c, 1.0),) for c in codes24}
    mapping = code_map(year, 2024)
    totals = _population_in_borders(year)
    parts: dict[str, list[tuple[str, float]]] = {}
    for row in mapping.to_pylist():
        weight = float(row["weight"]) * totals.get(str(row["from_code"]), 1.0)
        parts.setdefault(str(row["to_code"]), []).append((str(row["from_code"]), weight))
    shares: dict[str, tuple[tuple[str, float], ...]] = {}
    for code in codes24:
        found = sorted(parts.get(code, []))
        total = sum(w for _, w in found)
        if not found or total <= 0:
            raise SamhandlingError(f"kommune {code} (2024) har ingen forgjenger i {year}")
        shares[code] = tuple((c, w / total) for c, w in found)
    return shares


def _population_in_borders(year: int) -> dict[str, float]:
    """Population per municipality in the borders of ``year`` (for splitting merged units)."""
    data_year = max(year, FIRST_DATA_YEAR)
    try:
        table = population([data_year], borders=year)
    except SamhandlingError:
        return {}
    grouped = table.group_by("municipality").aggregate([("count", "sum")])
    codes = [str(c) for c in grouped["municipality"].to_pylist()]
    counts = np.asarray(grouped["count_sum"].to_numpy(), dtype=np.float64)
    return dict(zip(codes, counts.tolist(), strict=True))


def _expand(counts: I32) -> tuple[NDArray[np.intp], I32]:
    """One row per person of each cell: the cell index and the slot within the cell."""
    cell = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    slot = (np.arange(len(cell)) - np.repeat(starts, counts)).astype(np.int32)
    return cell, slot


def _residence(
    year: int, codes24: tuple[str, ...], home24: I32, position: NDArray[np.float64]
) -> tuple[tuple[str, ...], I32]:
    """Year-``year`` municipality of each person: merged units split by population share."""
    shares = year_code_shares(year)
    year_codes = tuple(sorted({c for parts in shares.values() for c, _ in parts}))
    year_index = {c: i for i, c in enumerate(year_codes)}
    code = np.empty(len(home24), dtype=np.int32)
    for i, c24 in enumerate(codes24):
        rows = home24 == i
        parts = shares[c24]
        if len(parts) == 1:
            code[rows] = year_index[parts[0][0]]
            continue
        bounds = np.cumsum([w for _, w in parts])
        pick = np.minimum(np.searchsorted(bounds, position[rows]), len(parts) - 1)
        code[rows] = np.asarray([year_index[c] for c, _ in parts], dtype=np.int32)[pick]
    return year_codes, code


def _people(
    year: int,
    *,
    cells: tuple[tuple[str, ...], I32, NDArray[np.int8], I16, I32],
    counts: I32,
    birth_year_of_cell: I16,
    fraction: float,
    seed: int,
    identity_year: int,
    restrict: NDArray[np.int32] | None,
) -> Persons:
    codes24, code_idx, sex_of_cell, _, _ = cells
    cell, slot = _expand(counts)
    home24 = code_idx[cell]
    sex = sex_of_cell[cell]
    birth_year = birth_year_of_cell[cell]
    codes24_int = np.asarray([int(c) for c in codes24], dtype=np.int64)
    # Sampling looks at the slot, not its generation: cheap, and just as stable over years.
    slot_keys = person_key(codes24_int[home24], sex, birth_year, slot, np.zeros_like(slot))
    keep = np.flatnonzero(sampled(slot_keys, fraction, seed))
    if restrict is not None:
        keep = keep[np.isin(home24[keep], restrict)]
    gen = generations(identity_year, home24[keep], sex[keep], birth_year[keep], slot[keep])
    keys = np.zeros(len(slot), dtype=np.uint64)
    keys[keep] = person_key(codes24_int[home24[keep]], sex[keep], birth_year[keep], slot[keep], gen)
    position = (slot[keep] + 0.5) / np.maximum(counts[cell][keep], 1)
    year_codes, code = _residence(year, codes24, home24[keep], position)
    kept_birth = birth_year[keep]
    leaves = slot[keep] >= cohort_count(year + 1, home24[keep], sex[keep], kept_birth)
    return Persons(
        year=year,
        codes24=codes24,
        year_codes=year_codes,
        home24=home24[keep].astype(np.int32),
        code=code,
        sex=sex[keep],
        age=(year - 1 - kept_birth.astype(np.int32)).astype(np.int16),
        slot=slot[keep],
        key=keys[keep],
        leaves=leaves,
        birth_year=kept_birth,
    )


def _restriction(
    codes24: tuple[str, ...], municipalities: Sequence[str] | None
) -> NDArray[np.int32] | None:
    """Indices of the chosen 2024 municipalities (None: the whole country)."""
    if municipalities is None:
        return None
    unknown = sorted(set(municipalities) - set(codes24))
    if unknown:
        raise SamhandlingError(f"ukjente kommunenummer (2024): {', '.join(unknown)}")
    return np.asarray([codes24.index(c) for c in sorted(set(municipalities))], dtype=np.int32)


def persons(
    year: int, fraction: float, seed: int, municipalities: Sequence[str] | None = None
) -> Persons:
    """The sampled persons resident in Norway on 1 January of ``year``."""
    cells = _cells24(year)
    birth_year = (year - 1 - cells[3].astype(np.int32)).astype(np.int16)
    return _people(
        year,
        cells=cells,
        counts=cells[4],
        birth_year_of_cell=birth_year,
        fraction=fraction,
        seed=seed,
        identity_year=year,
        restrict=_restriction(cells[0], municipalities),
    )


def births(
    year: int, fraction: float, seed: int, municipalities: Sequence[str] | None = None
) -> Persons:
    """Children born during ``year`` (age 0 on the next 1 January); their ``age`` is -1."""
    cells = _cells24(year + 1)
    counts = np.where(cells[3] == 0, cells[4], 0).astype(np.int32)
    birth_year = np.full(len(counts), year, dtype=np.int16)
    # Their identity is the one they have on 1 January next year.
    return _people(
        year,
        cells=cells,
        counts=counts,
        birth_year_of_cell=birth_year,
        fraction=fraction,
        seed=seed,
        identity_year=year + 1,
        restrict=_restriction(cells[0], municipalities),
    )


def sample_population(people: Persons) -> pa.Table:
    """Persons per (municipality, sex, age): the denominators that match the sample."""
    table = pa.table(
        {
            "municipality": pa.array(np.asarray(people.year_codes, dtype=object)[people.code]),
            "sex": pa.array(people.sex),
            "age": pa.array(people.age),
        }
    )
    grouped = table.group_by(["municipality", "sex", "age"]).aggregate([("sex", "count")])
    grouped = grouped.sort_by(
        [("municipality", "ascending"), ("sex", "ascending"), ("age", "ascending")]
    )
    n = grouped.num_rows
    return pa.table(
        {
            "year": pa.array(np.full(n, people.year, dtype=np.int16)),
            "municipality": grouped["municipality"],
            "sex": grouped["sex"].cast(pa.int8()),
            "age": grouped["age"].cast(pa.int16()),
            "count": pc.cast(grouped["sex_count"], pa.int32()),
        }
    )
