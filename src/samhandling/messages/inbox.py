"""The message inbox (meldingsmottak): receive messages, answer with AppRec, load time points.

Folder, next to the warehouse's deliveries (``<warehouse>/meldinger/``)::

    ledger.jsonl                every message received, in order (the id ledger), with its verdict
    raw/<sha256>.xml            every message exactly as received (kept also when rejected)
    receipts/<Mnnnnnn>.xml      the AppRec sent back for received message Mnnnnnn
    batches/<batch>/events.csv  the time points of one batch, a normal interchange delivery
    batches/<batch>/delivery.toml   (sender ``plo-meldinger``, period = the batch id)

One call of :func:`receive` is one batch (a folder read from the CLI, or one HTTP request). Each
message is read (:func:`~samhandling.messages.plo.inspect_message`), checked against the ledger
(an accepted message id is never applied twice) and the warehouse (the patient and the stay must
be known), and turned into ``events`` rows through the rule tables ``messages.event_mapping`` and
``messages.time_points``. The rows are loaded with the ordinary ingest
(:meth:`~samhandling.warehouse.Warehouse.ingest`, all-or-nothing, idempotent by content hash) and
only then is the ledger written. If the process stops between the two, reading the same messages
again gives the same batch, which the warehouse reports as already loaded, and the ledger is
completed: nothing is lost and nothing is applied twice.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from samhandling.engine import make_engine
from samhandling.errors import SamhandlingError
from samhandling.messages.apprec import ReceiptError, apprec_version_for, write_apprec
from samhandling.messages.plo import Inspection, Party, inspect_message
from samhandling.rules import RuleSet, load_rules
from samhandling.warehouse import IngestReport, Warehouse, lock_holder_alive

__all__ = [
    "BATCH_SENDER",
    "BatchResult",
    "Inbox",
    "InboxBusyError",
    "Received",
    "receive",
]

FOLDER = "meldinger"
LEDGER = "ledger.jsonl"
BATCH_SENDER = "plo-meldinger"
# How long a second receiver waits for the inbox lock (operational, not a domain rule).
LOCK_WAIT_S = 60.0
# Who we are in receipts: the platform's inbox (no HER-id: a synthetic receiver).
PLATFORM = Party(name="Samhandlingsplattformen", ident="samhandling", id_type="LOK")


class InboxBusyError(SamhandlingError):
    """Another process is receiving messages into the same inbox."""


@dataclass(frozen=True)
class Received:
    """One ledger row: a message (or receipt) received, and what the platform did with it."""

    received_id: str
    received_at: str
    source: str
    sha256: str
    kind: str
    msg_type: str
    msg_type_name: str
    msg_id: str
    gen_date: str | None
    standard: str
    version: str
    status: str
    sender: str
    receiver: str
    patient_id: str
    episode_id: str | None
    health_trust: str | None
    municipality: str | None
    accepted: bool
    error_code: str | None
    reason: str
    details: list[str]
    apprec_version: str | None
    apprec_id: str | None
    event_ids: list[str]
    event_types: list[str]
    delivery_id: str | None
    batch: str | None
    submitted_by: str | None = None
    submitted_org: str | None = None

    @property
    def answered(self) -> bool:
        """Whether an AppRec was written (never for a received AppRec)."""
        return self.apprec_id is not None


@dataclass
class BatchResult:
    """What one batch did."""

    received: list[Received] = field(default_factory=list)
    receipts: dict[str, bytes] = field(default_factory=dict)
    ingest: IngestReport | None = None
    events: int = 0

    @property
    def accepted(self) -> int:
        return sum(1 for r in self.received if r.accepted)

    @property
    def rejected(self) -> int:
        return sum(1 for r in self.received if not r.accepted)


class Inbox:
    """The inbox folder of a warehouse."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self.path = warehouse.path / FOLDER

    def entries(self) -> list[Received]:
        """Ledger rows, oldest first (a torn last line from a crash is not a row)."""
        ledger = self.path / LEDGER
        if not ledger.is_file():
            return []
        try:
            data = ledger.read_bytes()
        except OSError as exc:
            raise SamhandlingError(f"kan ikke lese meldingsloggen {ledger}: {exc}") from exc
        complete = data[: data.rfind(b"\n") + 1]
        rows: list[Received] = []
        for number, line in enumerate(complete.splitlines(), start=1):
            try:
                rows.append(Received(**json.loads(line)))
            except (json.JSONDecodeError, TypeError) as exc:
                raise SamhandlingError(f"{ledger} linje {number} kan ikke leses: {exc}") from exc
        return rows

    def entry(self, received_id: str) -> Received | None:
        return next((e for e in self.entries() if e.received_id == received_id), None)

    def raw_path(self, entry: Received) -> Path:
        return self.path / "raw" / f"{entry.sha256}.xml"

    def receipt_path(self, entry: Received) -> Path:
        return self.path / "receipts" / f"{entry.received_id}.xml"

    def _append_ledger(self, entries: list[Received]) -> None:
        """Append rows (one JSON object per line) and fsync; a torn tail is cut off first."""
        ledger = self.path / LEDGER
        lines = b"".join(
            json.dumps(
                {f.name: getattr(e, f.name) for f in fields(Received)}, ensure_ascii=False
            ).encode("utf-8")
            + b"\n"
            for e in entries
        )
        with ledger.open("a+b") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            if size:
                handle.seek(max(0, size - 1))
                if handle.read(1) != b"\n":
                    handle.seek(0)
                    data = handle.read()
                    handle.truncate(data.rfind(b"\n") + 1)
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        lock = self.path / ".lock"
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                break
            except FileExistsError:
                if not lock_holder_alive(lock):
                    lock.unlink(missing_ok=True)
                elif time.monotonic() > deadline:
                    raise InboxBusyError(
                        f"meldingsmottaket {self.path} er i bruk (låsfil {lock})"
                    ) from None
                else:
                    time.sleep(0.05)
        try:
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            yield
        finally:
            lock.unlink(missing_ok=True)


