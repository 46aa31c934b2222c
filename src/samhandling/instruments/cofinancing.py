"""Municipal co-financing of hospital care (kommunal medfinansiering, KMF), 2012–2014.

Per episode: eligible or not, with one reason code, and the amount
``share × min(DRG points, cap) × ISF unit price`` of the year (all three from rule tables, rounded
to the øre per episode). From the episodes: monthly, tertial and annual statements per
municipality, health trust (HF) and regional health authority (RHF); the annual forecast
(årsprognose), the monthly à-konto payments with the December adjustment, the annual settlement
(årsavregning: invoice or credit note per municipality and RHF) and the correction ledger
between two deliveries.

Rules used (``rules/tables``): ``cofinancing.share`` (its validity is the scheme period),
``cofinancing.cap_points``, ``isf.unit_price_somatic``, ``cofinancing.sectors``,
``cofinancing.provider_types``, ``cofinancing.care_levels``, ``cofinancing.excluded_drg_types``,
``cofinancing.excluded_mdc``, ``cofinancing.forecast_base_lag``,
``cofinancing.akonto_revision_month``.

The activity date of an episode is the day of discharge (the day of the contact for day
treatment and outpatient consultations): that date picks the rules and the month it is billed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Literal

import pyarrow as pa

from samhandling.contract import admitted_before
from samhandling.engine import Engine
from samhandling.engine.sql import round_half_up_div, sql_string
from samhandling.errors import ConfigError
from samhandling.instruments._relations import (
    MONEY,
    POINTS,
    SHARE,
    register_calendar,
    register_days,
    register_drg_mdc,
    register_municipalities,
    register_rule,
    register_trusts,
    rule_versions,
)
from samhandling.rules import RuleSet

__all__ = [
    "COFINANCING_RULES",
    "REASONS",
    "Level",
    "Period",
    "cofinancing_akonto",
    "cofinancing_corrections",
    "cofinancing_episodes",
    "cofinancing_forecast",
    "cofinancing_settlement",
    "cofinancing_statement",
    "national_cofinancing_total",
]

COFINANCING_RULES: tuple[str, ...] = (
    "cofinancing.share",
    "cofinancing.cap_points",
    "isf.unit_price_somatic",
    "cofinancing.sectors",
    "cofinancing.provider_types",
    "cofinancing.care_levels",
    "cofinancing.excluded_drg_types",
    "cofinancing.excluded_mdc",
)

# Reason codes in the order they are tested; the first that applies is reported.
REASONS: dict[str, str] = {
    "year_outside_scheme": "Utenfor ordningens periode (2012–2014)",
    "sector": "Sektor omfattes ikke (bare somatikk)",
    "provider_type": "Behandlingssted omfattes ikke",
    "care_level": "Omsorgsnivå omfattes ikke",
    "not_resident": "Ikke bosatt i en norsk kommune",
    "surgical_drg": "Kirurgisk DRG",
    "childbirth": "Fødsel",
    "newborn": "Nyfødt",
    "expensive_drug": "Særskilt kostbart legemiddel",
    "no_drg_points": "Mangler DRG-poeng",
    "no_unit_price": "Mangler enhetspris for året",
    "eligible": "Medfinansieres",
}

Period = Literal["month", "tertial", "year"]
Level = Literal["municipality", "municipality_rhf", "health_trust", "rhf", "national"]

_LEVEL_COLUMNS: dict[str, tuple[str, ...]] = {
    "municipality": ("municipality",),
    "municipality_rhf": ("municipality", "rhf", "rhf_name"),
    "health_trust": ("health_trust", "health_trust_name", "rhf"),
    "rhf": ("rhf", "rhf_name"),
    "national": (),
}


def _ore_to_money(expr: str) -> str:
    """Whole øre (BIGINT) to DECIMAL(18,2), exactly (no division, which DuckDB does in DOUBLE)."""
    return f"CAST(CAST({expr} AS DECIMAL(18, 0)) * CAST(0.01 AS DECIMAL(3, 2)) AS DECIMAL(18, 2))"


def _register(engine: Engine, rules: RuleSet) -> None:
    register_rule(engine, rules, "cofinancing.share", SHARE)
    register_rule(engine, rules, "cofinancing.cap_points", POINTS)
    register_rule(engine, rules, "isf.unit_price_somatic", MONEY)
    for code_list in (
        "cofinancing.sectors",
        "cofinancing.provider_types",
        "cofinancing.care_levels",
        "cofinancing.excluded_drg_types",
        "cofinancing.excluded_mdc",
    ):
        register_rule(engine, rules, code_list)
    register_days(engine)
    register_drg_mdc(engine)
    register_trusts(engine)
    register_municipalities(engine)


def _episode_sql(
    rules: RuleSet,
    *,
    episodes: str = "episodes",
    where: str = "TRUE",
    years_shift: int = 0,
    tag: str = "x",
    scan: str = "TRUE",
) -> str:
    """SELECT of one row per episode with eligibility, reason and amount.

    ``scan``: a condition on the episodes' own columns that every episode ``where`` keeps
    meets, there so that the engine can skip the files and row groups of other periods.

    ``years_shift`` prices an episode with the rules in force that many years after its activity
    date (the forecast prices last year's activity with this year's rules). ``tag`` keeps the
    CTE names unique when one query uses this twice (sqlglot hoists nested CTEs for Spark).
    """
    rule_date = (
        "ep.activity_date"
        if years_shift == 0
        else f"CAST(ep.activity_date + INTERVAL {int(years_shift)} YEAR AS DATE)"
    )
    label = sql_string(rules.label)
    versions = sql_string(rule_versions(rules, COFINANCING_RULES))
    return f"""
