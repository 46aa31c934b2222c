"""The layers' import contract (pyproject.toml, checked by ``lint-imports`` in scripts/test)
names every package and module of the package: a new one cannot escape the layering by being
left out of it."""

from __future__ import annotations

import pkgutil
import re
import tomllib
from pathlib import Path

import samhandling

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _layers() -> list[list[str]]:
    config = tomllib.loads(PYPROJECT.read_text("utf-8"))["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return [[m.strip() for m in re.split(r"[|:]", layer)] for layer in contract["layers"]]


def test_every_top_level_module_is_in_a_layer() -> None:
    named = [m for layer in _layers() for m in layer]
    assert len(named) == len(set(named)), "a module is in two layers"
    present = {f"samhandling.{m.name}" for m in pkgutil.iter_modules(samhandling.__path__)}
    assert present == set(named)


def test_the_layers_run_from_app_to_core() -> None:
    layers = _layers()
    assert "samhandling.cli" in layers[0] and "samhandling.web" in layers[0]
    assert layers[-1] == ["samhandling.errors"]
    core = layers[-2]
    assert {"samhandling.engine", "samhandling.rules", "samhandling.contract"} <= set(core)
