"""Explain one episode: every rule applied to it, the rule's version and row, and the arithmetic.

``samhandling explain EPISODE_ID`` prints :func:`format_explanation` of :func:`explain_episode`;
both read the same per-episode tables as the statements and invoices, so the explanation is of
the very numbers that were billed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from samhandling.engine import Engine
from samhandling.errors import RuleError, SamhandlingError
from samhandling.instruments.cofinancing import COFINANCING_RULES, REASONS, cofinancing_episodes
from samhandling.instruments.discharge_ready import (
    DIFFERENCE_REASONS,
    DISCHARGE_READY_RULES,
    discharge_ready_lines,
    discharge_ready_stays,
)
from samhandling.rules import RuleSet

__all__ = [
    "EpisodeNotFoundError",
    "Explanation",
    "RuleUse",
    "explain_episode",
    "format_explanation",
]


class EpisodeNotFoundError(SamhandlingError):
    """No episode with that id in the registered data."""


@dataclass(frozen=True)
class RuleUse:
    """One rule row applied to the episode."""

    rule_id: str
    name_no: str
    version: str
    key: str | None
    value: str
    unit: str
    status: str
    source: str
    valid_from: date
    valid_to: date


@dataclass(frozen=True)
class Explanation:
    """Everything computed for one episode, with the rules and the arithmetic (Norwegian)."""

    episode_id: str
    rule_set: str
    cofinancing: dict[str, Any]
    discharge_ready_stay: dict[str, Any] | None
    discharge_ready_lines: list[dict[str, Any]]
    rules_applied: list[RuleUse] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)


def _kr(value: Decimal | None) -> str:
    if value is None:
        return "–"
    text = f"{value:,.2f}"
    return text.replace(",", " ").replace(".", ",") + " kr"


def _num(value: Decimal | None) -> str:
    return "–" if value is None else str(value).replace(".", ",")


def _use(rules: RuleSet, rule_id: str, day: date, key: str | None = None) -> RuleUse | None:
    table = rules[rule_id]
    try:
        row = table.value_on(day, key)
    except RuleError:
        return None
    return RuleUse(
        rule_id=rule_id,
        name_no=table.name_no,
        version=table.version,
        key=key,
        value=row.value,
        unit=table.unit,
        status=row.status,
        source=row.source,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
    )


def _cofinancing_uses(rules: RuleSet, row: dict[str, Any]) -> list[RuleUse]:
    day: date = row["activity_date"]
    keyed = {
        "cofinancing.sectors": row["sector"],
        "cofinancing.provider_types": row["provider_type"],
        "cofinancing.care_levels": row["care_level"],
        "cofinancing.excluded_drg_types": row["drg_type"],
        "cofinancing.excluded_mdc": row["mdc"],
    }
    uses: list[RuleUse] = []
    for rule_id in COFINANCING_RULES:
        use = _use(rules, rule_id, day, keyed.get(rule_id))
        if use is not None:
            uses.append(use)
    return uses


def _discharge_ready_uses(rules: RuleSet, lines: list[dict[str, Any]]) -> list[RuleUse]:
    uses: dict[tuple[str, str | None, date], RuleUse] = {}
    for line in lines:
        day: date = line["line_from"]
        for rule_id in DISCHARGE_READY_RULES:
            key = line["sector"] if rule_id == "discharge_ready.sectors" else None
            use = _use(rules, rule_id, day, key)
            if use is not None:
                uses.setdefault((rule_id, key, use.valid_from), use)
    return list(uses.values())


def _cofinancing_steps(row: dict[str, Any]) -> list[str]:
    steps = [
        f"Kommunal medfinansiering: aktivitetsdato {row['activity_date']}, "
        f"{row['sector']}/{row['care_level']}, DRG {row['drg'] or '–'} "
        f"(type {row['drg_type'] or '–'}, MDC {row['mdc'] or '–'}), kommune {row['municipality']}.",
        f"Vurdering: {REASONS.get(row['reason'], row['reason'])} ({row['reason']}).",
    ]
    if row["eligible"]:
        points: Decimal = row["drg_points"]
        cap: Decimal = row["cap_points"]
        capped: Decimal = row["capped_points"]
        steps.append(
            f"Beløp = andel {_num(row['share'])} × min(DRG-poeng {_num(points)}; "
            f"tak {_num(cap)}) = {_num(row['share'])} × {_num(capped)} × enhetspris "
            f"{_kr(row['unit_price'])} = {_kr(row['amount'])} (avrundet til øre)."
        )
        if row["unverified"]:
            steps.append("Merk: beløpet bygger på minst én regelverdi som ikke er verifisert.")
    else:
        steps.append("Beløp = 0,00 kr.")
    return steps


def _discharge_ready_steps(stay: dict[str, Any], lines: list[dict[str, Any]]) -> list[str]:
    steps = [
        f"Utskrivningsklar: dato {stay['statistics_ready_date']}, utskrevet "
        f"{stay['end_date'] or '–'}; overliggerdøgn {stay['overligger_days']}, "
        f"fakturerte døgn {stay['billed_days']}, differanse {stay['difference_days']}."
    ]
    for line in lines:
        billed = "" if line["billed"] else " – ikke fakturert (sektor omfattes ikke)"
        flag = " [ikke verifisert sats]" if line["unverified"] else ""
        steps.append(
            f"  {line['line_from']} til {line['line_until']} (ekskl.): {line['days']} døgn × "
            f"{_kr(line['daily_rate'])} = {_kr(line['amount'])}, betales av kommune "
            f"{line['paying_municipality']} ({line['payer_rule']}), faktura "
            f"{line['invoice_month']:%Y-%m}{flag}{billed}."
        )
    reasons = [r for r in str(stay["reasons"] or "").split(", ") if r]
    for reason in reasons:
        steps.append(f"  Forklaring: {DIFFERENCE_REASONS.get(reason, reason)} ({reason}).")
    return steps


def explain_episode(
    engine: Engine,
    rules: RuleSet,
    episode_id: str,
    *,
    episodes: str = "episodes",
    events: str = "events",
) -> Explanation:
    """Every rule applied to ``episode_id`` (co-financing and discharge-ready), with arithmetic."""
    cof = cofinancing_episodes(engine, rules, episode_id=episode_id, episodes=episodes)
    if cof.num_rows == 0:
        raise EpisodeNotFoundError(f"fant ikke episode {episode_id!r}")
    row = cof.to_pylist()[0]
    stays = discharge_ready_stays(
        engine, rules, episode_id=episode_id, episodes=episodes, events=events
    ).to_pylist()
    lines = discharge_ready_lines(
        engine, rules, episode_id=episode_id, episodes=episodes, events=events
    ).to_pylist()
    stay = stays[0] if stays else None
    steps = _cofinancing_steps(row)
    if stay is not None:
        steps.extend(_discharge_ready_steps(stay, lines))
    return Explanation(
        episode_id=episode_id,
        rule_set=rules.label,
        cofinancing=row,
        discharge_ready_stay=stay,
        discharge_ready_lines=lines,
        rules_applied=_cofinancing_uses(rules, row) + _discharge_ready_uses(rules, lines),
        steps=steps,
    )


def format_explanation(explanation: Explanation) -> str:
    """The explanation as plain text (Norwegian), as ``samhandling explain`` prints it."""
    out = [f"Episode {explanation.episode_id} – regelsett {explanation.rule_set}", ""]
    out.extend(explanation.steps)
    out.append("")
    out.append("Regler brukt:")
    for use in explanation.rules_applied:
        key = f" [{use.key}]" if use.key is not None else ""
        out.append(
            f"  {use.rule_id}{key} v{use.version}: {use.value} {use.unit} "
            f"({use.valid_from}–{use.valid_to}, {use.status}) – {use.name_no}. Kilde: {use.source}"
        )
    return "\n".join(out)
