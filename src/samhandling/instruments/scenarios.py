"""The white paper's co-financing designs as scenarios (St.meld. nr. 47 (2008–2009), ch. 9.4).

Each scenario is a key in the ``scenario.*`` rule tables: its scope (``kmf`` = the scheme as
implemented 2012–2014; ``general`` = all sectors, all DRG types), share, cap, age limit,
diagnosis limit and pooling. Somatic contacts are priced ``min(DRG points, cap) × ISF unit
price``; other contacts by the bed-day / per-contact tariffs of ``scenario.nonsomatic_tariff``
(capped at the same number of DRG points' worth of kroner). The municipality pays
``share × price``, rounded to the øre per contact.

Pooling (``scenario.pooling``): cooperating municipalities share their total in proportion to
population, or population weighted by age (``scenario.pooling_age_weight``). By default a
municipality's pool is the health trust that treats most of its residents in the year; pass
``pools`` (a relation with municipality, pool) for agreed cooperations.

The risk curve (:func:`scenario_variation`) summarises, per municipality size class
(``scenario.size_classes``), how much the cost per inhabitant changes from one year to the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pyarrow as pa

from samhandling.engine import Engine
from samhandling.engine.sql import round_half_up_div, sql_string
from samhandling.errors import ConfigError
from samhandling.instruments import cofinancing
from samhandling.instruments._relations import (
    MONEY,
    POINTS,
    SHARE,
    register_rule,
    rule_versions,
)
from samhandling.rules import RuleSet

__all__ = ["SCENARIO_RULES", "scenario_costs", "scenario_names", "scenario_variation"]

SCENARIO_RULES: tuple[str, ...] = (
    "scenario.scope",
    "scenario.share",
    "scenario.cap_points",
    "scenario.min_age",
    "scenario.diagnosis_limited",
    "scenario.diagnoses",
    "scenario.nonsomatic_tariff",
    "scenario.pooling",
    "scenario.pooling_age_weight",
)

# A weight of one inhabitant is stored in tenths so that pooled shares stay whole numbers.
_WEIGHT_SCALE = 10


def scenario_names(rules: RuleSet, year: int) -> list[str]:
    """The scenarios defined in ``scenario.scope`` for ``year``."""
    return sorted(rules["scenario.scope"].keys_on(date(year, 7, 1)))


def _age_bands(rules: RuleSet, year: int) -> pa.Table:
    rows = sorted(
        (int(k), r.decimal)
        for k, r in rules["scenario.pooling_age_weight"].keys_on(date(year, 7, 1)).items()
    )
    lowers = [lo for lo, _ in rows]
    uppers = [*lowers[1:], 1000]
    return pa.table(
        {
            "age_from": pa.array(lowers, pa.int32()),
            "age_to": pa.array(uppers, pa.int32()),
            "weight_tenths": pa.array([int(w * _WEIGHT_SCALE) for _, w in rows], pa.int64()),
        }
    )


def _register(engine: Engine, rules: RuleSet, year: int) -> None:
    register_rule(engine, rules, "scenario.scope")
    register_rule(engine, rules, "scenario.share", SHARE)
    register_rule(engine, rules, "scenario.cap_points", POINTS)
    register_rule(engine, rules, "scenario.min_age")
    register_rule(engine, rules, "scenario.diagnosis_limited")
    register_rule(engine, rules, "scenario.diagnoses")
    register_rule(engine, rules, "scenario.nonsomatic_tariff", MONEY)
    register_rule(engine, rules, "scenario.pooling")
    engine.register_arrow("scenario_age_bands", _age_bands(rules, year))


def scenario_costs(
    engine: Engine,
    rules: RuleSet,
    year: int,
    *,
    scenarios: Sequence[str] | None = None,
    pools: str | None = None,
    episodes: str = "episodes",
) -> pa.Table:
    """What each scenario would cost each municipality in ``year``.

    Columns: scenario, year, municipality, pool (null without pooling), contacts (covered
    contacts), cost (share × price summed), pooled_cost (the municipality's part of its pool's
    cost, rounded half up to the øre; = cost without pooling), population, rule_set,
    rule_versions.
    """
    names = list(scenarios) if scenarios is not None else scenario_names(rules, year)
    known = set(scenario_names(rules, year))
    if not known:
        raise ConfigError(f"ingen scenarioer er definert for {year} (regel scenario.scope)")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(
            "ukjent scenario: " + ", ".join(unknown) + " (finnes: " + ", ".join(sorted(known)) + ")"
        )
    if not names:
        raise ConfigError("ingen scenarioer valgt")
    _register(engine, rules, year)
    cofinancing._register(engine, rules)
    mid_year = f"DATE '{year}-07-01'"
    in_list = ", ".join(sql_string(n) for n in names)
    contacts = cofinancing._episode_sql(
        rules,
        episodes=episodes,
        where=f"EXTRACT(YEAR FROM ep.activity_date) = {int(year)}",
        tag="sc",
    )
    pool_sql = (
        f"SELECT municipality, pool FROM {pools}"
        if pools is not None
        else """
