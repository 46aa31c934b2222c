"""The model's parameters, read from ``model.toml`` (shipped with the package)."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


@cache
def model() -> dict[str, Any]:
    """The parsed parameter file."""
    text = resources.files("samhandling.synth").joinpath("model.toml").read_text("utf-8")
    return tomllib.loads(text)


def section(name: str) -> dict[str, Any]:
    """One ``[section]`` of the parameter file (dotted names for nested tables)."""
    node: Any = model()
    for part in name.split("."):
        node = node[part]
    if not isinstance(node, dict):
        raise TypeError(f"model.toml: {name} is not a table")
    return node


def floats(values: Any) -> F64:
    """A list of numbers from the parameter file as a float array."""
    return np.asarray(values, dtype=np.float64)


def age_band(age: NDArray[np.int16]) -> NDArray[np.intp]:
    """Index of the ssb135 age band (0-9 … 80+) of each age."""
    bounds = np.asarray(section("model")["age_bands"], dtype=np.int64)
    result: NDArray[np.intp] = np.searchsorted(bounds, age.astype(np.int64), side="right") - 1
    return result


def year_index(year: int) -> int:
    """Position of ``year`` in the per-year parameter lists."""
    years: list[int] = section("year_factor")["years"]
    return years.index(year)


def by_age(ages: list[float], values: list[float], age: NDArray[np.int16]) -> F64:
    """A share that is linear between the listed ages (0 below the first age)."""
    result: F64 = np.interp(age.astype(np.float64), floats(ages), floats(values), left=0.0)
    return result


def long_term_share(age: NDArray[np.int16], year: int) -> F64:
    """Share of persons of ``age`` in long-term care at the end of ``year`` (sykehjem).

    The share by age (``[municipal_care] long_term_share``) times a per-year factor for ages
    from ``long_term_factor_from_age`` (nursing-home use per old person fell after 2011); years
    outside the model's range take the nearest year's factor.
    """
    care = section("municipal_care")
    years: list[int] = section("year_factor")["years"]
    factor = float(care["long_term_year_factor"][year_index(min(max(year, years[0]), years[-1]))])
    share = by_age(care["ages"], care["long_term_share"], age)
    result: F64 = np.where(age >= int(care["long_term_factor_from_age"]), share * factor, share)
    return result
