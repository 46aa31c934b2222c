"""Contact facts: one row per hospital contact with the steering-data dimensions derived.

Every indicator and every table counts from this relation, so that a stay is dated, placed and
classified in exactly one way everywhere:

* period: stays (inpatient) by discharge date, other contacts by contact date (NPR practice);
* residence: the municipality code of the contact mapped forward to one chosen year's borders
  (a municipality split later goes whole to the successor with the largest population share, so
  that patient counts stay whole);
* age: the calendar year of the period minus the birth year;
* bed days (liggedøgn): calendar days between admission and discharge (0 for same-day stays);
* ICD-10 chapter and block of the main diagnosis (hovedtilstand);
* city district (bydel): the optional extra column ``city_district`` of ``episodes`` (6 digits,
  SSB bydelsnummer) where a delivery carries it, else NULL. The interchange format has no such
  field (``INTERCHANGE.md``: extra columns are kept and ignored), so NPR-like deliveries and the
  synthetic data have none; the region dimension shows districts only where the data have them.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from samhandling.contract import admitted_before
from samhandling.engine import Engine
from samhandling.refdata.borders import code_map
from samhandling.refdata.municipalities import valid_codes

__all__ = [
    "CITY_DISTRICT",
    "FACTS",
    "PERIOD_AT",
    "episode_years",
    "fact_districts",
    "fact_years",
    "icd10_block_table",
    "in_years",
    "register_contact_facts",
    "residence_map",
]

FACTS = "contact_facts"
UNKNOWN_RESIDENCE = "9999"
CITY_DISTRICT = "city_district"


def residence_map(years: list[int], borders: int) -> pa.Table:
    """(year, municipality, residence) for every code valid in each year, in ``borders``' codes."""
    years_out: list[int] = []
    codes: list[str] = []
    targets: list[str] = []
    for year in years:
        if year > borders:
            # Codes cannot be mapped backwards; codes still valid in `borders` stay as they are.
            same = sorted(valid_codes(borders) & valid_codes(year))
            mapping = pa.table({"from_code": same, "to_code": same, "weight": [1.0] * len(same)})
        else:
            mapping = code_map(year, borders)
        best: dict[str, tuple[float, str]] = {}
        for src, dst, weight in zip(
            [str(v) for v in mapping["from_code"].to_pylist()],
            [str(v) for v in mapping["to_code"].to_pylist()],
            [float(v or 0.0) for v in mapping["weight"].to_pylist()],
            strict=True,
        ):
            # Largest share wins; ties by code so that the mapping is deterministic.
            if src not in best or (weight, dst) > best[src]:
                best[src] = (weight, dst)
        for src in sorted(best):
            years_out.append(year)
            codes.append(src)
            targets.append(best[src][1])
    return pa.table(
        {
            "year": pa.array(years_out, pa.int32()),
            "municipality": pa.array(codes, pa.string()),
            "residence": pa.array(targets, pa.string()),
        }
    )


def icd10_block_table() -> pa.Table:
    """Top-level ICD-10 blocks (no sub-blocks, so ranges do not overlap) with their chapter.

    Columns: icd_block, icd_chapter (roman), first_category, last_category, block_label,
    chapter_label; the shape :func:`register_contact_facts` and the diagnosis dimension expect.
    """
    from samhandling.refdata import icd10

    blocks = icd10.blocks()
    blocks = blocks.filter(pc.is_null(blocks["parent_block"]))
    chapters = icd10.chapters()
    chapter_text = dict(
        zip(chapters["chapter_roman"].to_pylist(), chapters["text_no"].to_pylist(), strict=True)
    )
    block = blocks["block"]
    roman = blocks["chapter_roman"].to_pylist()
    return pa.table(
        {
            "icd_block": block,
            "icd_chapter": pa.array(roman, pa.string()),
            "first_category": pc.utf8_slice_codeunits(block, 0, 3),
            "last_category": pc.utf8_slice_codeunits(block, 4, 7),
            "block_label": blocks["text_no"],
            "chapter_label": pa.array(
                [f"Kapittel {r}: {chapter_text.get(r) or ''}" for r in roman], pa.string()
            ),
        }
    )


def episode_years(engine: Engine) -> list[int]:
    """Every year an episode of ``episodes`` is admitted or discharged in."""
    got = engine.query(
        "SELECT DISTINCT CAST(EXTRACT(YEAR FROM COALESCE(discharged_at, admitted_at)) AS INTEGER)"
        " AS y FROM episodes UNION SELECT DISTINCT CAST(EXTRACT(YEAR FROM admitted_at) AS INTEGER)"
        " AS y FROM episodes"
    )
    return sorted(int(v) for v in got.column("y").to_pylist() if v is not None)


# The contact's period: stays (inpatient) by discharge date, other contacts by contact date.
PERIOD_AT = (
    "CASE WHEN e.care_level = 'inpatient' AND e.discharged_at IS NOT NULL "
    "THEN e.discharged_at ELSE e.admitted_at END"
)


def fact_years(engine: Engine) -> list[int]:
    """The years of the contact facts' periods (what :func:`register_contact_facts` would give
    as ``year``), read from ``episodes`` without building the facts."""
    got = engine.query(
        f"SELECT DISTINCT CAST(EXTRACT(YEAR FROM {PERIOD_AT}) AS INTEGER) AS y FROM episodes AS e"
    )
    return sorted(int(v) for v in got.column("y").to_pylist() if v is not None)


def in_years(column: str, years: Sequence[int] | None) -> str:
    if years is None:
        return "TRUE"
    if not years:
        return "FALSE"
    return f"{column} IN ({', '.join(str(int(y)) for y in years)})"


