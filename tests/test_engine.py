"""The engine layer: the same SQL gives the same answer on DuckDB and Spark."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from samhandling.engine import Engine
from samhandling.engine.dialect import to_spark
from samhandling.errors import QueryError


def test_decimal_sums_are_exact(engine: Engine) -> None:
    amounts = pa.table(
        {
            "k": ["a", "a", "b"],
            "amount": pa.array(
                [Decimal("0.10"), Decimal("0.20"), Decimal("1.05")], pa.decimal128(18, 2)
            ),
        }
    )
    engine.register_arrow("amounts", amounts)
    got = engine.query("SELECT k, SUM(amount) AS total FROM amounts GROUP BY k ORDER BY k")
    assert got.column("k").to_pylist() == ["a", "b"]
    assert got.column("total").to_pylist() == [Decimal("0.30"), Decimal("1.05")]


def test_parquet_relation_and_dates(engine: Engine, tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": ["x", "y"],
            "at": pa.array([1_325_376_000_000_000, 1_356_998_400_000_000], pa.timestamp("us")),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    engine.register_parquet("t", [tmp_path / "t.parquet"])
    got = engine.query(
        'SELECT id, EXTRACT(YEAR FROM "at") AS y, CAST("at" AS DATE) AS d FROM t ORDER BY id'
    )
    assert [int(v) for v in got.column("y").to_pylist()] == [2012, 2013]


def test_query_error_carries_sql(engine: Engine) -> None:
    with pytest.raises(QueryError) as err:
        engine.query("SELECT no_such_column FROM (SELECT 1 AS a) AS t")
    assert "no_such_column" in err.value.sql


@pytest.mark.parametrize("call", ["query", "create_table", "create_view"])
def test_every_statement_fails_the_same_way(
    engine: Engine, call: str, caplog: pytest.LogCaptureFixture
) -> None:
    """One execution path (Engine._execute): the failing statement comes back as a QueryError
    with the SQL the backend ran, one clause a line, and every statement is logged."""
    sql = "SELECT a, missing_b FROM (SELECT 1 AS a) AS t WHERE a > 0"
    with caplog.at_level("DEBUG", logger="samhandling.engine"), pytest.raises(QueryError) as err:
        if call == "query":
            engine.query(sql)
        elif call == "create_table":
            engine.create_table("broken", sql)
        else:
            engine.create_view("broken", sql)
            engine.query("SELECT * FROM broken")  # Spark analyses a view when it is made
    assert err.value.engine == engine.name
    lines = [line.strip() for line in err.value.sql.splitlines()]
    assert lines[0] == "SELECT" and "FROM (" in lines and "WHERE" in lines
    assert "missing_b" in str(err.value)
    assert any("missing_b" in r.getMessage() for r in caplog.records)
    assert not engine.has_relation("broken")


def test_transpile_is_single_statement() -> None:
    assert "SELECT" in to_spark("SELECT 1 AS a")


def test_arrow_relations_are_visible_from_other_threads() -> None:
    """One connection, a cursor per thread: tables registered before or after a thread's cursor
    exists are visible to it (the portal and API query from worker threads)."""
    from concurrent.futures import ThreadPoolExecutor

    from samhandling.engine import DuckDBEngine

    with DuckDBEngine() as duck:
        duck.register_arrow("before", pa.table({"x": [1, 2, 3]}))
        with ThreadPoolExecutor(max_workers=2) as pool:
            first = pool.submit(lambda: duck.query("SELECT SUM(x) AS s FROM before")).result()
            duck.register_arrow("after", pa.table({"x": [10, 20]}))
            totals = list(pool.map(lambda _: duck.query("SELECT SUM(x) AS s FROM after"), range(4)))
        assert first.column("s").to_pylist() == [6]
        assert [t.column("s").to_pylist() for t in totals] == [[30]] * 4
