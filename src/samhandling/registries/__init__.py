"""Registries: what municipalities and health trusts record and follow up, not money.

- :mod:`samhandling.registries.agreements`: cooperation agreements (samarbeidsavtaler), their
  revisions, parts and deadlines, and the monitoring of what the law requires.
- :mod:`samhandling.registries.emergency_beds`: the municipal emergency bed units (KAD), their
  beds over time, occupancy and the block grant.

Their rows live in the operational store (:mod:`samhandling.store`: ``store.agreements``,
``store.emergency_beds``); the economic instruments are in :mod:`samhandling.instruments`.
"""
