"""Payment for discharge-ready patients (betaling for utskrivningsklare pasienter), 2012 to today.

The clock is driven by events (NPR time points, list 8477). A discharge-ready period starts at
each ``discharge_ready`` event (or, for a stay without such events, at the episode's
``discharge_ready_at`` date, flagged ``based_on_date``). Days are billable from and including
the discharge-ready day when the municipality was notified of the admission within
``discharge_ready.admission_notice_hours``, the discharge-ready notice was sent the same day
(a later notice starts the clock on the notice day when ``discharge_ready.late_notice_starts_clock``
says so) and the municipality said it cannot receive the patient or did not answer. The clock
stops at discharge, at a withdrawal (``withdrawn``), at the municipality's ``can_receive`` and at
a formal readmission (a new inpatient episode of the same patient while waiting); days before
stay owed. Each day is priced at that calendar day's rate (``discharge_ready.daily_rate``), so a
stay over New Year has two lines; lines are also split by calendar month, the invoice period.
Sector scope and paying municipality follow ``discharge_ready.sectors`` and
``discharge_ready.paying_municipality`` on the first day of each line (before 2019: somatic
only, registered municipality; from 2019: mental health and TSB too, municipality of stay).

The statistics count overliggerdøgn the way NPR does (discharge date − discharge-ready date of
the stay) and show, per stay, why billed days differ.
"""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa

from samhandling.engine import Engine
from samhandling.engine.sql import sql_date, sql_string
from samhandling.instruments._relations import (
    MONEY,
    register_calendar,
    register_rule,
    rule_relation,
    rule_versions,
)
from samhandling.rules import RuleSet

__all__ = [
    "DIFFERENCE_REASONS",
    "DISCHARGE_READY_RULES",
    "discharge_ready_by_trust",
    "discharge_ready_invoices",
    "discharge_ready_lines",
    "discharge_ready_statistics",
    "discharge_ready_stays",
]

DISCHARGE_READY_RULES: tuple[str, ...] = (
    "discharge_ready.daily_rate",
    "discharge_ready.sectors",
    "discharge_ready.paying_municipality",
    "discharge_ready.admission_notice_hours",
    "discharge_ready.late_notice_starts_clock",
    "discharge_ready.bill_without_events",
)

# Why billed days differ from overliggerdøgn (Norwegian labels for users).
DIFFERENCE_REASONS: dict[str, str] = {
    "missing_admission_notice": "Kommunen fikk ikke innleggelsesvarsel",
    "late_admission_notice": "Innleggelsesvarsel kom for sent",
    "missing_discharge_ready_notice": "Kommunen fikk ikke melding om utskrivningsklar pasient",
    "late_discharge_ready_notice": (
        "Melding om utskrivningsklar pasient kom etter utskrivningsklar dag"
    ),
    "municipality_can_receive": "Kommunen sa den kunne ta imot pasienten",
    "withdrawn": "Utskrivningsklar-meldingen ble trukket tilbake",
    "readmitted": "Formell reinnleggelse mens pasienten ventet",
    "sector_not_covered": "Sektoren omfattes ikke av betalingsplikten på dagen",
    "no_daily_rate": "Ingen døgnpris i regeltabellen for dagen",
    "missing_events": "Tidspunktmeldinger mangler",
    "based_on_date": "Beregnet fra utskrivningsklar dato (meldinger mangler)",
    "ready_date_differs": "Utskrivningsklar dato på oppholdet avviker fra meldingene",
    "still_in_hospital": "Pasienten er ikke utskrevet",
}

_FAR = "DATE '9999-12-31'"


def _date_literal(day: date | None) -> str:
    return "CAST(NULL AS DATE)" if day is None else sql_date(day)


def _rate_table(rules: RuleSet) -> pa.Table:
    table = rules["discharge_ready.daily_rate"].to_arrow(MONEY)
    last = date(9999, 12, 30)
    until = [
        min(row.valid_to, last) + timedelta(days=1)
        for row in rules["discharge_ready.daily_rate"].rows
    ]
    return table.append_column("valid_until", pa.array(until, pa.date32()))