SELECT ranked.municipality, ranked.health_trust AS pool FROM (
    SELECT c.municipality, c.health_trust,
        ROW_NUMBER() OVER (
            PARTITION BY c.municipality ORDER BY COUNT(*) DESC, c.health_trust
        ) AS rn
    FROM c GROUP BY c.municipality, c.health_trust
) AS ranked WHERE ranked.rn = 1
"""
    )
    versions = rule_versions(rules, (*SCENARIO_RULES, *cofinancing.COFINANCING_RULES))
    sql = f"""
WITH c AS ({contacts}),
sc AS (
    SELECT s.key AS scenario, s.value AS scope
    FROM rule_scenario_scope AS s
    WHERE {mid_year} BETWEEN s.valid_from AND s.valid_to AND s.key IN ({in_list})
),
x AS (
    SELECT sc.scenario, sc.scope, c.episode_id, c.municipality, c.sector, c.care_level,
        c.eligible, c.resident, c.drg_points, c.unit_price, c.bed_days,
        {int(year)} - c.birth_year AS age,
        sh.value AS share, cap.value AS cap_points, CAST(ma.value AS INTEGER) AS min_age,
        dl.value AS diagnosis_limited, dg.value AS diagnosis_group, tf.value AS tariff
    FROM c CROSS JOIN sc
    LEFT JOIN rule_scenario_share AS sh
        ON sh.key = sc.scenario AND c.activity_date BETWEEN sh.valid_from AND sh.valid_to
    LEFT JOIN rule_scenario_cap_points AS cap
        ON cap.key = sc.scenario AND c.activity_date BETWEEN cap.valid_from AND cap.valid_to
    LEFT JOIN rule_scenario_min_age AS ma
        ON ma.key = sc.scenario AND c.activity_date BETWEEN ma.valid_from AND ma.valid_to
    LEFT JOIN rule_scenario_diagnosis_limited AS dl
        ON dl.key = sc.scenario AND c.activity_date BETWEEN dl.valid_from AND dl.valid_to
    LEFT JOIN rule_scenario_diagnoses AS dg
        ON dg.key = SUBSTRING(c.main_diagnosis, 1, 3)
        AND c.activity_date BETWEEN dg.valid_from AND dg.valid_to
    LEFT JOIN rule_scenario_nonsomatic_tariff AS tf
        ON tf.key = c.sector || ':' || c.care_level
        AND c.activity_date BETWEEN tf.valid_from AND tf.valid_to
),
priced AS (
    SELECT x.scenario, x.municipality, x.share,
        CASE
            WHEN x.min_age IS NOT NULL AND x.age < x.min_age THEN NULL
            WHEN x.diagnosis_limited = 'true' AND x.diagnosis_group IS NULL THEN NULL
            WHEN x.scope = 'kmf' AND NOT x.eligible THEN NULL
            WHEN NOT x.resident THEN NULL
            WHEN x.sector = 'somatic' AND x.drg_points IS NOT NULL
                AND x.unit_price IS NOT NULL THEN
                CASE WHEN x.cap_points IS NOT NULL AND x.drg_points > x.cap_points
                    THEN x.cap_points ELSE x.drg_points END * x.unit_price
            WHEN x.sector <> 'somatic' AND x.tariff IS NOT NULL THEN
                CASE
                    WHEN x.cap_points IS NOT NULL AND x.unit_price IS NOT NULL
                        AND x.tariff * x.bed_days > x.cap_points * x.unit_price
                    THEN x.cap_points * x.unit_price
                    ELSE x.tariff * x.bed_days
                END
        END AS price
    FROM x
),
costs AS (
    SELECT p.scenario, p.municipality,
        CAST(SUM(CASE WHEN p.price IS NULL THEN 0 ELSE 1 END) AS BIGINT) AS contacts,
        CAST(SUM(CASE WHEN p.price IS NULL THEN 0
            ELSE ROUND(p.share * p.price, 2) END) AS DECIMAL(18, 2)) AS cost
    FROM priced AS p
    GROUP BY p.scenario, p.municipality
),
pools AS ({pool_sql}),
pop AS (
    SELECT p.municipality, CAST(SUM(p.count) AS BIGINT) AS population,
        CAST(SUM(p.count * b.weight_tenths) AS BIGINT) AS age_weight
    FROM population AS p
    JOIN scenario_age_bands AS b ON p.age >= b.age_from AND p.age < b.age_to
    WHERE p.year = {int(year)}
    GROUP BY p.municipality
),
member AS (
    SELECT k.scenario, k.municipality, k.contacts, k.cost, pl.value AS pooling,
        CASE WHEN pl.value IS NULL THEN NULL ELSE pools.pool END AS pool,
        COALESCE(pop.population, 0) AS population,
        CASE WHEN pl.value = 'age_weighted' THEN COALESCE(pop.age_weight, 0)
            ELSE COALESCE(pop.population, 0) * {_WEIGHT_SCALE} END AS weight,
        CAST(ROUND(k.cost * 100, 0) AS BIGINT) AS cost_ore
    FROM costs AS k
    LEFT JOIN rule_scenario_pooling AS pl
        ON pl.key = k.scenario AND {mid_year} BETWEEN pl.valid_from AND pl.valid_to
    LEFT JOIN pools ON pools.municipality = k.municipality
    LEFT JOIN pop ON pop.municipality = k.municipality
),
pooled AS (
    SELECT m.*,
        SUM(m.cost_ore) OVER (PARTITION BY m.scenario, m.pool) AS pool_ore,
        SUM(m.weight) OVER (PARTITION BY m.scenario, m.pool) AS pool_weight
    FROM member AS m
)
SELECT p.scenario, {int(year)} AS year, p.municipality, p.pool, p.contacts, p.cost,
    CASE
        WHEN p.pool IS NULL OR p.pool_weight IS NULL OR p.pool_weight = 0 THEN p.cost
        ELSE CAST(
            CAST({round_half_up_div("p.pool_ore * p.weight", "p.pool_weight")}
                AS DECIMAL(18, 0)) * CAST(0.01 AS DECIMAL(3, 2)) AS DECIMAL(18, 2))
    END AS pooled_cost,
    p.population,
    {sql_string(rules.label)} AS rule_set,
    {sql_string(versions)} AS rule_versions
