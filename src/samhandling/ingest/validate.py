"""Validation of one interchange file: set-based SQL over the whole file, on either engine.

Every value is read as written (CSV columns as text) and converted only when it matches the
strict form of its type, so nothing is rounded or guessed. Each row collects every reason it fails
as bits of a mask; the masks of rejected rows are decoded in the driver into a list of
``{code, column, message}``. Rows with no reason land typed in the warehouse schema, the others go
to a quarantine Parquet file with their original values as text. The SQL is written once (DuckDB's
dialect) and runs on DuckDB or Spark through :class:`~samhandling.engine.Engine`.

The caller registers the reference relations this module joins against (see
:data:`REFERENCE_RELATIONS`); the warehouse does that from refdata and its live deliveries.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from samhandling.contract import (
    COLUMNS,
    DELIVERY_COLUMN,
    PRIMARY_KEY,
    Column,
    Kind,
    arrow_schema,
)
from samhandling.engine import Engine
from samhandling.engine.sql import sql_string
from samhandling.errors import QueryError, SamhandlingError
from samhandling.ingest.reasons import REASONS

# Relations the caller must register on the connection before validating.
REF_MUNICIPALITY = "_ref_municipality"  # year SMALLINT, municipality VARCHAR
REF_ICD10 = "_ref_icd10"  # category3 VARCHAR
REF_HEALTH_TRUST = "_ref_health_trust"  # orgnr VARCHAR
KNOWN_EPISODES = "_known_episodes"  # episode_id VARCHAR: episodes an event may point to


def warehouse_keys_relation(kind: Kind) -> str:
    """Relation of primary keys already held by live deliveries with another delivery key."""
    return f"_wh_keys_{kind}"


REFERENCE_RELATIONS = (REF_MUNICIPALITY, REF_ICD10, REF_HEALTH_TRUST, KNOWN_EPISODES)

# The shape of an ICD-10 code once normalised, as samhandling.refdata.icd10: A00, A000, S7200.
ICD10_PATTERN = "[A-Z][0-9]{2}[0-9]{0,2}"
# What normalisation strips: dots, spaces and the dagger/asterisk marks (E10.3†, H36.0*).
ICD10_NOISE = "[.\\s†*]"

_DUCK_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "timestamp[us]": "TIMESTAMP",
    "date32[day]": "DATE",
    "bool": "BOOLEAN",
}

_INTEGER = "[+-]?[0-9]+"
_DATE = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TIMESTAMP = _DATE + "([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,6})?)?)?"


class DeliveryFileError(SamhandlingError):
    """A delivery file cannot be read at all (not CSV/Parquet, malformed lines, no header)."""


@dataclass(frozen=True)
class Checks:
    """What a validation run needs besides the file: the delivery and the rule values."""

    delivery_id: str
    as_of: date
    drg_points_max: Decimal
    drg_exempt_provider_types: tuple[str, ...]


@dataclass
class KindResult:
    """Outcome of validating one file (one kind) of a delivery."""

    kind: Kind
    rows_in: int
    landed: int
    quarantined: int
    reasons: dict[str, int] = field(default_factory=dict)
    years: list[int] = field(default_factory=list)
    by_year_sector: list[tuple[int, str, int]] = field(default_factory=list)


def duck_type(dtype: pa.DataType) -> str:
    """DuckDB type name for a contract column type."""
    if pa.types.is_decimal(dtype):
        assert isinstance(dtype, pa.Decimal128Type)
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    return _DUCK_TYPES[str(dtype)]


def ident(name: str) -> str:
    """A quoted identifier (contract names include keywords such as "at", "start", "end")."""
    return '"' + name.replace('"', '""') + '"'


class _ReasonBits:
    """The reasons a kind can give, one bit each, so that a row carries them as one BIGINT.

    Building a list of structs per row is what made validation slow; a bit mask is cheap and
    only the (few) rejected rows are decoded back into ``{code, column, message}`` lists.
    """

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []

    def bit(self, code: str, column: str) -> int:
        if code not in REASONS:
            raise KeyError(code)
        if (code, column) not in self.entries:
            if len(self.entries) == 63:
                raise ValueError("more than 63 distinct reasons for one kind")
            self.entries.append((code, column))
        return 1 << self.entries.index((code, column))

    def when(self, condition: str, code: str, column: str) -> str:
        return f"CASE WHEN {condition} THEN {self.bit(code, column)} ELSE 0 END"

    def decode(self, masks: np.ndarray) -> pa.ListArray[Any]:
        """Each mask's reasons as ``[{code, column, message}, …]``, in declaration order."""
        width = len(self.entries)
        held = ((masks[:, None] >> np.arange(width, dtype=np.int64)) & 1).astype(bool)
        offsets = np.zeros(len(masks) + 1, dtype=np.int32)
        np.cumsum(held.sum(axis=1), out=offsets[1:])
        which = np.nonzero(held)[1]  # row-major: row by row, bit by bit
        reasons = pa.StructArray.from_arrays(
            [
                pa.array([code for code, _ in self.entries], pa.string()),
                pa.array([column for _, column in self.entries], pa.string()),
                pa.array([REASONS[code].message for code, _ in self.entries], pa.string()),
            ],
            names=["code", "column", "message"],
        ).take(pa.array(which, pa.int64()))
        return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), reasons)

    def counts(self, masks: np.ndarray) -> dict[str, int]:
        """Rows per reason code (a row counted once per code, however many columns)."""
        out: dict[str, int] = {}
        for code in sorted({code for code, _ in self.entries}):
            bits = sum(1 << i for i, (c, _) in enumerate(self.entries) if c == code)
            n = int(np.count_nonzero(masks & np.int64(bits)))
            if n:
                out[code] = n
        return out


