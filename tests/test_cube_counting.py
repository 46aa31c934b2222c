"""Counting a cube: leaf sums rolled up, distinct patients per layer combination.

The reference is the obvious definition: every fact row counts for every combination of the codes
its keys map to (one per dimension); a cell's sum is the sum over its rows and its patients the
number of distinct patient ids among them. The SQL never fans a row out like that, so random
facts are counted both ways and must agree exactly, on every engine.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samhandling.engine import DuckDBEngine, Engine
from samhandling.indicators.facts import fact_years, register_contact_facts
from samhandling.indicators.payments import payment_facts_of_years, prepare_payment_facts
from samhandling.indicators.readmission import register_readmission_facts
from samhandling.instruments.frames import contract_table
from samhandling.rules import load_rules
from samhandling.tables.catalog import (
    PAYMENT_FACTS,
    READMISSION_FACTS,
    STANDARDISED_TABLE,
    catalog_districts,
    catalog_specs,
)
from samhandling.tables.cube import (
    CubeSpec,
    Measure,
    build_cube,
    count_cube,
    count_cube_per_combination,
    layers,
)
from samhandling.tables.dimensions import (
    Dimension,
    grouped_category_dimension,
    period_dimension,
    sex_dimension,
)
from samhandling.tables.standardised import counting_spec
from test_acceptance_questions import BLOCKS, acceptance_episodes, acceptance_population
from test_indicator_tables import POPULATION, _payment_rows

PERIOD = period_dimension([2012, 2013], months=True)
SEX = sex_dimension()
KIND = grouped_category_dimension(
    "kind",
    "art",
    "kind",
    [("a", "A"), ("b", "B"), ("c", "C")],
    groups=[("G_ab", "A eller B", ("a", "b"))],
    total_label="Alle",
)
PLACE = Dimension(
    id="place",
    label="sted",
    key_sql="f.place",
    # Two overlapping groupings above the leaves: north/south and coast/inland, and the total.
    mapping=(
        *[(k, k) for k in ("p1", "p2", "p3", "p4")],
        *[(k, "N") for k in ("p1", "p2")],
        *[(k, "S") for k in ("p3", "p4")],
        *[(k, "C") for k in ("p1", "p3")],
        *[(k, "I") for k in ("p2", "p4")],
        *[(k, "T") for k in ("p1", "p2", "p3", "p4")],
    ),
    codes=(
        ("T", "Alle"),
        ("N", "Nord"),
        ("S", "Sør"),
        ("C", "Kyst"),
        ("I", "Innland"),
        *[(k, k) for k in ("p1", "p2", "p3", "p4")],
    ),
    lines=(("T", ("N", "S")), ("T", ("C", "I")), ("N", ("p1", "p2")), ("S", ("p3", "p4"))),
    total="T",
)
SPEC = CubeSpec(
    id="TEST",
    title="test",
    description="test",
    dimensions=(PLACE, PERIOD, SEX, KIND),
    measures=(
        Measure("rows", "Rader", "COUNT(*)", "rader"),
        Measure("days", "Døgn", "SUM(f.days)", "døgn"),
    ),
    where="f.days >= 0",
)


def test_layers_of_the_period_with_months() -> None:
    # Worked by hand: the year and "per 3. tertial" have the same months, so do T1 and
    # "per 1. tertial"; the tertials share a layer; "per 2. tertial" (Jan-Aug) leaves room for
    # the months of the third tertial; the other months need a layer of their own.
    got = [sorted(dict.fromkeys(c for _, c in layer)) for layer in layers(PERIOD)]
    assert got[:1] == [["2012", "2012P3", "2013", "2013P3"]]
    assert got[1] == sorted(
        ["2012T1", "2012P1", "2012T2", "2012T3", "2013T1", "2013P1", "2013T2", "2013T3"]
    )
    assert got[2] == sorted(
        ["2012P2", "2013P2"] + [f"{y}M{m:02d}" for y in (2012, 2013) for m in range(9, 13)]
    )
    assert got[3] == sorted(f"{y}M{m:02d}" for y in (2012, 2013) for m in range(1, 9))
    assert len(got) == 4
    # Within a layer a key counts for one code, or for several codes with the very same keys.
    keys_of: dict[str, set[str]] = defaultdict(set)
    for key, code in PERIOD.mapping:
        keys_of[code].add(key)
    for layer in layers(PERIOD):
        codes_of: dict[str, set[str]] = defaultdict(set)
        for key, code in layer:
            codes_of[key].add(code)
        for codes in codes_of.values():
            assert len({frozenset(keys_of[c]) for c in codes}) == 1, codes


def test_overlapping_groupings_get_their_own_layers() -> None:
    got = [sorted(dict.fromkeys(c for _, c in layer)) for layer in layers(PLACE)]
    assert got == [["T"], ["N", "S"], ["C", "I"], ["p1", "p2", "p3", "p4"]]


def _reference(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], tuple[int, int, int]]:
    """(rows, days, distinct patients) per cell, by fanning every row out to all its codes."""
    codes_of = []
    for d in SPEC.dimensions:
        mapping: dict[str, list[str]] = defaultdict(list)
        for key, code in d.mapping:
            mapping[key].append(code)
        codes_of.append(mapping)
    sums: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    patients: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for r in rows:
        if r["days"] < 0:
            continue
        keys = (r["place"], f"{r['year'] * 100 + r['month']}", str(r["sex"]), r["kind"])
        for cell in itertools.product(*[m[k] for m, k in zip(codes_of, keys, strict=True)]):
            sums[cell][0] += 1
            sums[cell][1] += r["days"]
            if r["patient_id"] is not None:
                patients[cell].add(r["patient_id"])
    return {c: (v[0], v[1], len(patients[c])) for c, v in sums.items()}


FACT = st.fixed_dictionaries(
    {
        "patient_id": st.one_of(st.none(), st.sampled_from([f"P{i}" for i in range(12)])),
        "place": st.sampled_from(["p1", "p2", "p3", "p4"]),
        "year": st.sampled_from([2012, 2013]),
        "month": st.integers(1, 12),
        "sex": st.sampled_from([1, 2, 9]),
        "kind": st.sampled_from(["a", "b", "c"]),
        "days": st.integers(-1, 9),
    }
)


def _count(engine: Engine, rows: list[dict[str, Any]]) -> dict[tuple[str, ...], tuple[int, ...]]:
    schema = pa.schema(
        [
            ("patient_id", pa.string()),
            ("place", pa.string()),
            ("year", pa.int32()),
            ("month", pa.int32()),
            ("sex", pa.int32()),
            ("kind", pa.string()),
            ("days", pa.int64()),
        ]
    )
    engine.register_arrow("contact_facts", pa.Table.from_pylist(rows, schema=schema))
    cells = count_cube(engine, SPEC).to_pylist()
    dims = [d.id for d in SPEC.dimensions]
    return {tuple(c[d] for d in dims): (c["rows"], c["days"], c["pasienter"]) for c in cells}


@settings(max_examples=30, deadline=None)
@given(st.lists(FACT, min_size=1, max_size=60))
def test_counts_equal_the_fanned_out_definition(rows: list[dict[str, Any]]) -> None:
    with DuckDBEngine() as engine:
        assert _count(engine, rows) == _reference(rows)


# Five contacts: four of three patients and one without a patient id (the engine cases).
ENGINE_ROWS: list[dict[str, Any]] = [
    {
        "patient_id": "P1",
        "place": "p1",
        "year": 2012,
        "month": 1,
        "sex": 1,
        "kind": "a",
        "days": 3,
    },
    {
        "patient_id": "P1",
        "place": "p2",
        "year": 2012,
        "month": 6,
        "sex": 1,
        "kind": "b",
        "days": 0,
    },
    {
        "patient_id": "P2",
        "place": "p3",
        "year": 2013,
        "month": 12,
        "sex": 2,
        "kind": "c",
        "days": 5,
    },
    {
        "patient_id": None,
        "place": "p4",
        "year": 2013,
        "month": 5,
        "sex": 9,
        "kind": "a",
        "days": 1,
    },
    {
        "patient_id": "P3",
        "place": "p4",
        "year": 2013,
        "month": 5,
        "sex": 2,
        "kind": "a",
        "days": -1,
    },
]


def test_every_engine_counts_the_same(engine: Engine) -> None:
    rows = ENGINE_ROWS
    got = _count(engine, rows)
    assert got == _reference(rows)
    # Worked by hand: everything, all of 2012+2013 is not a code; the country in 2012 has
    # P1's two contacts (3 + 0 days, one patient); "A eller B" in 2013 has the contact
    # without a patient id (counted, no patient) and not P3's (excluded by where).
    assert got[("T", "2012", "_T", "_T")] == (2, 3, 1)
    assert got[("T", "2013", "_T", "G_ab")] == (1, 1, 0)
    assert got[("N", "2012P1", "1", "a")] == (1, 3, 1)
    assert ("T", "2013", "2", "a") not in got


def test_build_cube_protects_the_same_on_every_engine(engine: Engine) -> None:
    """Counting on the engine, protection in-process: the same cells, values and reasons."""
    built = []
    with DuckDBEngine() as reference:
        for target in (engine, reference):
            _count(target, ENGINE_ROWS)
            built.append(
                build_cube(target, SPEC, threshold=3, rule_version="t", borders=2012, built="t")
            )
    got, expected = (sorted(c.cells.to_pylist(), key=str) for c in built)
    assert got == expected
    # P1's two 2012 contacts in the whole country are one patient: below 3, withheld.
    country_2012 = next(
        c
        for c in got
        if (c["place"], c["period"], c["sex"], c["kind"]) == ("T", "2012", "_T", "_T")
    )
    assert (country_2012["rows"], country_2012["pasienter"]) == (2, 1)
    assert country_2012["reason"] != 0


# --- Grouping sets (issue 13): the one-pass count equals the count per layer combination. ---


def _catalogue_engine(
    load: Callable[[Engine], None], borders: int
) -> tuple[Engine, list[CubeSpec]]:
    engine = DuckDBEngine()
    load(engine)
    rules = load_rules()
    register_contact_facts(engine, borders=borders, blocks=BLOCKS)
    specs = catalog_specs(
        rules,
        borders=borders,
        years=fact_years(engine),
        blocks=BLOCKS,
        districts=catalog_districts(engine, borders),
    )
    facts = {s.facts for s in specs}
    if PAYMENT_FACTS in facts and engine.has_relation("events"):
        prepare_payment_facts(engine, rules, borders=borders)
        payment_facts_of_years(engine, rules)
    if READMISSION_FACTS in facts:
        register_readmission_facts(engine, rules)
    usable = [
        counting_spec(s) if s.id == STANDARDISED_TABLE else s
        for s in specs
        if s.facts != PAYMENT_FACTS or engine.has_relation("events")
    ]
    return engine, usable


def _acceptance(engine: Engine) -> None:
    engine.register_arrow("episodes", acceptance_episodes())
    engine.register_arrow("population", acceptance_population())


def _payments(engine: Engine) -> None:
    episodes, events = _payment_rows()
    engine.register_arrow("episodes", contract_table("episodes", episodes))
    engine.register_arrow("events", contract_table("events", events))
    engine.register_arrow("population", contract_table("population", POPULATION))


@pytest.mark.parametrize(("load", "borders"), [(_acceptance, 2011), (_payments, 2012)])
def test_grouping_sets_count_the_catalogue_as_before(
    load: Callable[[Engine], None], borders: int
) -> None:
    engine, specs = _catalogue_engine(load, borders)
    with engine:
        assert len(specs) >= 5
        steps: list[tuple[int, int]] = []
        counted = 0
        for spec in specs:
            steps.clear()
            new = count_cube(engine, spec, lambda done, total: steps.append((done, total)))
            old = count_cube_per_combination(engine, spec)
            assert new.schema == old.schema, spec.id
            assert new.to_pylist() == old.to_pylist(), spec.id
            counted += new.num_rows > 0
            total = steps[-1][1]
            assert steps == [(i, total) for i in range(1, total + 1)], spec.id
        assert counted >= 2  # cubes with cells (the fixtures leave some tables empty)


def test_the_test_cube_counts_the_same_both_ways() -> None:
    rows = [
        {
            "patient_id": f"P{i % 5}",
            "place": f"p{1 + i % 4}",
            "year": 2012 + i % 2,
            "month": 1 + i % 12,
            "sex": (1, 2, 9)[i % 3],
            "kind": "abc"[i % 3],
            "days": i % 7 - 1,
        }
        for i in range(80)
    ]
    with DuckDBEngine() as engine:
        _count(engine, rows)  # registers the facts
        new = count_cube(engine, SPEC)
        old = count_cube_per_combination(engine, SPEC)
        assert new.to_pylist() == old.to_pylist()


def test_the_old_counting_agrees_on_every_engine(engine: Engine) -> None:
    """The per-combination baseline on a one-dimension cube (three layers; the test cube's 128
    layer combinations cost a minute and a half on the test cluster)."""
    small = dataclasses.replace(SPEC, id="TEST2", dimensions=(KIND,))
    _count(engine, ENGINE_ROWS)
    old = count_cube_per_combination(engine, small).to_pylist()
    assert old == count_cube(engine, small).to_pylist()
    # "A eller B": P1's two contacts (3 + 0 days) and the one without a patient id (1 day);
    # P3's has -1 days, left out by the cube's where.
    a_or_b = next(c for c in old if c["kind"] == "G_ab")
    assert (a_or_b["rows"], a_or_b["days"], a_or_b["pasienter"]) == (3, 4, 1)


@st.composite
def _random_dimension(draw: st.DrawFn, name: str, role: str | None) -> Dimension:
    """Codes are random sets of the keys k0..k4: overlapping, nested, equal (aliases), and
    keys that some layers (or every code) leave out; the facts also have k5 and NULL."""
    keys = [f"k{i}" for i in range(5)]
    subsets = draw(st.lists(st.sets(st.sampled_from(keys), min_size=1), min_size=1, max_size=7))
    codes = tuple((f"{name}{j}", f"{name}{j}") for j in range(len(subsets)))
    mapping = tuple(
        (k, code)
        for (code, _), keys_of in zip(codes, subsets, strict=True)
        for k in sorted(keys_of)
    )
    return Dimension(
        id=name,
        label=name,
        key_sql=f"f.{name}",
        mapping=mapping,
        codes=codes,
        lines=(),
        total=codes[0][0],
        role=role,
    )


RANDOM_FACT = st.fixed_dictionaries(
    {
        "patient_id": st.one_of(st.none(), st.sampled_from([f"P{i}" for i in range(6)])),
        "a": st.one_of(st.none(), st.sampled_from([f"k{i}" for i in range(6)])),
        "b": st.sampled_from([f"k{i}" for i in range(6)]),
        "c": st.sampled_from([f"k{i}" for i in range(6)]),
        "n": st.integers(0, 5),
    }
)


@settings(max_examples=60, deadline=None)
@given(
    # Dimension a is geographic in about half the examples (counted by key, movers subtracted).
    st.sampled_from([None, "geo"]).flatmap(lambda role: _random_dimension("a", role)),
    _random_dimension("b", "time"),
    _random_dimension("c", None),
    st.lists(RANDOM_FACT, min_size=1, max_size=40),
)
def test_grouping_sets_equal_brute_force_on_random_dimensions(
    a: Dimension, b: Dimension, c: Dimension, rows: list[dict[str, Any]]
) -> None:
    dims = (a, b, c)
    spec = CubeSpec(
        id="RND",
        title="random",
        description="random",
        dimensions=dims,
        measures=(
            Measure("rows", "Rader", "COUNT(*)", "rader"),
            Measure("n", "N", "SUM(f.n)", "n"),
        ),
    )
    known = [{code for code, _ in d.codes} for d in dims]
    codes_of: list[dict[str, list[str]]] = []
    for d, ok in zip(dims, known, strict=True):
        mapping: dict[str, list[str]] = defaultdict(list)
        for key, code in d.mapping:
            if code in ok:
                mapping[key].append(code)
        codes_of.append(mapping)
    sums: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    patients: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for r in rows:
        keys = (r["a"], r["b"], r["c"])
        for cell in itertools.product(*[m.get(k, []) for m, k in zip(codes_of, keys, strict=True)]):
            sums[cell][0] += 1
            sums[cell][1] += r["n"]
            if r["patient_id"] is not None:
                patients[cell].add(r["patient_id"])
    expected = {cell: (v[0], v[1], len(patients[cell])) for cell, v in sums.items()}
    schema = pa.schema(
        [
            ("patient_id", pa.string()),
            ("a", pa.string()),
            ("b", pa.string()),
            ("c", pa.string()),
            ("n", pa.int64()),
        ]
    )
    with DuckDBEngine() as engine:
        engine.register_arrow("contact_facts", pa.Table.from_pylist(rows, schema=schema))
        new = count_cube(engine, spec)
        old = count_cube_per_combination(engine, spec)
    assert new.to_pylist() == old.to_pylist()
    got = {(x["a"], x["b"], x["c"]): (x["rows"], x["n"], x["pasienter"]) for x in new.to_pylist()}
    assert got == expected
