"""Linked tables: a cell that several tables publish is withheld in all of them or in none.

The somatic tables publish the same cells at their totals (SD01's somatic cells are SD02's
and SD04's totals; its somatic inpatient cells are SD03's, SD05's and SD09's), and the tables of
the upper region levels publish their parent's cells at the codes both have (SD10 is SD01 by
month, SD11 SD02 by 5-year age group, SD12 SD04 by ICD-10 block). Protected one by
one, a table could publish a cell that another withholds and so give that table's protection
away; :func:`samhandling.tables.catalog.link_protection` forces such cells hidden everywhere and
protects them there (:func:`samhandling.tables.hypercube.hypercube_protection`, ``forced``).
"""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest

from samhandling.rules import load_rules
from samhandling.tables.catalog import (
    CATALOG_LINKS,
    Catalog,
    LinkedCells,
    LinkedView,
    link_pairs,
    link_protection,
    link_weights,
    linked_rows,
)
from samhandling.tables.cube import CountedCube, CubeSpec, Measure, cube_lines
from samhandling.tables.dimensions import Dimension, category_dimension
from samhandling.tables.disclosure import PRIMARY, PUBLISHED, SECONDARY, attack_intervals
from samhandling.tables.published import published_catalog
from samhandling.warehouse import Warehouse
from test_acceptance_questions import acceptance_catalog
from web_helpers import ingest_tiny

THRESHOLD = 5

REGION = Dimension(
    id="region",
    label="region",
    key_sql="f.residence",
    mapping=(*[(m, m) for m in "abc"], *[(m, "0") for m in "abc"]),
    codes=(("0", "Hele landet"), ("a", "a"), ("b", "b"), ("c", "c")),
    lines=(("0", ("a", "b", "c")),),
    total="0",
)
PERIOD = Dimension(
    id="period",
    label="periode",
    key_sql="f.period",
    mapping=(("1", "1"), ("2", "2"), ("1", "Y"), ("2", "Y")),
    codes=(("Y", "år"), ("1", "1. tertial"), ("2", "2. tertial")),
    lines=(("Y", ("1", "2")),),
    total="Y",
)
KIND = category_dimension("kind", "art", "kind", [("x", "X"), ("y", "Y")], "Alle")
COUNT = Measure("n", "Antall", "COUNT(*)", "antall")


def _cells(dims: tuple[Dimension, ...], leaves: dict[tuple[str, ...], int]) -> pa.Table:
    """Every cell of the cube summed from its leaves (value = patients)."""
    totals: dict[tuple[str, ...], int] = {}
    for key, n in leaves.items():
        per_dim = [
            [c for k, c in d.mapping if k == part] for d, part in zip(dims, key, strict=True)
        ]
        for cell in itertools.product(*per_dim):
            totals[cell] = totals.get(cell, 0) + n
    keys = sorted(totals)
    columns: dict[str, list[object]] = {d.id: [k[i] for k in keys] for i, d in enumerate(dims)}
    columns["n"] = [totals[k] for k in keys]
    columns["pasienter"] = [totals[k] for k in keys]
    return pa.table(columns)


# Table A (region × period) has no small cell; table B (× kind) publishes A's cells as its
# kind "x" and has one small cell of kind "y": (c, 2, y), 2 patients.
A_LEAVES = {
    ("a", "1"): 30,
    ("a", "2"): 40,
    ("b", "1"): 30,
    ("b", "2"): 50,
    ("c", "1"): 60,
    ("c", "2"): 70,
}
Y_LEAVES = {
    ("a", "1"): 20,
    ("a", "2"): 25,
    ("b", "1"): 20,
    ("b", "2"): 30,
    ("c", "1"): 40,
    ("c", "2"): 2,
}
AT_X = (("kind", "x"),)
LINK = LinkedCells("test", ("n",), (LinkedView("A", (), ("n",)), LinkedView("B", AT_X, ("n",))))


def _pair() -> tuple[CountedCube, CountedCube]:
    a_spec = CubeSpec("A", "A", "A", (REGION, PERIOD), (COUNT,))
    b_spec = CubeSpec("B", "B", "B", (REGION, PERIOD, KIND), (COUNT,))
    b_leaves = {(r, p, "x"): n for (r, p), n in A_LEAVES.items()}
    b_leaves.update({(r, p, "y"): n for (r, p), n in Y_LEAVES.items()})
    a = CountedCube(a_spec, _cells(a_spec.dimensions, dict(A_LEAVES)))
    return a, CountedCube(b_spec, _cells(b_spec.dimensions, b_leaves))


