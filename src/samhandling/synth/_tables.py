"""Turn generated column arrays into Arrow tables with the interchange schema (contract.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from samhandling.contract import (
    CAME_FROM,
    CARE_LEVELS,
    DISCHARGED_TO,
    EVENT_SOURCES,
    EVENT_TYPES,
    PROVIDER_TYPES,
    SECTORS,
    URGENCIES,
    arrow_schema,
)
from samhandling.synth._catalog import Catalog, Trusts
from samhandling.synth._hospital import DAY_US, HOUR_US, MINUTE_US, Block, Episodes
from samhandling.synth._params import section
from samhandling.synth._persons import patient_ids

I64 = NDArray[np.int64]


def labels(
    values: Sequence[str], index: NDArray[np.integer], *, null_below: int = 0
) -> pa.Array[Any]:
    """Strings by index into ``values``; indices below ``null_below`` are null."""
    idx = np.asarray(index, dtype=np.int32)
    mask = idx < null_below
    dictionary = pa.array(list(values), pa.string())
    safe = np.where(mask, 0, idx).astype(np.int32)
    indices = pa.array(safe, pa.int32(), mask=mask if mask.any() else None)
    return pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.string())


def numbered(prefix: str, numbers: I64, width: int) -> pa.Array[Any]:
    """``prefix`` + zero-padded number, e.g. E2012-0301-0000042."""
    text = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width=width, padding="0")
    prefixes = pa.array([prefix] * len(numbers), pa.string())
    join: Any = pc.binary_join_element_wise
    result: pa.Array[Any] = join(prefixes, text, "")
    return result


def points(milli: I64, valid: NDArray[np.bool_]) -> pa.Array[Any]:
    """DRG points as DECIMAL(9,3) from thousandths (exact, no floats)."""
    data = np.zeros((len(milli), 2), dtype=np.int64)
    data[:, 0] = milli
    data[:, 1] = np.where(milli < 0, -1, 0)
    values = pa.Array.from_buffers(
        pa.decimal128(9, 3), len(milli), [None, pa.py_buffer(data.tobytes())]
    )
    result: pa.Array[Any] = pc.if_else(
        pa.array(~valid), pa.scalar(None, pa.decimal128(9, 3)), values
    )
    return result


def _secondary_text(categories: Sequence[str], secondary: NDArray[np.int32]) -> pa.Array[Any]:
    """Secondary diagnoses (bitilstander) as space-separated codes, null where there are none."""
    has_any = (secondary >= 0).any(axis=1)
    rows = np.flatnonzero(has_any)
    codes = np.asarray([*categories, ""], dtype=object)
    picked = codes[np.where(secondary[rows] >= 0, secondary[rows], len(categories))]
    text = [" ".join(c for c in row if c) for row in picked.tolist()]
    values = np.full(len(secondary), None, dtype=object)
    values[rows] = text
    return pa.array(values, pa.string())


def timestamps(us: I64, valid: NDArray[np.bool_] | None = None) -> pa.Array[Any]:
    array = pa.array(us.astype("datetime64[us]"), pa.timestamp("us"))
    if valid is None:
        return array
    result: pa.Array[Any] = pc.if_else(pa.array(~valid), pa.scalar(None, pa.timestamp("us")), array)
    return result


def episode_table(
    block: Block, episodes: Episodes, cat: Catalog, trusts: Trusts, prefix: str
) -> tuple[pa.Table, pa.Array[Any]]:
    """The block's episodes as an Arrow table (sorted by admission) and their ids."""
    order = np.lexsort((episodes.columns["person"], episodes.columns["admitted"]))
    cols = {k: v[order] for k, v in episodes.columns.items()}
    episodes.columns = cols
    n = len(order)
    rows = block.rows[cols["person"].astype(np.intp)]
    people = block.people
    ids = numbered(prefix, np.arange(1, n + 1, dtype=np.int64), 7)
    drg = cols["drg"]
    has_drg = drg >= 0
    safe_drg = np.where(has_drg, drg, 0)
    secondary = cols["secondary"]
    other = _secondary_text(cat.categories, secondary)
    ready = cols["ready_day"] >= 0
    is_somatic_drg = has_drg
    table = pa.table(
        {
            "episode_id": ids,
            "patient_id": patient_ids(people.key[rows]),
            "birth_year": pa.array(people.birth_year[rows], pa.int16()),
            "sex": pa.array(people.sex[rows], pa.int8()),
            "municipality": labels(people.year_codes, people.code[rows]),
            "stay_municipality": labels(people.year_codes, cols["stay_code"], null_below=0),
            "health_trust": labels(trusts.orgnrs, cols["trust"]),
            "institution": pa.nulls(n, pa.string()),
            "provider_type": labels(PROVIDER_TYPES, cols["provider"]),
            "sector": labels(SECTORS, cols["sector"]),
            "care_level": labels(CARE_LEVELS, cols["care"]),
            "urgency": labels(URGENCIES, np.where(cols["emergency"], 0, 1)),
            "admitted_at": timestamps(cols["admitted"]),
            "discharged_at": timestamps(cols["discharged"]),
            "main_diagnosis": labels(cat.categories, cols["diagnosis"]),
            "other_diagnoses": other,
            "drg": labels(cat.drgs, drg, null_below=0),
            "drg_type": labels(cat.drg_type, np.where(has_drg, safe_drg, -1), null_below=0),
            "drg_points": points(cat.drg_points_milli[safe_drg], has_drg),
            "mdc": labels(cat.drg_mdc, np.where(has_drg, safe_drg, -1), null_below=0),
            "drug_excluded": pa.array(cols["drug_excluded"] & is_somatic_drg, pa.bool_()),
            "came_from": labels(CAME_FROM, cols["came_from"], null_below=0),
            "discharged_to": labels(DISCHARGED_TO, cols["discharged_to"], null_below=0),
            "referred_from_outpatient": pa.array(cols["referred"], pa.bool_()),
            "discharge_ready_at": pc.if_else(
                pa.array(~ready, pa.bool_()),
                pa.scalar(None, pa.date32()),
                pa.array(np.where(ready, cols["ready_day"], 0).astype("datetime64[D]")),
            ),
        }
    )
    return table.cast(arrow_schema("episodes")), ids


