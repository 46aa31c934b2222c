"""The pathway definition (definisjon av pasientforløp), read from the ``pathways.*`` rule tables.

Everything that decides which rows become which state, which state wins when rows overlap, when
a pathway ends and which discharges count as readmitted is a rule value; this module reads them
once for a date, checks that they fit together and hands them to the SQL builders as a frozen
object. Episodes of care and the readmission window reuse ``readmission.steering``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from samhandling.contract import CARE_SERVICES, URGENCIES
from samhandling.errors import RuleError
from samhandling.rules import RuleSet

__all__ = ["PATHWAY_RULES", "PathwayDefinition", "pathway_definition"]

PATHWAY_RULES: tuple[str, ...] = (
    "pathways.states",
    "pathways.state_priority",
    "pathways.state_groups",
    "pathways.hospital_states",
    "pathways.care_states",
    "pathways.settings",
    "readmission.steering",
    "disclosure.threshold",
)

_IDENT = re.compile(r"^[a-z][a-z_]*$")
_GROUPS = ("home", "institution", "hospital", "died")


def _ident(value: str, where: str) -> str:
    """A state, service or care level goes into SQL as a literal: allow plain names only."""
    if not _IDENT.match(value):
        raise RuleError(f"{where}: {value!r} er ikke et gyldig navn (små bokstaver og _)")
    return value


@dataclass(frozen=True)
class PathwayDefinition:
    """The pathway rules in force on one day, checked for consistency."""

    on: date
    labels: dict[str, str]
    priority: dict[str, int]
    groups: dict[str, str]
    admission_states: dict[str, str]  # urgency -> state
    discharge_ready_state: str
    died_state: str
    care_states: dict[str, str]  # municipal_care service -> state
    uncovered_state: str
    baseline_states: tuple[str, ...]
    hospital_care_levels: tuple[str, ...]
    end_gap_days: int
    care_end_days_added: int
    max_steps: int
    max_patterns: int
    merge_gap_hours: int
    readmission_min_days: int
    readmission_max_days: int
    unverified: tuple[str, ...]
    versions: tuple[str, ...]

    @property
    def hospital_states(self) -> tuple[str, ...]:
        """States in which the patient is in hospital (admission and discharge-ready wait)."""
        return tuple(s for s, g in self.groups.items() if g == "hospital")

    @property
    def states_by_priority(self) -> list[str]:
        """States from the highest priority down (ties by name, for a stable CASE order)."""
        return sorted(self.priority, key=lambda s: (-self.priority[s], s))

    def label(self, state: str) -> str:
        """The Norwegian label of a state (the key itself when unknown, e.g. ``…``)."""
        return self.labels.get(state, state)


def _keyed(rules: RuleSet, rule_id: str, on: date) -> dict[str, str]:
    return {k: r.value for k, r in sorted(rules[rule_id].keys_on(on).items())}


def _int(settings: dict[str, str], key: str) -> int:
    try:
        return int(settings[key])
    except KeyError:
        raise RuleError(f"pathways.settings mangler nøkkelen {key}") from None
    except ValueError:
        raise RuleError(f"pathways.settings {key} må være et heltall") from None


def pathway_definition(rules: RuleSet, on: date) -> PathwayDefinition:
    """Read and check the pathway rules in force on ``on`` (a day of the data's period)."""
    day = on
    labels = _keyed(rules, "pathways.states", day)
    states = set(labels)
    for state in states:
        _ident(state, "pathways.states")
    try:
        priority = {k: int(v) for k, v in _keyed(rules, "pathways.state_priority", day).items()}
    except ValueError:
        raise RuleError("pathways.state_priority: verdiene må være heltall") from None
    groups = _keyed(rules, "pathways.state_groups", day)
    hospital = _keyed(rules, "pathways.hospital_states", day)
    care = _keyed(rules, "pathways.care_states", day)
    settings = _keyed(rules, "pathways.settings", day)
    for rule_id, table in (
        ("pathways.state_priority", priority),
        ("pathways.state_groups", groups),
    ):
        if set(table) != states:
            missing = sorted(states - set(table))
            extra = sorted(set(table) - states)
            raise RuleError(
                f"{rule_id} må ha én rad per tilstand (mangler {missing}, ukjent {extra})"
            )
    for state, group in groups.items():
        if group not in _GROUPS:
            raise RuleError(f"pathways.state_groups: ukjent gruppe {group!r} for {state}")
    for key in (*URGENCIES, "discharge_ready", "died"):
        if key not in hospital:
            raise RuleError(f"pathways.hospital_states mangler nøkkelen {key}")
    for service in care:
        if service not in CARE_SERVICES:
            raise RuleError(f"pathways.care_states: ukjent tjeneste {service!r}")
    targets = [*hospital.values(), *care.values()]
    uncovered = settings.get("uncovered_state", "")
    baseline = tuple(settings.get("baseline_states", "").split())
    for state in (*targets, uncovered, *baseline):
        if state not in states:
            raise RuleError(f"pathways: tilstanden {state!r} finnes ikke i pathways.states")
    hospital_priorities = {priority[hospital[k]] for k in (*URGENCIES, "discharge_ready")}
    other = {priority[s] for s in states if groups[s] != "hospital"}
    if hospital_priorities & other:
        raise RuleError("pathways.state_priority: sykehustilstander kan ikke dele prioritet")
    levels = tuple(_ident(v, "pathways.settings") for v in settings["hospital_care_levels"].split())
    steering = rules["readmission.steering"]
    used = [rules[r] for r in PATHWAY_RULES]
    return PathwayDefinition(
        on=day,
        labels=labels,
        priority=priority,
        groups=groups,
        admission_states={u: hospital[u] for u in URGENCIES},
        discharge_ready_state=hospital["discharge_ready"],
        died_state=hospital["died"],
        care_states=care,
        uncovered_state=uncovered,
        baseline_states=baseline,
        hospital_care_levels=levels,
        end_gap_days=_int(settings, "end_gap_days"),
        care_end_days_added=_int(settings, "care_end_days_added"),
        max_steps=_int(settings, "max_steps"),
        max_patterns=_int(settings, "max_patterns"),
        merge_gap_hours=int(steering.value_on(day, "merge_gap_hours").decimal),
        readmission_min_days=int(steering.value_on(day, "window_min_days").decimal),
        readmission_max_days=int(steering.value_on(day, "window_max_days").decimal),
        unverified=tuple(t.rule_id for t in used if t.status == "unverified"),
        versions=tuple(f"{t.rule_id} v{t.version}" for t in used),
    )