WITH {tag}_ep AS (
    SELECT e.*, CAST(COALESCE(e.discharged_at, e.admitted_at) AS DATE) AS activity_date
    FROM {episodes} AS e
    WHERE {scan}
),
{tag}_dated AS (
    SELECT ep.*, {rule_date} AS rule_date FROM {tag}_ep AS ep WHERE {where}
),
{tag}_day_rules AS (
    -- Rules resolved once per calendar day, then equi-joined: no range join on the episodes.
    SELECT d.day AS rule_date,
        sh.value AS share, sh.status AS share_status,
        cap.value AS cap_points, cap.status AS cap_status,
        up.value AS unit_price, up.status AS unit_price_status
    FROM calendar_days AS d
    LEFT JOIN rule_cofinancing_share AS sh ON d.day BETWEEN sh.valid_from AND sh.valid_to
    LEFT JOIN rule_cofinancing_cap_points AS cap
        ON d.day BETWEEN cap.valid_from AND cap.valid_to
    LEFT JOIN rule_isf_unit_price_somatic AS up ON d.day BETWEEN up.valid_from AND up.valid_to
),
{tag}_day_codes AS (
    SELECT d.day AS rule_date, c.rule_id, c.key, c.value
    FROM calendar_days AS d
    JOIN (
        SELECT rule_id, key, value, valid_from, valid_to FROM rule_cofinancing_sectors
        UNION ALL
        SELECT rule_id, key, value, valid_from, valid_to FROM rule_cofinancing_provider_types
        UNION ALL
        SELECT rule_id, key, value, valid_from, valid_to FROM rule_cofinancing_care_levels
        UNION ALL
        SELECT rule_id, key, value, valid_from, valid_to
        FROM rule_cofinancing_excluded_drg_types
        UNION ALL
        SELECT rule_id, key, value, valid_from, valid_to FROM rule_cofinancing_excluded_mdc
    ) AS c ON d.day BETWEEN c.valid_from AND c.valid_to
),
{tag}_joined AS (
    SELECT
        ep.episode_id, ep.patient_id, ep.municipality, ep.health_trust, ep.sector,
        ep.provider_type, ep.care_level, ep.drg, ep.drg_type, ep.main_diagnosis,
        ep.birth_year, ep.activity_date, ep.rule_date, ep.drg_points, ep.drug_excluded,
        ep.delivery_id,
        CASE
            WHEN ep.care_level = 'inpatient'
                AND CAST(ep.admitted_at AS DATE) < ep.activity_date
            THEN DATE_DIFF('day', CAST(ep.admitted_at AS DATE), ep.activity_date)
            ELSE 1
        END AS bed_days,
        COALESCE(ep.mdc, dm.drg_mdc) AS mdc,
        COALESCE(tt.health_trust_name, ep.health_trust) AS health_trust_name,
        COALESCE(tt.rhf, 'ukjent') AS rhf, COALESCE(tt.rhf_name, 'ukjent') AS rhf_name,
        dr.share, dr.share_status, dr.cap_points, dr.cap_status, dr.unit_price,
        dr.unit_price_status,
        sec.key AS sector_key, pt.key AS provider_key, cl.key AS care_level_key,
        mun.municipality AS resident_municipality,
        xt.value AS drg_type_exclusion, xm.value AS mdc_exclusion
    FROM {tag}_dated AS ep
    LEFT JOIN drg_mdc AS dm ON dm.drg = ep.drg
    LEFT JOIN trust_tree AS tt ON tt.health_trust = ep.health_trust
    LEFT JOIN {tag}_day_rules AS dr ON dr.rule_date = ep.rule_date
    LEFT JOIN {tag}_day_codes AS sec
        ON sec.rule_date = ep.rule_date AND sec.rule_id = 'cofinancing.sectors'
        AND sec.key = ep.sector
    LEFT JOIN {tag}_day_codes AS pt
        ON pt.rule_date = ep.rule_date AND pt.rule_id = 'cofinancing.provider_types'
        AND pt.key = ep.provider_type
    LEFT JOIN {tag}_day_codes AS cl
        ON cl.rule_date = ep.rule_date AND cl.rule_id = 'cofinancing.care_levels'
        AND cl.key = ep.care_level
    LEFT JOIN municipality_years AS mun
        ON mun.municipality = ep.municipality
        AND mun.year = EXTRACT(YEAR FROM ep.activity_date)
    LEFT JOIN {tag}_day_codes AS xt
        ON xt.rule_date = ep.rule_date AND xt.rule_id = 'cofinancing.excluded_drg_types'
        AND xt.key = ep.drg_type
    LEFT JOIN {tag}_day_codes AS xm
        ON xm.rule_date = ep.rule_date AND xm.rule_id = 'cofinancing.excluded_mdc'
        AND xm.key = COALESCE(ep.mdc, dm.drg_mdc)
),
{tag}_reasoned AS (
    SELECT j.*,
        CASE
            WHEN j.share IS NULL THEN 'year_outside_scheme'
            WHEN j.sector_key IS NULL THEN 'sector'
            WHEN j.provider_key IS NULL THEN 'provider_type'
            WHEN j.care_level_key IS NULL THEN 'care_level'
            WHEN j.resident_municipality IS NULL THEN 'not_resident'
            WHEN j.drg_type_exclusion IS NOT NULL THEN j.drg_type_exclusion
            WHEN j.mdc_exclusion IS NOT NULL THEN j.mdc_exclusion
            WHEN COALESCE(j.drug_excluded, FALSE) THEN 'expensive_drug'
            WHEN j.drg_points IS NULL THEN 'no_drg_points'
            WHEN j.unit_price IS NULL OR j.cap_points IS NULL THEN 'no_unit_price'
            ELSE 'eligible'
        END AS reason,
        CASE WHEN j.drg_points > j.cap_points THEN j.cap_points ELSE j.drg_points END
            AS capped_points
    FROM {tag}_joined AS j
)
SELECT
    r.episode_id, r.patient_id, r.municipality, r.health_trust, r.health_trust_name,
    r.rhf, r.rhf_name, r.sector, r.provider_type, r.care_level, r.drg, r.drg_type, r.mdc,
    r.main_diagnosis, r.birth_year, r.activity_date,
    CAST(EXTRACT(YEAR FROM r.activity_date) AS INTEGER) AS year,
    CAST(EXTRACT(MONTH FROM r.activity_date) AS INTEGER) AS month,
    CASE
        WHEN EXTRACT(MONTH FROM r.activity_date) <= 4 THEN 1
        WHEN EXTRACT(MONTH FROM r.activity_date) <= 8 THEN 2
        ELSE 3
    END AS tertial,
    CAST(r.bed_days AS BIGINT) AS bed_days,
    r.resident_municipality IS NOT NULL AS resident,
    r.reason,
    r.reason = 'eligible' AS eligible,
    r.drg_points,
    r.cap_points,
    CASE WHEN r.reason = 'eligible' THEN r.capped_points ELSE CAST(0 AS DECIMAL(9, 3)) END
        AS capped_points,
    r.share,
    r.unit_price,
    CASE
        WHEN r.reason = 'eligible'
        THEN CAST(ROUND(r.share * r.capped_points * r.unit_price, 2) AS DECIMAL(18, 2))
        ELSE CAST(0 AS DECIMAL(18, 2))
    END AS amount,
    (r.reason = 'eligible' AND (r.share_status = 'unverified' OR r.cap_status = 'unverified'
        OR r.unit_price_status = 'unverified')) AS unverified,
    r.delivery_id,
    {label} AS rule_set,
    {versions} AS rule_versions
