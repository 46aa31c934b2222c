"""Helpers shared by the portal's HTTP tests (``test_web.py``, ``test_web_map.py``, ...).

The tiny hand-made warehouse (``tests/browser/tiny_warehouse``, described in ``test_web.py``),
its users, cheap password hashing, logging in over HTTP with the login form's CSRF token, and
the builders behind each module's ``store``, ``base_url`` and ``client`` fixtures (the fixtures
stay in the modules, as thin wrappers around these).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import httpx
from argon2 import PasswordHasher

from portal_server import serve
from samhandling.store import Store
from samhandling.warehouse import Warehouse
from samhandling.web import create_app

__all__ = [
    "FAST_HASH",
    "NBSP",
    "TINY",
    "USERS",
    "add_users",
    "csrf_of",
    "http_client",
    "ingest_tiny",
    "kr",
    "login",
    "portal_store",
    "serve_portal",
]

# Cheap argon2id parameters keep the many logins fast; the store tests use the real ones.
FAST_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
TINY = Path(__file__).parent / "browser" / "tiny_warehouse"
NBSP = "\u00a0"
USERS = {
    # username: (password, role, organisation)
    "bodo": ("pw-bodo", "municipality", "1804"),
    "oslo": ("pw-oslo", "municipality", "0301"),
    "nlsh": ("pw-nlsh", "health_trust", "983974910"),
    "nasjonal": ("pw-nasjonal", "national", None),
    "publikum": ("pw-publikum", "public", None),
}


def kr(text: str) -> str:
    """``"20 625,00"`` as the portal writes it (no-break space between thousands)."""
    return text.replace(" ", NBSP)


def ingest_tiny(base: Path) -> Warehouse:
    """A fresh warehouse under ``base`` holding the tiny delivery (as of 30 June 2014)."""
    shutil.copytree(TINY, base / "delivery")
    warehouse = Warehouse(base / "warehouse")
    report = warehouse.ingest(base / "delivery", as_of=date(2014, 6, 30))
    assert report.rejected == 1  # E4: municipality 9999 is quarantined
    return warehouse


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def login(client: httpx.Client, username: str, password: str | None = None) -> httpx.Client:
    """Log ``client`` in as one of :data:`USERS` through the login form."""
    page = client.get("/logg-inn")
    # The login form's own token (a logged-in page also has the logout form's).
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', page.text.split('action="/logg-inn"')[1]
    )
    assert token is not None
    response = client.post(
        "/logg-inn",
        data={
            "brukernavn": username,
            "passord": USERS[username][0] if password is None else password,
            "csrf_token": token.group(1),
            "neste": "/",
        },
    )
    assert response.status_code == 303, response.text
    return client


def add_users(store: Store, names: Iterable[str] = USERS) -> Store:
    """Add the named :data:`USERS` (all of them by default) to ``store``."""
    for name in names:
        password, role, org = USERS[name]
        store.add_user(name, password, role, org)  # type: ignore[arg-type]
    return store


@contextmanager
def portal_store(folder: Path, names: Iterable[str] = USERS) -> Iterator[Store]:
    """The portal's store ``folder/portal.sqlite3``, cheap hashing, holding the named users."""
    with Store(f"sqlite:///{folder / 'portal.sqlite3'}", password_hasher=FAST_HASH) as opened:
        yield add_users(opened, names)


@contextmanager
def serve_portal(warehouse: Path, store: Store, wait_seconds: float = 60) -> Iterator[str]:
    """The portal on ``warehouse`` and ``store`` in a server thread; yield its base URL."""
    with serve(create_app(warehouse, store=store, wait_seconds=wait_seconds)) as url:
        yield url


@contextmanager
def http_client(
    base_url: str, user: str | None = None, *, timeout: float = 60
) -> Iterator[httpx.Client]:
    """An HTTP client that does not follow redirects, logged in as ``user`` when one is given."""
    with httpx.Client(base_url=base_url, follow_redirects=False, timeout=timeout) as client:
        if user is not None:
            login(client, user)
        yield client
