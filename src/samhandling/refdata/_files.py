"""Reading the CSV files shipped in ``samhandling/refdata/data`` (works from an installed wheel)."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv


def read_csv(relative_path: str, strings: Sequence[str] = ()) -> pa.Table:
    """Read ``data/<relative_path>``; ``strings`` columns stay text (codes keep leading zeros)."""
    resource = resources.files("samhandling.refdata").joinpath("data")
    for part in relative_path.split("/"):
        resource = resource.joinpath(part)
    with resource.open("rb") as handle:
        return pacsv.read_csv(
            handle,
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in strings},
                strings_can_be_null=False,
            ),
        )


def texts(column: pa.ChunkedArray[Any] | pa.Array[Any]) -> list[str]:
    """A text column as Python strings (reference files have no missing codes or names)."""
    values = column.to_pylist()
    if any(not isinstance(v, str) for v in values):
        raise ValueError("reference column holds missing or non-text values")
    return [str(v) for v in values]


def schema(**columns: pa.DataType) -> pa.Schema:
    """An Arrow schema from ``name=type`` pairs, in the order given."""
    return pa.schema([pa.field(name, dtype) for name, dtype in columns.items()])
