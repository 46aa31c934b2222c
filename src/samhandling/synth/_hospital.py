"""Hospital contacts (episodes) of one block of persons in one year, vectorised.

A block is the sampled residents of one 2024 municipality. Counts per person and contact type
are Poisson with the model's rate (age band, sex, year trend, municipal multiplier, personal
frailty); attributes are drawn per episode. Stays are added for deliveries, newborns, in-hospital
deaths (persons who leave the population and die during the year) and emergency readmissions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray

from samhandling.contract import CAME_FROM, CARE_LEVELS, DISCHARGED_TO, PROVIDER_TYPES, SECTORS
from samhandling.synth._catalog import Catalog, Trusts, draw_drgs
from samhandling.synth._params import (
    age_band,
    floats,
    long_term_share,
    section,
    year_index,
)
from samhandling.synth._persons import Persons
from samhandling.synth._random import normal, stream_salt, uniform

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
I32 = NDArray[np.int32]
B = NDArray[np.bool_]

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
MINUTE_US = 60_000_000
EPOCH = date(1970, 1, 1)

CONTACT_TYPES = (
    "somatic_inpatient",
    "somatic_day",
    "somatic_outpatient",
    "private_specialist",
    "mental_inpatient",
    "mental_day",
    "mental_outpatient",
    "mental_private_specialist",
    "substance_inpatient",
    "substance_outpatient",
    "rehabilitation",
)

# Columns of the episode buffer (numpy) before they become Arrow; -1 means null in index columns.
EPISODE_FIELDS = (
    "person",
    "provider",
    "sector",
    "care",
    "emergency",
    "admitted",
    "discharged",
    "diagnosis",
    "secondary",
    "drg",
    "trust",
    "came_from",
    "discharged_to",
    "referred",
    "drug_excluded",
    "ready_day",
    "overlying",
    "stay_code",
)


@dataclass
class Episodes:
    """Column arrays of generated episodes (indices into the block's and catalog's lists)."""

    columns: dict[str, NDArray[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.columns["person"]) if self.columns else 0

    def add(self, **arrays: NDArray[Any]) -> None:
        missing = set(EPISODE_FIELDS) - set(arrays)
        if missing:
            raise ValueError(f"episode columns missing: {sorted(missing)}")
        for name in EPISODE_FIELDS:
            if name in self.columns:
                self.columns[name] = np.concatenate([self.columns[name], arrays[name]])
            else:
                self.columns[name] = arrays[name]

    def take(self, rows: NDArray[np.intp] | B) -> Episodes:
        return Episodes({k: v[rows] for k, v in self.columns.items()})


@dataclass(frozen=True)
class Year:
    """Calendar facts of the year being generated."""

    year: int
    first_day: int  # days since 1970-01-01 of 1 January
    days: int

    @classmethod
    def of(cls, year: int) -> Year:
        first = (date(year, 1, 1) - EPOCH).days
        return cls(year, first, (date(year + 1, 1, 1) - EPOCH).days - first)


@dataclass(frozen=True)
class Block:
    """The persons of one 2024 municipality in one year, with their person-level facts."""

    people: Persons
    rows: NDArray[np.intp]  # positions in ``people``
    year: Year
    rng: np.random.Generator
    home_trust: int
    multiplier: float
    band: NDArray[np.intp]
    death_day: I64  # day of year of death, -1 if the person does not die this year
    long_term: B  # lives in a nursing home (long-term institution) on 1 January
    long_term_entry: I64  # day of year the person moves into long-term care this year, else -1


def _day_hours(rng: np.random.Generator, n: int, lo: float, hi: float) -> I64:
    """Times of day in microseconds, uniform between ``lo`` and ``hi`` hours, whole minutes."""
    minutes = rng.integers(int(lo * 60), int(hi * 60), size=n)
    result: I64 = minutes.astype(np.int64) * MINUTE_US
    return result


def _emergency_time(rng: np.random.Generator, n: int) -> I64:
    """Emergency admissions come round the clock, most between 08 and 22."""
    day = _day_hours(rng, n, 8, 22)
    night = _day_hours(rng, n, 0, 24)
    result: I64 = np.where(rng.random(n) < 0.7, day, night)
    return result


def contact_counts(block: Block, kind: str, course_index: dict[str, F64]) -> I64:
    """Number of contacts of one type per person of the block, in courses of contacts.

    The expected number of contacts is the model's rate (age band, sex, year trend, municipal
    multiplier) times a personal weight of mean 1: the frailty, or for a type that follows
    another (``follows``: stays and day treatments in the course of outpatient care) a mix of the
    frailty and the other type's course index (its courses × contacts per course / its rate, also
    of mean 1), so the same persons get both kinds of contact. Contacts come in courses
    (behandlingsforløp): a Poisson number of courses, each of 1 + a negative-binomial number of
    further contacts with mean ``contacts_per_course`` - 1; the contact rate is kept while
    contacts concentrate on fewer persons (repeat consultations, long courses in mental health
    care). The type's own course index is stored in ``course_index[kind]``.
    """
    cfg = section(f"contacts.{kind}")
    model = section("model")
    people = block.people
    rows = block.rows
    rng = block.rng
    rates = floats(cfg["rates"])[block.band] / 1000.0
    female = people.sex[rows] == 2
    sex_factor = np.where(female, np.sqrt(cfg["female_factor"]), 1 / np.sqrt(cfg["female_factor"]))
    trend = float(section("year_factor")[kind][year_index(block.year.year)])
    mental = cfg["sector"] in ("mental_health", "substance_abuse")
    keys = people.key[rows]
    if mental:
        sd = float(model["mental_frailty_sd"])
        z = normal(keys, stream_salt("frailty", "mental"))
    else:
        sd = float(model["frailty_sd"])
        rho = float(model["frailty_year_rho"])
        z = rho * normal(keys, stream_salt("frailty", "somatic")) + np.sqrt(
            1 - rho * rho
        ) * rng.standard_normal(len(rows))
    frailty: F64 = np.exp(sd * z - sd * sd / 2)
    weight = frailty
    if "follows" in cfg:
        share = float(cfg["follows_share"])
        weight = share * course_index[str(cfg["follows"])] + (1 - share) * frailty
    base = rates * sex_factor * trend * block.multiplier
    per_course = float(cfg["contacts_per_course"])
    courses: I64 = rng.poisson(base * weight / per_course).astype(np.int64)
    course_index[kind] = np.divide(courses * per_course, base, out=frailty.copy(), where=base > 0)
    if per_course <= 1.0:
        return courses
    # The sum of k courses' further contacts, each negative binomial (shape r, mean m - 1),
    # is negative binomial with shape k·r and the same p.
    shape = float(model["course_shape"])
    p = shape / (shape + per_course - 1.0)
    some = courses > 0
    further = np.zeros(len(courses), dtype=np.int64)
    further[some] = rng.negative_binomial(courses[some] * shape, p)
    result: I64 = courses + further
    return result


def block_contact_counts(block: Block) -> dict[str, I64]:
    """Contacts per person of every contact type; a followed type is drawn before its followers."""
    course_index: dict[str, F64] = {}
    leads = [k for k in CONTACT_TYPES if "follows" not in section(f"contacts.{k}")]
    followers = [k for k in CONTACT_TYPES if k not in leads]
    return {kind: contact_counts(block, kind, course_index) for kind in leads + followers}


def _empty(n: int) -> dict[str, NDArray[Any]]:
    minus = np.full(n, -1, dtype=np.int32)
    return {
        "secondary": np.full((n, 3), -1, dtype=np.int32),
        "drg": minus.copy(),
        "came_from": np.full(n, -1, dtype=np.int8),
        "discharged_to": np.full(n, -1, dtype=np.int8),
        "referred": np.zeros(n, dtype=np.bool_),
        "drug_excluded": np.zeros(n, dtype=np.bool_),
        "ready_day": np.full(n, -1, dtype=np.int64),
        "overlying": np.zeros(n, dtype=np.int32),
        "stay_code": minus.copy(),
    }


def _stay_days(rng: np.random.Generator, mean: F64, same_day_share: float) -> I64:
    """Days between admission and discharge: some same-day stays, the rest gamma-shaped."""
    n = len(mean)
    nonzero_mean = np.maximum(mean / (1 - same_day_share), 1.0)
    shape = 1.3
    extra = rng.gamma(shape, np.maximum(nonzero_mean - 0.5, 0.05) / shape, size=n)
    days = 1 + np.floor(extra).astype(np.int64)
    result: I64 = np.where(rng.random(n) < same_day_share, 0, days)
    return result


def _times(block: Block, day: I64, stay: I64, emergency: B) -> tuple[I64, I64]:
    """Admission and discharge timestamps (µs since epoch, local time) of stays."""
    rng = block.rng
    n = len(day)
    start_day = (block.year.first_day + day) * DAY_US
    admitted = start_day + np.where(emergency, _emergency_time(rng, n), _day_hours(rng, n, 7, 12))
    same_day_end = admitted + _day_hours(rng, n, 2, 10)
    day_end = start_day + DAY_US - MINUTE_US
    discharged = np.where(
        stay == 0,
        np.minimum(same_day_end, day_end),
        start_day + stay * DAY_US + _day_hours(rng, n, 10, 16),
    )
    return admitted, discharged


def somatic_stays(
    block: Block,
    cat: Catalog,
    trusts: Trusts,
    person: NDArray[np.intp],
    day: I64,
    *,
    emergency: B | None = None,
    diagnosis: I32 | None = None,
) -> Episodes:
    """Somatic inpatient stays of ``person`` (block-local indices) admitted on ``day``."""
    cfg = section("somatic")
    rng = block.rng
    n = len(person)
    band = block.band[person]
    sex = block.people.sex[block.rows[person]]
    if emergency is None:
        emergency = rng.random(n) < floats(cfg["emergency_share"])[band]
    if diagnosis is None:
        diagnosis = _general_diagnoses(block, cat, person, "inpatient")
    surgical_share = np.where(
        emergency, cfg["surgical_share_emergency"], cfg["surgical_share_elective"]
    )
    surgical = rng.random(n) < surgical_share
    mdc = np.asarray(cat.category_mdc, dtype=object)[diagnosis]
    group = np.where(surgical, "inpatient_K", "inpatient_M").astype(object)
    drg = draw_drgs(cat, mdc, group, rng.random(n))
    los_factor = float(section("year_factor")["length_of_stay"][year_index(block.year.year)])
    mean = floats(cfg["mean_stay_days"])[band] * los_factor
    stay = _stay_days(rng, mean, float(cfg["same_day_share"]))
    admitted, discharged = _times(block, day, stay, emergency)
    episodes = _hospital_rows(
        block,
        trusts,
        person,
        sector="somatic",
        care="inpatient",
        emergency=emergency,
        admitted=admitted,
        discharged=discharged,
        diagnosis=diagnosis,
    )
    cols = episodes.columns
    cols["drg"] = drg
    cols["secondary"] = _secondary(block, cat, person)
    cols["drug_excluded"] = rng.random(n) < float(cfg["drug_excluded_share"])
    referred_share = np.where(
        emergency,
        cfg["referred_from_outpatient_emergency"],
        cfg["referred_from_outpatient_elective"],
    )
    cols["referred"] = rng.random(n) < referred_share
    cols["came_from"], cols["discharged_to"] = _came_and_went(block, person, day, band, sex)
    _discharge_ready(block, episodes, band, mental=False)
    return episodes


def _general_diagnoses(block: Block, cat: Catalog, person: NDArray[np.intp], kind: str) -> I32:
    """Main diagnoses from the general somatic distribution by age band and sex."""
    band = block.band[person]
    sex = block.people.sex[block.rows[person]]
    u = block.rng.random(len(person))
    result = np.empty(len(person), dtype=np.int32)
    for b in np.unique(band):
        for s in (1, 2):
            rows = (band == b) & (sex == s)
            if rows.any():
                result[rows] = cat.general[(kind, int(b), s)].draw(u[rows])
    return result


def _secondary(block: Block, cat: Catalog, person: NDArray[np.intp]) -> I32:
    """Up to three secondary diagnoses (bitilstander) per stay."""
    n = len(person)
    mean = float(section("somatic")["secondary_diagnoses_mean"])
    count = np.minimum(block.rng.poisson(mean, size=n), 3)
    result = np.full((n, 3), -1, dtype=np.int32)
    for k in range(3):
        drawn = _general_diagnoses(block, cat, person, "outpatient")
        result[:, k] = np.where(count > k, drawn, -1)
    return result


def _hospital_rows(
    block: Block,
    trusts: Trusts,
    person: NDArray[np.intp],
    *,
    sector: str,
    care: str,
    emergency: B,
    admitted: I64,
    discharged: I64,
    diagnosis: I32,
    provider: str = "public",
) -> Episodes:
    """The columns every episode has: person, provider, trust, times, diagnosis."""
    rng = block.rng
    n = len(person)
    cfg = section("somatic")
    providers = np.full(n, PROVIDER_TYPES.index(provider), dtype=np.int8)
    trust = np.full(n, block.home_trust, dtype=np.int32)
    if provider == "public":
        u = rng.random(n)
        same_region = trusts.same_region[block.home_trust]
        trust = np.where(
            u < cfg["own_trust_share"],
            trust,
            np.where(
                u < cfg["own_trust_share"] + cfg["same_region_share"],
                same_region[rng.integers(0, len(same_region), size=n)],
                trusts.all_trusts[rng.integers(0, len(trusts.all_trusts), size=n)],
            ),
        ).astype(np.int32)
        if sector == "somatic":
            private = trusts.private[block.home_trust]
            contracted = (~emergency) & (rng.random(n) < cfg["private_contracted_share_elective"])
            trust[contracted] = private[rng.integers(0, len(private), size=int(contracted.sum()))]
            providers[contracted] = PROVIDER_TYPES.index("private_contracted")
    else:
        # Avtalespesialister and private rehabilitation are contracted by the RHF.
        trust[:] = trusts.region_of[block.home_trust]
    episodes = Episodes()
    episodes.add(
        person=person.astype(np.int64),
        provider=providers,
        sector=np.full(n, SECTORS.index(sector), dtype=np.int8),
        care=np.full(n, CARE_LEVELS.index(care), dtype=np.int8),
        emergency=emergency,
        admitted=admitted,
        discharged=discharged,
        diagnosis=diagnosis,
        trust=trust,
        **_empty(n),
    )
    return episodes


def _came_and_went(
    block: Block, person: NDArray[np.intp], day: I64, band: NDArray[np.intp], sex: NDArray[np.int8]
) -> tuple[NDArray[np.int8], NDArray[np.int8]]:
    """Where somatic inpatients came from and were discharged to (frasted / tilsted)."""
    cfg = section("discharge")
    rng = block.rng
    n = len(person)
    in_care = block.long_term[person] | (
        (block.long_term_entry[person] >= 0) & (block.long_term_entry[person] <= day)
    )
    came = np.full(n, CAME_FROM.index("home"), dtype=np.int8)
    came[in_care] = CAME_FROM.index("nursing_home")
    other = rng.random(n) < float(section("somatic")["other_hospital_came_from"])
    came[other] = CAME_FROM.index("other_hospital")
    shares = floats(cfg["shares"])[band]
    if block.year.year < int(cfg["kad_from"]):
        kad = cfg["destinations"].index("kad")
        shares[:, 0] += shares[:, kad]
        shares[:, kad] = 0.0
    cumulative = np.cumsum(shares, axis=1)
    pick = (rng.random(n)[:, None] * cumulative[:, -1:] > cumulative).sum(axis=1)
    names = np.asarray([DISCHARGED_TO.index(d) for d in cfg["destinations"]], dtype=np.int8)
    went = names[np.minimum(pick, len(names) - 1)]
    back = in_care & (rng.random(n) < float(cfg["long_term_return_share"]))
    went[back] = DISCHARGED_TO.index("nursing_home")
    return came, went


def _discharge_ready(
    block: Block, episodes: Episodes, band: NDArray[np.intp], *, mental: bool
) -> None:
    """Mark discharge-ready stays (utskrivningsklar) and their overliggerdøgn."""
    cfg = section("discharge_ready")
    rng = block.rng
    cols = episodes.columns
    n = len(episodes)
    y = year_index(block.year.year)
    went = cols["discharged_to"]
    if mental:
        if block.year.year < int(cfg["mental_from"]):
            return
        probability = np.full(n, float(cfg["mental_probability"]))
        share = float(cfg["mental_overlying_share"])
        mean_days = float(cfg["mental_overlying_mean_days"])
    else:
        probability = np.select(
            [
                went == DISCHARGED_TO.index("nursing_home"),
                went == DISCHARGED_TO.index("kad"),
                went == DISCHARGED_TO.index("home"),
            ],
            [
                np.full(n, float(cfg["probability_nursing_home"])),
                np.full(n, float(cfg["probability_kad"])),
                floats(cfg["probability_home"])[band],
            ],
            0.0,
        )
        share = float(cfg["overlying_share"][y])
        mean_days = float(cfg["overlying_mean_days"][y])
    ready = rng.random(n) < probability
    admitted_day = cols["admitted"] // DAY_US
    discharged_day = cols["discharged"] // DAY_US
    stay = discharged_day - admitted_day
    days = np.where(rng.random(n) < share, rng.geometric(1 / mean_days, size=n), 0)
    days = np.minimum(days, stay)
    cols["ready_day"] = np.where(ready, discharged_day - days, -1)
    cols["overlying"] = np.where(ready, days, 0).astype(np.int32)


def other_contacts(block: Block, cat: Catalog, trusts: Trusts, kind: str, counts: I64) -> Episodes:
    """Day treatments, outpatient contacts, mental health, TSB and rehabilitation episodes."""
    cfg = section(f"contacts.{kind}")
    rng = block.rng
    person = np.repeat(np.arange(len(counts)), counts)
    n = len(person)
    day = rng.integers(0, block.year.days, size=n).astype(np.int64)
    care = str(cfg["care_level"])
    sector = str(cfg["sector"])
    provider = str(cfg.get("provider", "public"))
    start = (block.year.first_day + day) * DAY_US
    if care == "inpatient":
        emergency = rng.random(n) < 0.5
        mean = float(cfg["mean_stay_days"])
        stay = np.maximum(1, np.floor(rng.gamma(0.8, mean / 0.8, size=n))).astype(np.int64)
        admitted, discharged = _times(block, day, stay, emergency)
    else:
        emergency = rng.random(n) < (0.05 if care == "day" else 0.08)
        admitted = start + _day_hours(rng, n, 8, 15.5)
        length = _day_hours(rng, n, 2, 6) if care == "day" else _day_hours(rng, n, 0.33, 1.5)
        discharged = admitted + length
    if sector == "mental_health":
        diagnosis = cat.named["mental"].draw(rng.random(n))
    elif sector == "substance_abuse":
        diagnosis = cat.named["substance"].draw(rng.random(n))
    elif sector == "rehabilitation":
        diagnosis = cat.named["rehabilitation"].draw(rng.random(n))
    else:
        diagnosis = _general_diagnoses(block, cat, person, "outpatient")
    episodes = _hospital_rows(
        block,
        trusts,
        person,
        sector=sector,
        care=care,
        emergency=emergency,
        admitted=admitted,
        discharged=discharged,
        diagnosis=diagnosis,
        provider=provider,
    )
    cols = episodes.columns
    if bool(cfg["drg"]):
        mdc = np.asarray(cat.category_mdc, dtype=object)[diagnosis]
        if care == "day":
            surgical = rng.random(n) < float(section("somatic")["day_surgical_share"])
            group = np.where(surgical, "day_K", "day_M").astype(object)
        else:
            group = np.full(n, "outpatient", dtype=object)
        cols["drg"] = draw_drgs(cat, mdc, group, rng.random(n))
        cols["drug_excluded"] = cat.drg_drug_excluded[cols["drg"]]
    if care != "outpatient":
        home = CAME_FROM.index("home")
        cols["came_from"] = np.full(n, home, dtype=np.int8)
        cols["discharged_to"] = np.full(n, home, dtype=np.int8)
    if care == "inpatient" and sector == "mental_health":
        _discharge_ready(block, episodes, block.band[person], mental=True)
    return episodes


def deliveries(block: Block, cat: Catalog, trusts: Trusts) -> Episodes:
    """Childbirth stays (MDC 14) of women 15-44, by age-specific rates."""
    cfg = section("births")
    diag_cfg = section("diagnoses")
    mdc_cfg = section("mdc")
    rng = block.rng
    age = block.people.age[block.rows]
    female = block.people.sex[block.rows] == 2
    group = (age.astype(np.int64) - 15) // 5
    eligible = female & (group >= 0) & (group < len(cfg["delivery_rates"]))
    rate = np.where(eligible, floats(cfg["delivery_rates"])[np.clip(group, 0, 5)] / 1000.0, 0.0)
    person = np.flatnonzero(rng.random(len(rate)) < rate)
    n = len(person)
    day = rng.integers(0, block.year.days, size=n).astype(np.int64)
    caesarean = rng.random(n) < float(diag_cfg["caesarean_share"])
    diagnosis = cat.named["delivery"].draw(rng.random(n))
    diagnosis[caesarean] = cat.category_index[str(diag_cfg["caesarean_diagnosis"])]
    drg_codes = np.where(
        caesarean,
        np.asarray(mdc_cfg["caesarean_drgs"], dtype=object)[rng.integers(0, 2, size=n)],
        np.asarray(mdc_cfg["vaginal_delivery_drgs"], dtype=object)[rng.integers(0, 2, size=n)],
    )
    stay = _stay_days(rng, np.full(n, float(cfg["delivery_mean_stay_days"])), 0.02)
    emergency = rng.random(n) < 0.85
    admitted, discharged = _times(block, day, stay, emergency)
    episodes = _hospital_rows(
        block,
        trusts,
        person,
        sector="somatic",
        care="inpatient",
        emergency=emergency,
        admitted=admitted,
        discharged=discharged,
        diagnosis=diagnosis,
    )
    episodes.columns["drg"] = np.asarray([cat.drg(str(c)) for c in drg_codes], dtype=np.int32)
    home = CAME_FROM.index("home")
    episodes.columns["came_from"] = np.full(n, home, dtype=np.int8)
    episodes.columns["discharged_to"] = np.full(n, home, dtype=np.int8)
    return episodes


def newborn_stays(block: Block, cat: Catalog, trusts: Trusts) -> Episodes:
    """Birth stays of the children born this year (the block's persons are the newborns)."""
    cfg = section("births")
    diag_cfg = section("diagnoses")
    rng = block.rng
    n = len(block.rows)
    years = cfg["healthy_newborn_years"]
    healthy_share = (
        float(cfg["healthy_newborn_share"]) if years[0] <= block.year.year <= years[1] else 0.0
    )
    u = rng.random(n)
    healthy = u < healthy_share
    sick = (u >= healthy_share) & (u < healthy_share + float(cfg["sick_newborn_share"]))
    person = np.flatnonzero(healthy | sick)
    is_healthy = healthy[person]
    m = len(person)
    birth_day = (
        uniform(block.people.key[block.rows[person]], stream_salt("birth-day")) * block.year.days
    ).astype(np.int64)
    diagnosis = cat.named["sick_newborn"].draw(rng.random(m))
    diagnosis[is_healthy] = cat.category_index[str(diag_cfg["healthy_newborn"])]
    stay = np.where(is_healthy, rng.integers(2, 5, size=m), 2 + rng.geometric(0.15, size=m))
    emergency = np.ones(m, dtype=np.bool_)
    admitted, discharged = _times(block, birth_day, stay.astype(np.int64), emergency)
    episodes = _hospital_rows(
        block,
        trusts,
        person,
        sector="somatic",
        care="inpatient",
        emergency=emergency,
        admitted=admitted,
        discharged=discharged,
        diagnosis=diagnosis,
    )
    newborn_drg = cat.drg(str(section("mdc")["healthy_newborn_drg"]))
    sick_pool = cat.pools[("15", "inpatient_M")]
    drg = sick_pool[rng.integers(0, len(sick_pool), size=m)]
    episodes.columns["drg"] = np.where(is_healthy, newborn_drg, drg).astype(np.int32)
    episodes.columns["provider"][:] = PROVIDER_TYPES.index("public")
    episodes.columns["trust"][:] = block.home_trust
    home = CAME_FROM.index("home")
    episodes.columns["came_from"] = np.full(m, home, dtype=np.int8)
    episodes.columns["discharged_to"] = np.full(m, home, dtype=np.int8)
    return episodes


def terminal_stays(block: Block, cat: Catalog, trusts: Trusts) -> Episodes:
    """Emergency stays that end in death (in-hospital deaths) for persons dying this year."""
    cfg = section("deaths")
    rng = block.rng
    dying = block.death_day >= 0
    share = floats(cfg["hospital_share"])[block.band]
    share = np.where(block.long_term, share * float(cfg["nursing_home_resident_factor"]), share)
    person = np.flatnonzero(dying & (rng.random(len(share)) < share))
    n = len(person)
    stay = _stay_days(rng, np.full(n, 6.0), 0.08)
    death_day = block.death_day[person]
    day = np.maximum(death_day - stay, 0)
    stay = death_day - day
    emergency = np.ones(n, dtype=np.bool_)
    episodes = somatic_stays(block, cat, trusts, person, day, emergency=emergency)
    cols = episodes.columns
    start = (block.year.first_day + day) * DAY_US
    cols["admitted"] = start + _emergency_time(rng, n)
    end_of_day = (block.year.first_day + death_day) * DAY_US
    cols["discharged"] = np.maximum(
        end_of_day + _day_hours(rng, n, 0, 24), cols["admitted"] + HOUR_US
    )
    cols["discharged_to"] = np.full(n, DISCHARGED_TO.index("died"), dtype=np.int8)
    cols["ready_day"] = np.full(n, -1, dtype=np.int64)
    cols["overlying"] = np.zeros(n, dtype=np.int32)
    cols["drg"] = draw_drgs(
        cat,
        np.asarray(cat.category_mdc, dtype=object)[cols["diagnosis"]],
        np.full(n, "inpatient_M", dtype=object),
        rng.random(n),
    )
    return episodes


def readmissions(block: Block, cat: Catalog, trusts: Trusts, stays: Episodes) -> Episodes:
    """Emergency readmissions 1-30 days after discharge of somatic inpatient stays."""
    cfg = section("readmission")
    rng = block.rng
    cols = stays.columns
    person = cols["person"].astype(np.intp)
    band = block.band[person]
    probability = floats(cfg["probability"])[band] + np.where(
        cols["ready_day"] >= 0, float(cfg["discharge_ready_extra"]), 0.0
    )
    alive = cols["discharged_to"] != DISCHARGED_TO.index("died")
    chosen = np.flatnonzero(alive & (rng.random(len(person)) < probability))
    gap = np.minimum(rng.geometric(1 / float(cfg["mean_gap_days"]), size=len(chosen)), 30)
    day = cols["discharged"][chosen] // DAY_US - block.year.first_day + gap
    inside = day < block.year.days
    chosen, day = chosen[inside], day[inside]
    same = rng.random(len(chosen)) < 0.5
    diagnosis = _general_diagnoses(block, cat, person[chosen], "inpatient")
    diagnosis = np.where(same, cols["diagnosis"][chosen], diagnosis).astype(np.int32)
    return somatic_stays(
        block,
        cat,
        trusts,
        person[chosen],
        day.astype(np.int64),
        emergency=np.ones(len(chosen), dtype=np.bool_),
        diagnosis=diagnosis,
    )


def block_episodes(block: Block, cat: Catalog, trusts: Trusts) -> Episodes:
    """All hospital episodes of a block of residents, in no particular order."""
    rng = block.rng
    episodes = Episodes()
    counts = block_contact_counts(block)
    person = np.repeat(np.arange(len(block.rows)), counts["somatic_inpatient"])
    day = rng.integers(0, block.year.days, size=len(person)).astype(np.int64)
    stays = somatic_stays(block, cat, trusts, person, day)
    stays.add(**deliveries(block, cat, trusts).columns)
    stays.add(**terminal_stays(block, cat, trusts).columns)
    episodes.add(**stays.columns)
    episodes.add(**readmissions(block, cat, trusts, stays).columns)
    for kind in CONTACT_TYPES[1:]:
        episodes.add(**other_contacts(block, cat, trusts, kind, counts[kind]).columns)
    # Persons who die this year have no contacts after their death day.
    cols = episodes.columns
    person = cols["person"].astype(np.intp)
    death = block.death_day[person]
    discharged_day = cols["discharged"] // DAY_US - block.year.first_day
    dead_before = (death >= 0) & (discharged_day >= death)
    died_here = cols["discharged_to"] == DISCHARGED_TO.index("died")
    episodes = episodes.take(~dead_before | died_here)
    return episodes


def stay_elsewhere(block: Block, episodes: Episodes, n_codes: int, share: float = 0.02) -> None:
    """A small share of contacts happen while staying in another municipality (oppholdskommune)."""
    rng = block.rng
    n = len(episodes)
    own = block.people.code[block.rows[episodes.columns["person"].astype(np.intp)]]
    other = (own + rng.integers(1, max(n_codes, 2), size=n)) % max(n_codes, 1)
    elsewhere = rng.random(n) < share
    episodes.columns["stay_code"] = np.where(elsewhere, other, -1).astype(np.int32)


def block_facts(
    people: Persons, rows: NDArray[np.intp], year: Year, *, seed: int, home_trust: int, stream: int
) -> Block:
    """Person-level facts of a block: band, municipal multiplier, deaths, long-term care."""
    model = section("model")
    code24 = people.codes24[int(people.home24[rows[0]])] if len(rows) else "0000"
    multiplier = float(
        np.exp(
            float(model["municipal_sd"])
            * normal(np.asarray([int(code24)], dtype=np.uint64), stream_salt("municipality"))[0]
            - float(model["municipal_sd"]) ** 2 / 2
        )
    )
    if code24[:2] in model["north_counties"]:
        multiplier *= float(model["north_factor"])
    keys = people.key[rows]
    age = people.age[rows]
    dies = people.leaves[rows] & (age >= int(section("deaths")["min_age"]))
    death_day = np.where(
        dies,
        (uniform(keys, stream_salt("death-day", year.year)) * year.days).astype(np.int64),
        -1,
    )
    u_ltc = uniform(keys, stream_salt("long-term-care"))
    # In long-term care on 1 January: below last year's share for this age; entering during
    # the year: below this year's share for next year's age.
    share_now = long_term_share(age, year.year - 1)
    share_next = long_term_share((age + 1).astype(np.int16), year.year)
    long_term = u_ltc < share_now
    entering = (~long_term) & (u_ltc < share_next)
    entry_day = (uniform(keys, stream_salt("long-term-entry", year.year)) * year.days).astype(
        np.int64
    )
    entry = np.where(entering & ((death_day < 0) | (entry_day < death_day)), entry_day, -1)
    return Block(
        people=people,
        rows=rows,
        year=year,
        rng=np.random.Generator(
            np.random.PCG64(np.random.SeedSequence([seed, year.year, int(code24), stream]))
        ),
        home_trust=home_trust,
        multiplier=multiplier,
        band=age_band(np.maximum(age, 0).astype(np.int16)),
        death_day=death_day,
        long_term=long_term,
        long_term_entry=entry,
    )