def _register(engine: Engine, rules: RuleSet) -> None:
    engine.register_arrow(rule_relation("discharge_ready.daily_rate"), _rate_table(rules))
    for rule_id in DISCHARGE_READY_RULES[1:]:
        register_rule(engine, rules, rule_id)
    register_calendar(engine)


def _periods_sql(as_of: date | None, episodes: str, events: str, where: str) -> str:
    open_end = _date_literal(as_of)
    return f"""
WITH inpatient AS (
    SELECT e.episode_id, e.patient_id, e.municipality, e.stay_municipality, e.health_trust,
        e.sector, e.admitted_at, e.discharged_at, e.discharge_ready_at, e.delivery_id,
        CAST(e.discharged_at AS DATE) AS discharge_date
    FROM {episodes} AS e
    WHERE e.care_level = 'inpatient'
),
stays AS (
    SELECT e.* FROM inpatient AS e WHERE {where}
),
ev AS (
    SELECT x.* FROM {events} AS x JOIN stays AS s ON s.episode_id = x.episode_id
),
ev_summary AS (
    SELECT ev.episode_id, COUNT(*) AS n_events,
        MIN(CASE WHEN ev.type = 'admission_notified' THEN ev."at" END) AS admission_notified_at,
        SUM(CASE WHEN ev.type = 'discharge_ready' THEN 1 ELSE 0 END) AS n_ready
    FROM ev GROUP BY ev.episode_id
),
periods AS (
    SELECT ev.episode_id, ev."at" AS ready_at,
        LEAD(ev."at") OVER (PARTITION BY ev.episode_id ORDER BY ev."at", ev.event_id)
            AS next_ready_at,
        ROW_NUMBER() OVER (PARTITION BY ev.episode_id ORDER BY ev."at", ev.event_id)
            AS period_no,
        FALSE AS based_on_date
    FROM ev WHERE ev.type = 'discharge_ready'
    UNION ALL
    SELECT s.episode_id, CAST(s.discharge_ready_at AS TIMESTAMP) AS ready_at,
        CAST(NULL AS TIMESTAMP) AS next_ready_at, 1 AS period_no, TRUE AS based_on_date
    FROM stays AS s LEFT JOIN ev_summary AS es ON es.episode_id = s.episode_id
    WHERE s.discharge_ready_at IS NOT NULL AND COALESCE(es.n_ready, 0) = 0
),
period_events AS (
    SELECT p.episode_id, p.period_no,
        MIN(CASE WHEN ev.type = 'discharge_ready_notified' THEN ev."at" END) AS notified_at,
        MIN(CASE WHEN ev.type = 'withdrawn' THEN ev."at" END) AS withdrawn_at,
        MIN(CASE WHEN ev.type = 'can_receive' THEN ev."at" END) AS can_receive_at,
        MIN(CASE WHEN ev.type = 'cannot_receive' THEN ev."at" END) AS cannot_receive_at
    FROM periods AS p
    LEFT JOIN ev ON ev.episode_id = p.episode_id AND ev."at" >= p.ready_at
        AND (p.next_ready_at IS NULL OR ev."at" < p.next_ready_at)
    GROUP BY p.episode_id, p.period_no
),
readmit AS (
    SELECT p.episode_id, p.period_no, MIN(o.admitted_at) AS readmitted_at
    FROM periods AS p
    JOIN stays AS s ON s.episode_id = p.episode_id
    JOIN inpatient AS o ON o.patient_id = s.patient_id AND o.episode_id <> s.episode_id
        AND o.admitted_at >= p.ready_at
        AND (s.discharged_at IS NULL OR o.admitted_at < s.discharged_at)
    GROUP BY p.episode_id, p.period_no
),
base AS (
    SELECT
        s.episode_id, s.patient_id, s.municipality, s.stay_municipality, s.health_trust,
        s.sector, s.admitted_at, s.discharged_at, s.delivery_id,
        CAST(s.discharge_ready_at AS DATE) AS stay_ready_date,
        COALESCE(s.discharge_date, {open_end}) AS end_date,
        p.period_no, p.based_on_date,
        CAST(p.ready_at AS DATE) AS ready_date,
        CAST(p.next_ready_at AS DATE) AS next_ready_date,
        COALESCE(es.n_events, 0) AS n_events,
        es.admission_notified_at,
        pe.notified_at, CAST(pe.notified_at AS DATE) AS notice_date,
        CAST(pe.withdrawn_at AS DATE) AS withdrawn_date,
        CAST(pe.can_receive_at AS DATE) AS can_receive_date,
        pe.cannot_receive_at,
        CAST(rm.readmitted_at AS DATE) AS readmitted_date,
        CAST(nh.value AS INTEGER) AS notice_hours,
        lt.value AS late_notice_rule,
        bw.value AS without_events_rule
    FROM periods AS p
    JOIN stays AS s ON s.episode_id = p.episode_id
    LEFT JOIN ev_summary AS es ON es.episode_id = p.episode_id
    LEFT JOIN period_events AS pe
        ON pe.episode_id = p.episode_id AND pe.period_no = p.period_no
    LEFT JOIN readmit AS rm ON rm.episode_id = p.episode_id AND rm.period_no = p.period_no
    LEFT JOIN rule_discharge_ready_admission_notice_hours AS nh
        ON CAST(s.admitted_at AS DATE) BETWEEN nh.valid_from AND nh.valid_to
    LEFT JOIN rule_discharge_ready_late_notice_starts_clock AS lt
        ON CAST(p.ready_at AS DATE) BETWEEN lt.valid_from AND lt.valid_to
    LEFT JOIN rule_discharge_ready_bill_without_events AS bw
        ON CAST(p.ready_at AS DATE) BETWEEN bw.valid_from AND bw.valid_to
),
status AS (
    SELECT b.*,
        (b.based_on_date AND b.n_events = 0) AS events_missing,
        CASE
            WHEN b.based_on_date AND b.n_events = 0 THEN 'assumed'
            WHEN b.admission_notified_at IS NULL THEN 'missing'
            WHEN DATE_DIFF('minute', b.admitted_at, b.admission_notified_at)
                > b.notice_hours * 60 THEN 'late'
            ELSE 'ok'
        END AS admission_notice,
        CASE
            WHEN b.based_on_date AND b.n_events = 0 THEN 'assumed'
            WHEN b.notice_date IS NULL THEN 'missing'
            WHEN b.notice_date > b.ready_date THEN 'late'
            ELSE 'ok'
        END AS discharge_ready_notice,
        CASE WHEN b.end_date IS NULL THEN NULL ELSE LEAST(
            b.end_date,
            COALESCE(b.withdrawn_date, {_FAR}),
            COALESCE(b.next_ready_date, {_FAR})
        ) END AS period_end
    FROM base AS b
),
billing AS (
    SELECT st.*,
        CASE
            WHEN st.events_missing THEN
                CASE WHEN st.without_events_rule = 'true' THEN st.ready_date END
            WHEN st.admission_notice <> 'ok' THEN NULL
            WHEN st.discharge_ready_notice = 'ok' THEN st.ready_date
            WHEN st.discharge_ready_notice = 'late' AND st.late_notice_rule = 'true'
                THEN st.notice_date
        END AS billing_start,
        CASE WHEN st.period_end IS NULL THEN NULL ELSE LEAST(
            st.period_end,
            COALESCE(st.can_receive_date, {_FAR}),
            COALESCE(st.readmitted_date, {_FAR})
        ) END AS billing_stop
    FROM status AS st
)
SELECT bi.*,
    CASE
        WHEN bi.billing_start IS NULL OR bi.billing_stop IS NULL
            OR bi.billing_stop <= bi.billing_start THEN 0
        ELSE DATE_DIFF('day', bi.billing_start, bi.billing_stop)
    END AS billable_days,
    CASE
        WHEN bi.period_end IS NULL THEN 'still_in_hospital'
        WHEN bi.events_missing AND COALESCE(bi.without_events_rule, 'false') <> 'true'
            THEN 'missing_events'
        WHEN bi.admission_notice = 'missing' THEN 'missing_admission_notice'
        WHEN bi.admission_notice = 'late' THEN 'late_admission_notice'
        WHEN bi.discharge_ready_notice = 'missing' THEN 'missing_discharge_ready_notice'
        WHEN bi.discharge_ready_notice = 'late' THEN 'late_discharge_ready_notice'
        WHEN bi.can_receive_date < bi.period_end THEN 'municipality_can_receive'
        WHEN bi.readmitted_date < bi.period_end THEN 'readmitted'
    END AS period_reason
FROM billing AS bi
"""