FROM {tag}_reasoned AS r
"""


def cofinancing_episodes(
    engine: Engine,
    rules: RuleSet,
    *,
    year: int | None = None,
    episode_id: str | None = None,
    episodes: str = "episodes",
) -> pa.Table:
    """Every episode (of ``year``, or the one ``episode_id``) with reason code and amount.

    Columns: episode_id, patient_id, municipality, health_trust(_name), rhf(_name), sector,
    provider_type, care_level, drg, drg_type, mdc, main_diagnosis, birth_year, activity_date,
    year, month, tertial, bed_days (inpatient: days from admission to discharge, at least 1;
    otherwise 1), resident, reason (a key of :data:`REASONS`), eligible, drg_points, cap_points,
    capped_points, share, unit_price, amount (DECIMAL(18,2)), unverified (the amount rests on
    an unverified rule value), delivery_id, rule_set, rule_versions.
    """
    sql = cofinancing_episodes_sql(
        engine, rules, year=year, episode_id=episode_id, episodes=episodes
    )
    return engine.query(sql + " ORDER BY r.episode_id")


def cofinancing_episodes_sql(
    engine: Engine,
    rules: RuleSet,
    *,
    year: int | None = None,
    episode_id: str | None = None,
    episodes: str = "episodes",
    years: Sequence[int] | None = None,
) -> str:
    """The query of :func:`cofinancing_episodes` (its rule tables registered on ``engine``),
    unordered: for a caller that reads it inside the engine, such as the tables' payment facts,
    without bringing every episode into Python. ``years``: the episodes of those activity
    years only (``year``: of that one)."""
    _register(engine, rules)
    conditions = ["TRUE"]
    wanted: list[int] = []
    if year is not None:
        conditions.append(f"EXTRACT(YEAR FROM ep.activity_date) = {int(year)}")
        wanted.append(int(year))
    if years is not None:
        listed = ", ".join(str(int(y)) for y in years) or "NULL"
        conditions.append(f"CAST(EXTRACT(YEAR FROM ep.activity_date) AS INTEGER) IN ({listed})")
        wanted.extend(int(y) for y in years)
    if episode_id is not None:
        conditions.append(f"ep.episode_id = {sql_string(episode_id)}")
    return _episode_sql(
        rules,
        episodes=episodes,
        where=" AND ".join(conditions),
        scan=admitted_before(max(wanted) + 1) if wanted else "TRUE",
    )


def _period_sql(period: Period) -> str:
    if period == "month":
        return "CAST(e.year AS VARCHAR) || '-' || LPAD(CAST(e.month AS VARCHAR), 2, '0')"
    if period == "tertial":
        return "CAST(e.year AS VARCHAR) || '-T' || CAST(e.tertial AS VARCHAR)"
    if period == "year":
        return "CAST(e.year AS VARCHAR)"
    raise ConfigError(f"ukjent periode {period!r}: velg month, tertial eller year")


def cofinancing_statement(
    engine: Engine,
    rules: RuleSet,
    year: int,
    *,
    period: Period = "month",
    level: Level = "municipality",
    episodes: str = "episodes",
) -> pa.Table:
    """What is owed per period and per municipality, HF or RHF (sums of episode amounts).

    Columns: period ('2012-01', '2012-T1' or '2012'), the level's columns, episodes (all
    episodes in the period), eligible_episodes, capped_points, amount, unverified_amount
    (the part resting on unverified rule values), rule_set, rule_versions.
    """
    if level not in _LEVEL_COLUMNS:
        raise ConfigError(f"ukjent nivå {level!r}: velg " + ", ".join(sorted(_LEVEL_COLUMNS)))
    _register(engine, rules)
    keys = _LEVEL_COLUMNS[level]
    select_keys = "".join(f"e.{k}, " for k in keys)
    group_keys = "".join(f", e.{k}" for k in keys)
    period_expr = _period_sql(period)
    inner = _episode_sql(
        rules, episodes=episodes, where=f"EXTRACT(YEAR FROM ep.activity_date) = {int(year)}"
    )
    sql = f"""
