"""The public surface: what ``__all__`` promises is importable, and nothing private leaks."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "samhandling",
    "samhandling.engine",
    "samhandling.instruments",
    "samhandling.ingest",
    "samhandling.refdata",
    "samhandling.rules",
    "samhandling.synth",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_importable_and_public(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert sorted(exported) == sorted(set(exported)), "duplicates in __all__"
    for symbol in exported:
        assert hasattr(module, symbol), f"{name}.{symbol} missing"
        assert not symbol.startswith("_") or symbol == "__version__"