@dataclass(frozen=True)
class _Stay:
    episode_id: str
    patient_id: str
    admitted: date
    discharged: date | None
    health_trust: str
    municipality: str


def _stays(warehouse: Warehouse, patients: set[str]) -> dict[str, list[_Stay]]:
    """Inpatient stays of the given patients in the live warehouse, by patient."""
    found: dict[str, list[_Stay]] = {p: [] for p in patients}
    if not patients:
        return found
    with make_engine("duckdb") as engine:
        warehouse.register(engine)
        values = ", ".join("('" + p.replace("'", "''") + "')" for p in sorted(patients))
        table = engine.query(
            f"""
SELECT e.episode_id, e.patient_id, CAST(e.admitted_at AS DATE) AS admitted,
    CAST(e.discharged_at AS DATE) AS discharged, e.health_trust, e.municipality
FROM episodes AS e JOIN (VALUES {values}) AS p(pid) ON p.pid = e.patient_id
WHERE e.care_level = 'inpatient'
ORDER BY e.patient_id, e.admitted_at DESC, e.episode_id
"""
        )
    for row in table.to_pylist():
        found[row["patient_id"]].append(
            _Stay(
                row["episode_id"],
                row["patient_id"],
                row["admitted"],
                row["discharged"],
                row["health_trust"],
                row["municipality"],
            )
        )
    return found


def _known_patients(warehouse: Warehouse, patients: set[str]) -> set[str]:
    if not patients:
        return set()
    with make_engine("duckdb") as engine:
        warehouse.register(engine)
        values = ", ".join("('" + p.replace("'", "''") + "')" for p in sorted(patients))
        table = engine.query(
            f"SELECT DISTINCT e.patient_id FROM episodes AS e "
            f"JOIN (VALUES {values}) AS p(pid) ON p.pid = e.patient_id"
        )
    return {str(v) for v in table.column("patient_id").to_pylist()}


def _reference_day(info: Inspection) -> date:
    """The day a message is about: its 'Pasient innlagt' time point, else when it was made."""
    admitted = [e.at for e in info.events if e.code_list == "9121" and e.code == "1"]
    if admitted:
        return admitted[0].date()
    assert info.gen_date is not None
    return info.gen_date.date()


def _match_stay(stays: list[_Stay], day: date) -> _Stay | None:
    for stay in stays:  # latest admission first
        if stay.admitted <= day and (stay.discharged is None or day <= stay.discharged):
            return stay
    return None


@dataclass
class _Verdict:
    info: Inspection
    source: str
    error: str | None = None
    reason: str = ""
    details: list[str] = field(default_factory=list)
    stay: _Stay | None = None
    events: list[dict[str, str]] = field(default_factory=list)


def _events_for(info: Inspection, rules: RuleSet) -> list[tuple[str, datetime]]:
    """(event type, at) rows the message gives, through the rule tables."""
    assert info.gen_date is not None
    day = info.gen_date.date()
    if info.status not in rules["messages.applied_statuses"].keys_on(day):
        return []
    mapping = rules["messages.event_mapping"].keys_on(day)
    points = rules["messages.time_points"].keys_on(day)
    out: list[tuple[str, datetime]] = []
    row = mapping.get(info.msg_type)
    if row is not None and row.value in points:
        out.append((points[row.value].value, info.gen_date))
    for event in info.events:
        row = mapping.get(f"{info.msg_type}|{event.code_list}:{event.code}")
        if row is not None and row.value in points:
            out.append((points[row.value].value, event.at))
    return out