def _lines_sql(rules: RuleSet) -> str:
    versions = sql_string(rule_versions(rules, DISCHARGE_READY_RULES))
    return f"""
WITH cut AS (
    SELECT p.episode_id, p.period_no, p.patient_id, p.health_trust, p.sector,
        p.municipality, p.stay_municipality, p.based_on_date, p.delivery_id,
        GREATEST(p.billing_start, r.valid_from, m.month_start) AS line_from,
        LEAST(p.billing_stop, r.valid_until, m.next_month_start) AS line_until,
        m.month_start AS invoice_month,
        r.value AS daily_rate, r.status AS rate_status, r.rule_version AS rate_version
    FROM dr_periods AS p
    JOIN rule_discharge_ready_daily_rate AS r
        ON r.valid_from < p.billing_stop AND r.valid_until > p.billing_start
    JOIN calendar_months AS m
        ON m.month_start < p.billing_stop AND m.next_month_start > p.billing_start
    WHERE p.billable_days > 0
),
scoped AS (
    SELECT c.*,
        DATE_DIFF('day', c.line_from, c.line_until) AS days,
        sec.key IS NOT NULL AS sector_covered,
        pm.value AS payer_rule,
        CASE WHEN pm.value = 'stay' THEN COALESCE(c.stay_municipality, c.municipality)
            ELSE c.municipality END AS paying_municipality
    FROM cut AS c
    LEFT JOIN rule_discharge_ready_sectors AS sec
        ON sec.key = c.sector AND c.line_from BETWEEN sec.valid_from AND sec.valid_to
    LEFT JOIN rule_discharge_ready_paying_municipality AS pm
        ON c.line_from BETWEEN pm.valid_from AND pm.valid_to
    WHERE c.line_from < c.line_until
)
SELECT s.episode_id, s.period_no, s.patient_id, s.health_trust, s.sector, s.municipality,
    s.stay_municipality, s.paying_municipality, s.payer_rule, s.invoice_month,
    s.line_from, s.line_until, CAST(s.days AS BIGINT) AS days, s.daily_rate,
    CAST(s.days * s.daily_rate AS DECIMAL(18, 2)) AS amount,
    s.sector_covered AS billed,
    s.rate_status = 'unverified' AS unverified,
    s.based_on_date, s.rate_version, s.delivery_id,
    {sql_string(rules.label)} AS rule_set,
    {versions} AS rule_versions
FROM scoped AS s
"""


