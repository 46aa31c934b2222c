"""Cooperation agreements (samarbeidsavtaler) between health trusts and municipalities.

Helse- og omsorgstjenesteloven § 6-2 obliges every municipality to have an agreement with its
health trust covering at least the statutory points; this package keeps the registry of those
agreements with their full revision history, validates what is registered, and monitors per
RHF and HF area which municipalities have which sub-agreements against the statutory deadlines
(as Helsedirektoratet did from 2012). See ``docs/agreements.md``.
"""

from __future__ import annotations

from samhandling.registries.agreements.domain import (
    OTHER,
    OVERALL,
    Agreement,
    AgreementDraft,
    AgreementError,
    AgreementValidationError,
    DocumentInfo,
    Part,
    PartDraft,
    Revision,
    health_trust_names,
    validate_draft,
)
from samhandling.registries.agreements.registry import (
    add_revision,
    agreement,
    agreements,
    document,
    point_signed,
    register_agreement,
    store_document,
)

__all__ = [
    "OTHER",
    "OVERALL",
    "Agreement",
    "AgreementDraft",
    "AgreementError",
    "AgreementValidationError",
    "DocumentInfo",
    "Part",
    "PartDraft",
    "Revision",
    "add_revision",
    "agreement",
    "agreements",
    "document",
    "health_trust_names",
    "point_signed",
    "register_agreement",
    "store_document",
    "validate_draft",
]
