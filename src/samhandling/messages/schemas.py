"""The official XML schemas (XSD) of the message standards, validated with lxml, offline.

The schema files are copied unchanged into ``messages/schemas/`` (see ``PROVENANCE.md`` there).
They import each other by bare file name; two import by absolute URL (MsgHead imports the W3C
xmldsig schema, AppRec 1.1 imports ``kith.xsd`` from kith.no): a resolver maps those two URLs to
the local copies and every other non-local location is refused, so validation never touches the
network. Compiled schemas are cached per set of namespaces.

A MsgHead 1.2 envelope declares its ``Content`` as ``xs:any processContents="strict"``, so a
message is validated in one pass against a small driver schema that imports MsgHead and the
schema of every payload namespace the message carries.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from lxml import etree

__all__ = [
    "APPREC_NAMESPACES",
    "MSGHEAD_NS",
    "PAYLOADS",
    "Payload",
    "parse_xml",
    "safe_parser",
    "schema_dir",
    "validation_errors",
]

MSGHEAD_NS = "http://www.kith.no/xmlstds/msghead/2006-05-24"
MSGHEAD_FILE = "MsgHead-v1_2.xsd"


@dataclass(frozen=True)
class Payload:
    """A payload namespace the platform knows: its schema file, standard and version."""

    namespace: str
    schema: str
    standard: str
    version: str


_PLO = "Pleie- og omsorgsmelding"
PAYLOADS: dict[str, Payload] = {
    p.namespace: p
    for p in (
        # PLO 1.5 (HIS 80704:2009)
        Payload(
            "http://www.kith.no/xmlstds/po/Pasientlogistikk/2009-06-30",
            "Pasientlogistikk-v1.5.xsd",
            _PLO,
            "1.5",
        ),
        Payload(
            "http://www.kith.no/xmlstds/po/Innleggelsesrapport/2009-06-30",
            "Innleggelsesrapport-v1.5.xsd",
            _PLO,
            "1.5",
        ),
        Payload(
            "http://www.kith.no/xmlstds/po/TverrfagligEpikrise/2009-06-30",
            "TverrfagligEpikrise-v1.5.xsd",
            _PLO,
            "1.5",
        ),
        Payload(
            "http://www.kith.no/xmlstds/po/HelseopplysningerVedSoknad/2009-06-30",
            "HelseopplysningerVedSoknad-v1.5.xsd",
            _PLO,
            "1.5",
        ),
        Payload(
            "http://www.kith.no/xmlstds/po/Konsultasjon/2009-06-30",
            "HelseopplysningerTilLege-v1.5.xsd",
            _PLO,
            "1.5",
        ),
        Payload(
            "http://www.kith.no/xmlstds/po/OverforingMedisinskeOpplysninger/2009-06-30",
            "MedisinskeOpplysninger-v1.5.xsd",
            _PLO,
            "1.5",
        ),
        Payload(
            "http://www.kith.no/xmlstds/po/OrienteringOmTjenestetilbud/2009-06-30",
            "OrienteringOmTjenestetilbud-v1.5.xsd",
            _PLO,
            "1.5",
        ),
        Payload(
            "http://www.kith.no/xmlstds/po/MeldingFravar/2009-06-30",
            "MeldingFravar-v1.5.xsd",
            _PLO,
            "1.5",
        ),
        # PLO 1.6 (HIS 80704:2014)
        Payload(
            "http://www.kith.no/xmlstds/po/Pasientlogistikk/2012-04-01",
            "Pasientlogistikk-v1.6.xsd",
            _PLO,
            "1.6",
        ),
        Payload(
            "http://www.kith.no/xmlstds/po/Innleggelsesrapport/2012-04-01",
            "Innleggelsesrapport-v1.6.xsd",
            _PLO,
            "1.6",
        ),
        Payload(
            "http://www.kith.no/xmlstds/po/TverrfagligEpikrise/2012-04-01",
            "TverrfagligEpikrise-v1.6.xsd",
            _PLO,
            "1.6",
        ),
        Payload(
            "http://www.kith.no/xmlstds/po/HelseopplysningerVedSoknad/2012-04-01",
            "Helseopplysninger-v1.6.xsd",
            _PLO,
            "1.6",
        ),
        Payload(
            "http://www.kith.no/xmlstds/po/HelseopplysningerTilLege/2012-04-01",
            "HelseopplysningerTilLege-v1.6.xsd",
            _PLO,
            "1.6",
        ),
        Payload(
            "http://www.kith.no/xmlstds/po/MedisinskeOpplysninger/2012-04-01",
            "MedisinskeOpplysninger-v1.6.xsd",
            _PLO,
            "1.6",
        ),
        Payload(
            "http://www.kith.no/xmlstds/po/OrienteringOmTjenestetilbud/2012-04-01",
            "OrienteringOmTjenestetilbud-v1.6.xsd",
            _PLO,
            "1.6",
        ),
        # PLO 2.0 (HIS 1162:2016, "til pilotering")
        Payload(
            "http://ehelse.no/xmlstds/po/Pasientlogistikk/2016-05-30",
            "Pasientlogistikk-v2.0.xsd",
            _PLO,
            "2.0",
        ),
        Payload(
            "http://ehelse.no/xmlstds/po/Sammenfatning/2016-05-30",
            "Sammenfatning-v2.0.xsd",
            _PLO,
            "2.0",
        ),
        Payload(
            "http://ehelse.no/xmlstds/po/HelseopplysningerSaksbehandling/2016-05-30",
            "HelseopplysningerSaksbehandling-v2.0.xsd",
            _PLO,
            "2.0",
        ),
        # Dialogmelding 1.0 (used with PLO for questions and answers)
        Payload(
            "http://www.kith.no/xmlstds/dialog/2006-10-11",
            "dialogmelding.xsd",
            "Dialogmelding",
            "1.0",
        ),
    )
}

# AppRec namespace -> (schema file, AppRec version)
APPREC_NAMESPACES: dict[str, tuple[str, str]] = {
    "http://www.kith.no/xmlstds/apprec/2004-11-21": ("AppRec-v1-2004-11-21.xsd", "1.0"),
    "http://www.kith.no/xmlstds/apprec/2012-02-15": ("AppRec-v1.1.xsd", "1.1"),
}

# Absolute schema locations inside the official files, mapped to the local copies.
_URL_MAP: dict[str, str] = {
    "http://www.w3.org/TR/xmldsig-core/xmldsig-core-schema.xsd": "xmldsig-core-schema.xsd",
    "http://www.kith.no/xmlstds/kith.xsd": "kith.xsd",
}


def schema_dir() -> Path:
    """The folder holding the bundled XSD files."""
    return Path(str(resources.files("samhandling.messages").joinpath("schemas")))


class _LocalResolver(etree.Resolver):
    """Serve the two absolute schema URLs from the package; refuse any other network URL."""

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:  # type: ignore[override]
        local = _URL_MAP.get(system_url)
        if local is not None:
            return self.resolve_filename(str(schema_dir() / local), context)  # type: ignore[attr-defined]
        if system_url.startswith(("http:", "https:", "ftp:")):
            raise OSError(f"nettverksoppslag er ikke tillatt: {system_url}")
        return None


def safe_parser() -> etree.XMLParser:
    """An XML parser that never reads the network, DTDs or external entities."""
    parser = etree.XMLParser(
        no_network=True,
        resolve_entities=False,
        load_dtd=False,
        huge_tree=False,
        remove_blank_text=False,
    )
    parser.resolvers.add(_LocalResolver())
    return parser


def parse_xml(raw: bytes) -> Any:
    """Parse bytes into an element tree (raises ``etree.XMLSyntaxError`` when malformed)."""
    return etree.fromstring(raw, safe_parser()).getroottree()


@functools.lru_cache(maxsize=64)
def _schema(files: tuple[str, ...]) -> etree.XMLSchema:
    folder = schema_dir()
    imports = []
    for name in files:
        path = folder / name
        target = etree.parse(str(path), safe_parser()).getroot().get("targetNamespace")
        imports.append(
            f'<xs:import namespace="{target}" schemaLocation="{path.resolve().as_uri()}"/>'
        )
    xs = "http://www.w3.org/2001/XMLSchema"
    driver = f'<xs:schema xmlns:xs="{xs}">' + "".join(imports) + "</xs:schema>"
    doc = etree.fromstring(
        driver.encode("utf-8"), safe_parser(), base_url=str(folder / "_driver.xsd")
    )
    return etree.XMLSchema(doc)


def schema_for(files: list[str]) -> etree.XMLSchema:
    """The compiled schema importing ``files`` (cached)."""
    return _schema(tuple(sorted(set(files))))


def validation_errors(tree: Any, files: list[str], *, limit: int = 5) -> list[str]:
    """Schema errors of ``tree`` against the schemas in ``files`` (empty list: valid)."""
    schema = schema_for(files)
    if schema.validate(tree):
        return []
    log: Any = schema.error_log  # lxml-stubs do not declare _ErrorLog iterable
    errors = [f"linje {e.line}: {e.message}" for e in log]
    return errors[:limit]
