"""CLI: ``samhandling avtaler registrer|vis|historikk|diff|oppfolging|eksport|dokument``.

An agreement (or a new revision) is registered from a TOML file::

    helseforetak = "983974910"
    kommuner = ["1804"]
    tittel = "Samarbeidsavtale mellom Bodø kommune og Nordlandssykehuset HF"
    signert = 2012-01-20
    gyldig_fra = 2012-01-20          # optional, default: signert
    # gyldig_til = 2015-12-31        # optional
    publisert = "https://..."        # optional: where the health trust publishes it
    endringsnotat = "..."            # required for a new revision

    [[deler]]
    punkt = "overordnet"             # overordnet, 1-13, avvik, tvist, kvalitet or annet
    signert = 2012-01-20
    dokument = "avtale.pdf"          # optional: uploaded (path relative to the TOML file)

    [[deler]]
    punkt = "5"
    signert = 2012-01-20
    lenke = "https://..."            # optional link to the published document
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from samhandling.cli.options import DbOpt, WarehouseOpt, parse_date
from samhandling.console import console, progress
from samhandling.formatting import date_no, number
from samhandling.registries.agreements.domain import (
    AgreementDraft,
    AgreementValidationError,
    PartDraft,
    health_trust_names,
)
from samhandling.registries.agreements.export import write_monitoring
from samhandling.registries.agreements.history import describe_diff, diff_revisions, history_lines
from samhandling.registries.agreements.monitoring import Monitoring, monitor_agreements
from samhandling.registries.agreements.registry import (
    add_revision,
    agreement,
    agreements,
    document,
    register_agreement,
)
from samhandling.rules import load_rules
from samhandling.store import Store

__all__ = ["parse_draft", "register"]

DateOpt = Annotated[
    str | None, typer.Option("--dato", help="Dato for oppfølgingen (ÅÅÅÅ-MM-DD); ellers i dag.")
]


def _open_store(warehouse: Path | None, database: str | None) -> Store:
    from samhandling.warehouse import Warehouse

    return Store.open(database, warehouse=Warehouse.open(warehouse).path)


def _date(value: Any, what: str, errors: list[str]) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    errors.append(f"{what}: {value!r} er ikke en dato (ÅÅÅÅ-MM-DD)")
    return None


def _text(value: Any, what: str, errors: list[str]) -> str:
    if value is None:
        return ""
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    errors.append(f"{what}: forventet tekst, fikk {value!r}")
    return ""


_TOP_KEYS = {
    "helseforetak",
    "kommuner",
    "tittel",
    "signert",
    "gyldig_fra",
    "gyldig_til",
    "publisert",
    "endringsnotat",
    "deler",
}
_PART_KEYS = {"punkt", "signert", "gyldig_fra", "gyldig_til", "tittel", "lenke", "dokument"}
_PART_KEYS |= {"merknad"}


def parse_draft(doc: dict[str, Any]) -> tuple[AgreementDraft, dict[int, str]]:
    """A draft from a parsed TOML document, and the document file of each part (by index).

    Every problem is collected and raised together (nothing is registered).
    """
    errors: list[str] = []
    for key in sorted(set(doc) - _TOP_KEYS):
        errors.append(f"Ukjent felt {key!r} (kjente felt: {', '.join(sorted(_TOP_KEYS))})")
    for required in ("helseforetak", "kommuner", "tittel", "signert", "deler"):
        if required not in doc:
            errors.append(f"Feltet {required!r} mangler")
    municipalities_raw = doc.get("kommuner", [])
    if isinstance(municipalities_raw, str):
        municipalities_raw = [municipalities_raw]
    if not isinstance(municipalities_raw, list):
        errors.append("kommuner: forventet en liste med kommunenummer")
        municipalities_raw = []
    municipalities = tuple(_text(m, "kommuner", errors) for m in municipalities_raw)
    signed = _date(doc.get("signert"), "signert", errors)
    valid_from = _date(doc.get("gyldig_fra"), "gyldig_fra", errors) or signed
    valid_to = _date(doc.get("gyldig_til"), "gyldig_til", errors)
    parts: list[PartDraft] = []
    files: dict[int, str] = {}
    raw_parts = doc.get("deler", [])
    if not isinstance(raw_parts, list):
        errors.append("deler: forventet [[deler]]-tabeller")
        raw_parts = []
    for i, raw in enumerate(raw_parts, start=1):
        where = f"del {i}"
        if not isinstance(raw, dict):
            errors.append(f"{where}: forventet en tabell")
            continue
        for key in sorted(set(raw) - _PART_KEYS):
            errors.append(f"{where}: ukjent felt {key!r}")
        part_signed = _date(raw.get("signert"), f"{where} signert", errors)
        if part_signed is None and "signert" not in raw:
            errors.append(f"{where}: feltet 'signert' mangler")
        part_from = _date(raw.get("gyldig_fra"), f"{where} gyldig_fra", errors) or part_signed
        if part_signed is None or part_from is None:
            continue
        if raw.get("dokument"):
            files[len(parts)] = _text(raw.get("dokument"), f"{where} dokument", errors)
        parts.append(
            PartDraft(
                key=_text(raw.get("punkt"), f"{where} punkt", errors),
                signed_on=part_signed,
                valid_from=part_from,
                valid_to=_date(raw.get("gyldig_til"), f"{where} gyldig_til", errors),
                title=_text(raw.get("tittel"), f"{where} tittel", errors),
                document_url=_text(raw.get("lenke"), f"{where} lenke", errors),
                note=_text(raw.get("merknad"), f"{where} merknad", errors),
            )
        )
    if errors or signed is None or valid_from is None:
        raise AgreementValidationError(errors or ["Feltet 'signert' mangler"])
    draft = AgreementDraft(
        health_trust=_text(doc.get("helseforetak"), "helseforetak", errors),
        municipalities=municipalities,
        title=_text(doc.get("tittel"), "tittel", errors),
        signed_on=signed,
        valid_from=valid_from,
        valid_to=valid_to,
        parts=tuple(parts),
        publication_url=_text(doc.get("publisert"), "publisert", errors),
        change_note=_text(doc.get("endringsnotat"), "endringsnotat", errors),
    )
    if errors:
        raise AgreementValidationError(errors)
    return draft, files


def _monitoring_on(store: Store, on: date) -> tuple[Monitoring, list[Any]]:
    items = agreements(store)
    return monitor_agreements(items, on, load_rules()), items


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        no_args_is_help=True,
        help="Samarbeidsavtaler mellom kommuner og helseforetak (helse- og "
        "omsorgstjenesteloven § 6-2).",
    )
    app.add_typer(group, name="avtaler")

    @group.command("registrer")
    def register_command(
        fil: Annotated[Path, typer.Argument(help="TOML-fil som beskriver avtalen.")],
        *,
        avtale: Annotated[
            int | None, typer.Option("--avtale", help="Registrer en ny revisjon av denne avtalen.")
        ] = None,
        bruker: Annotated[str, typer.Option("--bruker", help="Hvem som registrerer.")] = "cli",
        warehouse: WarehouseOpt = None,
        database: DbOpt = None,
    ) -> None:
        """Registrer en ny avtale, eller en ny revisjon med --avtale."""
        try:
            doc = tomllib.loads(fil.read_text("utf-8"))
        except OSError as exc:
            raise AgreementValidationError([f"Kan ikke lese {fil}: {exc}"]) from exc
        except tomllib.TOMLDecodeError as exc:
            raise AgreementValidationError([f"{fil} er ikke gyldig TOML: {exc}"]) from exc
        draft, files = parse_draft(doc)
        rules = load_rules()
        uploads: dict[int, tuple[str, bytes]] = {}
        for index, name in files.items():
            path = (fil.parent / name).resolve()
            try:
                uploads[index] = (path.name, path.read_bytes())
            except OSError as exc:
                raise AgreementValidationError([f"Kan ikke lese dokumentet {name}: {exc}"]) from exc
        with _open_store(warehouse, database) as store:
            if avtale is None:
                saved = register_agreement(store, draft, by=bruker, rules=rules, uploads=uploads)
            else:
                saved = add_revision(store, avtale, draft, by=bruker, rules=rules, uploads=uploads)
        console.print(
            f"Registrerte avtale {saved.id}, revisjon {saved.current.revision_no} "
            f"({len(saved.current.parts)} deler, {len(saved.current.municipalities)} kommuner)."
        )

    @group.command("vis")
    def show_command(
        avtale: Annotated[int | None, typer.Argument(help="Avtalenummer; uten: alle.")] = None,
        *,
        revisjon: Annotated[
            int | None, typer.Option("--revisjon", help="Vis denne revisjonen (ellers nyeste).")
        ] = None,
        kommune: Annotated[
            str | None, typer.Option("--kommune", help="Bare avtaler med denne kommunen.")
        ] = None,
        warehouse: WarehouseOpt = None,
        database: DbOpt = None,
    ) -> None:
        """Vis avtaleregisteret, eller én avtale med delavtalene."""
        trusts = health_trust_names()
        with _open_store(warehouse, database) as store:
            if avtale is None:
                items = agreements(store, municipality=kommune)
                table = Table(
                    "Avtale", "Helseforetak", "Kommuner", "Type", "Revisjoner", "Signert", "Tittel"
                )
                for item in items:
                    rev = item.current
                    table.add_row(
                        str(item.id),
                        trusts.get(item.health_trust, item.health_trust),
                        ", ".join(rev.municipalities),
                        "felles" if rev.joint else "enkelt",
                        str(len(item.revisions)),
                        date_no(rev.signed_on),
                        rev.title,
                    )
                console.print(table)
                console.print(f"{number(len(items))} avtaler.")
                return
            item = agreement(store, avtale)
        rev = item.current if revisjon is None else item.revision(revisjon)
        console.print(f"[bold]Avtale {item.id}, revisjon {rev.revision_no}[/]: {rev.title}")
        console.print(
            f"Helseforetak: {trusts.get(item.health_trust, item.health_trust)} "
            f"({item.health_trust}); kommuner: {', '.join(rev.municipalities)} "
            f"({'fellesavtale' if rev.joint else 'enkeltavtale'})"
        )
        console.print(f"Signert {date_no(rev.signed_on)}, gyldig fra {date_no(rev.valid_from)}")
        table = Table("Del", "Tittel", "Signert", "Gyldig fra", "Gyldig til", "Dokument")
        for part in rev.parts:
            doc = part.document
            table.add_row(
                part.key,
                part.title,
                date_no(part.signed_on),
                date_no(part.valid_from),
                date_no(part.valid_to),
                doc.filename if doc else part.document_url,
            )
        console.print(table)

    @group.command("historikk")
    def history_command(
        avtale: Annotated[int, typer.Argument(help="Avtalenummer.")],
        *,
        warehouse: WarehouseOpt = None,
        database: DbOpt = None,
    ) -> None:
        """Vis alle revisjonene av en avtale og hva som endret seg."""
        with _open_store(warehouse, database) as store:
            item = agreement(store, avtale)
        for line in history_lines(item):
            console.print(line, highlight=False)

    @group.command("diff")
    def diff_command(
        avtale: Annotated[int, typer.Argument(help="Avtalenummer.")],
        fra: Annotated[int, typer.Argument(help="Fra revisjon.")],
        til: Annotated[int, typer.Argument(help="Til revisjon.")],
        *,
        warehouse: WarehouseOpt = None,
        database: DbOpt = None,
    ) -> None:
        """Vis forskjellen mellom to revisjoner."""
        with _open_store(warehouse, database) as store:
            item = agreement(store, avtale)
        changes = diff_revisions(item.revision(fra), item.revision(til))
        console.print(f"[bold]Avtale {avtale}: revisjon {fra} → {til}[/]")
        for line in describe_diff(changes):
            console.print(line, highlight=False)

    @group.command("oppfolging")
    def monitoring_command(
        *,
        dato: DateOpt = None,
        hf: Annotated[
            str | None, typer.Option("--hf", help="Vis kommunene i dette HF (org.nr.).")
        ] = None,
        warehouse: WarehouseOpt = None,
        database: DbOpt = None,
    ) -> None:
        """Følg med: kommuner med avtale, overordnet avtale og manglende delavtaler per RHF/HF."""
        on = _parse_day(dato)
        with _open_store(warehouse, database) as store:
            result, _items = _monitoring_on(store, on)
        title = f"Samarbeidsavtaler per {date_no(on)} (regelsett {result.rule_set})"
        areas = result.by_rhf if hf is None else tuple(a for a in result.by_hf if a.orgnr == hf)
        if hf is not None and not areas:
            raise AgreementValidationError([f"Ukjent HF-område {hf} i {on.year}"])
        table = Table(
            "Område",
            "Kommuner",
            "Med avtale",
            "Overordnet",
            "Felles",
            "Enkelt",
            "Alle lovpålagte",
            "Frist passert",
            title=title,
        )
        rows = [*areas, result.country] if hf is None else list(areas)
        for area in rows:
            table.add_row(
                area.name,
                number(area.municipalities),
                number(area.with_agreement),
                number(area.with_overall),
                number(area.joint),
                number(area.single),
                number(area.complete),
                number(area.overdue_any),
            )
        console.print(table)
        if hf is not None:
            gaps = Table("Kommune", "Navn", "Overordnet", "Mangler", "Frist passert", "For sent")
            for s in result.municipalities:
                if s.hf_orgnr == hf:
                    gaps.add_row(
                        s.municipality,
                        s.name,
                        "ja" if s.has_overall else "nei",
                        ", ".join(s.missing),
                        ", ".join(s.overdue),
                        ", ".join(s.late),
                    )
            console.print(gaps)
        if result.unverified:
            console.print("Merk: noen frister og punkter er ikke verifisert i en primærkilde.")

    @group.command("eksport")
    def export_command(
        ut: Annotated[Path, typer.Argument(help="XLSX-fil å skrive.")],
        *,
        dato: DateOpt = None,
        warehouse: WarehouseOpt = None,
        database: DbOpt = None,
    ) -> None:
        """Skriv oppfølgingen som regneark (ett ark per visning og et ark med merknader)."""
        on = _parse_day(dato)
        with progress() as bar:
            task = bar.add_task("Leser avtaleregisteret", total=3)
            with _open_store(warehouse, database) as store:
                items = agreements(store)
            bar.update(task, advance=1, description="Beregner oppfølgingen")
            rules = load_rules()
            result = monitor_agreements(items, on, rules)
            bar.update(task, advance=1, description="Skriver regnearket")
            write_monitoring(ut, result, items, rules)
            bar.update(task, advance=1)
        console.print(f"Skrev {ut} (per {date_no(on)}, regelsett {result.rule_set}).")

    @group.command("dokument")
    def document_command(
        sha256: Annotated[str, typer.Argument(help="Dokumentets SHA-256.")],
        ut: Annotated[Path, typer.Argument(help="Fil å skrive.")],
        *,
        warehouse: WarehouseOpt = None,
        database: DbOpt = None,
    ) -> None:
        """Hent et opplastet avtaledokument."""
        with _open_store(warehouse, database) as store:
            info, content = document(store, sha256)
        ut.write_bytes(content)
        console.print(f"Skrev {ut} ({info.filename}, {number(info.size)} byte).")


def _parse_day(value: str | None) -> date:
    # The day of the follow-up: the one given, else the day the command runs (an operation).
    return parse_date(value, "--dato") or date.today()