def _hidden(cube: CountedCube, rows: dict[tuple[str, ...], int]) -> set[tuple[str, ...]]:
    return {k for k, i in rows.items() if cube.reasons[i] != PUBLISHED}


def _narrowest(cube: CountedCube) -> float:
    lines = cube_lines(cube.spec, cube.cells)
    got = attack_intervals(cube.cells["n"].to_pylist(), lines, cube.reasons)
    return min(high - low for low, high in got.values())


def test_forced_cells_are_hidden_protected_and_never_published_again() -> None:
    a, _b = _pair()
    a.protect(THRESHOLD)
    assert not np.any(a.reasons)  # nothing small in A
    rows = linked_rows(a.cells, a.spec, ())
    forced = np.zeros(a.cells.num_rows, dtype=bool)
    forced[rows[("c", "2")]] = True  # 70 patients, published on its own
    a.protect(THRESHOLD, forced)
    first = a.reasons.copy()
    assert first[rows[("c", "2")]] == SECONDARY
    # It is protected like a primary cell: a hypercube of four cells, none narrower than 5.
    assert len(_hidden(a, rows)) == 4
    assert _narrowest(a) >= THRESHOLD
    # Protecting again with another forced cell: the hidden cells only grow.
    more = forced.copy()
    more[rows[("a", "Y")]] = True
    a.protect(THRESHOLD, more)
    assert np.all(a.reasons[first != PUBLISHED] != PUBLISHED)
    assert a.reasons[rows[("a", "Y")]] == SECONDARY
    assert _narrowest(a) >= THRESHOLD


def test_linking_withholds_common_cells_everywhere() -> None:
    a, b = _pair()
    a.protect(THRESHOLD)
    b.protect(THRESHOLD)
    assert int(np.count_nonzero(b.reasons == PRIMARY)) == 1  # (c, 2, y)
    rows_a = linked_rows(a.cells, a.spec, ())
    rows_b = linked_rows(b.cells, b.spec, AT_X)
    assert rows_a.keys() == rows_b.keys()
    # B protects its small cell through kind x cells, which A publishes: A would give it away
    # (B's (c, 2, x) = A's (c, 2), and B's line (c, 2) = x + y does the rest).
    assert _hidden(a, rows_a) == set()
    before = _hidden(b, rows_b)
    assert ("c", "2") in before
    assert link_protection({"A": a, "B": b}, THRESHOLD, [LINK]) >= 1
    after = _hidden(a, rows_a)
    assert after == _hidden(b, rows_b)
    assert before <= after
    # Each table still protects every hidden cell on its own lines.
    assert _narrowest(a) >= THRESHOLD
    assert _narrowest(b) >= THRESHOLD
    # Nothing more to do: a second call takes no round.
    assert link_protection({"A": a, "B": b}, THRESHOLD, [LINK]) == 0


def test_cells_other_tables_publish_weigh_more() -> None:
    a, b = _pair()
    weights = link_weights({"A": a, "B": b}, [LINK])
    # Every cell of A is B's kind "x" cell: hiding it hides it in two tables.
    assert weights["A"].tolist() == [2.0] * a.cells.num_rows
    rows_b = set(linked_rows(b.cells, b.spec, AT_X).values())
    assert [w for i, w in enumerate(weights["B"].tolist()) if i in rows_b] == [2.0] * len(rows_b)
    assert {w for i, w in enumerate(weights["B"].tolist()) if i not in rows_b} == {1.0}


def test_links_may_share_more_variables_and_count_a_cell_once() -> None:
    a, b = _pair()
    # B against itself at kind x... and against A over region, period *and* kind: B's cells of
    # kind x are A's cells (A has no kind: its cells are at kind's total, which B has too).
    by_kind = LinkedCells(
        "by kind",
        ("n",),
        (LinkedView("B", (), ("n",)), LinkedView("B2", (), ("n",))),
        ("region", "period", "kind"),
    )
    b2 = CountedCube(b.spec, b.cells)
    rows = linked_rows(b.cells, b.spec, (), ("region", "period", "kind"))
    assert len(rows) == b.cells.num_rows and ("c", "2", "y") in rows
    pairs = link_pairs({"B": b, "B2": b2}, [by_kind])
    assert [(x, len(i), y, len(j)) for x, i, y, j in pairs] == [
        ("B", b.cells.num_rows, "B2", b.cells.num_rows)
    ]
    # Linked twice (at kind x, and over every kind), A and B still make one pair: a cell
    # published by two tables weighs 2, however many links say so.
    twice = LinkedCells(
        "again", ("n",), (LinkedView("B", AT_X, ("n",)), LinkedView("A", (), ("n",)))
    )
    pairs = link_pairs({"A": a, "B": b}, [LINK, twice])
    assert len(pairs) == 1 and len(pairs[0][1]) == a.cells.num_rows
    weights = link_weights({"A": a, "B": b}, [LINK, twice])
    assert weights["A"].tolist() == [2.0] * a.cells.num_rows


