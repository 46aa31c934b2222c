"""Generate the synthetic national data set: one delivery folder per year.

``generate(out, years, fraction, seed)`` writes ``out/<year>/{episodes,events,municipal_care,
population}.<parquet|csv>`` in the interchange format (INTERCHANGE.md). Work is streamed block by
block (the residents of one municipality at a time) so memory stays small for a national year.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from samhandling.console import progress as progress_bar
from samhandling.contract import KINDS, Kind, arrow_schema
from samhandling.errors import ConfigError
from samhandling.refdata import catchment, code_map, population
from samhandling.synth._care import care_table
from samhandling.synth._catalog import catalog, trusts
from samhandling.synth._edge import edge_cases
from samhandling.synth._hospital import (
    Episodes,
    Year,
    block_episodes,
    block_facts,
    newborn_stays,
    stay_elsewhere,
)
from samhandling.synth._params import section
from samhandling.synth._persons import FIRST_DATA_YEAR, Persons, births, persons, sample_population
from samhandling.synth._tables import episode_table, event_table

FORMATS = ("parquet", "csv")
ROW_GROUP_ROWS = 256 * 1024


@dataclass(frozen=True)
class SynthSummary:
    """What was written: rows per year and kind."""

    out: Path
    years: tuple[int, ...]
    fraction: float
    seed: int
    fmt: str
    rows: dict[int, dict[str, int]] = field(default_factory=dict)

    def total(self, kind: str) -> int:
        """Rows of ``kind`` over all years."""
        return sum(counts.get(kind, 0) for counts in self.rows.values())


def check_years(years: Sequence[int]) -> tuple[int, ...]:
    """The requested years, validated against the years the model covers."""
    model = section("model")
    first, last = int(model["first_year"]), int(model["last_year"])
    wanted = tuple(sorted(set(years)))
    if not wanted:
        raise ConfigError("ingen år valgt")
    bad = [y for y in wanted if not first <= y <= last]
    if bad:
        raise ConfigError(f"år {bad} utenfor {first}–{last}")
    return wanted


class _Delivery:
    """Writers of one year's folder, opened on first write, closed at the end."""

    def __init__(self, folder: Path, fmt: str) -> None:
        self.folder = folder
        self.fmt = fmt
        self.rows: dict[str, int] = dict.fromkeys(KINDS, 0)
        self._parquet: dict[str, pq.ParquetWriter] = {}
        self._csv: dict[str, pacsv.CSVWriter] = {}
        self._pending: dict[Kind, list[pa.Table]] = {kind: [] for kind in KINDS}
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, kind: Kind, table: pa.Table) -> None:
        """Buffer rows and write them in row groups of ROW_GROUP_ROWS (fewer, larger writes)."""
        table = table.cast(arrow_schema(kind))
        self.rows[kind] += table.num_rows
        self._pending[kind].append(table)
        if sum(t.num_rows for t in self._pending[kind]) >= ROW_GROUP_ROWS:
            self._flush(kind)

    def _flush(self, kind: Kind) -> None:
        table = pa.concat_tables(self._pending[kind])
        self._pending[kind] = []
        path = self.folder / f"{kind}.{self.fmt}"
        if self.fmt == "parquet":
            if kind not in self._parquet:
                self._parquet[kind] = pq.ParquetWriter(path, arrow_schema(kind), compression="zstd")
            self._parquet[kind].write_table(table, row_group_size=ROW_GROUP_ROWS)
            return
        text = _csv_ready(table)
        if kind not in self._csv:
            self._csv[kind] = pacsv.CSVWriter(path, text.schema)
        self._csv[kind].write_table(text)

    def __enter__(self) -> _Delivery:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            for kind in KINDS:
                if self._pending[kind] or (kind not in self._parquet and kind not in self._csv):
                    self._pending[kind].append(arrow_schema(kind).empty_table())
                    self._flush(kind)
        for writer in self._parquet.values():
            writer.close()
        for csv_writer in self._csv.values():
            csv_writer.close()