def csv_header(path: Path) -> list[str]:
    """Column names from the header row of a CSV delivery file."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), None)
    if not header:
        raise DeliveryFileError(f"{path.name} er tom: mangler overskriftsraden")
    names = [name.strip() for name in header]
    if len(set(names)) != len(names) or "" in names:
        raise DeliveryFileError(f"{path.name} har tomme eller gjentatte kolonnenavn: {names}")
    return names


@dataclass(frozen=True)
class Source:
    """One delivery file registered on an engine: its relation and its columns' SQL types."""

    relation: str
    path: Path
    columns: dict[str, str]


_SQL_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "large_string": "VARCHAR",
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "bool": "BOOLEAN",
    "date32[day]": "DATE",
}


def _sql_type(path: Path, name: str, dtype: pa.DataType) -> str:
    if pa.types.is_decimal(dtype):
        assert isinstance(dtype, pa.Decimal128Type)
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    if pa.types.is_timestamp(dtype):
        assert isinstance(dtype, pa.TimestampType)
        return "TIMESTAMP" if dtype.tz is None else "TIMESTAMPTZ"
    if str(dtype) in _SQL_TYPES:
        return _SQL_TYPES[str(dtype)]
    raise DeliveryFileError(
        f"{path.name}: kolonnen {name!r} har typen {dtype}, som leveranseformatet ikke tar imot "
        "(tekst, heltall, desimaltall, dato, tidspunkt eller sann/usann); hele leveransen er avvist"
    )


def open_source(engine: Engine, kind: Kind, path: Path) -> Source:
    """Register one delivery file (every row numbered ``_row_no`` in file order) on ``engine``."""
    relation = f"_src_{kind}"
    header = csv_header(path) if path.suffix == ".csv" else None
    try:
        engine.register_numbered_file(relation, path, csv_columns=header)
        schema = engine.query(f"SELECT * FROM {relation} LIMIT 0").schema
    except QueryError as exc:
        engine.drop(relation)
        raise file_error(path, exc) from exc
    columns = {
        field.name: _sql_type(path, field.name, field.type)
        for field in schema
        if field.name != "_row_no"
    }
    return Source(relation, path, columns)


