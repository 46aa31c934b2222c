"""What the warehouse holds, per year and sector: the figures the demo and ``status`` summarise."""

from __future__ import annotations

import pyarrow as pa

from samhandling.engine import Engine


def activity_by_year_sector(engine: Engine, *, episodes: str = "episodes") -> pa.Table:
    """Contacts, inpatient stays, bed days and distinct patients per year (of admission) × sector.

    Bed days (liggedøgn) count calendar days between admission and discharge of inpatient stays.
    """
    sql = f"""
SELECT
    CAST(EXTRACT(YEAR FROM admitted_at) AS INTEGER) AS year,
    sector,
    COUNT(*) AS contacts,
    SUM(CASE WHEN care_level = 'inpatient' THEN 1 ELSE 0 END) AS inpatient_stays,
    SUM(CASE WHEN care_level = 'outpatient' THEN 1 ELSE 0 END) AS outpatient_contacts,
    SUM(
        CASE WHEN care_level = 'inpatient'
             THEN DATEDIFF('day', CAST(admitted_at AS DATE), CAST(discharged_at AS DATE))
             ELSE 0 END
    ) AS bed_days,
    COUNT(DISTINCT patient_id) AS patients
FROM {episodes}
GROUP BY 1, 2
ORDER BY 1, 2
"""
    return engine.query(sql)