def register_contact_facts(
    engine: Engine,
    *,
    borders: int,
    blocks: pa.Table | None = None,
    name: str = FACTS,
    years: Sequence[int] | None = None,
    stays_only: bool = False,
    residence_years: Sequence[int] | None = None,
) -> None:
    """Materialise ``contact_facts`` from the ``episodes`` relation (see the module docstring).

    ``blocks`` (icd_block, icd_chapter, first_category, last_category) defaults to the ICD-10
    blocks of :mod:`samhandling.refdata.icd10`. ``years`` keeps the contacts of those period
    years only and ``stays_only`` the inpatient stays only: the very rows the whole relation has
    there (a row depends on its own episode alone), so that a national warehouse can be taken a
    year at a time (:func:`samhandling.tables.catalog.build_catalog`). ``residence_years``:
    the years of the residence mapping, :func:`episode_years` (read again when not given).
    """
    _register_residence(engine, borders, residence_years)
    engine.register_arrow("fact_icd_blocks", blocks if blocks is not None else icd10_block_table())
    where = in_years(f"CAST(EXTRACT(YEAR FROM {PERIOD_AT}) AS INTEGER)", years)
    if years:
        where = f"{admitted_before(max(years) + 1)} AND {where}"
    if stays_only:
        where += " AND e.care_level = 'inpatient'"
    engine.create_table(name, _facts_sql(engine, where))


def _register_residence(
    engine: Engine, borders: int, residence_years: Sequence[int] | None
) -> None:
    years = episode_years(engine) if residence_years is None else list(residence_years)
    engine.register_arrow("fact_residence", residence_map(years, borders))


def fact_districts(
    engine: Engine, *, borders: int, residence_years: Sequence[int] | None = None
) -> list[tuple[str, str]]:
    """(residence, city district) pairs of the contact facts, read from ``episodes`` without
    building the facts (the same residence mapping; ``residence_years`` as in
    :func:`register_contact_facts`)."""
    _register_residence(engine, borders, residence_years)
    columns = engine.query("SELECT * FROM episodes LIMIT 0").column_names
    if CITY_DISTRICT not in columns:
        return []
    got = engine.query(
        "SELECT DISTINCT COALESCE(r.residence, "
        f"'{UNKNOWN_RESIDENCE}') AS residence, CAST(e.{CITY_DISTRICT} AS VARCHAR) AS district "
        "FROM episodes AS e LEFT JOIN fact_residence AS r "
        "ON r.year = CAST(EXTRACT(YEAR FROM e.admitted_at) AS INTEGER) "
        f"AND r.municipality = e.municipality WHERE e.{CITY_DISTRICT} IS NOT NULL ORDER BY 1, 2"
    )
    return list(
        zip(
            [str(v) for v in got["residence"].to_pylist()],
            [str(v) for v in got["district"].to_pylist()],
            strict=True,
        )
    )


def _facts_sql(engine: Engine, where: str) -> str:
    columns = engine.query("SELECT * FROM episodes LIMIT 0").column_names
    district = (
        f"CAST(e.{CITY_DISTRICT} AS VARCHAR)"
        if CITY_DISTRICT in columns
        else "CAST(NULL AS VARCHAR)"
    )
    return f"""
        WITH base AS (
            SELECT
                e.episode_id, e.patient_id, e.sex, e.birth_year, e.municipality,
                e.health_trust, e.provider_type, e.sector, e.care_level, e.urgency,
                e.admitted_at, e.discharged_at, e.discharge_ready_at,
                COALESCE(e.drg_type, 'U') AS drg_type,
                COALESCE(e.discharged_to, 'unknown') AS discharged_to,
                COALESCE(e.came_from, 'unknown') AS came_from,
                COALESCE(e.referred_from_outpatient, FALSE) AS referred_from_outpatient,
                {district} AS {CITY_DISTRICT},
                UPPER(REPLACE(e.main_diagnosis, '.', '')) AS main_diagnosis,
                {PERIOD_AT} AS period_at
            FROM episodes AS e
            WHERE {where}
        ),
        dated AS (
            SELECT b.*,
                CAST(EXTRACT(YEAR FROM b.period_at) AS INTEGER) AS year,
                CAST(EXTRACT(MONTH FROM b.period_at) AS INTEGER) AS month,
                CAST(EXTRACT(YEAR FROM b.admitted_at) AS INTEGER) AS admitted_year,
                SUBSTRING(b.main_diagnosis, 1, 3) AS icd_category
            FROM base AS b
        )
        SELECT
            d.*,
            d.year - d.birth_year AS age,
            COALESCE(r.residence, '{UNKNOWN_RESIDENCE}') AS residence,
            CASE WHEN d.care_level = 'inpatient' THEN 1 ELSE 0 END AS is_stay,
            CASE WHEN d.care_level = 'day' THEN 1 ELSE 0 END AS is_day,
            CASE WHEN d.care_level = 'outpatient' THEN 1 ELSE 0 END AS is_outpatient,
            CASE WHEN d.care_level = 'inpatient' AND d.discharged_at IS NOT NULL
                 THEN DATEDIFF('day', CAST(d.admitted_at AS DATE), CAST(d.discharged_at AS DATE))
                 ELSE 0 END AS bed_days,
            COALESCE(k.icd_block, 'ukjent') AS icd_block,
            COALESCE(k.icd_chapter, 'ukjent') AS icd_chapter
        FROM dated AS d
        LEFT JOIN fact_residence AS r
            ON r.year = d.admitted_year AND r.municipality = d.municipality
        LEFT JOIN fact_icd_blocks AS k
            ON d.icd_category >= k.first_category AND d.icd_category <= k.last_category
        """