FROM pooled AS p
ORDER BY p.scenario, p.municipality
"""
    return engine.query(sql)


def scenario_variation(
    engine: Engine,
    rules: RuleSet,
    years: Sequence[int],
    *,
    scenarios: Sequence[str] | None = None,
    pools: str | None = None,
    episodes: str = "episodes",
) -> pa.Table:
    """Year-to-year variation of cost per inhabitant against municipality size (risk curve).

    For each scenario, municipality and pair of consecutive years in ``years``: the absolute
    change of (pooled) cost per inhabitant relative to the earlier year. Summarised per size
    class of ``scenario.size_classes`` (population in the later year). Columns: scenario,
    size_from, size_class, municipalities, mean_change_pct, max_change_pct, rule_set.
    White paper reference: the risk becomes manageable around 10 000–20 000 inhabitants.
    """
    ordered = sorted(set(years))
    if len(ordered) < 2:
        raise ConfigError("risikokurven trenger minst to år")
    tables = [
        scenario_costs(engine, rules, y, scenarios=scenarios, pools=pools, episodes=episodes)
        for y in ordered
    ]
    engine.register_arrow("scenario_costs_years", pa.concat_tables(tables))
    classes = rules["scenario.size_classes"].keys_on(date(ordered[-1], 7, 1))
    bounds = sorted((int(k), r.value) for k, r in classes.items())
    engine.register_arrow(
        "scenario_size_classes",
        pa.table(
            {
                "size_from": pa.array([b for b, _ in bounds], pa.int64()),
                "size_to": pa.array([*[b for b, _ in bounds][1:], 10**12], pa.int64()),
                "size_class": pa.array([label for _, label in bounds], pa.string()),
            }
        ),
    )
    sql = f"""
WITH per_inhabitant AS (
    SELECT s.scenario, s.municipality, s.year, s.population,
        CAST(s.pooled_cost AS DOUBLE) / s.population AS cost_per_inhabitant
    FROM scenario_costs_years AS s
    WHERE s.population > 0
),
changes AS (
    SELECT a.scenario, a.municipality, b.population,
        ABS(b.cost_per_inhabitant - a.cost_per_inhabitant) * 100.0
            / a.cost_per_inhabitant AS change_pct
    FROM per_inhabitant AS a
    JOIN per_inhabitant AS b
        ON b.scenario = a.scenario AND b.municipality = a.municipality AND b.year = a.year + 1
    WHERE a.cost_per_inhabitant > 0
)
SELECT ch.scenario, k.size_from, k.size_class,
    COUNT(DISTINCT ch.municipality) AS municipalities,
    ROUND(AVG(ch.change_pct), 2) AS mean_change_pct,
    ROUND(MAX(ch.change_pct), 2) AS max_change_pct,
    {sql_string(rules.label)} AS rule_set
FROM changes AS ch
JOIN scenario_size_classes AS k ON ch.population >= k.size_from AND ch.population < k.size_to
GROUP BY ch.scenario, k.size_from, k.size_class
ORDER BY ch.scenario, k.size_from
"""
    return engine.query(sql)