def file_error(path: Path, exc: BaseException) -> DeliveryFileError:
    """A user-facing error for a file an engine cannot read (its hints about ignoring errors
    cut: a delivery is never read past its errors)."""
    cause = exc.cause if isinstance(exc, QueryError) else exc
    text = str(cause).split("JVM stacktrace:")[0]  # Spark's Java frames say nothing to a user
    for hint in ("Possible fixes:", "To process malformed records"):
        text = text.split(hint)[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    detail = " ".join(lines[:4]) or type(cause).__name__
    what = "CSV (UTF-8, komma, overskriftsrad)" if path.suffix == ".csv" else "Parquet"
    return DeliveryFileError(
        f"kan ikke lese {path.name} som {what}; hele leveransen er avvist: {detail[:500]}"
    )


def _typed_column(col: Column, src_type: str | None) -> tuple[str, str, str]:
    """(typed expression, bad-type condition, is-empty condition) over the source row ``s``."""
    target = duck_type(col.type)
    if src_type is None:
        return f"CAST(NULL AS {target})", "false", "true"
    raw = f"s.{ident(col.name)}"
    is_text = src_type == "VARCHAR"
    val = f"NULLIF(TRIM({raw}), '')" if is_text else raw
    empty = f"({val} IS NULL)"
    if target == "VARCHAR":
        return f"CAST({val} AS VARCHAR)", "false", empty
    if is_text:
        if target == "BOOLEAN":
            typed = (
                f"CASE lower({val}) WHEN 'true' THEN true WHEN '1' THEN true "
                f"WHEN 'false' THEN false WHEN '0' THEN false END"
            )
        else:
            if target.startswith("DECIMAL"):
                scale = target.rstrip(")").split(",")[1]
                pattern = f"[+-]?[0-9]+([.][0-9]{{1,{scale}}})?"
            elif target == "TIMESTAMP":
                pattern = _TIMESTAMP
            elif target == "DATE":
                pattern = _DATE
            else:
                pattern = _INTEGER
            typed = (
                f"CASE WHEN regexp_full_match({val}, {sql_string(pattern)}) "
                f"THEN TRY_CAST({val} AS {target}) END"
            )
        return typed, f"({val} IS NOT NULL AND ({typed}) IS NULL)", empty
    # A typed source (Parquet): accept the value only if it survives the round trip unchanged.
    typed = f"TRY_CAST({val} AS {target})"
    bad = f"({val} IS NOT NULL AND ({typed} IS NULL OR TRY_CAST({typed} AS {src_type}) <> {val}))"
    return typed, bad, empty


def _normalise_icd10_sql(expr: str) -> str:
    # Mirrors samhandling.refdata.icd10.normalise (a test checks that they agree).
    return f"upper(regexp_replace({expr}, {sql_string(ICD10_NOISE)}, '', 'g'))"


def _enum_sql(values: tuple[str, ...] | tuple[int, ...]) -> str:
    return ", ".join(str(v) if isinstance(v, int) else sql_string(v) for v in values)


def _year_expr(kind: Kind) -> str | None:
    return {
        "episodes": "EXTRACT(YEAR FROM admitted_at)",
        "events": 'EXTRACT(YEAR FROM "at")',
        "municipal_care": 'EXTRACT(YEAR FROM "start")',
        "population": "year",
    }[kind]


def _typed_table_sql(
    kind: Kind, src: str, columns: dict[str, str], checks: Checks, bits: _ReasonBits
) -> str:
    inner: list[str] = ["s._row_no AS _row_no"]
    flags: dict[str, tuple[str | None, str]] = {}
    for col in COLUMNS[kind]:
        typed, bad, empty = _typed_column(col, columns.get(col.name))
        if kind == "episodes" and col.name == "main_diagnosis" and col.name in columns:
            typed = _normalise_icd10_sql(typed)
        if kind == "episodes" and col.name == "other_diagnoses" and col.name in columns:
            typed = (
                f"array_to_string(list_transform(regexp_split_to_array(TRIM({typed}), '\\s+'), "
                f"lambda x: {_normalise_icd10_sql('x')}), ' ')"
            )
        inner.append(f"{typed} AS {ident(col.name)}")
        inner.append(f"{empty} AS {ident('_empty_' + col.name)}")
        bad_flag = None
        if bad != "false":  # text columns cannot have a bad type: no flag to carry
            bad_flag = ident("_bad_" + col.name)
            inner.append(f"{bad} AS {bad_flag}")
        flags[col.name] = (bad_flag, ident("_empty_" + col.name))

    conds: list[str] = []
    for col in COLUMNS[kind]:
        bad_flag, empty = flags[col.name]
        name = ident(col.name)
        if col.name not in columns:
            if col.required == "yes":
                conds.append(str(bits.bit("missing_column", col.name)))
            continue
        if col.required == "yes":
            conds.append(bits.when(empty, "missing_value", col.name))
        if bad_flag is not None:
            conds.append(bits.when(bad_flag, "bad_type", col.name))
        if col.enum is not None:
            conds.append(bits.when(f"{name} NOT IN ({_enum_sql(col.enum)})", "bad_enum", col.name))

    as_of = f"DATE {sql_string(checks.as_of.isoformat())}"

    def future(column: str) -> str:
        return bits.when(f"CAST({ident(column)} AS DATE) > {as_of}", "future_date", column)

    if kind == "episodes":
        exempt = (
            _enum_sql(checks.drg_exempt_provider_types)
            if checks.drg_exempt_provider_types
            else None
        )
        somatic = "sector = 'somatic'"
        if exempt is not None:
            somatic += f" AND provider_type NOT IN ({exempt})"
        conds += [
            bits.when(
                f"main_diagnosis IS NOT NULL AND NOT regexp_full_match(main_diagnosis, "
                f"{sql_string(ICD10_PATTERN)})",
                "icd10_malformed",
                "main_diagnosis",
            ),
            bits.when(
                "care_level = 'inpatient' AND " + flags["discharged_at"][1],
                "discharge_missing",
                "discharged_at",
            ),
            bits.when("discharged_at < admitted_at", "discharge_before_admission", "discharged_at"),
            *(
                bits.when(f"{somatic} AND {flags[c][1]}", "drg_missing", c)
                for c in ("drg", "drg_type", "drg_points")
            ),
            bits.when("drg_points < 0", "drg_points_negative", "drg_points"),
            bits.when(
                f"drg_points > CAST({checks.drg_points_max} AS DECIMAL(18,3))",
                "drg_points_implausible",
                "drg_points",
            ),
            bits.when(
                "birth_year > EXTRACT(YEAR FROM admitted_at)", "birth_after_admission", "birth_year"
            ),
            future("admitted_at"),
            future("discharged_at"),
            future("discharge_ready_at"),
        ]
    elif kind == "events":
        conds.append(future("at"))
    elif kind == "municipal_care":
        conds += [
            bits.when('"end" < "start"', "care_end_before_start", "end"),
            future("start"),
            future("end"),
        ]
    else:
        conds.append(bits.when('"count" < 0', "negative_count", "count"))

    outer = ["_row_no", *(ident(c.name) for c in COLUMNS[kind])]
    outer.append(f"CAST({_year_expr(kind)} AS SMALLINT) AS _year")
    outer.append("CAST(" + " | ".join(conds) + " AS BIGINT) AS _mask1")
    return f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM {src} AS s) AS t"


