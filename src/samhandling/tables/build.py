"""Build the protected catalogue from a warehouse (used by the API, the CLI and the bench)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from samhandling.engine import make_engine
from samhandling.indicators.facts import icd10_block_table
from samhandling.rules import load_rules
from samhandling.tables.catalog import Catalog, build_catalog

__all__ = ["catalog_from_warehouse"]


def catalog_from_warehouse(
    path: Path,
    *,
    borders: int = 2024,
    only: Sequence[str] | None = None,
    engine_name: str | None = None,
) -> Catalog:
    """Register the warehouse's live deliveries on the chosen engine (:func:`make_engine`) and
    build every protected cube (or those in ``only``)."""
    from samhandling.warehouse import Warehouse

    engine = make_engine(engine_name)
    try:
        Warehouse.open(path).register(engine)
        return build_catalog(
            engine, load_rules(), borders=borders, blocks=icd10_block_table(), only=only
        )
    finally:
        engine.close()
