"""Municipal health and care services (KPR/IPLOS-like) of one block of persons in one year.

Long-term institution places, home nursing and practical help are person-level states: each
person has a stable uniform number and enters the service in the year the model's stock share
for their age passes it (so the stock at 31.12 follows the share by age). A state ends when the
person leaves the population (death or moving away; found from the reference population of later
years) or, for home-based services, moves into long-term care. Entries before 2009 are written in
the 2009 delivery. Short-term stays, emergency beds (KAD) and home nursing after a hospital
discharge are linked to the discharges that need them; more come at the model's rates.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from samhandling.contract import CARE_SERVICES, DISCHARGED_TO, arrow_schema
from samhandling.refdata import code_map
from samhandling.synth._hospital import DAY_US, EPOCH, Block, Episodes
from samhandling.synth._params import by_age, floats, long_term_share, section, year_index
from samhandling.synth._persons import FIRST_YEAR, LAST_KNOWN_YEAR, leave_year, patient_ids
from samhandling.synth._random import stream_salt, uniform
from samhandling.synth._tables import labels, numbered

I64 = NDArray[np.int64]
B = NDArray[np.bool_]


def _first_day(year: int) -> int:
    return (date(year, 1, 1) - EPOCH).days


def _days_in(year: int) -> int:
    return _first_day(year + 1) - _first_day(year)


def _leave_day(block: Block, rows: NDArray[np.intp]) -> I64:
    """Absolute day on which each person leaves the population (-1: not before 2026)."""
    people = block.people
    p = block.rows[rows]
    year = leave_year(
        block.year.year, people.home24[p], people.sex[p], people.birth_year[p], people.slot[p]
    )
    result = np.full(len(rows), -1, dtype=np.int64)
    for y in np.unique(year[year > 0]):
        hit = year == y
        frac = uniform(people.key[p][hit], stream_salt("death-day", int(y)))
        result[hit] = _first_day(int(y)) + (frac * _days_in(int(y))).astype(np.int64)
    return result


def _entry_year_after(block: Block, rows: NDArray[np.intp], u: NDArray[np.float64]) -> I64:
    """First absolute day after this year on which ``u`` falls below the long-term share."""
    people = block.people
    age = people.age[block.rows[rows]].astype(np.int64)
    keys = people.key[block.rows[rows]]
    result = np.full(len(rows), -1, dtype=np.int64)
    for offset, y in enumerate(range(block.year.year + 1, LAST_KNOWN_YEAR + 1), start=1):
        now = long_term_share((age + offset).astype(np.int16), y - 1)
        after = long_term_share((age + offset + 1).astype(np.int16), y)
        hit = (result < 0) & (u >= now) & (u < after)
        frac = uniform(keys[hit], stream_salt("long-term-entry", y))
        result[hit] = _first_day(y) + (frac * _days_in(y)).astype(np.int64)
    return result


def _stock_start(block: Block, rows: NDArray[np.intp], salt: str) -> I64:
    """Start days before 2009 for persons already receiving a service on 1 January 2009."""
    years = int(section("municipal_care")["earliest_stock_years"])
    keys = block.people.key[block.rows[rows]]
    back = (uniform(keys, stream_salt("stock-start", salt)) * years * 365).astype(np.int64) + 1
    result: I64 = block.year.first_day - back
    return result


def _codes_at_start(
    year: int, year_codes: tuple[str, ...], code: NDArray[Any], begins: I64
) -> pa.Array[Any]:
    """Providing municipality in the codes of the spell's start year.

    Spells that follow a discharge late in December start next year, when the municipality may
    have a new code (a merger or renumbering on 1 January): map such codes forward.
    """
    names = np.asarray(year_codes, dtype=object)[code]
    next_year = begins >= _first_day(year + 1)
    if next_year.any():
        mapping = code_map(year, year + 1).to_pylist()
        best: dict[str, tuple[float, str]] = {}
        for row in mapping:
            held = best.get(row["from_code"])
            if held is None or (row["weight"], row["to_code"]) > held:
                best[row["from_code"]] = (row["weight"], row["to_code"])
        names = names.copy()
        names[next_year] = [best[c][1] for c in names[next_year]]
    return pa.array(names, pa.string())


def care_table(block: Block, episodes: Episodes, prefix: str) -> pa.Table:
    """The block's municipal care spells (start in this year; 2009 also holds earlier starts)."""
    care = section("municipal_care")
    rng = block.rng
    people = block.people
    age = people.age[block.rows]
    keys = people.key[block.rows]
    first = block.year.first_day
    n_people = len(block.rows)
    person: list[NDArray[np.intp]] = []
    service: list[NDArray[np.int8]] = []
    start: list[I64] = []
    end: list[I64] = []

    def spell(rows: NDArray[np.intp], name: str, begin: I64, finish: I64) -> None:
        person.append(rows)
        service.append(np.full(len(rows), CARE_SERVICES.index(name), dtype=np.int8))
        start.append(begin)
        end.append(finish)

    def close(rows: NDArray[np.intp], begin: I64, *limits: I64) -> I64:
        finish = np.full(len(rows), -1, dtype=np.int64)
        for limit in limits:
            use = (limit >= begin) & ((finish < 0) | (limit < finish))
            finish = np.where(use, limit, finish)
        return finish

    stock_year = block.year.year == FIRST_YEAR
    # Long-term institution (langtidsopphold).
    entering = np.flatnonzero(block.long_term_entry >= 0)
    stock = np.flatnonzero(block.long_term) if stock_year else np.zeros(0, dtype=np.intp)
    for rows, begin in (
        (entering, first + block.long_term_entry[entering]),
        (stock, _stock_start(block, stock, "long-term")),
    ):
        spell(rows, "long_term_institution", begin, close(rows, begin, _leave_day(block, rows)))
    # Home nursing and practical help (hjemmesykepleie, praktisk bistand).
    u_ltc = uniform(keys, stream_salt("long-term-care"))
    in_long_term = block.long_term | (block.long_term_entry >= 0)
    for name, factor in (
        ("home_nursing", 1.0),
        ("practical_help", float(care["practical_help_factor"])),
    ):
        shares = [s * factor for s in care["home_nursing_share"]]
        u = uniform(keys, stream_salt("service", name))
        now = by_age(care["ages"], shares, age)
        after = by_age(care["ages"], shares, (age + 1).astype(np.int16))
        new = np.flatnonzero((u >= now) & (u < after) & ~in_long_term)
        old = np.flatnonzero((u < now) & ~block.long_term) if stock_year else new[:0]
        entry_day = (
            uniform(keys[new], stream_salt(name, block.year.year)) * block.year.days
        ).astype(np.int64)
        for rows, begin in ((new, first + entry_day), (old, _stock_start(block, old, name))):
            into_care = np.where(
                block.long_term_entry[rows] >= 0,
                first + block.long_term_entry[rows],
                _entry_year_after(block, rows, u_ltc[rows]),
            )
            finish = close(rows, begin, _leave_day(block, rows), into_care)
            spell(rows, name, begin, finish)
    # Linked to hospital discharges.
    cols = episodes.columns
    went = cols["discharged_to"]
    who = cols["person"].astype(np.intp)
    out_day = cols["discharged"] // DAY_US
    after_discharge = (cols["care"] == 0) & (cols["sector"] == 0)
    to_home = np.flatnonzero(after_discharge & (went == DISCHARGED_TO.index("nursing_home")))
    to_home = to_home[~in_long_term[who[to_home]]]
    length = rng.geometric(1 / float(care["short_term_mean_days"]), size=len(to_home))
    spell(who[to_home], "short_term_institution", out_day[to_home], out_day[to_home] + length)
    if block.year.year >= int(section("discharge")["kad_from"]):
        to_kad = np.flatnonzero(after_discharge & (went == DISCHARGED_TO.index("kad")))
        length = rng.integers(1, 4, size=len(to_kad))
        spell(who[to_kad], "kad", out_day[to_kad], out_day[to_kad] + length)
    home = np.flatnonzero(after_discharge & (went == DISCHARGED_TO.index("home")))
    old_home = home[(age[who[home]] >= 80) & ~in_long_term[who[home]]]
    chosen = old_home[rng.random(len(old_home)) < float(care["home_nursing_after_discharge_80"])]
    length = rng.geometric(1 / float(care["home_nursing_after_discharge_days"]), size=len(chosen))
    spell(who[chosen], "home_nursing", out_day[chosen], out_day[chosen] + length)
    # Not linked to a hospital stay, at the model's rates.
    ramp = float(care["kad_ramp"][year_index(block.year.year)])
    for name, rates, mean_days in (
        ("short_term_institution", floats(care["short_term_rates"]), care["short_term_mean_days"]),
        ("kad", floats(care["kad_rates"]) * ramp, care["kad_mean_days"]),
        ("rehabilitation", floats(care["rehabilitation_rates"]), care["rehabilitation_mean_days"]),
    ):
        lam = rates[block.band] / 1000.0
        lam = np.where(in_long_term, 0.0, lam)
        count = rng.poisson(lam)
        rows = np.repeat(np.arange(n_people), count)
        begin = first + rng.integers(0, block.year.days, size=len(rows)).astype(np.int64)
        alive = (block.death_day[rows] < 0) | (begin - first < block.death_day[rows])
        rows, begin = rows[alive], begin[alive]
        length = rng.geometric(1 / float(mean_days), size=len(rows))
        spell(rows, name, begin, begin + length)
    rows = np.concatenate(person)
    kinds = np.concatenate(service)
    begins = np.concatenate(start)
    ends = np.concatenate(end)
    order = np.lexsort((kinds, rows, begins))
    rows, kinds, begins, ends = rows[order], kinds[order], begins[order], ends[order]
    # A spell still running on the extract date is delivered as ongoing (no end), as a real
    # extract would be; the date is fixed in model.toml so the files stay reproducible.
    extract_day = (date.fromisoformat(str(section("model")["extract_date"])) - EPOCH).days
    ends = np.where(ends > extract_day, -1, ends)
    p = block.rows[rows]
    n = len(rows)
    table = pa.table(
        {
            "care_id": numbered(prefix, np.arange(1, n + 1, dtype=np.int64), 6),
            "patient_id": patient_ids(people.key[p]),
            "municipality": _codes_at_start(
                block.year.year, people.year_codes, people.code[p], begins
            ),
            "service": labels(CARE_SERVICES, kinds),
            "start": pa.array(begins.astype("datetime64[D]"), pa.date32()),
            "end": pa.array(np.where(ends < 0, 0, ends).astype("datetime64[D]"), pa.date32()),
        }
    )
    open_end = pa.array(ends < 0)
    table = table.set_column(
        5, "end", pa.compute.if_else(open_end, pa.scalar(None, pa.date32()), table["end"])
    )
    return table.cast(arrow_schema("municipal_care"))