def _cross_checks_sql(kind: Kind, bits: _ReasonBits) -> list[str]:
    """Queries yielding (_row_no, _bit) for checks that look beyond the row itself."""
    parts: list[str] = []
    pk = PRIMARY_KEY[kind]
    pk_cols = ", ".join(ident(c) for c in pk)
    pk_present = " AND ".join(f"{ident(c)} IS NOT NULL" for c in pk)
    same_key = " AND ".join(f"d.{ident(c)} = t.{ident(c)}" for c in pk)
    parts.append(
        f"SELECT t._row_no, {bits.bit('duplicate_key', pk[0])} AS _bit FROM _typed t "
        f"JOIN (SELECT {pk_cols} FROM _typed WHERE {pk_present} GROUP BY {pk_cols} "
        f"HAVING COUNT(*) > 1) d ON {same_key}"
    )
    wh = warehouse_keys_relation(kind)
    join_on = " AND ".join(f"w.{ident(c)} = t.{ident(c)}" for c in pk)
    parts.append(
        f"SELECT _row_no, {bits.bit('duplicate_key_warehouse', pk[0])} AS _bit FROM _typed t "
        f"WHERE EXISTS (SELECT 1 FROM {wh} w WHERE {join_on})"
    )

    def unknown_municipality(column: str) -> str:
        return (
            f"SELECT _row_no, {bits.bit('unknown_municipality', column)} AS _bit FROM _typed t "
            f"WHERE t.{ident(column)} IS NOT NULL AND t._year IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {REF_MUNICIPALITY} m WHERE m.year = t._year "
            f"AND m.municipality = t.{ident(column)})"
        )

    if kind == "episodes":
        parts.append(unknown_municipality("municipality"))
        parts.append(unknown_municipality("stay_municipality"))
        parts.append(
            f"SELECT _row_no, {bits.bit('icd10_unknown', 'main_diagnosis')} AS _bit "
            f"FROM _typed t WHERE regexp_full_match(t.main_diagnosis, "
            f"{sql_string(ICD10_PATTERN)}) AND NOT EXISTS (SELECT 1 FROM {REF_ICD10} c "
            f"WHERE c.category3 = substr(t.main_diagnosis, 1, 3))"
        )
        codes = (
            "SELECT _row_no, UNNEST(string_split(other_diagnoses, ' ')) AS code "
            "FROM _typed WHERE other_diagnoses IS NOT NULL"
        )
        well_formed = f"regexp_full_match(o.code, {sql_string(ICD10_PATTERN)})"
        parts.append(
            f"SELECT DISTINCT o._row_no, {bits.bit('icd10_malformed', 'other_diagnoses')} "
            f"AS _bit FROM ({codes}) o WHERE NOT {well_formed}"
        )
        parts.append(
            f"SELECT DISTINCT o._row_no, {bits.bit('icd10_unknown', 'other_diagnoses')} "
            f"AS _bit FROM ({codes}) o WHERE {well_formed} AND NOT EXISTS "
            f"(SELECT 1 FROM {REF_ICD10} c WHERE c.category3 = substr(o.code, 1, 3))"
        )
        parts.append(
            f"SELECT _row_no, {bits.bit('unknown_health_trust', 'health_trust')} AS _bit "
            f"FROM _typed t WHERE t.health_trust IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {REF_HEALTH_TRUST} h WHERE h.orgnr = t.health_trust)"
        )
    elif kind == "events":
        parts.append(
            f"SELECT _row_no, {bits.bit('unknown_episode', 'episode_id')} AS _bit "
            f"FROM _typed t WHERE t.episode_id IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {KNOWN_EPISODES} k WHERE k.episode_id = t.episode_id)"
        )
    elif kind in ("municipal_care", "population"):
        parts.append(unknown_municipality("municipality"))
    return parts