def _csv_ready(table: pa.Table) -> pa.Table:
    """Timestamps as ISO 8601 text (``2012-01-03T10:00:00``) for CSV deliveries."""
    columns: list[pa.Array[Any] | pa.ChunkedArray[Any]] = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            columns.append(pc.strftime(column, format="%Y-%m-%dT%H:%M:%S"))
        else:
            columns.append(column)
    return pa.table(columns, names=table.column_names)


def reference_population(year: int) -> pa.Table:
    """Refdata population of ``year`` in that year's borders, as the contract's columns."""
    return population([year], borders=year).select(arrow_schema("population").names)


def _strings(column: pa.ChunkedArray[Any]) -> list[str]:
    return [str(value) for value in column.to_pylist()]


def region_key(text: str) -> str:
    """``Helse Sør-Øst RHF`` / ``sor-ost`` / ``SØRØST`` → ``sorost``."""
    key = text.casefold().replace("ø", "o").replace("å", "a").replace("æ", "ae")
    key = "".join(ch for ch in key if ch.isalnum())
    key = key.removesuffix("rhf").removeprefix("helse")
    return {"midt": "midtnorge", "sor": "sorost", "ost": "sorost"}.get(key, key)


def health_region(text: str) -> tuple[str, tuple[str, ...]]:
    """A regional health authority (RHF) and its municipalities in 2024 borders.

    ``text`` is a name (``nord``, ``Helse Nord``, ``midt-norge``, ``vest``, ``sør-øst``), the
    SKDE region id (``1``–``4``) or the RHF's organisation number; membership follows the
    catchment areas of refdata (``catchment(2024)``).
    """
    table = catchment(2024)
    wanted = region_key(text)
    members: dict[str, list[str]] = {}
    for municipality, code, name, orgnr in zip(
        _strings(table["municipality"]),
        _strings(table["rhf_code"]),
        _strings(table["rhf_name"]),
        _strings(table["rhf_orgnr"]),
        strict=True,
    ):
        if wanted in {code, orgnr, region_key(name)}:
            members.setdefault(name, []).append(municipality)
    if len(members) != 1:
        names = sorted(set(_strings(table["rhf_name"])))
        raise ConfigError(f"ukjent helseregion {text!r}: velg en av {', '.join(names)}")
    ((name, codes),) = members.items()
    return name, tuple(sorted(codes))


def restricted_population(year: int, residents: Persons, municipalities: Sequence[str]) -> pa.Table:
    """Population file of a whole-density run restricted to ``municipalities`` (2024 codes).

    Municipalities of ``year`` whose 2024 successors all lie in ``municipalities`` get the
    reference population (as a national run at fraction 1.0 writes it); any other one, of which
    only a part is generated, keeps the count of its generated residents.
    """
    chosen = set(municipalities)
    mapping = code_map(year, 2024)
    whole: dict[str, bool] = {}
    for older, newer in zip(
        _strings(mapping["from_code"]), _strings(mapping["to_code"]), strict=True
    ):
        whole[older] = whole.get(older, True) and newer in chosen
    inside = pa.array(sorted(code for code, ok in whole.items() if ok), pa.string())
    reference = reference_population(year)
    reference = reference.filter(pc.is_in(reference["municipality"], value_set=inside))
    sampled = sample_population(residents)
    sampled = sampled.filter(pc.invert(pc.is_in(sampled["municipality"], value_set=inside)))
    table = pa.concat_tables([reference.cast(sampled.schema), sampled])
    return table.sort_by(
        [("municipality", "ascending"), ("sex", "ascending"), ("age", "ascending")]
    )


def _blocks(people: Persons) -> list[tuple[int, np.ndarray]]:
    """Rows of each 2024 municipality, in code order."""
    order = np.argsort(people.home24, kind="stable")
    bounds = np.searchsorted(people.home24[order], np.arange(len(people.codes24) + 1))
    return [(i, order[bounds[i] : bounds[i + 1]]) for i in range(len(people.codes24))]