def receive(
    warehouse: Warehouse,
    items: list[tuple[str, bytes]],
    *,
    rules: RuleSet | None = None,
    as_of: date | None = None,
    now: datetime | None = None,
    submitted_by: str | None = None,
    submitted_org: str | None = None,
) -> BatchResult:
    """Receive a batch of messages ``(source name, raw bytes)``; see the module docstring."""
    rules = rules or load_rules()
    as_of = as_of or date.today()
    inbox = Inbox(warehouse)
    with inbox._lock():
        (inbox.path / "raw").mkdir(parents=True, exist_ok=True)
        (inbox.path / "receipts").mkdir(parents=True, exist_ok=True)
        entries = inbox.entries()
        accepted_ids = {e.msg_id: e.received_id for e in entries if e.accepted and e.msg_id}
        verdicts: list[_Verdict] = []
        for source, raw in items:
            sha = hashlib.sha256(raw).hexdigest()
            raw_file = inbox.path / "raw" / f"{sha}.xml"
            if not raw_file.is_file():
                _write_bytes(raw_file, raw)
            verdicts.append(_Verdict(inspect_message(raw, rules, sha256=sha), source))
        _judge(verdicts, warehouse, rules, accepted_ids, as_of)
        result = BatchResult()
        rows = [ev for v in verdicts if v.error is None for ev in v.events]
        batch: str | None = None
        if rows:
            batch, folder = _write_batch(inbox.path, rows)
            result.ingest = warehouse.ingest(folder, as_of=as_of)
            result.events = len(rows)
            if result.ingest.rejected:
                raise SamhandlingError(
                    f"{result.ingest.rejected} tidspunkt ble satt i karantene ved innlesing av "
                    f"{folder} (leveranse {result.ingest.delivery_id}); se "
                    "`samhandling quarantine`"
                )
        stamp = now or datetime.now(UTC).replace(tzinfo=None)
        seq = len(entries)
        for verdict in verdicts:
            seq += 1
            entry, receipt = _record(
                verdict,
                rules,
                seq=seq,
                now=stamp,
                batch=batch if verdict.events and verdict.error is None else None,
                delivery_id=(
                    result.ingest.delivery_id
                    if result.ingest is not None and verdict.events and verdict.error is None
                    else None
                ),
                submitted_by=submitted_by,
                submitted_org=submitted_org,
            )
            if receipt is not None:
                _write_bytes(inbox.path / "receipts" / f"{entry.received_id}.xml", receipt)
                result.receipts[entry.received_id] = receipt
            result.received.append(entry)
        # Raw messages and receipts reach the disk before the ledger names them.
        os.sync()
        inbox._append_ledger(result.received)
    return result


def _judge(
    verdicts: list[_Verdict],
    warehouse: Warehouse,
    rules: RuleSet,
    accepted_ids: dict[str, str],
    as_of: date,
) -> None:
    messages = [v for v in verdicts if v.info.error is None and v.info.kind == "message"]
    for v in verdicts:
        if v.info.error is not None:
            v.error, v.reason, v.details = v.info.error, v.info.reason, v.info.details
    seen: dict[str, str] = dict(accepted_ids)
    for v in messages:
        prior = seen.get(v.info.msg_id)
        if prior is not None:
            v.error = "E10"
            v.reason = f"Meldingen med MsgId {v.info.msg_id} er allerede mottatt og behandlet" + (
                f" (mottak {prior})" if prior.startswith("M") else " (i samme forsendelse)"
            )
        else:
            seen[v.info.msg_id] = "batch"
    pending = [v for v in messages if v.error is None]
    patients = {v.info.patient_id for v in pending if v.info.patient_id}
    known = _known_patients(warehouse, patients)
    stays = _stays(warehouse, known)
    for v in pending:
        info = v.info
        if not info.patient_id:
            v.error, v.reason = "E35", "Meldingen mangler pasientens identifikator"
            continue
        if info.patient_id not in known:
            v.error = "E35"
            v.reason = f"Pasienten {info.patient_id} finnes ikke i datavarehuset"
            continue
        day = _reference_day(info)
        v.stay = _match_stay(stays.get(info.patient_id, []), day)
        points = _events_for(info, rules)
        if not points:
            continue
        if v.stay is None:
            v.error = "E35"
            v.reason = (
                f"Fant ikke noe sykehusopphold (døgn) for pasienten {info.patient_id} "
                f"som omfatter {day.isoformat()}"
            )
            continue
        late = [at for _t, at in points if at.date() > as_of]
        if late:
            v.error = "X99"
            v.reason = f"Tidspunktet {late[0].isoformat()} ligger etter {as_of.isoformat()}"
            continue
        v.events = [
            {
                "event_id": f"plo-{info.msg_id}-{n}",
                "episode_id": v.stay.episode_id,
                "type": kind,
                "at": at.isoformat(),
                "source": "plo",
            }
            for n, (kind, at) in enumerate(points, start=1)
        ]
    # AppRecs received (answers to messages we sent): recorded, never answered, no time points.