def _prepare(
    engine: Engine,
    rules: RuleSet,
    *,
    as_of: date | None,
    episodes: str,
    events: str,
    episode_id: str | None = None,
) -> None:
    _register(engine, rules)
    engine.drop("dr_periods")  # a table for one stay, a view over the years for all
    if episode_id is not None:
        where = f"e.episode_id = {sql_string(episode_id)}"
        engine.create_table("dr_periods", _periods_sql(as_of, episodes, events, where))
    else:
        # A stay's periods depend on its own events and its patient's other stays only: made
        # an admission year at a time (ten national years at once do not fit a laptop's memory
        # limit), then seen together, the very same rows. A view over the parts, not a copy:
        # dropping a part would make Spark recompute every relation made from it.
        admitted = "COALESCE(CAST(EXTRACT(YEAR FROM e.admitted_at) AS INTEGER), 0)"
        found = engine.query(
            f"SELECT DISTINCT {admitted} AS y FROM {episodes} AS e "
            "WHERE e.care_level = 'inpatient' ORDER BY 1"
        )["y"].to_pylist()
        chunks = [int(y) for y in found if y is not None] or [0]
        for year in chunks:
            engine.create_table(
                f"dr_periods_{year}",
                _periods_sql(as_of, episodes, events, f"{admitted} = {year}"),
            )
        engine.create_view(
            "dr_periods", " UNION ALL ".join(f"SELECT * FROM dr_periods_{y}" for y in chunks)
        )
    engine.create_table("dr_lines", _lines_sql(rules))


