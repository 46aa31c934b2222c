"""Demo users, one per role, for the demo command and the README.

The passwords are public (they are printed and documented), so these users are for the
synthetic demo only: a real installation creates its own users (``samhandling portal bruker``).
"""

from __future__ import annotations

from typing import NamedTuple

from samhandling.store import Role, Store

__all__ = ["DEMO_USERS", "DemoUser", "create_demo_users"]


class DemoUser(NamedTuple):
    """A demo login: username, password, role and organisation (municipality or HF org nr)."""

    username: str
    password: str
    role: Role
    organisation: str | None
    display_name: str


# Bodø (1804) and its health trust, Nordlandssykehuset HF: a municipality whose code is the same
# in every year 2012–2024, with its own trust, and one of the 2012 acceptance questions.
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("bodo", "demo-kommune", "municipality", "1804", "Controller, Bodø kommune"),
    DemoUser(
        "nordlandssykehuset",
        "demo-helseforetak",
        "health_trust",
        "983974910",
        "Controller, Nordlandssykehuset HF",
    ),
    DemoUser("helsedir", "demo-nasjonal", "national", None, "Analytiker, Helsedirektoratet"),
    DemoUser("publikum", "demo-publikum", "public", None, "Publikum"),
)


def create_demo_users(store: Store) -> list[DemoUser]:
    """Create (or reset the passwords of) the demo users; return them for printing."""
    for demo in DEMO_USERS:
        if store.user(demo.username) is None:
            store.add_user(
                demo.username,
                demo.password,
                demo.role,
                demo.organisation,
                display_name=demo.display_name,
            )
        else:
            store.set_password(demo.username, demo.password)
    return list(DEMO_USERS)
