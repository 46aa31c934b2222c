"""The warehouse (datavarehus): one folder of validated deliveries and a ledger that lists them.

Layout (see ``docs/ingest.md``)::

    <warehouse>/ledger.json                    the ledger: every delivery, in load order
    <warehouse>/deliveries/D0001/<kind>.parquet            landed rows, typed, with delivery_id
    <warehouse>/deliveries/D0001/quarantine/<kind>.parquet rejected rows with their reasons
    <warehouse>/deliveries/D0001/changes/<kind>.parquet    ids added/removed/changed vs the
                                                           delivery it replaced
    <warehouse>/.staging/                      work space of a running ingest (never read)

A delivery is applied all-or-nothing: it is validated into ``.staging``, moved into
``deliveries/`` with one rename and becomes visible with one atomic replace of the ledger. Readers
only ever look at deliveries the ledger names, so a crash at any point leaves the warehouse as it
was; leftovers are cleared by the next ingest.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from samhandling.config import warehouse_dir
from samhandling.contract import COLUMNS, CONTRACT_VERSION, KINDS, PRIMARY_KEY, Kind, arrow_schema
from samhandling.engine import Engine, make_engine
from samhandling.engine.sql import sql_string
from samhandling.errors import SamhandlingError
from samhandling.ingest.delivery import (
    DEFAULT_SENDER,
    DeliveryFolder,
    default_period,
    delivery_folders,
    read_delivery,
)
from samhandling.ingest.validate import (
    KNOWN_EPISODES,
    REF_HEALTH_TRUST,
    REF_ICD10,
    REF_MUNICIPALITY,
    Checks,
    KindResult,
    Source,
    delivery_years,
    ident,
    open_source,
    validate_file,
    warehouse_keys_relation,
)

__all__ = [
    "ChangeCounts",
    "Delivery",
    "IngestReport",
    "KindCounts",
    "Warehouse",
    "WarehouseBusyError",
    "WarehouseStatus",
    "lock_holder_alive",
]

LEDGER = "ledger.json"
LEDGER_FORMAT = 1
DELIVERIES = "deliveries"
STAGING = ".staging"
LOCK = ".lock"
QUARANTINE = "quarantine"
CHANGES = "changes"
REFDATA_DELIVERY = "refdata"

# Rule tables ingest reads (their versions are recorded in each ledger entry).
RULE_DRG_POINTS_MAX = "ingest.drg_points_max"
RULE_DRG_EXEMPT = "ingest.drg_exempt_provider_types"


class WarehouseBusyError(SamhandlingError):
    """Another ingest holds the warehouse lock."""


class LedgerError(SamhandlingError):
    """The ledger is unreadable or written by a newer version of the platform."""


@dataclass(frozen=True)
class KindCounts:
    """Rows of one kind in a delivery; always rows_in = landed + quarantined."""

    rows_in: int
    landed: int
    quarantined: int


@dataclass(frozen=True)
class ChangeCounts:
    """What a corrected delivery changed against the one it replaced, for one kind."""

    added: int
    removed: int
    changed: int


@dataclass(frozen=True)
class Delivery:
    """One ledger entry (leveranse): a delivery as loaded, and whether it has been replaced."""

    seq: int
    delivery_id: str
    sender: str
    period: str
    loaded_at: datetime
    content_hash: str
    source: str
    as_of_date: date
    rows: dict[str, KindCounts]
    quarantine_reasons: dict[str, int]
    years: dict[str, list[int]]
    episodes_by_year_sector: list[tuple[int, str, int]]
    rules: dict[str, str]
    supersedes: str | None = None
    superseded_by: str | None = None
    changes: dict[str, ChangeCounts] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        """The delivery key (sender, period): a later delivery with the same key replaces this."""
        return (self.sender, self.period)

    @property
    def quarantined(self) -> int:
        """Rows of all kinds rejected by this delivery."""
        return sum(c.quarantined for c in self.rows.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "delivery_id": self.delivery_id,
            "sender": self.sender,
            "period": self.period,
            "loaded_at": self.loaded_at.isoformat(),
            "content_hash": self.content_hash,
            "source": self.source,
            "as_of_date": self.as_of_date.isoformat(),
            "contract_version": CONTRACT_VERSION,
            "rows": {
                k: {"in": c.rows_in, "landed": c.landed, "quarantined": c.quarantined}
                for k, c in self.rows.items()
            },
            "quarantine_reasons": self.quarantine_reasons,
            "years": self.years,
            "episodes_by_year_sector": [list(r) for r in self.episodes_by_year_sector],
            "rules": self.rules,
            "supersedes": self.supersedes,
            "superseded_by": self.superseded_by,
            "changes": {
                k: {"added": c.added, "removed": c.removed, "changed": c.changed}
                for k, c in self.changes.items()
            },
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Delivery:
        return cls(
            seq=int(raw["seq"]),
            delivery_id=str(raw["delivery_id"]),
            sender=str(raw["sender"]),
            period=str(raw["period"]),
            loaded_at=datetime.fromisoformat(raw["loaded_at"]),
            content_hash=str(raw["content_hash"]),
            source=str(raw["source"]),
            as_of_date=date.fromisoformat(raw["as_of_date"]),
            rows={
                k: KindCounts(int(c["in"]), int(c["landed"]), int(c["quarantined"]))
                for k, c in raw["rows"].items()
            },
            quarantine_reasons={str(k): int(v) for k, v in raw["quarantine_reasons"].items()},
            years={str(k): [int(y) for y in v] for k, v in raw["years"].items()},
            episodes_by_year_sector=[
                (int(y), str(s), int(n)) for y, s, n in raw["episodes_by_year_sector"]
            ],
            rules={str(k): str(v) for k, v in raw["rules"].items()},
            supersedes=raw.get("supersedes"),
            superseded_by=raw.get("superseded_by"),
            changes={
                k: ChangeCounts(int(c["added"]), int(c["removed"]), int(c["changed"]))
                for k, c in raw.get("changes", {}).items()
            },
        )


@dataclass(frozen=True)
class IngestReport:
    """What one ingest did (or that the delivery was already loaded and nothing changed)."""

    delivery_id: str
    seq: int
    sender: str
    period: str
    already_loaded: bool
    rows: dict[str, KindCounts]
    reasons: dict[str, int]
    supersedes: str | None
    changes: dict[str, ChangeCounts]
    quarantine_dir: Path | None

    @property
    def rejected(self) -> int:
        """Rows quarantined by this ingest (0 when it was already loaded)."""
        return 0 if self.already_loaded else sum(c.quarantined for c in self.rows.values())


@dataclass(frozen=True)
class WarehouseStatus:
    """What the warehouse holds now (from the ledger; no data is scanned)."""

    path: Path
    deliveries: list[Delivery]
    years: list[int]
    rows_by_year_sector: list[tuple[int, str, int]]
    quarantine_by_reason: dict[str, int]


ProgressHook = Callable[[str], None]


def ingest_memory_limit() -> str:
    """DuckDB's memory limit while validating a delivery: ``$SAMHANDLING_INGEST_MEMORY`` or 2GB."""
    return os.environ.get("SAMHANDLING_INGEST_MEMORY", "2GB")


