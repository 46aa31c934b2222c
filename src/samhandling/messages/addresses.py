"""The inbox's address book: whom the platform receives messages for (mottakere).

A message is accepted only when its receiver (``MsgHead/MsgInfo/Receiver``) is a party the
platform receives for, or when one of its copy receivers (``OtherReceiver`` with role ``COP``)
is; otherwise it is rejected with AppRec error ``E21`` (Mottaker finnes ikke). Where an address
lists the services it has (units and health professionals), a message naming another unit of that
organisation is rejected with ``E21``, one naming another health professional with ``E20`` (Lege
finnes ikke).

The platform receives for every municipality (identifier ``LOK:<kommunenummer>``) and every
health trust (``ENH:<organisasjonsnummer>``) of the reference data, and for itself
(``LOK:samhandling``), the way its own messages address them (``docs/messages.md``). Other
parties (a GP office's HER-id, a care home's services) are added in
``<warehouse>/meldinger/adresser.toml``::

    [[mottaker]]
    navn = "Kattskinnet legesenter"
    id = ["ENH:971318864", "HER:56704"]
    tjenester = ["HER:369.767", "HPR:9144897"]   # optional: the units and people it has

An address that lists services takes only messages that name one of them. A file whose first
line is ``referansedata = false`` serves only the parties it lists (a test set-up, such as the
acceptance suites in :mod:`samhandling.messages.acceptance`).
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

from samhandling.errors import SamhandlingError
from samhandling.messages.plo import Party, given_idents

__all__ = ["ADDRESS_FILE", "Address", "AddressBook", "Addressed", "book_text", "load_addresses"]

ADDRESS_FILE = "adresser.toml"


@dataclass(frozen=True)
class Address:
    """A party the platform receives for: its identifiers and, if listed, its services."""

    name: str
    idents: frozenset[str]
    services: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Addressed:
    """Whom a message reaches here: the address and the role (``mottaker``/``kopimottaker``),
    or the receipt error when it reaches no one."""

    address: Address | None
    role: str
    error: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class AddressBook:
    """Every address, found by any of its identifiers."""

    addresses: tuple[Address, ...]

    @functools.cached_property
    def _by_ident(self) -> dict[str, Address]:
        return {i: a for a in self.addresses for i in a.idents}

    def find(self, party: Party) -> Address | None:
        for ident in party.idents:
            if ident in self._by_ident:
                return self._by_ident[ident]
        return None

    def _service_error(self, address: Address, party: Party) -> tuple[str, str] | None:
        if not address.services:
            return None
        unit, person = given_idents(party.unit_idents), given_idents(party.person_idents)
        if not unit and not person:
            return "E21", (
                f"Meldingen til {address.name} er ikke adressert til noen av tjenestene der "
                f"({', '.join(sorted(address.services))})"
            )
        if unit and not unit & address.services:
            return "E21", (
                f"Tjenesten {party.unit or ', '.join(sorted(unit))} finnes ikke hos "
                f"{address.name} (mottakeren)"
            )
        if person and not person & address.services:
            return "E20", (
                f"Helsepersonellet {party.person or ', '.join(sorted(person))} finnes ikke hos "
                f"{address.name} (mottakeren)"
            )
        return None

    def deliver(self, receiver: Party, copies: list[Party]) -> Addressed:
        """Whom a message with this receiver and these copy receivers reaches here."""
        address = self.find(receiver)
        if address is not None:
            error = self._service_error(address, receiver)
            if error is None:
                return Addressed(address, "mottaker")
            first_error: tuple[str, str] | None = error
        else:
            first_error = None
        for copy in copies:
            other = self.find(copy)
            if other is not None and self._service_error(other, copy) is None:
                return Addressed(other, "kopimottaker")
        if first_error is not None:
            return Addressed(None, "", *first_error)
        named = receiver.name or ", ".join(sorted(receiver.given)) or "(mangler)"
        return Addressed(
            None,
            "",
            "E21",
            f"Mottakeren {named} er ikke en mottaker plattformen tar imot meldinger for "
            f"(adressebok {ADDRESS_FILE})",
        )


@functools.cache
def _reference_addresses() -> tuple[Address, ...]:
    from samhandling.refdata import health_trusts, municipality_years

    out: dict[str, Address] = {}
    for row in municipality_years().select(["municipality", "name"]).to_pylist():
        code = str(row["municipality"])
        out[f"LOK:{code}"] = Address(f"{row['name']} kommune", frozenset({f"LOK:{code}"}))
    for row in health_trusts().select(["orgnr", "name"]).to_pylist():
        orgnr = str(row["orgnr"])
        out[f"ENH:{orgnr}"] = Address(str(row["name"]), frozenset({f"ENH:{orgnr}"}))
    out["LOK:samhandling"] = Address("Samhandlingsplattformen", frozenset({"LOK:samhandling"}))
    return tuple(out.values())


def load_addresses(inbox: Path) -> AddressBook:
    """The reference-data addresses (unless the file turns them off) and those of
    ``<inbox>/adresser.toml``."""
    extra: list[Address] = []
    reference = True
    path = inbox / ADDRESS_FILE
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SamhandlingError(f"kan ikke lese adresseboka {path}: {exc}") from exc
        reference = data.get("referansedata", True) is not False
        for number, row in enumerate(data.get("mottaker", []), start=1):
            idents = row.get("id", [])
            if (
                not isinstance(idents, list)
                or not idents
                or not all(isinstance(i, str) and ":" in i for i in idents)
            ):
                raise SamhandlingError(
                    f'{path}: mottaker nr. {number} må ha id = ["TYPE:ID", …] (for eksempel '
                    '"HER:56704")'
                )
            services = row.get("tjenester", [])
            if not isinstance(services, list) or not all(
                isinstance(i, str) and ":" in i for i in services
            ):
                raise SamhandlingError(
                    f'{path}: mottaker nr. {number}: tjenester må være en liste av "TYPE:ID"'
                )
            extra.append(
                Address(str(row.get("navn", idents[0])), frozenset(idents), frozenset(services))
            )
    return AddressBook((*(_reference_addresses() if reference else ()), *extra))


def book_text(parties: list[Party], *, reference: bool = False) -> str:
    """An address book (``adresser.toml``) serving these parties, one entry per organisation
    (their units and health professionals as its services); ``reference``: the reference-data
    parties too."""
    merged: dict[str, tuple[str, set[str], set[str]]] = {}
    for party in parties:
        ids = party.given
        if not ids:
            continue
        key = next((k for k, (_n, known, _s) in merged.items() if known & ids), min(ids))
        _name, known, services = merged.setdefault(key, (party.name, set(), set()))
        known |= ids
        services |= party.services

    def strings(values: set[str]) -> str:
        return ", ".join('"' + v.replace('"', "") + '"' for v in sorted(values))

    head = "" if reference else "referansedata = false\n\n"
    return head + "".join(
        f'[[mottaker]]\nnavn = "{name.replace(chr(34), "")}"\nid = [{strings(ids)}]\n'
        f"tjenester = [{strings(services)}]\n"
        for name, ids, services in merged.values()
    )
