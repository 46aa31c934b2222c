"""The published catalogue: protected cubes built once per warehouse state and kept on disk.

Counting and protecting every table of the catalogue takes minutes on a national warehouse, so it
is done once (``samhandling table-build``, the demo, or the first request after a delivery) and
written under ``<warehouse>/tables/<state>/``: one Parquet file of protected cells per table and a
manifest. ``<state>`` is a digest of what the cubes depend on: the live deliveries, the rule set
(with its overrides), the borders and the format of the files. A new delivery, a correction or a
new rule version therefore gives a new folder and nothing stale is ever served; the API, the
portal and the CLI only read and slice the cells.

A folder is written under a temporary name and renamed when complete, so a reader never sees half
a catalogue, and two builders of the same state cannot mix their files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from samhandling.engine import Engine, make_engine
from samhandling.errors import SamhandlingError
from samhandling.indicators.facts import icd10_block_table
from samhandling.indicators.peers import PeerGroup
from samhandling.rules import RuleSet
from samhandling.tables.catalog import Catalog, build_catalog, catalog_specs
from samhandling.tables.cube import ProtectedCube
from samhandling.warehouse import Warehouse

__all__ = [
    "CATALOG_FORMAT",
    "MANIFEST",
    "catalog_folder",
    "load_catalog",
    "published_catalog",
    "read_catalog",
    "write_catalog",
]

# Bump when the files or the meaning of a cube change: older folders are then rebuilt.
CATALOG_FORMAT = 4  # 4: SD10-SD12, the detail of the upper region levels
TABLES = "tables"
MANIFEST = "manifest.json"

Progress = Callable[[str, int, int], None]


def catalog_state(warehouse: Warehouse, rules: RuleSet, borders: int) -> str:
    """The digest naming the catalogue of the warehouse's live data under ``rules``."""
    doc = {
        "format": CATALOG_FORMAT,
        "borders": int(borders),
        "rules": rules.label,
        "deliveries": sorted(d.delivery_id for d in warehouse.live()),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:20]


def catalog_folder(warehouse: Warehouse, rules: RuleSet, borders: int) -> Path:
    return warehouse.path / TABLES / catalog_state(warehouse, rules, borders)


def write_catalog(catalog: Catalog, folder: Path) -> None:
    """Write every cube and the manifest to ``folder`` (complete or not at all)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        catalog.write(scratch)
        manifest = {
            "format": CATALOG_FORMAT,
            "borders": catalog.borders,
            "years": catalog.years,
            "districts": [list(d) for d in catalog.districts],
            "tables": sorted(catalog.cubes),
            "peer_year": catalog.peer_year,
            "peers": {
                m: [{"kind": g.kind, "label": g.label, "members": list(g.members)} for g in groups]
                for m, groups in catalog.peers.items()
            },
        }
        (scratch / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
        if folder.is_dir() and not (folder / MANIFEST).is_file():
            shutil.rmtree(folder)  # left by an interrupted copy: never a complete catalogue
        try:
            scratch.rename(folder)
        except OSError:
            if not (folder / MANIFEST).is_file():
                raise
            shutil.rmtree(scratch)  # built at the same time by someone else: theirs is kept
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def read_catalog(folder: Path, rules: RuleSet) -> Catalog:
    """The catalogue written by :func:`write_catalog` to ``folder``."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SamhandlingError(f"Kan ikke lese tabellkatalogen i {folder}: {exc}") from exc
    if int(manifest.get("format", 0)) != CATALOG_FORMAT:
        raise SamhandlingError(f"Tabellkatalogen i {folder} har et annet format; bygg den på nytt")
    borders = int(manifest["borders"])
    specs = catalog_specs(
        rules,
        borders=borders,
        years=[int(y) for y in manifest["years"]],
        blocks=icd10_block_table(),
        districts=[(str(m), str(d), str(label)) for m, d, label in manifest["districts"]],
    )
    cubes: dict[str, ProtectedCube] = {}
    for spec in specs:
        if spec.id not in manifest["tables"]:
            continue
        cubes[spec.id] = ProtectedCube.read(spec, folder)
    peers = {
        m: [PeerGroup(g["kind"], g["label"], tuple(g["members"])) for g in groups]
        for m, groups in manifest["peers"].items()
    }
    return Catalog(
        cubes,
        borders,
        peers,
        manifest["peer_year"],
        years=[int(y) for y in manifest["years"]],
        districts=[(str(m), str(d), str(label)) for m, d, label in manifest["districts"]],
    )


def load_catalog(warehouse: Warehouse, rules: RuleSet, borders: int) -> Catalog | None:
    """The stored catalogue of the warehouse's current state, or None when not built yet."""
    folder = catalog_folder(warehouse, rules, borders)
    if not (folder / MANIFEST).is_file():
        return None
    return read_catalog(folder, rules)


def build_memory_limit() -> str:
    """DuckDB's memory limit while counting the tables: ``$SAMHANDLING_TABLES_MEMORY`` or 4GB
    (it spills to ``<warehouse>/tables/.spill`` beyond it, so a laptop keeps its memory)."""
    return os.environ.get("SAMHANDLING_TABLES_MEMORY", "4GB")


def published_catalog(
    warehouse: Warehouse,
    rules: RuleSet,
    borders: int,
    *,
    engine: Engine | None = None,
    engine_name: str | None = None,
    on_progress: Progress | None = None,
) -> Catalog:
    """The stored catalogue of the current state; built and stored first if there is none.

    ``engine`` (with the warehouse registered) is used for the build when given; otherwise the
    engine chosen by ``engine_name`` (:func:`make_engine`: the user's choice, DuckDB by
    default, kept under :func:`build_memory_limit`) is opened on the warehouse for it. The
    counting runs on that engine; the protection in this process, on the counted cells.
    """
    found = load_catalog(warehouse, rules, borders)
    if found is not None:
        return found
    folder = catalog_folder(warehouse, rules, borders)
    own = engine is None
    spill = warehouse.path / "tables" / ".spill"
    if own:
        spill.mkdir(parents=True, exist_ok=True)
    run = engine or make_engine(
        engine_name, memory_limit=build_memory_limit(), temp_directory=spill
    )
    try:
        if own:
            warehouse.register(run)
        catalog = build_catalog(
            run, rules, borders=borders, blocks=icd10_block_table(), on_progress=on_progress
        )
    finally:
        if own:
            run.close()
    write_catalog(catalog, folder)
    return catalog
