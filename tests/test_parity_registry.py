"""The parity registry is complete and its tests exist and run on both engines."""

from __future__ import annotations

import ast
from pathlib import Path

from parity import PARITY, engine_facing_functions

ROOT = Path(__file__).parents[1]


def _test_parameters(node_id: str) -> set[str] | None:
    """The parameter names of the test ``path::name`` (None when there is no such test)."""
    path, _, name = node_id.partition("::")
    source = ROOT / path
    if not source.is_file():
        return None
    for node in ast.walk(ast.parse(source.read_text("utf-8"))):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return {a.arg for a in node.args.args}
    return None


def test_every_engine_facing_function_is_registered() -> None:
    found = set(engine_facing_functions())
    known = set(PARITY)
    assert sorted(found - known) == [], "engine-facing functions without a parity test"
    assert sorted(known - found) == [], "registered functions that no longer exist"


def test_every_registered_test_exists() -> None:
    # That each one really runs its functions on Spark is checked while it runs (the
    # _parity_trace fixture in conftest.py); here only that the names are not stale.
    for function, tests in PARITY.items():
        assert tests, f"{function}: no test"
        for test in tests:
            assert _test_parameters(test) is not None, f"{function}: no test {test}"


def test_the_registry_finds_a_function_that_takes_an_engine() -> None:
    found = engine_facing_functions()
    assert "samhandling.instruments.cofinancing.cofinancing_episodes" in found
    assert "samhandling.warehouse.Warehouse.register" in found
    assert not any(name.rsplit(".", 1)[1].startswith("_") for name in found)
