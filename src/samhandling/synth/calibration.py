"""Calibration report: the national figures the synthetic data produce, next to their targets.

:func:`calibration_report` reads a folder written by :func:`samhandling.synth.generate` (DuckDB
over the delivery files) and computes each figure that docs/synthetic-data.md quotes. Counts are
scaled to the whole country by (reference population / sampled population) of the year, so a run
at ``--fraction 0.1`` reports national-scale numbers; means and shares are not scaled.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from samhandling.contract import KINDS, arrow_schema
from samhandling.engine import Engine, make_engine
from samhandling.errors import ConfigError
from samhandling.refdata import population
from samhandling.synth._params import section
from samhandling.synth._persons import FIRST_DATA_YEAR

_REPORT_FIELDS: list[pa.Field[Any]] = [
    pa.field("year", pa.int16(), nullable=False),
    pa.field("metric", pa.string(), nullable=False),
    pa.field("value", pa.decimal128(18, 3), nullable=True),
    pa.field("scaled", pa.bool_(), nullable=False),
]
REPORT_SCHEMA = pa.schema(_REPORT_FIELDS)

# metric -> (SQL over the relations, scaled to national). Each SQL yields (year, value).
_SOMATIC_STAY = (
    "sector = 'somatic' AND care_level = 'inpatient' "
    "AND provider_type IN ('public', 'private_contracted')"
)
_METRICS: dict[str, tuple[str, bool]] = {
    "somatic_inpatient_stays": (
        f"SELECT year, COUNT(*) AS value FROM ep WHERE {_SOMATIC_STAY} GROUP BY year",
        True,
    ),
    "somatic_inpatient_stays_healthy_newborns": (
        f"SELECT year, COUNT(*) AS value FROM ep WHERE {_SOMATIC_STAY} AND drg = '391' "
        "GROUP BY year",
        True,
    ),
    "somatic_mean_length_of_stay_days": (
        "SELECT year, AVG(CAST(CAST(discharged_at AS DATE) - CAST(admitted_at AS DATE) AS DOUBLE))"
        f" AS value FROM ep WHERE {_SOMATIC_STAY} GROUP BY year",
        False,
    ),
    "somatic_inpatient_per_1000_age_80_plus": (
        "SELECT s.year, 1000.0 * s.n / p.n AS value FROM "
        f"(SELECT year, COUNT(*) AS n FROM ep WHERE {_SOMATIC_STAY} AND birth_year <= year - 81 "
        "GROUP BY year) AS s JOIN "
        "(SELECT year, SUM(count) AS n FROM population WHERE age >= 80 GROUP BY year) AS p "
        "ON s.year = p.year",
        False,
    ),
    "somatic_emergency_share_inpatient": (
        "SELECT year, AVG(CASE WHEN urgency = 'emergency' THEN 1.0 ELSE 0.0 END) AS value "
        f"FROM ep WHERE {_SOMATIC_STAY} GROUP BY year",
        False,
    ),
    "somatic_day_treatments": (
        "SELECT year, COUNT(*) AS value FROM ep WHERE sector = 'somatic' AND care_level = 'day' "
        "GROUP BY year",
        True,
    ),
    "somatic_outpatient_consultations_hospitals": (
        "SELECT year, COUNT(*) AS value FROM ep WHERE sector = 'somatic' "
        "AND care_level = 'outpatient' AND provider_type <> 'private_specialist' GROUP BY year",
        True,
    ),
    "private_specialist_contacts_somatic": (
        "SELECT year, COUNT(*) AS value FROM ep WHERE sector = 'somatic' "
        "AND provider_type = 'private_specialist' GROUP BY year",
        True,
    ),
    "mental_health_and_tsb_contacts": (
        "SELECT year, COUNT(*) AS value FROM ep "
        "WHERE sector IN ('mental_health', 'substance_abuse') GROUP BY year",
        True,
    ),
    "all_episodes": ("SELECT year, COUNT(*) AS value FROM ep GROUP BY year", True),
    "in_hospital_deaths": (
        "SELECT year, COUNT(*) AS value FROM ep WHERE discharged_to = 'died' GROUP BY year",
        True,
    ),
    "mean_drg_points_inpatient": (
        f"SELECT year, AVG(drg_points) AS value FROM ep WHERE {_SOMATIC_STAY} GROUP BY year",
        False,
    ),
    "mean_drg_points_day": (
        "SELECT year, AVG(drg_points) AS value FROM ep WHERE sector = 'somatic' "
        "AND care_level = 'day' GROUP BY year",
        False,
    ),
    "mean_drg_points_outpatient": (
        "SELECT year, AVG(drg_points) AS value FROM ep WHERE sector = 'somatic' "
        "AND care_level = 'outpatient' AND drg IS NOT NULL GROUP BY year",
        False,
    ),
    "emergency_readmission_share_18_plus": (
        "SELECT year, AVG(CASE WHEN readmitted THEN 1.0 ELSE 0.0 END) AS value FROM ("
        "SELECT year, discharged_to, birth_year, CAST(next_admitted AS DATE) - "
        "CAST(discharged_at AS DATE) BETWEEN 1 AND 30 AND next_urgency = 'emergency' "
        "AS readmitted FROM ("
        "SELECT year, discharged_at, discharged_to, birth_year, "
        "LEAD(admitted_at) OVER (PARTITION BY patient_id ORDER BY admitted_at, episode_id) "
        "AS next_admitted, "
        "LEAD(urgency) OVER (PARTITION BY patient_id ORDER BY admitted_at, episode_id) "
        f"AS next_urgency FROM ep WHERE {_SOMATIC_STAY}) AS s) AS r "
        "WHERE discharged_to <> 'died' AND birth_year <= year - 19 GROUP BY year",
        False,
    ),
    "discharge_ready_stays": (
        "SELECT year, COUNT(*) AS value FROM ep WHERE discharge_ready_at IS NOT NULL GROUP BY year",
        True,
    ),
    "overlying_days": (
        "SELECT year, SUM(CAST(discharged_at AS DATE) - discharge_ready_at) AS value FROM ep "
        "WHERE discharge_ready_at IS NOT NULL AND sector = 'somatic' GROUP BY year",
        True,
    ),
    "discharge_ready_events": (
        "SELECT e.year, COUNT(*) AS value FROM ev AS e GROUP BY e.year",
        True,
    ),
    "kad_admissions": (
        "SELECT year, COUNT(*) AS value FROM care WHERE service = 'kad' GROUP BY year",
        True,
    ),
}
# Distinct patients (unike pasienter) per sector and care level, and contacts per patient.
# Hospitals: public and contracted providers; avtalespesialister are counted on their own.
_HOSPITAL = "provider_type IN ('public', 'private_contracted')"
_PATIENT_GROUPS: dict[str, tuple[str, str]] = {
    "somatic_patients_hospitals": (
        "somatic_contacts_per_patient_hospitals",
        f"sector = 'somatic' AND {_HOSPITAL}",
    ),
    "somatic_inpatients": ("somatic_stays_per_inpatient", _SOMATIC_STAY),
    "somatic_day_patients": (
        "somatic_day_treatments_per_patient",
        f"sector = 'somatic' AND care_level = 'day' AND {_HOSPITAL}",
    ),
    "somatic_outpatients_hospitals": (
        "somatic_outpatient_contacts_per_patient",
        f"sector = 'somatic' AND care_level = 'outpatient' AND {_HOSPITAL}",
    ),
    "private_specialist_patients_somatic": (
        "private_specialist_contacts_per_patient_somatic",
        "sector = 'somatic' AND provider_type = 'private_specialist'",
    ),
    "mental_health_patients": (
        "mental_health_contacts_per_patient",
        "sector = 'mental_health' AND provider_type <> 'private_specialist'",
    ),
    "mental_health_inpatients": (
        "mental_health_stays_per_inpatient",
        "sector = 'mental_health' AND care_level = 'inpatient' "
        "AND provider_type <> 'private_specialist'",
    ),
    "mental_health_outpatients": (
        "mental_health_outpatient_contacts_per_patient",
        "sector = 'mental_health' AND care_level = 'outpatient' "
        "AND provider_type <> 'private_specialist'",
    ),
    "private_specialist_patients_mental_health": (
        "private_specialist_contacts_per_patient_mental_health",
        "sector = 'mental_health' AND provider_type = 'private_specialist'",
    ),
    "substance_abuse_patients": (
        "substance_abuse_contacts_per_patient",
        "sector = 'substance_abuse'",
    ),
}
for _patients, (_per_patient, _where) in _PATIENT_GROUPS.items():
    _METRICS[_patients] = (
        f"SELECT year, COUNT(DISTINCT patient_id) AS value FROM ep WHERE {_where} GROUP BY year",
        True,
    )
    _METRICS[_per_patient] = (
        "SELECT year, CAST(COUNT(*) AS DOUBLE) / COUNT(DISTINCT patient_id) AS value "
        f"FROM ep WHERE {_where} GROUP BY year",
        False,
    )
_STOCK = (
    "SELECT y.year, COUNT(DISTINCT c.patient_id) AS value FROM years AS y JOIN care_all AS c "
    "ON c.service = '{service}' AND c.start <= y.last_day "
    'AND (c."end" IS NULL OR c."end" >= y.last_day) GROUP BY y.year'
)
for _service in ("home_nursing", "long_term_institution", "short_term_institution"):
    _METRICS[f"{_service}_recipients_31_12"] = (_STOCK.format(service=_service), True)


def _cofinancing_sql() -> str:
    """Co-financing (KMF) as if the 2012 scheme applied: share × min(points, cap) × unit price."""
    cfg = section("check.cofinancing")
    excluded = ", ".join(f"'{m}'" for m in cfg["excluded_mdc"])
    return (
        f"SELECT year, CAST({cfg['share']} AS DECIMAL(9, 4)) * "
        f"CAST({cfg['unit_price_2012']} AS DECIMAL(18, 2)) * SUM(CASE WHEN drg_points > "
        f"{cfg['cap_points']} THEN CAST({cfg['cap_points']} AS DECIMAL(9, 3)) ELSE drg_points END)"
        " AS value FROM ep WHERE sector = 'somatic' "
        "AND provider_type IN ('public', 'private_contracted') AND drg_type = 'M' "
        f"AND mdc NOT IN ({excluded}) AND NOT COALESCE(drug_excluded, FALSE) GROUP BY year"
    )


def _register(engine: Engine, folder: Path) -> list[int]:
    """Expose each kind over all year folders as ``raw_<kind>`` (Parquet read in place)."""
    years = sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit())
    if not years:
        raise ConfigError(f"fant ingen årsmapper i {folder}")
    for kind in KINDS:
        parquet = [folder / str(y) / f"{kind}.parquet" for y in years]
        csv = [folder / str(y) / f"{kind}.csv" for y in years]
        if all(p.exists() for p in parquet):
            engine.register_parquet(f"raw_{kind}", parquet)
        elif all(p.exists() for p in csv):
            options = pacsv.ConvertOptions(column_types=arrow_schema(kind))
            tables = [pacsv.read_csv(p, convert_options=options) for p in csv]
            engine.register_arrow(f"raw_{kind}", pa.concat_tables(tables))
        else:
            raise ConfigError(f"{kind} mangler for noen år i {folder}")
    return years


def calibration_report(folder: Path) -> pa.Table:
    """The produced figures per year (national scale where ``scaled``), from written files."""
    engine = make_engine("duckdb")
    try:
        years = _register(engine, Path(folder))
        engine.create_table(
            "ep",
            "SELECT *, CAST(EXTRACT(YEAR FROM admitted_at) AS SMALLINT) AS year FROM raw_episodes",
        )
        engine.create_table(
            "ev",
            "SELECT e.*, p.year FROM raw_events AS e JOIN ep AS p ON e.episode_id = p.episode_id",
        )
        engine.create_table("care_all", "SELECT * FROM raw_municipal_care")
        engine.create_table(
            "care", "SELECT *, CAST(EXTRACT(YEAR FROM start) AS SMALLINT) AS year FROM care_all"
        )
        engine.create_table("population", "SELECT * FROM raw_population")
        reference = {
            y: int(
                np.asarray(
                    population([max(y, FIRST_DATA_YEAR)], borders=2024)["count"].to_numpy()
                ).sum()
            )
            for y in years
        }
        last_days = pa.table(
            {
                "year": pa.array(years, pa.int16()),
                "last_day": pa.array([f"{y}-12-31" for y in years], pa.string()).cast(pa.date32()),
            }
        )
        engine.register_arrow("years", last_days)
        sampled = {
            int(r["year"]): int(r["n"])
            for r in engine.query(
                "SELECT year, SUM(count) AS n FROM population GROUP BY year"
            ).to_pylist()
        }
        rows: list[dict[str, object]] = []
        metrics = dict(_METRICS)
        metrics["cofinancing_nok_2012_rules"] = (_cofinancing_sql(), True)
        for metric, (sql, scaled) in metrics.items():
            for r in engine.query(sql).to_pylist():
                year = int(r["year"])
                if year not in reference or r["value"] is None:
                    continue
                value = Decimal(str(r["value"]))
                if scaled:
                    value = value * Decimal(reference[year]) / Decimal(sampled[year])
                rows.append(
                    {
                        "year": year,
                        "metric": metric,
                        "value": value.quantize(Decimal("0.001")),
                        "scaled": scaled,
                    }
                )
        rows.sort(key=lambda r: (r["metric"], r["year"]))
        return pa.Table.from_pylist(rows, schema=REPORT_SCHEMA)
    finally:
        engine.close()
