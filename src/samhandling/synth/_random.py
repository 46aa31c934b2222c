"""Counter-based randomness: the same key gives the same number in every run and every year.

Person-level facts that must stay stable across years (pseudonym, sampling, frailty, entry into
long-term care) are hashes of the person's key; everything else comes from a numpy Generator
seeded by (seed, year, municipality) so that a year never depends on the other years requested.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import NDArray

U64 = NDArray[np.uint64]
F64 = NDArray[np.float64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x: U64) -> U64:
    """The splitmix64 finaliser, vectorised (wrapping uint64 arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def stream_salt(*parts: object) -> np.uint64:
    """A 64-bit salt from any parts (text), stable across Python runs (no ``hash()``)."""
    digest = hashlib.blake2b("/".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def hashed(keys: U64, salt: np.uint64) -> U64:
    """A 64-bit hash of each key under ``salt``."""
    with np.errstate(over="ignore"):
        return splitmix64(splitmix64(keys ^ salt) + salt)


def uniform(keys: U64, salt: np.uint64) -> F64:
    """A uniform number in (0, 1) per key."""
    bits = hashed(keys, salt) >> np.uint64(11)
    return (bits.astype(np.float64) + 0.5) / float(1 << 53)


def normal(keys: U64, salt: np.uint64) -> F64:
    """A standard normal number per key (Box-Muller on two hashed uniforms)."""
    radius = np.sqrt(-2.0 * np.log(uniform(keys, salt)))
    angle = 2.0 * np.pi * uniform(keys, salt ^ np.uint64(0x5DEECE66D))
    result: F64 = radius * np.cos(angle)
    return result


def generator(seed: int, *parts: object) -> np.random.Generator:
    """A numpy generator for one unit of work (year, municipality, stream)."""
    words = [int(stream_salt(*parts)) & 0xFFFFFFFF, int(stream_salt(*parts)) >> 32, seed]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))