SELECT
    {period_expr} AS period, {select_keys}
    COUNT(*) AS episodes,
    CAST(SUM(CASE WHEN e.eligible THEN 1 ELSE 0 END) AS BIGINT) AS eligible_episodes,
    CAST(SUM(e.capped_points) AS DECIMAL(18, 3)) AS capped_points,
    CAST(SUM(e.amount) AS DECIMAL(18, 2)) AS amount,
    CAST(SUM(CASE WHEN e.unverified THEN e.amount ELSE 0 END) AS DECIMAL(18, 2))
        AS unverified_amount,
    MIN(e.rule_set) AS rule_set,
    MIN(e.rule_versions) AS rule_versions
FROM ({inner}) AS e
GROUP BY {period_expr}{group_keys}
ORDER BY 1{group_keys}
"""
    return engine.query(sql)


def national_cofinancing_total(
    engine: Engine, rules: RuleSet, year: int, *, episodes: str = "episodes"
) -> Decimal:
    """The national co-financing total of ``year`` (NOK, to the øre)."""
    table = cofinancing_statement(
        engine, rules, year, period="year", level="national", episodes=episodes
    )
    if table.num_rows == 0:
        return Decimal("0.00")
    value = table.column("amount")[0].as_py()
    return Decimal("0.00") if value is None else Decimal(value)


def _rule_int(rules: RuleSet, rule_id: str, year: int) -> int:
    return int(rules[rule_id].value_on(date(year, 1, 1)).decimal)


def _forecast_sql(rules: RuleSet, year: int, episodes: str) -> str:
    lag = _rule_int(rules, "cofinancing.forecast_base_lag", year)
    base_year = year - lag
    priced = _episode_sql(
        rules,
        episodes=episodes,
        where=f"EXTRACT(YEAR FROM ep.activity_date) = {base_year}",
        years_shift=lag,
        tag="fc",
    )
    return f"""
