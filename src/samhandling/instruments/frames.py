"""Build contract-typed Arrow tables from a few Python rows (for tests, notebooks, examples).

Columns a row leaves out are null; ``delivery_id`` defaults to ``"d1"``. The result has exactly
the warehouse schema (:func:`samhandling.contract.arrow_schema` with the delivery column), so it
can be registered as ``episodes``, ``events`` or ``population`` in place of a warehouse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from samhandling.contract import DELIVERY_COLUMN, Kind, arrow_schema

__all__ = ["contract_table"]


def contract_table(kind: Kind, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """An Arrow table of ``kind`` with the given rows (unknown column names are an error)."""
    schema = arrow_schema(kind, with_delivery=True)
    known = set(schema.names)
    for row in rows:
        unknown = set(row) - known
        if unknown:
            raise ValueError(f"{kind}: unknown columns {sorted(unknown)}")
    columns = {
        name: [row.get(name, "d1" if name == DELIVERY_COLUMN else None) for row in rows]
        for name in schema.names
    }
    return pa.Table.from_pydict(columns, schema=schema)
