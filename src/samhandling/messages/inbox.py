"""The message inbox (meldingsmottak): receive messages, answer with AppRec, load time points.

Folder, next to the warehouse's deliveries (``<warehouse>/meldinger/``)::

    ledger.jsonl                every message received, in order (the id ledger), with its verdict
    raw/<sha256>.xml            every message exactly as received (kept also when rejected)
    receipts/<Mnnnnnn>.xml      the AppRec sent back for received message Mnnnnnn
    batches/<batch>/events.csv  the time points of one batch, a normal interchange delivery
    batches/<batch>/delivery.toml   (sender ``plo-meldinger``, period = the batch id)
    batches/<batch>-r<hash>/    a batch delivered again without the time points that a later
                                cancellation or change retracted (same period: it replaces it)
    adresser.toml               parties the platform receives for besides the reference data

One call of :func:`receive` is one batch (a folder read from the CLI, or one HTTP request). Each
message is read (:func:`~samhandling.messages.plo.inspect_message`), checked against the ledger
(an accepted message id is never applied twice) and the warehouse (the patient and the stay must
be known), and turned into ``events`` rows through the rule tables ``messages.event_mapping`` and
``messages.time_points``. The rows are loaded with the ordinary ingest
(:meth:`~samhandling.warehouse.Warehouse.ingest`, all-or-nothing, idempotent by content hash) and
only then is the ledger written. If the process stops between the two, reading the same messages
again gives the same batch, which the warehouse reports as already loaded, and the ledger is
completed: nothing is lost and nothing is applied twice.

Changes and cancellations (Forsendelsesstatus ``M`` and ``C``): messages form chains (a change or
cancellation joins the message its ``ConversationRef`` names, else the latest earlier message of
the same type, sender and patient; messages with the same content join each other), and only the
latest message of a chain by GenDate gives time points (:func:`effective_events`). What the
warehouse holds is therefore a function of the set of messages received, not of their order: a
batch whose time points a later message retracts is delivered again without them (a corrected
delivery, with its change record), and a message that arrives after its cancellation gives none.
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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from samhandling.engine import make_engine
from samhandling.engine.sql import sql_string
from samhandling.errors import SamhandlingError
from samhandling.messages.addresses import AddressBook, load_addresses
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
    "effective_events",
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
    # Added with changes and cancellations; absent in older ledgers.
    role: str = ""
    sender_ident: str = ""
    ref_to_parent: str = ""
    ref_to_conversation: str = ""
    content_key: str = ""

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
    # Earlier batches delivered again because this batch retracted some of their time points.
    corrections: list[IngestReport] = field(default_factory=list)
    retracted: int = 0

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
        values = ", ".join(f"({sql_string(p)})" for p in sorted(patients))
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
        values = ", ".join(f"({sql_string(p)})" for p in sorted(patients))
        table = engine.query(
            f"SELECT DISTINCT e.patient_id FROM episodes AS e "
            f"JOIN (VALUES {values}) AS p(pid) ON p.pid = e.patient_id"
        )
    return {str(v) for v in table.column("patient_id").to_pylist()}


def _reference_day(info: Inspection) -> date:
    """The day a message is about: its 'Pasient innlagt' time point, else its first time point
    (a cancellation sent after discharge still names the day it is about), else its GenDate."""
    admitted = [e.at for e in info.events if e.code_list == "9121" and e.code == "1"]
    if admitted:
        return admitted[0].date()
    if info.events:
        return info.events[0].at.date()
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
    patient_id: str = ""
    role: str = ""
    events: list[dict[str, str]] = field(default_factory=list)


def _events_for(info: Inspection, rules: RuleSet, day: date) -> list[tuple[str, datetime]]:
    """(event type, at) rows the message gives, through the rule tables (read on ``day``)."""
    assert info.gen_date is not None
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


def _status_rank(status: str, cancelling: Mapping[str, object]) -> int:
    """At one GenDate: a cancellation after a change after a new message."""
    if status in cancelling:
        return 2
    return 1 if status == "M" else 0


def effective_events(
    entries: list[Received], rules: RuleSet, day: date
) -> tuple[set[str], dict[str, str]]:
    """Which time points the accepted messages give together, whatever order they came in.

    Returns the effective event ids and, for every accepted message that another one overrides,
    the received id of the message that does (its chain's latest). Chains: a message joins the
    messages with the same content (sent twice), and a change or cancellation
    (``messages.applied_statuses`` ``M``, ``messages.cancelling_statuses``) joins the message
    its ``ConversationRef`` names (RefToParent, else RefToConversation) or, without one, the
    latest message of the same type, sender and patient generated no later than itself. The
    latest of a chain (GenDate, then cancellation before change before new, then MsgId) gives
    its time points unless it is a cancellation: a change replaces every time point of the
    message it changes, the notice at GenDate included.
    """
    accepted = [e for e in entries if e.accepted and e.kind == "message" and e.msg_id]
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    cancelling = rules["messages.cancelling_statuses"].keys_on(day)
    # Candidates for a change or cancellation without ConversationRef, by (type, sender, patient).
    by_key: dict[tuple[str, str, str], list[Received]] = {}
    for e in accepted:
        if e.status not in cancelling:
            by_key.setdefault((e.msg_type, e.sender_ident, e.patient_id), []).append(e)
    for e in accepted:
        node = f"id:{e.msg_id}"
        find(node)
        if e.content_key:
            union(node, f"content:{e.content_key}")
        if e.status != "M" and e.status not in cancelling:
            continue
        ref = e.ref_to_parent or e.ref_to_conversation
        if ref:
            union(node, f"id:{ref}")
            continue
        earlier = [
            o
            for o in by_key.get((e.msg_type, e.sender_ident, e.patient_id), [])
            if o is not e and (o.gen_date or "") <= (e.gen_date or "")
        ]
        if earlier:
            target = max(earlier, key=lambda o: (o.gen_date or "", o.msg_id))
            union(node, f"id:{target.msg_id}")
    chains: dict[str, list[Received]] = {}
    for e in accepted:
        chains.setdefault(find(f"id:{e.msg_id}"), []).append(e)
    effective: set[str] = set()
    overridden: dict[str, str] = {}
    for members in chains.values():
        latest = max(
            members,
            key=lambda m: (m.gen_date or "", _status_rank(m.status, cancelling), m.msg_id),
        )
        if latest.status not in cancelling:
            effective.update(latest.event_ids)
        for m in members:
            if m is not latest:
                overridden[m.received_id] = latest.received_id
    return effective, overridden


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
        book = load_addresses(inbox.path)
        verdicts: list[_Verdict] = []
        for source, raw in items:
            sha = hashlib.sha256(raw).hexdigest()
            raw_file = inbox.path / "raw" / f"{sha}.xml"
            if not raw_file.is_file():
                _write_bytes(raw_file, raw)
            verdicts.append(_Verdict(inspect_message(raw, rules, sha256=sha, on=as_of), source))
        _judge(verdicts, warehouse, rules, entries, book, as_of)
        stamp = now or datetime.now(UTC).replace(tzinfo=None)
        new = [
            _record(
                verdict,
                rules,
                seq=len(entries) + n,
                now=stamp,
                submitted_by=submitted_by,
                submitted_org=submitted_org,
            )
            for n, verdict in enumerate(verdicts, start=1)
        ]
        before, _ = effective_events(entries, rules, as_of)
        after, overridden = effective_events(entries + [e for e, _r in new], rules, as_of)
        result = BatchResult()
        _redeliver(inbox, warehouse, entries, before, after, as_of, result)
        rows = [
            ev for v in verdicts if v.error is None for ev in v.events if ev["event_id"] in after
        ]
        batch: str | None = None
        if rows:
            batch, folder = _write_batch(inbox.path, rows)
            result.ingest = _ingest(warehouse, folder, as_of)
            result.events = len(rows)
        by_id = {e.received_id: e for e in entries} | {e.received_id: e for e, _r in new}
        overrides: dict[str, list[str]] = {}
        for loser, winner_id in sorted(overridden.items()):
            overrides.setdefault(winner_id, []).append(loser)
        for made, receipt in new:
            entry = made
            if batch is not None and any(i in after for i in entry.event_ids):
                assert result.ingest is not None
                entry = replace(entry, batch=batch, delivery_id=result.ingest.delivery_id)
            if entry.received_id in overridden:
                winner = by_id[overridden[entry.received_id]]
                entry = replace(entry, reason=_overridden_reason(entry, winner, rules, as_of))
            elif entry.received_id in overrides:
                others = [by_id[i] for i in overrides[entry.received_id]]
                entry = replace(entry, reason=_overriding_reason(entry, others, rules, as_of))
            if receipt is not None:
                _write_bytes(inbox.path / "receipts" / f"{entry.received_id}.xml", receipt)
                result.receipts[entry.received_id] = receipt
            result.received.append(entry)
        # Raw messages and receipts reach the disk before the ledger names them.
        os.sync()
        inbox._append_ledger(result.received)
    return result


def _overridden_reason(entry: Received, winner: Received, rules: RuleSet, day: date) -> str:
    if winner.status in rules["messages.cancelling_statuses"].keys_on(day):
        what = f"kansellert av mottak {winner.received_id}"
    elif winner.content_key and winner.content_key == entry.content_key:
        what = f"samme innhold som mottak {winner.received_id}, som gjelder"
    else:
        what = f"erstattet av mottak {winner.received_id} (MsgId {winner.msg_id})"
    return f"Godtatt; {what}: gir ingen tidspunkter"


def _overriding_reason(entry: Received, others: list[Received], rules: RuleSet, day: date) -> str:
    names = ", ".join(o.received_id for o in others)
    if entry.status in rules["messages.cancelling_statuses"].keys_on(day):
        return f"Godtatt; kansellerer mottak {names}"
    if entry.content_key and all(o.content_key == entry.content_key for o in others):
        return f"Godtatt; samme innhold som mottak {names}: behandlet én gang"
    return f"Godtatt; erstatter mottak {names}"


def _ingest(warehouse: Warehouse, folder: Path, as_of: date) -> IngestReport:
    report = warehouse.ingest(folder, as_of=as_of)
    if report.rejected:
        raise SamhandlingError(
            f"{report.rejected} tidspunkt ble satt i karantene ved innlesing av {folder} "
            f"(leveranse {report.delivery_id}); se `samhandling quarantine`"
        )
    return report


def _redeliver(  # noqa: PLR0917
    inbox: Inbox,
    warehouse: Warehouse,
    entries: list[Received],
    before: set[str],
    after: set[str],
    as_of: date,
    result: BatchResult,
) -> None:
    """Deliver again every earlier batch whose effective time points this batch changed."""
    changed = before ^ after
    touched = {e.batch for e in entries if e.batch and changed.intersection(e.event_ids)}
    for batch in sorted(b for b in touched if b):
        original = inbox.path / "batches" / batch / "events.csv"
        with original.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        kept_before = [r for r in rows if r["event_id"] in before]
        kept_after = [r for r in rows if r["event_id"] in after]
        if kept_before == kept_after:
            continue
        _period, folder = _write_batch(inbox.path, kept_after, period=batch)
        result.corrections.append(_ingest(warehouse, folder, as_of))
        result.retracted += len(kept_before) - len(kept_after)


def _judge(  # noqa: PLR0917
    verdicts: list[_Verdict],
    warehouse: Warehouse,
    rules: RuleSet,
    entries: list[Received],
    book: AddressBook,
    as_of: date,
) -> None:
    for v in verdicts:
        if v.info.error is not None:
            v.error, v.reason, v.details = v.info.error, v.info.reason, v.info.details
    messages = [v for v in verdicts if v.error is None and v.info.kind == "message"]
    for v in messages:
        addressed = book.deliver(v.info.receiver, v.info.copy_receivers)
        if addressed.error is not None:
            v.error, v.reason = addressed.error, addressed.reason
        v.role = addressed.role
    pending = [v for v in messages if v.error is None]
    given = {p.id for v in pending for p in v.info.patient_ids if p.id}
    known = _known_patients(warehouse, given)
    stays = _stays(warehouse, known)
    for v in pending:
        info = v.info
        ids = list(dict.fromkeys(p.id for p in info.patient_ids if p.id))
        found = [i for i in ids if i in known]
        if not found:
            v.error = "E35"
            v.reason = f"Pasienten {' / '.join(ids)} finnes ikke i datavarehuset"
            continue
        if len(found) > 1:
            v.error = "E36"
            v.reason = (
                f"Pasientens identifikatorer {' og '.join(found)} er ulike pasienter i "
                "datavarehuset"
            )
            continue
        v.patient_id = found[0]
        day = _reference_day(info)
        v.stay = _match_stay(stays.get(v.patient_id, []), day)
        points = _events_for(info, rules, as_of)
        if not points:
            continue
        if v.stay is None:
            v.error = "E35"
            v.reason = (
                f"Fant ikke noe sykehusopphold (døgn) for pasienten {v.patient_id} "
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
    # A message id is a duplicate only of a message that was accepted (earlier, or earlier in
    # this batch): a rejected message may be sent again with the same id once it is fixed.
    seen = {e.msg_id: e.received_id for e in entries if e.accepted and e.msg_id}
    for v in messages:
        if v.error is not None:
            continue
        prior = seen.get(v.info.msg_id)
        if prior is not None:
            v.error, v.events = "E10", []
            v.reason = f"Meldingen med MsgId {v.info.msg_id} er allerede mottatt og behandlet" + (
                f" (mottak {prior})" if prior.startswith("M") else " (i samme forsendelse)"
            )
        else:
            seen[v.info.msg_id] = "batch"
    # AppRecs received (answers to messages we sent): recorded, never answered, no time points.


def _write_batch(
    root: Path, rows: list[dict[str, str]], *, period: str | None = None
) -> tuple[str, Path]:
    """Write a batch as a delivery folder; ``period`` given: a new version of that batch."""
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=["event_id", "episode_id", "type", "at", "source"], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda r: r["event_id"]))
    content = buffer.getvalue().encode("utf-8")
    digest = hashlib.sha256(content).hexdigest()[:16]
    batch = period or "B" + digest
    folder = root / "batches" / (batch if period is None else f"{period}-r{digest[:8]}")
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
    submitted_by: str | None = None,
    submitted_org: str | None = None,
) -> tuple[Received, bytes | None]:
    """The ledger row and the AppRec of one message (batch and delivery are set later)."""
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
        patient_id=verdict.patient_id or info.patient_id,
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
        delivery_id=None,
        batch=None,
        submitted_by=submitted_by,
        submitted_org=submitted_org,
        role=verdict.role,
        sender_ident=next(
            (i for i in info.sender.idents if i in info.sender.given), info.sender.name
        ),
        ref_to_parent=info.ref_to_parent,
        ref_to_conversation=info.ref_to_conversation,
        content_key=info.content_key,
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