def _year(
    out: Path,
    year: int,
    *,
    fraction: float,
    seed: int,
    fmt: str,
    municipalities: Sequence[str] | None,
    advance: Callable[[], None],
    planted: bool = True,
) -> dict[str, int]:
    cat = catalog(year)
    trs = trusts()
    calendar = Year.of(year)
    residents = persons(year, fraction, seed, municipalities)
    newborns = births(year, fraction, seed, municipalities)
    newborn_blocks = dict(_blocks(newborns))
    with _Delivery(out / str(year), fmt) as delivery:
        for i, rows in _blocks(residents):
            code24 = residents.codes24[i]
            home_trust = trs.home_trust[code24]
            prefix = f"E{year}-{code24}-"
            if len(rows):
                block = block_facts(
                    residents, rows, calendar, seed=seed, home_trust=home_trust, stream=0
                )
                episodes = block_episodes(block, cat, trs)
                stay_elsewhere(block, episodes, len(residents.year_codes))
                table, ids = episode_table(block, episodes, cat, trs, prefix + "R")
                delivery.write("episodes", table)
                delivery.write("events", event_table(block, episodes, ids))
                delivery.write("municipal_care", care_table(block, episodes, f"C{year}-{code24}-"))
            born = newborn_blocks.get(i)
            if born is not None and len(born):
                block = block_facts(
                    newborns, born, calendar, seed=seed, home_trust=home_trust, stream=1
                )
                babies: Episodes = newborn_stays(block, cat, trs)
                table, _ = episode_table(block, babies, cat, trs, prefix + "N")
                delivery.write("episodes", table)
            advance()
        if planted:
            cases = edge_cases(year)
            for kind, table in zip(("episodes", "events", "municipal_care"), cases, strict=True):
                delivery.write(kind, table)  # type: ignore[arg-type]
        if fraction >= 1.0 and year >= FIRST_DATA_YEAR and municipalities is None:
            delivery.write("population", reference_population(year))
        elif fraction >= 1.0 and year >= FIRST_DATA_YEAR and municipalities is not None:
            delivery.write("population", restricted_population(year, residents, municipalities))
        else:
            delivery.write("population", sample_population(residents))
        return dict(delivery.rows)


def generate(  # noqa: PLR0917 - the public signature the brief fixes
    out: Path,
    years: Sequence[int],
    fraction: float,
    seed: int,
    fmt: str = "parquet",
    progress: bool = True,
    *,
    municipalities: Sequence[str] | None = None,
    edge_cases_planted: bool = True,
) -> SynthSummary:
    """Write the synthetic deliveries for ``years`` under ``out`` and say what was written.

    The same ``seed``, ``fraction`` and year give byte-identical files, whatever other years are
    requested. ``fraction`` samples persons (the same persons in every year).
    ``municipalities`` (2024 codes, e.g. a health region's: :func:`health_region`) restricts the
    persons to the residents of those municipalities (for tests and regional demos); the
    population file then covers them only (at fraction 1.0 and from 2010: the reference
    population of the municipalities that lie wholly inside, :func:`restricted_population`).
    ``edge_cases_planted=False`` leaves out the planted edge cases (patients in Oslo): a
    regional demo has no one outside its region, whose few cells would be hidden through the
    country's.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"ukjent format {fmt!r}: velg parquet eller csv")
    if not 0.0 < fraction <= 1.0:
        raise ConfigError("--fraction må være større enn 0 og høyst 1")
    wanted = check_years(years)
    rows: dict[int, dict[str, int]] = {}
    n_blocks = len(persons(wanted[0], fraction, seed, municipalities).codes24)
    with progress_bar() as bar:
        task = bar.add_task("Syntetiske data", total=n_blocks * len(wanted), visible=progress)
        for year in wanted:
            bar.update(task, description=f"Syntetiske data {year}")
            rows[year] = _year(
                out,
                year,
                fraction=fraction,
                seed=seed,
                fmt=fmt,
                municipalities=municipalities,
                advance=lambda: bar.advance(task),
                planted=edge_cases_planted,
            )
    return SynthSummary(out, wanted, fraction, seed, fmt, rows)
