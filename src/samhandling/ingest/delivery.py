"""A delivery folder as a sender hands it over: which files it holds, its key, its content hash."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from samhandling.contract import KINDS, Kind
from samhandling.errors import SamhandlingError

DELIVERY_TOML = "delivery.toml"
DEFAULT_SENDER = "registry"
FORMATS = (".csv", ".parquet")


class DeliveryError(SamhandlingError):
    """The folder given is not a usable delivery (missing, empty, ambiguous, bad delivery.toml)."""


@dataclass(frozen=True)
class DeliveryFolder:
    """The files of one delivery and, when ``delivery.toml`` gives them, its sender and period."""

    path: Path
    files: dict[Kind, Path]
    sender: str | None
    period: str | None

    def content_hash(self) -> str:
        """SHA-256 over the kind files (name and bytes) and ``delivery.toml``, in a fixed order."""
        digest = hashlib.sha256()
        parts = [self.files[k] for k in KINDS if k in self.files]
        toml = self.path / DELIVERY_TOML
        if toml.is_file():
            parts.append(toml)
        for part in parts:
            digest.update(part.name.encode("utf-8") + b"\0")
            with part.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            digest.update(b"\0")
        return digest.hexdigest()


def kind_files(folder: Path) -> dict[Kind, Path]:
    """The interchange files directly in ``folder`` (``<kind>.csv`` or ``<kind>.parquet``)."""
    found: dict[Kind, Path] = {}
    for kind in KINDS:
        candidates = [
            folder / f"{kind}{ext}" for ext in FORMATS if (folder / f"{kind}{ext}").is_file()
        ]
        if len(candidates) > 1:
            raise DeliveryError(
                f"{folder} har både {candidates[0].name} og {candidates[1].name}: lever én av dem"
            )
        if candidates:
            found[kind] = candidates[0]
    return found


def delivery_folders(folder: Path) -> list[Path]:
    """``folder`` itself if it holds kind files, else its subfolders that do, in sorted order."""
    if not folder.is_dir():
        raise DeliveryError(f"fant ikke mappen {folder}")
    if kind_files(folder):
        return [folder]
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and kind_files(p))
    if not subfolders:
        names = ", ".join(f"{k}.csv/.parquet" for k in KINDS)
        raise DeliveryError(f"{folder} inneholder ingen leveransefiler ({names})")
    return subfolders


def read_delivery(folder: Path) -> DeliveryFolder:
    """Describe one delivery folder (which must hold kind files directly)."""
    if not folder.is_dir():
        raise DeliveryError(f"fant ikke mappen {folder}")
    files = kind_files(folder)
    if not files:
        raise DeliveryError(f"{folder} inneholder ingen leveransefiler")
    sender: str | None = None
    period: str | None = None
    toml = folder / DELIVERY_TOML
    if toml.is_file():
        try:
            doc = tomllib.loads(toml.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise DeliveryError(f"{toml} er ikke gyldig TOML: {exc}") from exc
        for name in ("sender", "period"):
            value = doc.get(name)
            if value is not None and (not isinstance(value, str | int) or str(value).strip() == ""):
                raise DeliveryError(f"{toml}: {name} må være en ikke-tom tekst")
        sender = None if doc.get("sender") is None else str(doc["sender"]).strip()
        period = None if doc.get("period") is None else str(doc["period"]).strip()
    return DeliveryFolder(folder.resolve(), files, sender, period)


def default_period(years: list[int]) -> str:
    """The derived period of a delivery: the years its rows cover (``2012``, ``2011,2012``)."""
    return ",".join(str(y) for y in sorted(set(years))) if years else "ukjent"