def discharge_ready_lines(
    engine: Engine,
    rules: RuleSet,
    *,
    as_of: date | None = None,
    episodes: str = "episodes",
    events: str = "events",
    episode_id: str | None = None,
) -> pa.Table:
    """One line per stay, discharge-ready period, day-rate period and calendar month.

    Columns: episode_id, period_no, patient_id, health_trust, sector, municipality,
    stay_municipality, paying_municipality, payer_rule, invoice_month (first day), line_from,
    line_until (exclusive), days, daily_rate, amount, billed (false: the sector is not covered
    on that day, shown but not invoiced), unverified (rate not verified), based_on_date,
    rate_version, delivery_id, rule_set, rule_versions. ``as_of`` bills stays not yet
    discharged up to that day (otherwise they are billed once discharged).
    """
    _prepare(engine, rules, as_of=as_of, episodes=episodes, events=events, episode_id=episode_id)
    return engine.query("SELECT * FROM dr_lines ORDER BY episode_id, period_no, line_from")


# The sums of billed lines (``dr_lines AS l``) every invoice total shows.
_BILLED_SUMS = (
    "CAST(SUM(l.days) AS BIGINT) AS days, CAST(SUM(l.amount) AS DECIMAL(18, 2)) AS amount, "
    "CAST(SUM(CASE WHEN l.unverified THEN l.amount ELSE 0 END) AS DECIMAL(18, 2)) "
    "AS unverified_amount"
)


def discharge_ready_invoices(
    engine: Engine,
    rules: RuleSet,
    *,
    year: int | None = None,
    as_of: date | None = None,
    episodes: str = "episodes",
    events: str = "events",
) -> pa.Table:
    """Invoice totals per health trust (HF) × paying municipality × month.

    Columns: health_trust, paying_municipality, invoice_month, stays, lines, days, amount,
    unverified_amount, rule_set, rule_versions. The line items are
    :func:`discharge_ready_lines` with ``billed``; they sum to these totals.
    """
    _prepare(engine, rules, as_of=as_of, episodes=episodes, events=events)
    year_filter = "" if year is None else f"AND EXTRACT(YEAR FROM l.invoice_month) = {int(year)}"
    return engine.query(
        f"""
SELECT l.health_trust, l.paying_municipality, l.invoice_month,
    COUNT(DISTINCT l.episode_id) AS stays, COUNT(*) AS lines,
    {_BILLED_SUMS},
    MIN(l.rule_set) AS rule_set, MIN(l.rule_versions) AS rule_versions
FROM dr_lines AS l
WHERE l.billed {year_filter}
GROUP BY l.health_trust, l.paying_municipality, l.invoice_month
ORDER BY l.health_trust, l.paying_municipality, l.invoice_month
"""
    )


def discharge_ready_by_trust(
    engine: Engine,
    rules: RuleSet,
    *,
    year: int,
    as_of: date | None = None,
    episodes: str = "episodes",
    events: str = "events",
) -> pa.Table:
    """What each health trust (HF) invoiced for the invoice months of ``year``.

    Columns: health_trust, municipalities (paying municipalities invoiced), stays (distinct
    stays with a billed line: a stay billed in two months is one stay), days, amount,
    unverified_amount. The same billed lines as :func:`discharge_ready_invoices`, whose
    amounts and days per trust add up to these.
    """
    _prepare(engine, rules, as_of=as_of, episodes=episodes, events=events)
    return engine.query(
        f"""
SELECT l.health_trust,
    COUNT(DISTINCT l.paying_municipality) AS municipalities,
    COUNT(DISTINCT l.episode_id) AS stays,
    {_BILLED_SUMS}
FROM dr_lines AS l
WHERE l.billed AND EXTRACT(YEAR FROM l.invoice_month) = {int(year)}
GROUP BY l.health_trust
ORDER BY l.health_trust
"""
    )