def event_table(block: Block, episodes: Episodes, ids: pa.Array[Any]) -> pa.Table:
    """The discharge-ready workflow (time points) of the block's discharge-ready stays."""
    cfg = section("discharge_ready")
    rng = block.rng
    cols = episodes.columns
    chosen = np.flatnonzero(cols["ready_day"] >= 0)
    n = len(chosen)
    admitted = cols["admitted"][chosen]
    discharged = cols["discharged"][chosen]
    ready_day = cols["ready_day"][chosen]
    overlying = cols["overlying"][chosen]
    episode: list[I64] = []
    kinds: list[NDArray[np.int8]] = []
    at: list[I64] = []

    def emit(mask: NDArray[np.bool_], kind: str, when: I64) -> None:
        episode.append(chosen[mask].astype(np.int64))
        kinds.append(np.full(int(mask.sum()), EVENT_TYPES.index(kind), dtype=np.int8))
        at.append(when[mask])

    u = rng.random((n, 6))
    missing = u[:, 0] < float(cfg["admission_notice_missing"])
    late = (~missing) & (
        u[:, 0] < float(cfg["admission_notice_missing"]) + float(cfg["admission_notice_late"])
    )
    notice = admitted + np.where(
        late,
        rng.integers(25 * 60, 72 * 60, size=n) * MINUTE_US,
        rng.integers(30, 20 * 60, size=n) * MINUTE_US,
    )
    emit(~missing & (notice < discharged), "admission_notified", notice)
    # Withdrawn: declared ready two days early, withdrawn the next day, declared ready again.
    withdrawn = (u[:, 1] < float(cfg["withdrawn"])) & (ready_day - admitted // DAY_US >= 3)
    early = (ready_day - 2) * DAY_US + rng.integers(9 * 60, 13 * 60, size=n) * MINUTE_US
    emit(withdrawn, "discharge_ready", early)
    emit(withdrawn, "discharge_ready_notified", early + 45 * MINUTE_US)
    emit(withdrawn, "withdrawn", (ready_day - 1) * DAY_US + 10 * HOUR_US)
    day_start = ready_day * DAY_US
    ready_at = day_start + rng.integers(8 * 60, 14 * 60, size=n) * MINUTE_US
    ready_at = np.where(
        ready_at <= admitted, admitted + (day_start + DAY_US - admitted) // 2, ready_at
    )
    # Declared ready before the patient leaves (same-day discharges leave early in the day).
    ready_at = np.maximum(np.minimum(ready_at, discharged - 30 * MINUTE_US), admitted + MINUTE_US)
    emit(np.ones(n, dtype=np.bool_), "discharge_ready", ready_at)
    late_notice = u[:, 2] < float(cfg["ready_notice_late"])
    same_day = np.minimum(
        ready_at + rng.integers(10, 180, size=n) * MINUTE_US, day_start + DAY_US - MINUTE_US
    )
    next_day = day_start + DAY_US + rng.integers(8 * 60, 11 * 60, size=n) * MINUTE_US
    notified = np.where(late_notice, next_day, same_day)
    emit(np.ones(n, dtype=np.bool_), "discharge_ready_notified", notified)
    answer = notified + rng.integers(30, 240, size=n) * MINUTE_US
    no_answer = u[:, 3] < float(cfg["no_answer"])
    emit((overlying > 0) & ~no_answer, "cannot_receive", answer)
    emit((overlying == 0) & (u[:, 4] < 0.7), "can_receive", np.minimum(answer, discharged))
    ep = np.concatenate(episode) if episode else np.zeros(0, dtype=np.int64)
    kind = np.concatenate(kinds) if kinds else np.zeros(0, dtype=np.int8)
    when = np.concatenate(at) if at else np.zeros(0, dtype=np.int64)
    order = np.lexsort((kind, when, ep))
    ep, kind, when = ep[order], kind[order], when[order]
    m = len(ep)
    sequence = np.arange(m) - np.searchsorted(ep, ep, side="left") + 1
    episode_ids = ids.take(pa.array(ep, pa.int64()))
    join: Any = pc.binary_join_element_wise
    event_ids = join(episode_ids, pc.cast(pa.array(sequence), pa.string()), "-")
    plo = rng.random(m) < float(cfg["plo_share"])
    table = pa.table(
        {
            "event_id": event_ids,
            "episode_id": episode_ids,
            "type": labels(EVENT_TYPES, kind),
            "at": timestamps(when),
            "source": labels(EVENT_SOURCES, np.where(plo, 1, 0)),
        }
    )
    return table.cast(arrow_schema("events"))