WITH base AS (
    SELECT e.municipality, e.rhf, MIN(e.rhf_name) AS rhf_name,
        CAST(SUM(e.amount) AS DECIMAL(18, 2)) AS base_amount
    FROM ({priced}) AS e
    WHERE e.eligible
    GROUP BY e.municipality, e.rhf
),
pop AS (
    SELECT p.municipality,
        CAST(SUM(CASE WHEN p.year = {year} THEN p.count ELSE 0 END) AS BIGINT) AS pop_target,
        CAST(SUM(CASE WHEN p.year = {base_year} THEN p.count ELSE 0 END) AS BIGINT) AS pop_base
    FROM population AS p
    WHERE p.year IN ({year}, {base_year})
    GROUP BY p.municipality
),
ore AS (
    SELECT b.municipality, b.rhf, b.rhf_name, b.base_amount,
        COALESCE(pop.pop_base, 0) AS pop_base, COALESCE(pop.pop_target, 0) AS pop_target,
        CAST(ROUND(b.base_amount * 100, 0) AS BIGINT) AS base_ore
    FROM base AS b LEFT JOIN pop ON pop.municipality = b.municipality
)
SELECT
    {year} AS year, {base_year} AS base_year, o.municipality, o.rhf, o.rhf_name,
    o.base_amount, o.pop_base, o.pop_target,
    (o.pop_base > 0 AND o.pop_target > 0) AS population_adjusted,
    CAST(
        CASE WHEN o.pop_base > 0 AND o.pop_target > 0
            THEN {round_half_up_div("o.base_ore * o.pop_target", "o.pop_base")}
            ELSE o.base_ore
        END AS BIGINT
    ) AS forecast_ore
