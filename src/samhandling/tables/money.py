"""Money in protected cubes: amounts counted in whole øre, published in kroner.

:func:`samhandling.tables.cube.build_cube` stores every additive measure as a whole number, so a
money measure is summed in øre (exact; every total is the exact sum of its parts) and
:class:`MoneyCube` shows it in kroner with two decimals. A money rate (kroner per inhabitant) is
computed from the exact øre and rounded half up to the øre, like every other derived measure,
and hidden whenever the amount is.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from samhandling.tables.cube import DerivedMeasure, ProtectedCube
from samhandling.tables.disclosure import PUBLISHED

__all__ = ["MoneyCube", "with_money"]

ORE_PER_KRONE = 100


@dataclass
class MoneyCube(ProtectedCube):
    """A protected cube whose ``money`` measures hold øre and are published as kroner."""

    money: frozenset[str] = frozenset()

    def _cell(self, key: tuple[str, ...], measure: str) -> tuple[float | int | None, int]:
        value, reason = super()._cell(key, measure)
        if measure in self.money and value is not None:
            return float(Decimal(int(value)) / ORE_PER_KRONE), reason
        return value, reason

    def _derived(self, key: tuple[str, ...], d: DerivedMeasure) -> tuple[float | None, int]:
        if d.numerator not in self.money:
            return super()._derived(key, d)
        ore, reason = super()._cell(key, d.numerator)
        if reason != PUBLISHED:
            return None, reason
        if d.denominator == "population":
            den: float | int | None = self._population(key)
        else:
            den, reason = super()._cell(key, d.denominator)
            if reason != PUBLISHED:
                return None, reason
        if not den or ore is None:
            return None, PUBLISHED
        exact = Decimal(int(ore)) / ORE_PER_KRONE * d.scale / Decimal(int(den))
        return float(exact.quantize(Decimal(1).scaleb(-d.decimals), ROUND_HALF_UP)), PUBLISHED


def with_money(cube: ProtectedCube, money: frozenset[str]) -> MoneyCube:
    """The same protected cells, with ``money`` measures published in kroner."""
    return MoneyCube(
        cube.spec,
        cube.cells,
        cube.population,
        cube.threshold,
        cube.rule_version,
        cube.built,
        money=money,
    )