def _stays_sql(rules: RuleSet) -> str:
    return f"""
WITH per_stay AS (
    SELECT p.episode_id, MIN(p.patient_id) AS patient_id, MIN(p.municipality) AS municipality,
        MIN(p.health_trust) AS health_trust, MIN(p.sector) AS sector,
        MIN(p.stay_ready_date) AS stay_ready_date, MIN(p.ready_date) AS first_ready_date,
        MIN(p.end_date) AS end_date,
        CAST(SUM(p.billable_days) AS BIGINT) AS billable_days,
        MAX(CASE WHEN p.based_on_date THEN 1 ELSE 0 END) AS based_on_date,
        MAX(CASE WHEN p.withdrawn_date IS NOT NULL THEN 1 ELSE 0 END) AS withdrawn,
        MAX(CASE WHEN p.period_reason = 'still_in_hospital' THEN 1 ELSE 0 END) AS open_stay,
        MAX(CASE WHEN p.period_reason = 'missing_events' THEN 1 ELSE 0 END) AS missing_events,
        MAX(CASE WHEN p.period_reason = 'missing_admission_notice' THEN 1 ELSE 0 END)
            AS missing_admission_notice,
        MAX(CASE WHEN p.period_reason = 'late_admission_notice' THEN 1 ELSE 0 END)
            AS late_admission_notice,
        MAX(CASE WHEN p.period_reason = 'missing_discharge_ready_notice' THEN 1 ELSE 0 END)
            AS missing_notice,
        MAX(CASE WHEN p.period_reason = 'late_discharge_ready_notice' THEN 1 ELSE 0 END)
            AS late_notice,
        MAX(CASE WHEN p.period_reason = 'municipality_can_receive' THEN 1 ELSE 0 END)
            AS can_receive,
        MAX(CASE WHEN p.period_reason = 'readmitted' THEN 1 ELSE 0 END) AS readmitted
    FROM dr_periods AS p
    GROUP BY p.episode_id
),
per_line AS (
    SELECT l.episode_id,
        CAST(SUM(CASE WHEN l.billed THEN l.days ELSE 0 END) AS BIGINT) AS billed_days,
        CAST(SUM(CASE WHEN l.billed THEN l.amount ELSE 0 END) AS DECIMAL(18, 2))
            AS billed_amount,
        CAST(SUM(l.days) AS BIGINT) AS priced_days,
        MAX(CASE WHEN l.billed THEN 0 ELSE 1 END) AS out_of_scope,
        MIN(CASE WHEN l.billed THEN l.paying_municipality END) AS paying_municipality
    FROM dr_lines AS l
    GROUP BY l.episode_id
),
j AS (
    SELECT s.*,
        COALESCE(s.stay_ready_date, s.first_ready_date) AS statistics_ready_date,
        COALESCE(l.billed_days, 0) AS billed_days,
        COALESCE(l.billed_amount, CAST(0 AS DECIMAL(18, 2))) AS billed_amount,
        COALESCE(l.priced_days, 0) AS priced_days,
        COALESCE(l.out_of_scope, 0) AS out_of_scope,
        l.paying_municipality
    FROM per_stay AS s LEFT JOIN per_line AS l ON l.episode_id = s.episode_id
),
k AS (
    SELECT j.*,
        CASE WHEN j.end_date IS NULL OR j.end_date <= j.statistics_ready_date THEN 0
            ELSE DATE_DIFF('day', j.statistics_ready_date, j.end_date)
        END AS overligger_days
    FROM j
)
SELECT k.episode_id, k.patient_id, k.municipality, k.paying_municipality, k.health_trust,
    k.sector, k.statistics_ready_date, k.first_ready_date, k.end_date,
    CAST(EXTRACT(YEAR FROM k.end_date) AS INTEGER) AS year,
    CAST(k.overligger_days AS BIGINT) AS overligger_days,
    k.billed_days, k.billed_amount,
    CAST(k.overligger_days - k.billed_days AS BIGINT) AS difference_days,
    k.based_on_date = 1 AS based_on_date,
    CONCAT_WS(', ',
        CASE WHEN k.open_stay = 1 THEN 'still_in_hospital' END,
        CASE WHEN k.missing_events = 1 THEN 'missing_events' END,
        CASE WHEN k.based_on_date = 1 AND k.missing_events = 0 THEN 'based_on_date' END,
        CASE WHEN k.missing_admission_notice = 1 THEN 'missing_admission_notice' END,
        CASE WHEN k.late_admission_notice = 1 THEN 'late_admission_notice' END,
        CASE WHEN k.missing_notice = 1 THEN 'missing_discharge_ready_notice' END,
        CASE WHEN k.late_notice = 1 THEN 'late_discharge_ready_notice' END,
        CASE WHEN k.can_receive = 1 THEN 'municipality_can_receive' END,
        CASE WHEN k.withdrawn = 1 THEN 'withdrawn' END,
        CASE WHEN k.readmitted = 1 THEN 'readmitted' END,
        CASE WHEN k.out_of_scope = 1 THEN 'sector_not_covered' END,
        CASE WHEN k.priced_days < k.billable_days THEN 'no_daily_rate' END,
        CASE WHEN k.statistics_ready_date <> k.first_ready_date THEN 'ready_date_differs' END
    ) AS reasons,
    {sql_string(rules.label)} AS rule_set,
    {sql_string(rule_versions(rules, DISCHARGE_READY_RULES))} AS rule_versions
FROM k
"""