FROM ore AS o
"""


def cofinancing_forecast(
    engine: Engine, rules: RuleSet, year: int, *, episodes: str = "episodes"
) -> pa.Table:
    """The annual forecast (årsprognose) per municipality and RHF.

    Last year's eligible activity (``cofinancing.forecast_base_lag`` years back) priced with the
    forecast year's rules, times population(year) / population(base year) from the
    ``population`` relation, rounded half up to the øre (no population: no adjustment).
    Columns: year, base_year, municipality, rhf, rhf_name, base_amount, pop_base, pop_target,
    population_adjusted, forecast, rule_set, rule_versions.
    """
    _register(engine, rules)
    sql = f"""
SELECT f.year, f.base_year, f.municipality, f.rhf, f.rhf_name, f.base_amount, f.pop_base,
    f.pop_target, f.population_adjusted,
    {_ore_to_money("f.forecast_ore")} AS forecast,
    {sql_string(rules.label)} AS rule_set,
    {sql_string(rule_versions(rules, (*COFINANCING_RULES, "cofinancing.forecast_base_lag")))}
        AS rule_versions
FROM ({_forecast_sql(rules, year, episodes)}) AS f
ORDER BY f.municipality, f.rhf
"""
    return engine.query(sql)


def cofinancing_akonto(
    engine: Engine, rules: RuleSet, year: int, *, episodes: str = "episodes"
) -> pa.Table:
    """Monthly à-konto payments per municipality and RHF, with the December adjustment.

    January to November each pay the forecast / 12, rounded down to the øre. December pays
    the revised forecast (actual co-financing January to ``cofinancing.akonto_revision_month``,
    annualised, rounded half up to the øre) minus what was paid January to November; with no
    revision month it pays the rest of the forecast, so that the year sums to the forecast.
    Columns: year, municipality, rhf, rhf_name, month, forecast, revised_forecast, akonto,
    december_adjusted, rule_set, rule_versions.
    """
    _register(engine, rules)
    register_calendar(engine)
    revision = _rule_int(rules, "cofinancing.akonto_revision_month", year)
    if not 0 <= revision <= 11:
        raise ConfigError(
            f"cofinancing.akonto_revision_month må være 0–11, ikke {revision} ({year})"
        )
    actual_sql = _episode_sql(
        rules,
        episodes=episodes,
        where=(
            f"EXTRACT(YEAR FROM ep.activity_date) = {int(year)} "
            f"AND EXTRACT(MONTH FROM ep.activity_date) <= {revision}"
        ),
        tag="rev",
    )
    revised = (
        round_half_up_div("k.actual_ore * 12", str(revision)) if revision > 0 else "k.forecast_ore"
    )
    versions = rule_versions(
        rules,
        (
            *COFINANCING_RULES,
            "cofinancing.forecast_base_lag",
            "cofinancing.akonto_revision_month",
        ),
    )
    sql = f"""
