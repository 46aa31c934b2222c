"""Rules are data: every rate, share, cap, threshold and code list is a dated, versioned table.

Each rule lives in one TOML file under ``rules/tables/`` (the file name is the rule id). A rule has
metadata (Norwegian name, unit, description, version) and dated rows; each row carries its own
source and status (``confirmed`` or ``unverified``) because a rate can be confirmed for one year
and not for another. A user can replace any rule for a run with an override file (same format);
every output names the rule set it was computed with (:attr:`RuleSet.label`).
"""

from __future__ import annotations

import hashlib
import itertools
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from samhandling.errors import RuleError

__all__ = ["RuleRow", "RuleSet", "RuleTable", "Status", "load_rules"]

Status = Literal["confirmed", "unverified"]
_STATUSES: tuple[str, ...] = ("confirmed", "unverified")
_OPEN_END = date(9999, 12, 31)


@dataclass(frozen=True)
class RuleRow:
    """One dated value of a rule (for code lists: one code, in ``key``)."""

    valid_from: date
    valid_to: date
    value: str
    status: Status
    source: str
    key: str | None = None
    note: str = ""

    @property
    def decimal(self) -> Decimal:
        try:
            return Decimal(self.value)
        except InvalidOperation as exc:
            raise RuleError(f"value {self.value!r} is not a number") from exc

    def covers(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_to


@dataclass(frozen=True)
class RuleTable:
    """A rule: metadata plus dated rows."""

    rule_id: str
    name_no: str
    description: str
    unit: str
    version: str
    rows: tuple[RuleRow, ...]
    origin: str = "standard"

    def value_on(self, day: date, key: str | None = None) -> RuleRow:
        """The row in force on ``day`` (and for ``key``, for keyed rules)."""
        hits = [r for r in self.rows if r.covers(day) and r.key == key]
        if not hits:
            what = f" for key {key!r}" if key is not None else ""
            raise RuleError(f"rule {self.rule_id} has no value on {day.isoformat()}{what}")
        if len(hits) > 1:
            raise RuleError(f"rule {self.rule_id} has overlapping rows on {day.isoformat()}")
        return hits[0]

    def keys_on(self, day: date) -> dict[str, RuleRow]:
        """All keyed rows in force on ``day`` (for code lists)."""
        return {r.key: r for r in self.rows if r.key is not None and r.covers(day)}

    def names_on(self, day: date) -> dict[str, RuleRow]:
        """Every key's row in force on ``day``; a key whose first row starts later gets that
        first row (a code list's names: a code that comes into use after ``day`` keeps the name
        it is introduced with, so that a table whose period ends before it still names it
        rather than leaving its rows out)."""
        out = self.keys_on(day)
        for r in sorted(self.rows, key=lambda r: r.valid_from):
            if r.key is not None and r.key not in out and r.valid_from > day:
                out[r.key] = r
        return out

    @property
    def status(self) -> Status:
        """``unverified`` if any row is unverified."""
        return "unverified" if any(r.status == "unverified" for r in self.rows) else "confirmed"

    def to_arrow(self, value_type: pa.DataType | None = None) -> pa.Table:
        """Rows as an Arrow table for joins in SQL; ``value_type`` casts the value column."""
        values: list[Any]
        if value_type is None:
            vtype: pa.DataType = pa.string()
            values = [r.value for r in self.rows]
        else:
            vtype = value_type
            values = (
                [r.decimal for r in self.rows]
                if pa.types.is_decimal(vtype)
                else [r.value for r in self.rows]
            )
        return pa.table(
            {
                "rule_id": pa.array([self.rule_id] * len(self.rows), pa.string()),
                "rule_version": pa.array([self.version] * len(self.rows), pa.string()),
                "key": pa.array([r.key for r in self.rows], pa.string()),
                "valid_from": pa.array([r.valid_from for r in self.rows], pa.date32()),
                "valid_to": pa.array([r.valid_to for r in self.rows], pa.date32()),
                "value": pa.array(values, vtype),
                "status": pa.array([r.status for r in self.rows], pa.string()),
                "source": pa.array([r.source for r in self.rows], pa.string()),
            }
        )


@dataclass(frozen=True)
class RuleSet:
    """All rules for a run, with the name and version that every output cites."""

    name: str
    version: str
    tables: dict[str, RuleTable] = field(default_factory=dict)
    overrides: tuple[str, ...] = ()

    def __getitem__(self, rule_id: str) -> RuleTable:
        try:
            return self.tables[rule_id]
        except KeyError:
            raise RuleError(f"unknown rule {rule_id!r}") from None

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self.tables

    @property
    def label(self) -> str:
        """E.g. ``samhandling-standard 2026.11.1`` or ``… + override a1b2c3d4e5f6``."""
        base = f"{self.name} {self.version}"
        return base + "".join(f" + override {o}" for o in self.overrides)

    def with_override(self, path: Path) -> RuleSet:
        """A new rule set where the rules in ``path`` replace the standard ones."""
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise RuleError(f"cannot read rule override {path}: {exc}") from exc
        digest = hashlib.sha256(raw).hexdigest()[:12]
        try:
            doc = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise RuleError(f"rule override {path} is not valid TOML: {exc}") from exc
        rules = doc.get("rules")
        if not isinstance(rules, dict) or not rules:
            raise RuleError(f"rule override {path} has no [rules.<id>] section")
        tables = dict(self.tables)
        for rule_id, body in rules.items():
            if rule_id not in tables:
                raise RuleError(f"rule override {path} names unknown rule {rule_id!r}")
            base = tables[rule_id]
            merged = {
                "rule": {
                    "name_no": base.name_no,
                    "description": base.description,
                    "unit": base.unit,
                    "version": f"{base.version}+override-{digest}",
                },
                "values": body.get("values"),
            }
            tables[rule_id] = _parse_table(rule_id, merged, origin=f"{path.name} ({digest})")
        return RuleSet(self.name, self.version, tables, (*self.overrides, digest))


def _as_date(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise RuleError(f"{where}: {value!r} is not a date (YYYY-MM-DD)")


def _parse_table(rule_id: str, doc: dict[str, Any], origin: str = "standard") -> RuleTable:
    meta = doc.get("rule", {})
    for required in ("name_no", "unit", "version"):
        if required not in meta:
            raise RuleError(f"rule {rule_id}: [rule] lacks {required!r}")
    raw_rows = doc.get("values")
    if not isinstance(raw_rows, list) or not raw_rows:
        raise RuleError(f"rule {rule_id}: needs at least one [[values]] row")
    rows: list[RuleRow] = []
    for i, raw in enumerate(raw_rows, start=1):
        where = f"rule {rule_id}, row {i}"
        status = raw.get("status")
        if status not in _STATUSES:
            raise RuleError(f"{where}: status must be confirmed or unverified, not {status!r}")
        if not raw.get("source"):
            raise RuleError(f"{where}: every value needs a source")
        if "value" not in raw:
            raise RuleError(f"{where}: no value")
        valid_from = _as_date(raw.get("valid_from"), where)
        valid_to = _as_date(raw.get("valid_to", _OPEN_END), where)
        if valid_to < valid_from:
            raise RuleError(f"{where}: valid_to {valid_to} is before valid_from {valid_from}")
        key = raw.get("key")
        rows.append(
            RuleRow(
                valid_from=valid_from,
                valid_to=valid_to,
                value=str(raw["value"]),
                status=status,
                source=str(raw["source"]),
                key=None if key is None else str(key),
                note=str(raw.get("note", "")),
            )
        )
    _check_overlaps(rule_id, rows)
    return RuleTable(
        rule_id=rule_id,
        name_no=str(meta["name_no"]),
        description=str(meta.get("description", "")),
        unit=str(meta["unit"]),
        version=str(meta["version"]),
        rows=tuple(rows),
        origin=origin,
    )


def _check_overlaps(rule_id: str, rows: list[RuleRow]) -> None:
    by_key: dict[str | None, list[RuleRow]] = {}
    for r in rows:
        by_key.setdefault(r.key, []).append(r)
    for key, group in by_key.items():
        group.sort(key=lambda r: r.valid_from)
        for a, b in itertools.pairwise(group):
            if b.valid_from <= a.valid_to:
                what = f" key {key!r}" if key is not None else ""
                raise RuleError(
                    f"rule {rule_id}{what}: rows overlap ({a.valid_from}..{a.valid_to} and "
                    f"{b.valid_from}..{b.valid_to})"
                )


def rules_day(years: Iterable[int]) -> date:
    """The day a computation over data years ``years`` reads its rules for: the last day of
    the latest year its data cover, never the clock, so that the same data give the same
    result on whatever day they are computed (a rule version that starts after the data's
    period does not touch them)."""
    wanted = [int(y) for y in years]
    if not wanted:
        raise RuleError("ingen dataår å lese reglene for")
    return date(max(wanted), 12, 31)


def load_rules(override: Path | None = None) -> RuleSet:
    """The standard rule set shipped with the package, optionally with an override file."""
    folder = resources.files("samhandling.rules").joinpath("tables")
    manifest = tomllib.loads(folder.joinpath("RULESET.toml").read_text("utf-8"))
    tables: dict[str, RuleTable] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml") or entry.name == "RULESET.toml":
            continue
        rule_id = entry.name.removesuffix(".toml")
        tables[rule_id] = _parse_table(rule_id, tomllib.loads(entry.read_text("utf-8")))
    ruleset = RuleSet(str(manifest["name"]), str(manifest["version"]), tables)
    return ruleset if override is None else ruleset.with_override(override)