def validate_file(
    engine: Engine,
    kind: Kind,
    source: Source,
    *,
    landed_path: Path,
    quarantine_path: Path,
    checks: Checks,
) -> KindResult:
    """Validate ``source`` (one kind), write landed rows and quarantined rows, return the counts.

    The quarantine file is written only when some row was rejected.
    """
    src, columns, path = source.relation, source.columns, source.path
    bits = _ReasonBits()
    typed_sql = _typed_table_sql(kind, src, columns, checks, bits)
    try:
        engine.create_table("_typed", typed_sql)
    except QueryError as exc:
        raise file_error(path, exc) from exc
    cross = " UNION ALL ".join(
        f"SELECT q._row_no, q._bit FROM ({q}) AS q" for q in _cross_checks_sql(kind, bits)
    )
    engine.create_table(
        "_cross",
        "SELECT x._row_no, CAST(bit_or(x._bit) AS BIGINT) AS _mask2 "
        f"FROM ({cross}) AS x GROUP BY x._row_no",
    )
    checked = (
        "(SELECT t.*, t._mask1 | COALESCE(c._mask2, 0) AS _mask "
        "FROM _typed t LEFT JOIN _cross c ON c._row_no = t._row_no)"
    )
    contract_cols = ", ".join(ident(c.name) for c in COLUMNS[kind])
    delivery = sql_string(checks.delivery_id)
    landed = engine.write_parquet(
        f"SELECT {contract_cols}, {delivery} AS {DELIVERY_COLUMN} FROM {checked} AS k "
        "WHERE k._mask = 0",
        landed_path,
        schema=arrow_schema(kind, with_delivery=True),
    )
    # One pass for the counts: every row by year (× sector for episodes) and whether it landed.
    sector = "k.sector" if kind == "episodes" else "CAST(NULL AS VARCHAR)"
    tally = engine.query(
        f"SELECT k._year AS y, {sector} AS s, k._mask = 0 AS ok, COUNT(*) AS n "
        f"FROM {checked} AS k GROUP BY k._year, {sector}, k._mask = 0"
    ).to_pylist()
    rows_in = sum(int(r["n"]) for r in tally)
    good = [r for r in tally if r["ok"] and r["y"] is not None]
    years = sorted({int(r["y"]) for r in good})
    by_year_sector: list[tuple[int, str, int]] = []
    if kind == "episodes":
        by_year_sector = sorted((int(r["y"]), str(r["s"]), int(r["n"])) for r in good)

    masked = engine.query(
        f"SELECT k._row_no, k._mask FROM {checked} AS k WHERE k._mask <> 0 ORDER BY k._row_no"
    )
    masks = masked.column("_mask").to_numpy().astype(np.int64)
    quarantined = 0
    if len(masks):
        engine.register_arrow(
            "_rejected",
            pa.table(
                {
                    "row_number": masked.column("_row_no").cast(pa.int64()),
                    "reasons": bits.decode(masks),
                }
            ),
        )
        kept = [n for n in columns if n not in {"row_number", DELIVERY_COLUMN, "reasons"}]
        original = "".join(f", CAST(s.{ident(n)} AS VARCHAR) AS {ident(n)}" for n in kept)
        fields: list[pa.Field[Any]] = [
            pa.field("row_number", pa.int64()),
            pa.field(DELIVERY_COLUMN, pa.string()),
            pa.field("reasons", reasons_type()),
        ]
        schema = pa.schema(fields + [pa.field(n, pa.string()) for n in kept])
        quarantined = engine.write_parquet(
            f"SELECT r.row_number, {delivery} AS {DELIVERY_COLUMN}, r.reasons{original} "
            f"FROM _rejected r JOIN {src} s ON s._row_no = r.row_number ORDER BY r.row_number",
            quarantine_path,
            schema=schema,
        )
        engine.drop("_rejected")
    if rows_in != landed + quarantined or quarantined != len(masks):
        # The one invariant of ingest: nothing is dropped silently.
        raise AssertionError(
            f"{kind}: {rows_in} rows in, {landed} landed + {quarantined} quarantined"
        )
    engine.drop("_cross")
    engine.drop("_typed")
    return KindResult(kind, rows_in, landed, quarantined, bits.counts(masks), years, by_year_sector)


def reasons_type() -> pa.DataType:
    """The type of a quarantined row's ``reasons``: a list of ``{code, column, message}``."""
    return pa.list_(
        pa.struct([("code", pa.string()), ("column", pa.string()), ("message", pa.string())])
    )


def delivery_years(engine: Engine, kind: Kind, source: Source) -> list[int]:
    """Years a delivery file covers (for the default delivery key), from values that parse."""
    column = {
        "episodes": "admitted_at",
        "events": "at",
        "municipal_care": "start",
        "population": "year",
    }[kind]
    if column not in source.columns:
        return []
    value = f"s.{ident(column)}"
    year = (
        f"TRY_CAST({value} AS SMALLINT)"
        if kind == "population"
        else f"EXTRACT(YEAR FROM TRY_CAST({value} AS TIMESTAMP))"
    )
    try:
        rows = engine.query(
            f"SELECT DISTINCT {year} AS y FROM {source.relation} s "
            f"WHERE {year} IS NOT NULL ORDER BY 1"
        ).column("y")
    except QueryError as exc:
        raise file_error(source.path, exc) from exc
    return [int(y) for y in rows.to_pylist() if y is not None]
