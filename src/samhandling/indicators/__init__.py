"""Steering-data indicator library (styringsdataindikatorer): one module per family.

Each family registers :class:`IndicatorDefinition` metadata and exposes SQL functions over an
:class:`samhandling.engine.Engine` holding ``contact_facts`` (see :mod:`.facts`).
"""

from __future__ import annotations

from samhandling.indicators.definitions import IndicatorDefinition, all_definitions, definition
from samhandling.indicators.facts import FACTS, register_contact_facts
from samhandling.indicators.peers import PeerGroup, all_peer_groups, peer_groups

__all__ = [
    "FACTS",
    "IndicatorDefinition",
    "PeerGroup",
    "all_definitions",
    "all_peer_groups",
    "definition",
    "peer_groups",
    "register_contact_facts",
]
