"""A health region at full density: region lookup, restricted generation, the demo's re-run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from samhandling.demo import generate_missing, region_choice
from samhandling.errors import ConfigError
from samhandling.refdata import catchment, code_map
from samhandling.synth.generate import health_region, reference_population

SEED = 7
NARVIK = "1806"  # 2020: Narvik 1805 + Ballangen 1854 + part of Tysfjord 1850 (rest: Hamarøy 1875)


def _texts(column: pa.ChunkedArray[Any]) -> list[str]:
    return [str(value) for value in column.to_pylist()]


def _codes_of(year: int, codes24: tuple[str, ...]) -> set[str]:
    mapping = code_map(year, 2024)
    keep = pc.is_in(mapping["to_code"], value_set=pa.array(codes24))
    return set(_texts(mapping.filter(keep)["from_code"]))


def test_health_region_by_name_code_and_org_number() -> None:
    name, codes = health_region("nord")
    assert name == "Helse Nord RHF"
    table = catchment(2024)
    expected = _texts(table.filter(pc.equal(table["rhf_code"], pa.scalar("1")))["municipality"])
    assert codes == tuple(sorted(expected))
    assert "1804" in codes
    assert "5501" in codes  # Tromsø
    assert "0301" not in codes
    for alias in ("Helse Nord", "Helse Nord RHF", "NORD", "1", "883658752"):
        assert health_region(alias) == (name, codes)
    assert health_region("sør-øst")[0] == health_region("Helse Sor-Ost")[0] == "Helse Sør-Øst RHF"
    assert health_region("midt")[0] == "Helse Midt-Norge RHF"
    all_codes = [c for rhf in ("1", "2", "3", "4") for c in health_region(rhf)[1]]
    assert sorted(all_codes) == sorted(_texts(table["municipality"]))
    with pytest.raises(ConfigError, match="ukjent helseregion"):
        health_region("Helse")
    with pytest.raises(ConfigError, match="ukjent helseregion"):
        health_region("Helse Syd")


def test_whole_country_choice() -> None:
    assert region_choice("alle") == (None, None)
    assert region_choice("Hele-landet") == (None, None)
    assert region_choice("nord") == health_region("nord")


def test_region_generation_holds_only_the_regions_residents(tmp_path: Path) -> None:
    from samhandling.cli import app

    result = CliRunner().invoke(
        app,
        [
            "synth",
            "--out",
            str(tmp_path),
            "--years",
            "2012",
            "--fraction",
            "0.002",
            "--seed",
            str(SEED),
            "--helseregion",
            "nord",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Helse Nord RHF: 80 kommuner" in result.output
    region = _codes_of(2012, health_region("nord")[1])
    episodes = pq.read_table(tmp_path / "2012" / "episodes.parquet")
    synthetic = episodes.filter(pc.invert(pc.starts_with(episodes["episode_id"], "EDGE-")))
    assert synthetic.num_rows > 0
    assert set(synthetic["municipality"].to_pylist()) <= region
    people = pq.read_table(tmp_path / "2012" / "population.parquet")
    assert set(people["municipality"].to_pylist()) <= region
    assert len(set(people["municipality"].to_pylist())) > 60  # most of its 88 of 2012


def test_full_density_region_writes_the_reference_population(tmp_path: Path) -> None:
    from samhandling.synth import generate

    generate(tmp_path, [2012], 1.0, SEED, progress=False, municipalities=[NARVIK])
    people = pq.read_table(tmp_path / "2012" / "population.parquet")
    reference = reference_population(2012)

    def counts(table: pa.Table, code: str) -> dict[tuple[int, int], int]:
        rows = table.filter(pc.equal(table["municipality"], pa.scalar(code))).to_pylist()
        return {(r["sex"], r["age"]): r["count"] for r in rows if r["count"]}

    # Narvik and Ballangen lie wholly inside: the reference population, cell by cell.
    for whole in ("1805", "1854"):
        assert counts(people, whole) == counts(reference, whole)
    # Tysfjord was split: only its generated residents (the part that became Narvik) count.
    part = sum(counts(people, "1850").values())
    assert 0 < part < sum(counts(reference, "1850").values())
    assert set(people["municipality"].to_pylist()) == {"1805", "1850", "1854"}


def test_demo_rerun_generates_nothing_again(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    codes = ("1868",)
    first, done = generate_missing(inbox, (2011, 2012), 0.01, SEED, codes)
    assert done == ()
    assert first > 0
    stamps = {p: p.stat().st_mtime_ns for p in sorted(inbox.rglob("*.parquet"))}
    again, done = generate_missing(inbox, (2011, 2012), 0.01, SEED, codes)
    assert (again, done) == (first, (2011, 2012))
    assert {p: p.stat().st_mtime_ns for p in sorted(inbox.rglob("*.parquet"))} == stamps
    # Other options, or a year whose generation was interrupted (no marker): generated again.
    (inbox / ".generert-2012").unlink()
    _, done = generate_missing(inbox, (2011, 2012), 0.01, SEED, codes)
    assert done == (2011,)
    _, done = generate_missing(inbox, (2011, 2012), 0.01, SEED + 1, codes)
    assert done == ()
