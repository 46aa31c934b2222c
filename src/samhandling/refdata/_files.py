"""Reading the CSV files shipped in ``samhandling/refdata/data`` (works from an installed wheel)."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

import pyarrow as pa
import pyarrow.csv as pacsv


def read_csv(relative_path: str, strings: Sequence[str] = ()) -> pa.Table:
    """Read ``data/<relative_path>``; the columns in ``strings`` stay text (codes keep leading zeros)."""
    resource = resources.files("samhandling.refdata").joinpath("data", *relative_path.split("/"))
    with resource.open("rb") as handle:
        return pacsv.read_csv(
            handle,
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in strings},
                strings_can_be_null=False,
            ),
        )