def _check_links(catalog: Catalog) -> int:
    """Every link's common cells: the same numbers, withheld in all views or in none."""
    checked = 0
    for link in CATALOG_LINKS:
        views = [v for v in link.views if v.table in catalog.cubes]
        rows = {
            v.table: linked_rows(
                catalog.cube(v.table).cells, catalog.cube(v.table).spec, v.at, link.shared
            )
            for v in views
        }
        for first, second in itertools.combinations(views, 2):
            a, b = catalog.cube(first.table).cells, catalog.cube(second.table).cells
            common = rows[first.table].keys() & rows[second.table].keys()
            for key in common:
                i, j = rows[first.table][key], rows[second.table][key]
                assert (a["reason"][i].as_py() == PUBLISHED) == (
                    b["reason"][j].as_py() == PUBLISHED
                ), (link.label, first.table, second.table, key)
                for m, n in zip(first.measures, second.measures, strict=True):
                    if m is not None and n is not None:
                        assert a[m][i].as_py() == b[n][j].as_py(), (first.table, m, key)
                checked += 1
    return checked


def test_linked_cells_of_the_acceptance_tables_agree() -> None:
    # SD02 ≡ SD04 and SD03 ≡ SD05 at their totals (SD01 is not in this catalogue).
    assert _check_links(acceptance_catalog()) > 0


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return ingest_tiny(tmp_path_factory.mktemp("koblede"))


def test_linked_cells_of_the_whole_catalogue_agree(tiny: Warehouse) -> None:
    catalog = published_catalog(tiny, load_rules(), 2024)
    assert _check_links(catalog) > 0
    # The link's view of SD01 has every region and period of SD02 at its totals.
    sd01 = linked_rows(
        catalog.cube("SD01").cells, catalog.cube("SD01").spec, CATALOG_LINKS[0].views[0].at
    )
    sd02 = linked_rows(catalog.cube("SD02").cells, catalog.cube("SD02").spec, ())
    assert sd02.keys() <= sd01.keys()
    # The tables of the upper levels publish their parent's cells at every code both have.
    shared_codes = {
        "SD10": ("SD01", ("region", "period", "sector", "care_level")),
        "SD11": ("SD02", ("region", "period", "sex", "age")),
        "SD12": ("SD04", ("region", "period", "diagnosis")),
    }
    for table, (parent, shared) in shared_codes.items():
        upper, whole = catalog.cube(table).spec, catalog.cube(parent).spec
        assert "1804" not in upper.dimension("region").labels  # no municipality
        common = [
            {c for c, _ in upper.dimension(d).codes} & {c for c, _ in whole.dimension(d).codes}
            for d in shared
        ]
        link = next(k for k in CATALOG_LINKS if k.shared == shared)
        assert {v.table for v in link.views} == {table, parent}
        # The cells both tables hold at the common codes are the same cells (a cube holds the
        # cells its facts reach).
        at_common = [
            {
                k
                for k in linked_rows(catalog.cube(t).cells, spec, (), shared)
                if all(code in codes for code, codes in zip(k, common, strict=True))
            }
            for t, spec in ((table, upper), (parent, whole))
        ]
        assert at_common[0] == at_common[1] and at_common[0], table
        assert at_common[0] <= set(itertools.product(*common))
    # What the parent alone publishes: municipalities; what the upper table alone: months,
    # 5-year age groups, the blocks SD04 does not keep.
    sd10 = catalog.cube("SD10").spec
    assert any(c.endswith("M01") for c, _ in sd10.dimension("period").codes)
    assert not any("M" in c for c, _ in catalog.cube("SD01").spec.dimension("period").codes)
    assert "05-09" in catalog.cube("SD11").spec.dimension("age").labels
    assert "05-09" not in catalog.cube("SD02").spec.dimension("age").labels
    sd04_codes = catalog.cube("SD04").spec.dimension("diagnosis").labels
    assert "E10-E14" in sd04_codes and "I20-I25" not in sd04_codes
    assert "I20-I25" in catalog.cube("SD12").spec.dimension("diagnosis").labels
