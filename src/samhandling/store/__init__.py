"""The operational store (driftsdatabase): users, sessions, audit log and login attempts.

Transactional records of the portal, kept apart from the analytical warehouse: SQLite inside the
warehouse folder by default (nothing to install), PostgreSQL when ``$SAMHANDLING_DB_URL`` says so
(``postgresql+psycopg://user@host/db``). The schema is created and upgraded by Alembic
migrations shipped in the package (``store/migrations``); :meth:`Store.open` runs them.
"""

from __future__ import annotations

from samhandling.store._store import (
    ENV_DB_URL,
    ROLES,
    AuditEntry,
    LoginSession,
    Role,
    Store,
    StoreError,
    User,
    default_url,
    head_revision,
    upgrade,
)

__all__ = [
    "ENV_DB_URL",
    "ROLES",
    "AuditEntry",
    "LoginSession",
    "Role",
    "Store",
    "StoreError",
    "User",
    "default_url",
    "head_revision",
    "upgrade",
]
