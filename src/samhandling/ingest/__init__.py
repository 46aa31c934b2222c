"""Ingest (innlesing): validate interchange deliveries and load them into the warehouse.

The warehouse itself (:mod:`samhandling.warehouse`) stores, versions and registers what ingest
validated; this package knows the delivery folders, the checks and the rejection reasons.
"""

from __future__ import annotations

from samhandling.ingest.delivery import DeliveryError, delivery_folders, read_delivery
from samhandling.ingest.reasons import REASONS, Reason
from samhandling.ingest.validate import DeliveryFileError

__all__ = [
    "REASONS",
    "DeliveryError",
    "DeliveryFileError",
    "Reason",
    "delivery_folders",
    "read_delivery",
]
