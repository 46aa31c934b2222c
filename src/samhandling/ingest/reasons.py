"""Why a row is rejected (avvisningsårsak): stable codes, Norwegian messages, English meaning.

The codes are part of the platform's output contract (quarantine files, ``samhandling status``,
``docs/ingest.md``): add new ones, never rename or reuse one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    """One rejection reason: ``code`` is stable, ``message`` is shown to users (bokmål)."""

    code: str
    message: str
    meaning: str


_ALL = (
    Reason(
        "missing_column",
        "påkrevd kolonne mangler i filen",
        "A required column is absent from the file; every row of that file is rejected.",
    ),
    Reason("missing_value", "påkrevd verdi mangler", "A required column is empty in this row."),
    Reason(
        "bad_type",
        "verdien kan ikke leses som kolonnens type",
        "Not an integer, decimal (too many decimals included), ISO date/time or true/false; "
        "values are never rounded or coerced.",
    ),
    Reason("bad_enum", "ugyldig kodeverdi", "The value is not one of the column's allowed values."),
    Reason(
        "unknown_municipality",
        "kommunenummeret fantes ikke det året",
        "The municipality code was not valid in the row's year (admitted_at, start or year).",
    ),
    Reason(
        "icd10_malformed",
        "feilformet ICD-10-kode",
        "A diagnosis is not shaped like an ICD-10 code (letter, two digits, up to two more).",
    ),
    Reason(
        "icd10_unknown",
        "ukjent ICD-10-kode",
        "A well-formed diagnosis whose 3-character category is not in the ICD-10 code list.",
    ),
    Reason(
        "discharge_before_admission",
        "utskrevet før innlagt",
        "discharged_at is earlier than admitted_at.",
    ),
    Reason(
        "discharge_missing",
        "døgnopphold uten utskrivningstidspunkt",
        "An inpatient stay (care_level inpatient) has no discharged_at.",
    ),
    Reason(
        "drg_missing",
        "somatisk kontakt uten DRG, DRG-type eller DRG-poeng",
        "A somatic contact lacks drg, drg_type or drg_points (providers exempt by rule "
        "ingest.drg_exempt_provider_types excepted).",
    ),
    Reason("drg_points_negative", "negative DRG-poeng", "drg_points is below zero."),
    Reason(
        "drg_points_implausible",
        "urimelig høye DRG-poeng",
        "drg_points is above the ceiling in rule ingest.drg_points_max.",
    ),
    Reason(
        "duplicate_key",
        "primærnøkkelen forekommer flere ganger i leveransen",
        "Several rows of the delivery share the primary key; all of them are rejected.",
    ),
    Reason(
        "duplicate_key_warehouse",
        "primærnøkkelen finnes allerede i en annen leveranse",
        "The primary key is already held by a live delivery with a different key "
        "(sender + period).",
    ),
    Reason(
        "unknown_episode",
        "hendelsen viser til en episode som ikke finnes",
        "An event's episode_id is neither landed by this delivery nor in a live delivery.",
    ),
    Reason(
        "future_date",
        "datoen ligger etter uttrekksdatoen",
        "A date or time is later than the as-of date of the ingest (default: today).",
    ),
    Reason(
        "birth_after_admission",
        "fødselsåret er etter innleggelsesåret",
        "birth_year is later than the year of admitted_at.",
    ),
    Reason(
        "unknown_health_trust",
        "ukjent organisasjonsnummer for helseforetak",
        "health_trust is not an organisation number in the health-trust register.",
    ),
    Reason(
        "care_end_before_start",
        "sluttdato før startdato",
        "A municipal care episode ends before it starts.",
    ),
    Reason("negative_count", "negativt antall", "A population count is below zero."),
)

REASONS: dict[str, Reason] = {r.code: r for r in _ALL}