class Warehouse:
    """A warehouse folder: ingest deliveries into it, register its live data on an engine."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def open(cls, path: str | Path | None = None) -> Warehouse:
        """The warehouse at ``path``, else ``$SAMHANDLING_HOME``, else ``./samhandling-data``."""
        return cls(warehouse_dir(path))

    # ----------------------------------------------------------------------------- reading

    def deliveries(self) -> list[Delivery]:
        """Ledger entries, oldest first."""
        ledger = self.path / LEDGER
        if not ledger.is_file():
            return []
        try:
            doc = json.loads(ledger.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise LedgerError(f"kan ikke lese {ledger}: {exc}") from exc
        if int(doc.get("format", 0)) > LEDGER_FORMAT:
            raise LedgerError(f"{ledger} er skrevet av en nyere versjon av samhandling")
        return [Delivery.from_json(e) for e in doc["entries"]]

    def delivery_path(self, delivery_id: str) -> Path:
        """The folder holding a delivery's landed, quarantined and change files."""
        return self.path / DELIVERIES / delivery_id

    def _file(self, delivery: Delivery, kind: str) -> Path:
        return self.delivery_path(delivery.delivery_id) / f"{kind}.parquet"

    def live(self, as_of: int | None = None) -> list[Delivery]:
        """Deliveries in force after ledger entry ``as_of`` (default: the latest), oldest first."""
        entries = self.deliveries()
        return _live(entries, _check_as_of(as_of, len(entries)))

    def register(self, engine: Engine, *, as_of: int | None = None) -> None:
        """Register ``episodes``, ``events``, ``municipal_care`` and ``population`` on ``engine``.

        Only deliveries in force after ledger entry ``as_of`` count (default: the latest), so a
        figure computed earlier can be reproduced after corrections. ``population`` is the
        delivered population where a year has one, else, for each year of admitted_at in live
        episodes, refdata population of that year in that year's borders (``delivery_id`` =
        ``refdata``).
        """
        live = self.live(as_of)
        for kind in ("episodes", "events", "municipal_care"):
            files = [
                self.delivery_path(d.delivery_id) / f"{kind}.parquet"
                for d in live
                if kind in d.rows
            ]
            _register_files(engine, kind, files, arrow_schema(kind, with_delivery=True))
        engine.register_arrow("population", self._population(live))

    def _population(self, live: list[Delivery]) -> pa.Table:
        schema = arrow_schema("population", with_delivery=True)
        tables = [
            pq.read_table(self.delivery_path(d.delivery_id) / "population.parquet").cast(schema)
            for d in live
            if "population" in d.rows
        ]
        delivered = {y for d in live for y in d.years.get("population", [])}
        # Denominators are needed for the activity years: those of admitted_at. Events and care
        # that spill into the next year do not make that year an activity year.
        needed = {y for d in live for y in d.years.get("episodes", [])}
        if needed - delivered:
            from samhandling.refdata.population import population

            for year in sorted(needed - delivered):
                try:
                    ref = population([year], borders=year)
                except SamhandlingError:
                    # Years refdata does not cover stay without a denominator; status shows them.
                    continue
                ref = ref.select(["year", "municipality", "sex", "age", "count"])
                ref = ref.append_column(
                    "delivery_id", pa.array([REFDATA_DELIVERY] * ref.num_rows, pa.string())
                )
                tables.append(ref.cast(schema))
        if not tables:
            return schema.empty_table()
        return pa.concat_tables(tables)

    def status(self) -> WarehouseStatus:
        """Deliveries, years, episode rows per year × sector and quarantine counts (live data)."""
        entries = self.deliveries()
        live = _live(entries, len(entries))
        years = sorted(
            {y for d in live for kind in ("episodes", "population") for y in d.years.get(kind, [])}
        )
        by_cell: dict[tuple[int, str], int] = {}
        for d in live:
            for year, sector, n in d.episodes_by_year_sector:
                by_cell[(year, sector)] = by_cell.get((year, sector), 0) + n
        reasons: dict[str, int] = {}
        for d in live:
            for code, n in d.quarantine_reasons.items():
                reasons[code] = reasons.get(code, 0) + n
        return WarehouseStatus(
            path=self.path,
            deliveries=entries,
            years=years,
            rows_by_year_sector=[(y, s, n) for (y, s), n in sorted(by_cell.items())],
            quarantine_by_reason=dict(sorted(reasons.items())),
        )

    def quarantine(self, delivery_id: str | None = None) -> pa.Table:
        """Rejected rows: delivery_id, kind, row_number, reasons, values (original row as JSON)."""
        entries = self.deliveries()
        if delivery_id is not None:
            entries = [e for e in entries if e.delivery_id == delivery_id]
            if not entries:
                raise SamhandlingError(f"ukjent leveranse {delivery_id!r}")
        parts: list[str] = []
        for entry in entries:
            for kind in KINDS:
                counts = entry.rows.get(kind)
                if counts is None or counts.quarantined == 0:
                    continue
                path = self.delivery_path(entry.delivery_id) / QUARANTINE / f"{kind}.parquet"
                names = [
                    n
                    for n in pq.read_schema(path).names
                    if n not in ("row_number", "delivery_id", "reasons")
                ]
                values = ", ".join(f"{ident(n)} := {ident(n)}" for n in names)
                parts.append(
                    f"SELECT delivery_id, {sql_string(kind)} AS kind, "
                    f"CAST(row_number AS BIGINT) AS row_number, reasons, "
                    f'CAST(to_json(struct_pack({values})) AS VARCHAR) AS "values" '
                    f"FROM read_parquet({sql_string(str(path))})"
                )
        if not parts:
            return _QUARANTINE_SCHEMA.empty_table()
        # A few rejected rows for a person to read: DuckDB in process, whatever engine ingests.
        with make_engine("duckdb") as engine:
            table = engine.query(" UNION ALL ".join(parts) + " ORDER BY 1, 2, 3")
        return table.cast(_QUARANTINE_SCHEMA)

    # ----------------------------------------------------------------------------- ingest

    def ingest_all(
        self,
        folder: Path,
        *,
        as_of: date | None = None,
        progress: bool = False,
        engine_name: str | None = None,
    ) -> list[IngestReport]:
        """Ingest ``folder``, or each subfolder holding delivery files, in sorted order."""
        return [
            self.ingest(sub, as_of=as_of, progress=progress, engine_name=engine_name)
            for sub in delivery_folders(folder)
        ]

    def ingest(
        self,
        folder: Path,
        *,
        as_of: date | None = None,
        progress: bool = False,
        engine_name: str | None = None,
    ) -> IngestReport:
        """Validate and load one delivery folder, all-or-nothing.

        ``as_of`` is the extract date: dates after it are rejected (default: today). Loading the
        same files again changes nothing (``already_loaded``); a delivery with the key (sender,
        period) of a live one replaces it and records what changed. ``engine_name``: the engine
        that validates (default: the process's choice, :func:`samhandling.engine.make_engine`).
        """
        delivery = read_delivery(Path(folder))
        as_of_date = as_of if as_of is not None else date.today()
        content_hash = delivery.content_hash()
        with self._lock():
            entries = self.deliveries()
            self._clear_leftovers(entries)
            live = _live(entries, len(entries))
            for d in live:
                if d.content_hash == content_hash:
                    return _already_loaded(d)
            seq = len(entries) + 1
            delivery_id = f"D{seq:04d}"
            staging = self.path / STAGING / f"{delivery_id}-{uuid.uuid4().hex[:8]}"
            target = staging / delivery_id
            target.mkdir(parents=True)
            try:
                with _progress_hook(progress, len(delivery.files) + 1) as hook:
                    entry = self._stage(
                        delivery=delivery,
                        target=target,
                        seq=seq,
                        delivery_id=delivery_id,
                        as_of_date=as_of_date,
                        content_hash=content_hash,
                        live=live,
                        hook=hook,
                        engine_name=engine_name,
                    )
                    self._publish(entries, entry, target)
                    hook("publisert")
            finally:
                shutil.rmtree(staging, ignore_errors=True)
                with contextlib.suppress(OSError):
                    staging.parent.rmdir()
        return IngestReport(
            delivery_id=entry.delivery_id,
            seq=entry.seq,
            sender=entry.sender,
            period=entry.period,
            already_loaded=False,
            rows=entry.rows,
            reasons=entry.quarantine_reasons,
            supersedes=entry.supersedes,
            changes=entry.changes,
            quarantine_dir=(
                self.delivery_path(delivery_id) / QUARANTINE if entry.quarantined else None
            ),
        )

    def _stage(
        self,
        *,
        delivery: DeliveryFolder,
        target: Path,
        seq: int,
        delivery_id: str,
        as_of_date: date,
        content_hash: str,
        live: list[Delivery],
        hook: ProgressHook,
        engine_name: str | None,
    ) -> Delivery:
        from samhandling.rules import load_rules

        rules = load_rules()
        drg_max = rules[RULE_DRG_POINTS_MAX]
        exempt = rules[RULE_DRG_EXEMPT]
        checks = Checks(
            delivery_id=delivery_id,
            as_of=as_of_date,
            drg_points_max=drg_max.value_on(as_of_date).decimal,
            drg_exempt_provider_types=tuple(sorted(exempt.keys_on(as_of_date))),
        )
        # A bounded DuckDB memory limit makes validation of a national year spill to disk
        # instead of growing past the machine (operational setting, not a domain rule).
        engine = make_engine(
            engine_name, memory_limit=ingest_memory_limit(), temp_directory=target.parent / "spill"
        )
        sources: dict[Kind, Source] = {}
        try:
            for kind in KINDS:
                if kind in delivery.files:
                    sources[kind] = open_source(engine, kind, delivery.files[kind])
            sender = delivery.sender or DEFAULT_SENDER
            period = delivery.period
            if period is None:
                period = default_period(_covered_years(engine, sources))
            replaced = next((d for d in live if d.key == (sender, period)), None)
            self._register_references(engine, [d for d in live if d is not replaced])
            results: dict[Kind, KindResult] = {}
            for kind, source in sources.items():
                if kind == "events":
                    self._register_known_episodes(engine, target / "episodes.parquet")
                results[kind] = validate_file(
                    engine,
                    kind,
                    source,
                    landed_path=target / f"{kind}.parquet",
                    quarantine_path=target / QUARANTINE / f"{kind}.parquet",
                    checks=checks,
                )
                engine.drop(source.relation)
                hook(kind)
            changes = {} if replaced is None else self._record_changes(engine, replaced, target)
        finally:
            engine.close()  # drops every relation it registered (and Spark's cached data)
        reasons: dict[str, int] = {}
        for result in results.values():
            for code, n in result.reasons.items():
                reasons[code] = reasons.get(code, 0) + n
        return Delivery(
            seq=seq,
            delivery_id=delivery_id,
            sender=sender,
            period=period,
            loaded_at=datetime.now(UTC),
            content_hash=content_hash,
            source=str(delivery.path),
            as_of_date=as_of_date,
            rows={k: KindCounts(r.rows_in, r.landed, r.quarantined) for k, r in results.items()},
            quarantine_reasons=dict(sorted(reasons.items())),
            years={k: r.years for k, r in results.items()},
            episodes_by_year_sector=(
                results["episodes"].by_year_sector if "episodes" in results else []
            ),
            rules={r: rules[r].version for r in (RULE_DRG_POINTS_MAX, RULE_DRG_EXEMPT)},
            supersedes=None if replaced is None else replaced.delivery_id,
            changes=changes,
        )

    def _register_references(self, engine: Engine, others: list[Delivery]) -> None:
        """Refdata relations and the primary keys held by live deliveries of other keys."""
        from samhandling.refdata import health_trusts, municipality_years
        from samhandling.refdata.icd10 import codes

        engine.register_arrow(
            REF_MUNICIPALITY, municipality_years().select(["year", "municipality"])
        )
        engine.register_arrow(REF_ICD10, codes().select(["category3"]))
        trusts = health_trusts().select(["orgnr"])
        # The contract asks for 9-digit organisation numbers; the register's grouping rows
        # (national level, "Private") carry placeholder numbers that are not organisations.
        trusts = trusts.filter(pc.equal(pc.utf8_length(trusts["orgnr"]), pa.scalar(9, pa.int32())))
        engine.register_arrow(REF_HEALTH_TRUST, trusts)
        for kind in KINDS:
            files = [
                self.delivery_path(d.delivery_id) / f"{kind}.parquet"
                for d in others
                if kind in d.rows
            ]
            _register_files(engine, warehouse_keys_relation(kind), files, arrow_schema(kind))

    def _register_known_episodes(self, engine: Engine, landed: Path) -> None:
        """The episodes an event may point to: live ones of other keys and this delivery's."""
        own = ""
        if landed.is_file():
            engine.register_parquet("_landed_episodes", [landed])
            own = " UNION ALL SELECT episode_id FROM _landed_episodes"
        engine.create_view(
            KNOWN_EPISODES,
            f"SELECT episode_id FROM {warehouse_keys_relation('episodes')}{own}",
        )

    def _record_changes(
        self, engine: Engine, replaced: Delivery, target: Path
    ) -> dict[str, ChangeCounts]:
        """Ids added, removed and changed per kind against the replaced delivery: rows of the
        same key compared column by column (exact; no hash that could collide)."""
        old_dir = self.delivery_path(replaced.delivery_id)
        counts: dict[str, ChangeCounts] = {}
        for kind in KINDS:
            old, new = old_dir / f"{kind}.parquet", target / f"{kind}.parquet"
            if kind not in replaced.rows and not new.is_file():
                continue
            pk = PRIMARY_KEY[kind]
            schema = arrow_schema(kind)
            _register_files(engine, "_new", [new] if new.is_file() else [], schema)
            _register_files(engine, "_old", [old] if kind in replaced.rows else [], schema)
            key = (
                f"CAST({{side}}.{ident(pk[0])} AS VARCHAR)"
                if len(pk) == 1
                else "concat_ws('|', "
                + ", ".join(f"CAST({{side}}.{ident(c)} AS VARCHAR)" for c in pk)
                + ")"
            )
            same = " AND ".join(f"n.{ident(c)} = o.{ident(c)}" for c in pk)
            differs = " OR ".join(
                f"n.{ident(c.name)} IS DISTINCT FROM o.{ident(c.name)}" for c in COLUMNS[kind]
            )
            first = ident(pk[0])
            engine.create_table(
                "_changes",
                f"SELECT COALESCE({key.format(side='n')}, {key.format(side='o')}) AS id, "
                f"CASE WHEN o.{first} IS NULL THEN 'added' WHEN n.{first} IS NULL THEN 'removed' "
                f"ELSE 'changed' END AS change FROM _new n FULL OUTER JOIN _old o ON {same} "
                f"WHERE o.{first} IS NULL OR n.{first} IS NULL OR {differs}",
            )
            tally = {
                str(r["change"]): int(r["n"])
                for r in engine.query(
                    "SELECT change, COUNT(*) AS n FROM _changes GROUP BY change"
                ).to_pylist()
            }
            counts[kind] = ChangeCounts(
                tally.get("added", 0), tally.get("removed", 0), tally.get("changed", 0)
            )
            if sum(tally.values()):
                engine.write_parquet(
                    "SELECT id, change FROM _changes ORDER BY change, id",
                    target / CHANGES / f"{kind}.parquet",
                    schema=_CHANGES_SCHEMA,
                )
            for name in ("_changes", "_new", "_old"):
                engine.drop(name)
        return counts

    def _publish(self, entries: list[Delivery], entry: Delivery, staged: Path) -> None:
        """Move the staged delivery in (one rename), then make it visible (one ledger replace)."""
        final = self.delivery_path(entry.delivery_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        staged.rename(final)
        try:
            updated = [
                replace(e, superseded_by=entry.delivery_id)
                if e.delivery_id == entry.supersedes
                else e
                for e in entries
            ]
            self._write_ledger([*updated, entry])
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            raise

    def _write_ledger(self, entries: list[Delivery]) -> None:
        doc = {"format": LEDGER_FORMAT, "entries": [e.to_json() for e in entries]}
        ledger = self.path / LEDGER
        tmp = self.path / f".{LEDGER}.{uuid.uuid4().hex[:8]}.tmp"
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(doc, handle, ensure_ascii=False, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(ledger)

    def _clear_leftovers(self, entries: list[Delivery]) -> None:
        """Remove what a crashed ingest left: staging folders and deliveries the ledger lacks."""
        shutil.rmtree(self.path / STAGING, ignore_errors=True)
        known = {e.delivery_id for e in entries}
        folder = self.path / DELIVERIES
        if folder.is_dir():
            for child in folder.iterdir():
                if child.name not in known:
                    shutil.rmtree(child, ignore_errors=True)
        for tmp in self.path.glob(f".{LEDGER}.*.tmp"):
            tmp.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        lock = self.path / LOCK
        for _attempt in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                break
            except FileExistsError:
                if lock_holder_alive(lock):
                    raise WarehouseBusyError(
                        f"{self.path} er i bruk av en annen innlesing (låsfil {lock})"
                    ) from None
                lock.unlink(missing_ok=True)
        else:
            raise WarehouseBusyError(f"fikk ikke låst {self.path} (låsfil {lock})")
        try:
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            yield
        finally:
            lock.unlink(missing_ok=True)


_REASON_TYPE = pa.struct(
    [
        pa.field("code", pa.string()),
        pa.field("column", pa.string()),
        pa.field("message", pa.string()),
    ]
)
_QUARANTINE_FIELDS: list[pa.Field[Any]] = [
    pa.field("delivery_id", pa.string()),
    pa.field("kind", pa.string()),
    pa.field("row_number", pa.int64()),
    pa.field("reasons", pa.list_(_REASON_TYPE)),
    pa.field("values", pa.string()),
]
_QUARANTINE_SCHEMA = pa.schema(_QUARANTINE_FIELDS)
_CHANGES_SCHEMA = pa.schema([pa.field("id", pa.string()), pa.field("change", pa.string())])


def _register_files(engine: Engine, name: str, files: list[Path], schema: pa.Schema) -> None:
    """Parquet ``files`` as relation ``name``, or an empty relation of ``schema`` if none."""
    if files:
        engine.register_parquet(name, files)
    else:
        engine.register_empty(name, schema)


def _check_as_of(as_of: int | None, count: int) -> int:
    if as_of is None:
        return count
    if not 0 <= as_of <= count:
        raise SamhandlingError(
            f"as_of må være mellom 0 og {count} (antall leveranser), ikke {as_of}"
        )
    return as_of


def _live(entries: list[Delivery], as_of: int) -> list[Delivery]:
    seq_of = {e.delivery_id: e.seq for e in entries}
    return [
        e
        for e in entries
        if e.seq <= as_of and (e.superseded_by is None or seq_of[e.superseded_by] > as_of)
    ]


def _covered_years(engine: Engine, sources: dict[Kind, Source]) -> list[int]:
    # The default period is the years of admitted_at; without episodes, whatever the files cover.
    if "episodes" in sources:
        return delivery_years(engine, "episodes", sources["episodes"])
    years: list[int] = []
    for kind, source in sources.items():
        years += delivery_years(engine, kind, source)
    return years


def _already_loaded(d: Delivery) -> IngestReport:
    return IngestReport(
        delivery_id=d.delivery_id,
        seq=d.seq,
        sender=d.sender,
        period=d.period,
        already_loaded=True,
        rows=d.rows,
        reasons=d.quarantine_reasons,
        supersedes=d.supersedes,
        changes=d.changes,
        quarantine_dir=None,
    )


def lock_holder_alive(lock: Path) -> bool:
    """Whether the process whose id ``lock`` holds may still be running.

    Only a lock file naming a process that is certainly gone counts as stale (False); an
    unreadable or empty file, or a process of another user, counts as alive.
    """
    try:
        pid = int(lock.read_text().strip() or "0")
    except (OSError, ValueError):
        return True
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _progress_hook(enabled: bool, steps: int) -> Iterator[ProgressHook]:
    if not enabled:
        yield lambda _step: None
        return
    from samhandling.console import progress

    with progress() as bar:
        task = bar.add_task("Leser inn leveransen", total=steps)

        def advance(step: str) -> None:
            bar.update(task, advance=1, description=f"Leser inn leveransen ({step})")

        yield advance