WITH f AS ({_forecast_sql(rules, year, episodes)}),
a AS (
    SELECT e.municipality, e.rhf, MIN(e.rhf_name) AS rhf_name,
        CAST(ROUND(SUM(e.amount) * 100, 0) AS BIGINT) AS actual_ore
    FROM ({actual_sql}) AS e
    WHERE e.eligible
    GROUP BY e.municipality, e.rhf
),
keys AS (
    SELECT municipality, rhf, rhf_name FROM f
    UNION
    SELECT municipality, rhf, rhf_name FROM a
),
k AS (
    SELECT keys.municipality, keys.rhf, keys.rhf_name,
        COALESCE(f.forecast_ore, 0) AS forecast_ore,
        COALESCE(a.actual_ore, 0) AS actual_ore
    FROM keys
    LEFT JOIN f ON f.municipality = keys.municipality AND f.rhf = keys.rhf
    LEFT JOIN a ON a.municipality = keys.municipality AND a.rhf = keys.rhf
),
plan AS (
    SELECT k.municipality, k.rhf, k.rhf_name, k.forecast_ore,
        k.forecast_ore // 12 AS monthly_ore,
        CAST({revised} AS BIGINT) AS revised_ore
    FROM k
),
months AS (
    SELECT CAST(EXTRACT(MONTH FROM m.month_start) AS INTEGER) AS month
    FROM calendar_months AS m
    WHERE EXTRACT(YEAR FROM m.month_start) = {int(year)}
)
SELECT
    {int(year)} AS year, p.municipality, p.rhf, p.rhf_name, months.month,
    {_ore_to_money("p.forecast_ore")} AS forecast,
    {_ore_to_money("p.revised_ore")} AS revised_forecast,
    {
        _ore_to_money(
            "CASE WHEN months.month < 12 THEN p.monthly_ore "
            "ELSE p.revised_ore - 11 * p.monthly_ore END"
        )
    } AS akonto,
    (months.month = 12 AND {revision} > 0) AS december_adjusted,
    {sql_string(rules.label)} AS rule_set,
    {sql_string(versions)} AS rule_versions
FROM plan AS p CROSS JOIN months
ORDER BY p.municipality, p.rhf, months.month
"""
    return engine.query(sql)


def cofinancing_settlement(
    engine: Engine, rules: RuleSet, year: int, *, episodes: str = "episodes"
) -> pa.Table:
    """The annual settlement (årsavregning) per municipality and RHF: actual − à-konto paid.

    A positive balance is invoiced to the municipality (``faktura``), a negative one is
    credited (``kreditnota``). Columns: year, municipality, rhf, rhf_name, forecast,
    akonto_paid, actual, settlement, document, unverified_amount, rule_set, rule_versions.
    """
    akonto = cofinancing_akonto(engine, rules, year, episodes=episodes)
    engine.register_arrow("cofinancing_akonto_run", akonto)
    actual_sql = _episode_sql(
        rules, episodes=episodes, where=f"EXTRACT(YEAR FROM ep.activity_date) = {int(year)}"
    )
    sql = f"""