def discharge_ready_stays(
    engine: Engine,
    rules: RuleSet,
    *,
    as_of: date | None = None,
    episodes: str = "episodes",
    events: str = "events",
    episode_id: str | None = None,
) -> pa.Table:
    """One row per stay with a discharge-ready date: overliggerdøgn beside billed days.

    Columns: episode_id, patient_id, municipality (registered), paying_municipality,
    health_trust, sector, statistics_ready_date (the stay's discharge_ready_at, else the first
    discharge_ready event), first_ready_date, end_date, year (of discharge), overligger_days,
    billed_days, billed_amount, difference_days, based_on_date, reasons (comma-separated keys
    of :data:`DIFFERENCE_REASONS`), rule_set, rule_versions.
    """
    _prepare(engine, rules, as_of=as_of, episodes=episodes, events=events, episode_id=episode_id)
    return engine.query(_stays_sql(rules) + " ORDER BY k.episode_id")


def discharge_ready_statistics(
    engine: Engine,
    rules: RuleSet,
    year: int,
    *,
    as_of: date | None = None,
    episodes: str = "episodes",
    events: str = "events",
) -> pa.Table:
    """Per municipality of residence and year of discharge: patients, stays, overliggerdøgn.

    Columns: year, municipality, patients (with at least one overliggerdøgn), stays (with at
    least one), overligger_days, billed_days, billed_amount, population (from the
    ``population`` relation; 0 where missing), overligger_days_per_1000 and
    stays_per_1000 (null without population), rule_set.
    """
    _prepare(engine, rules, as_of=as_of, episodes=episodes, events=events)
    table = engine.query(
        f"""
WITH s AS ({_stays_sql(rules)}),
pop AS (
    SELECT p.municipality, CAST(SUM(p.count) AS BIGINT) AS population
    FROM population AS p WHERE p.year = {int(year)} GROUP BY p.municipality
)
SELECT {int(year)} AS year, s.municipality,
    COUNT(DISTINCT CASE WHEN s.overligger_days > 0 THEN s.patient_id END) AS patients,
    CAST(SUM(CASE WHEN s.overligger_days > 0 THEN 1 ELSE 0 END) AS BIGINT) AS stays,
    CAST(SUM(s.overligger_days) AS BIGINT) AS overligger_days,
    CAST(SUM(s.billed_days) AS BIGINT) AS billed_days,
    CAST(SUM(s.billed_amount) AS DECIMAL(18, 2)) AS billed_amount,
    COALESCE(MIN(pop.population), 0) AS population,
    MIN(s.rule_set) AS rule_set
FROM s LEFT JOIN pop ON pop.municipality = s.municipality
WHERE s.year = {int(year)}
GROUP BY s.municipality
ORDER BY s.municipality
"""
    )
    # Rates per 1 000 are presentation figures (floats), computed once here from exact counts.
    population = [int(p or 0) for p in table.column("population").to_pylist()]
    for name, src in (
        ("overligger_days_per_1000", "overligger_days"),
        ("stays_per_1000", "stays"),
    ):
        counts = [int(c or 0) for c in table.column(src).to_pylist()]
        rates = [
            round(c * 1000 / p, 2) if p > 0 else None
            for c, p in zip(counts, population, strict=True)
        ]
        table = table.append_column(name, pa.array(rates, pa.float64()))
    return table
