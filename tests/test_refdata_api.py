"""The public surface of samhandling.refdata matches its __all__."""

from __future__ import annotations

import inspect

from samhandling import refdata


def test_all_lists_exactly_the_public_functions() -> None:
    public = {
        name
        for name, value in vars(refdata).items()
        if not name.startswith("_") and callable(value) and not inspect.isclass(value)
    }
    assert set(refdata.__all__) == public
    assert refdata.__all__ == sorted(refdata.__all__)