WITH paid AS (
    SELECT municipality, rhf, MIN(rhf_name) AS rhf_name, MIN(forecast) AS forecast,
        CAST(SUM(akonto) AS DECIMAL(18, 2)) AS akonto_paid
    FROM cofinancing_akonto_run
    GROUP BY municipality, rhf
),
actual AS (
    SELECT e.municipality, e.rhf, MIN(e.rhf_name) AS rhf_name,
        CAST(SUM(e.amount) AS DECIMAL(18, 2)) AS actual,
        CAST(SUM(CASE WHEN e.unverified THEN e.amount ELSE 0 END) AS DECIMAL(18, 2))
            AS unverified_amount
    FROM ({actual_sql}) AS e
    WHERE e.eligible
    GROUP BY e.municipality, e.rhf
),
s AS (
    SELECT
        COALESCE(paid.municipality, actual.municipality) AS municipality,
        COALESCE(paid.rhf, actual.rhf) AS rhf,
        COALESCE(paid.rhf_name, actual.rhf_name) AS rhf_name,
        COALESCE(paid.forecast, CAST(0 AS DECIMAL(18, 2))) AS forecast,
        COALESCE(paid.akonto_paid, CAST(0 AS DECIMAL(18, 2))) AS akonto_paid,
        COALESCE(actual.actual, CAST(0 AS DECIMAL(18, 2))) AS actual,
        COALESCE(actual.unverified_amount, CAST(0 AS DECIMAL(18, 2))) AS unverified_amount
    FROM paid FULL OUTER JOIN actual
        ON actual.municipality = paid.municipality AND actual.rhf = paid.rhf
)
SELECT {int(year)} AS year, s.municipality, s.rhf, s.rhf_name, s.forecast, s.akonto_paid,
    s.actual,
    CAST(s.actual - s.akonto_paid AS DECIMAL(18, 2)) AS settlement,
    CASE
        WHEN s.actual > s.akonto_paid THEN 'faktura'
        WHEN s.actual < s.akonto_paid THEN 'kreditnota'
        ELSE 'ingen'
    END AS document,
    s.unverified_amount,
    {sql_string(rules.label)} AS rule_set,
    {
        sql_string(
            rule_versions(
                rules,
                (
                    *COFINANCING_RULES,
                    "cofinancing.forecast_base_lag",
                    "cofinancing.akonto_revision_month",
                ),
            )
        )
    } AS rule_versions
FROM s
ORDER BY s.municipality, s.rhf
"""
    return engine.query(sql)


def cofinancing_corrections(
    engine: Engine,
    rules: RuleSet,
    year: int,
    *,
    previous: str = "episodes_previous",
    current: str = "episodes",
) -> pa.Table:
    """The correction ledger between two deliveries of a year's episodes.

    ``previous`` and ``current`` name episode relations (e.g. the warehouse registered
    ``as_of`` the earlier delivery, and now). One row per episode whose amount, reason or
    municipality changed, that is new or that was removed: episode_id, status (``ny``,
    ``fjernet``, ``endret``), old/new municipality, old/new reason, old_amount, new_amount,
    change, old/new delivery_id, rule_set, rule_versions.
    """
    _register(engine, rules)
    where = f"EXTRACT(YEAR FROM ep.activity_date) = {int(year)}"
    old_sql = _episode_sql(rules, episodes=previous, where=where, tag="old")
    new_sql = _episode_sql(rules, episodes=current, where=where, tag="new")
    sql = f"""
WITH o AS ({old_sql}), n AS ({new_sql}),
j AS (
    SELECT
        COALESCE(n.episode_id, o.episode_id) AS episode_id,
        CASE
            WHEN o.episode_id IS NULL THEN 'ny'
            WHEN n.episode_id IS NULL THEN 'fjernet'
            WHEN o.amount <> n.amount OR o.reason <> n.reason
                OR o.municipality <> n.municipality THEN 'endret'
        END AS status,
        o.municipality AS old_municipality, n.municipality AS new_municipality,
        o.reason AS old_reason, n.reason AS new_reason,
        COALESCE(o.amount, CAST(0 AS DECIMAL(18, 2))) AS old_amount,
        COALESCE(n.amount, CAST(0 AS DECIMAL(18, 2))) AS new_amount,
        o.delivery_id AS old_delivery_id, n.delivery_id AS new_delivery_id
    FROM o FULL OUTER JOIN n ON n.episode_id = o.episode_id
)
SELECT j.episode_id, j.status, j.old_municipality, j.new_municipality, j.old_reason,
    j.new_reason, j.old_amount, j.new_amount,
    CAST(j.new_amount - j.old_amount AS DECIMAL(18, 2)) AS change,
    j.old_delivery_id, j.new_delivery_id,
    {sql_string(rules.label)} AS rule_set,
    {sql_string(rule_versions(rules, COFINANCING_RULES))} AS rule_versions
FROM j
WHERE j.status IS NOT NULL
ORDER BY j.episode_id
"""
    return engine.query(sql)