def _write_batch(root: Path, rows: list[dict[str, str]]) -> tuple[str, Path]:
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=["event_id", "episode_id", "type", "at", "source"], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda r: r["event_id"]))
    content = buffer.getvalue().encode("utf-8")
    batch = "B" + hashlib.sha256(content).hexdigest()[:16]
    folder = root / "batches" / batch
    folder.mkdir(parents=True, exist_ok=True)
    _write_bytes(folder / "events.csv", content)
    _write_bytes(
        folder / "delivery.toml",
        f'sender = "{BATCH_SENDER}"\nperiod = "{batch}"\n'.encode(),
    )
    return batch, folder


def _write_bytes(path: Path, data: bytes) -> None:
    # Written whole under a temporary name, then renamed; made durable by one os.sync() per
    # batch before the ledger is appended (one fsync per file made large batches slow).
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _party_text(party: Party) -> str:
    text = party.name
    if party.unit:
        text += f" / {party.unit}"
    return text


def _record(
    verdict: _Verdict,
    rules: RuleSet,
    *,
    seq: int,
    now: datetime,
    batch: str | None,
    delivery_id: str | None,
    submitted_by: str | None,
    submitted_org: str | None,
) -> tuple[Received, bytes | None]:
    info = verdict.info
    received_id = f"M{seq:06d}"
    accepted = verdict.error is None
    receipt: bytes | None = None
    apprec_version: str | None = None
    apprec_id: str | None = None
    if info.kind != "apprec":
        apprec_version = apprec_version_for(rules, info.version or "ukjent", now)
        apprec_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"samhandling-apprec:{received_id}"))
        errors = (
            []
            if accepted
            else [ReceiptError(verdict.error or "X99", verdict.reason)]
            + [ReceiptError("T02", d) for d in verdict.details if verdict.error == "T02"]
        )
        receipt = write_apprec(
            rules,
            version=apprec_version,
            apprec_id=apprec_id,
            gen_date=now,
            sender=PLATFORM,
            receiver=info.sender,
            accepted=accepted,
            errors=errors,
            original_type=info.msg_type,
            original_type_name=info.msg_type_name,
            original_issued=info.gen_date,
            original_id=info.msg_id,
        )
    stay = verdict.stay
    entry = Received(
        received_id=received_id,
        received_at=now.isoformat(),
        source=verdict.source,
        sha256=info.raw_sha256,
        kind=info.kind,
        msg_type=info.msg_type,
        msg_type_name=info.msg_type_name,
        msg_id=info.msg_id,
        gen_date=info.gen_date.isoformat() if info.gen_date else None,
        standard=info.standard,
        version=info.version,
        status=info.status,
        sender=_party_text(info.sender),
        receiver=_party_text(info.receiver),
        patient_id=info.patient_id,
        episode_id=stay.episode_id if stay else None,
        health_trust=stay.health_trust if stay else None,
        municipality=stay.municipality if stay else None,
        accepted=accepted,
        error_code=verdict.error,
        reason=verdict.reason,
        details=list(verdict.details),
        apprec_version=apprec_version,
        apprec_id=apprec_id,
        event_ids=[e["event_id"] for e in verdict.events] if accepted else [],
        event_types=[e["type"] for e in verdict.events] if accepted else [],
        delivery_id=delivery_id,
        batch=batch,
        submitted_by=submitted_by,
        submitted_org=submitted_org,
    )
    return entry, receipt


def summary_rows(result: BatchResult) -> list[dict[str, Any]]:
    """One plain row per received message (for the CLI table and JSON)."""
    return [
        {
            "mottak": r.received_id,
            "kilde": r.source,
            "type": r.msg_type,
            "versjon": r.version,
            "status": "godtatt" if r.accepted else "avvist",
            "feil": r.error_code or "",
            "grunn": r.reason,
            "tidspunkter": len(r.event_ids),
        }
        for r in result.received
    ]
