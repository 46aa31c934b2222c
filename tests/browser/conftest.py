"""Browser tests: Debian's chromium driven by Playwright against the portal in a server thread.

The portal runs on a tiny hand-made warehouse (``tiny_warehouse/``, described in
``tests/test_web.py``; users and ingest shared with the HTTP tests in ``tests/web_helpers.py``)
in a uvicorn thread on 127.0.0.1 and a free port. Chromium comes from Debian
(``scripts/install-browser`` installs it when missing); Playwright's own browser downloads are
never used. Screenshots of each main page are kept in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from portal_server import serve
from samhandling.store import Store
from samhandling.web import create_app
from samhandling.web.tables import catalog_job
from web_helpers import FAST_HASH, USERS, ingest_tiny

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed by ``scripts/install-browser`` if it is missing."""
    if not CHROMIUM.exists():
        script = ROOT / "scripts" / "install-browser"
        subprocess.run([str(script)], check=False, capture_output=True)
    if not CHROMIUM.exists():
        reason = (
            f"{CHROMIUM} is missing and scripts/install-browser could not install it "
            "(needs root and apt); install the Debian package 'chromium'"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI must run the browser tests, never skip them
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
def portal_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    wh = ingest_tiny(tmp_path_factory.mktemp("browser"))
    store = Store(f"sqlite:///{wh.path / 'portal.sqlite3'}", password_hasher=FAST_HASH)
    for name, (password, role, org) in USERS.items():
        store.add_user(name, password, role, org)  # type: ignore[arg-type]
    app = create_app(wh.path, store=store, wait_seconds=60)
    # The shared computation that takes longest (the protected cubes of the table generator,
    # the public statistics and Min kommune's comparison) is started and awaited here, so
    # that a page's own wait never races the browser's navigation timeout.
    portal = app.state.portal
    warm = [catalog_job(portal)]
    assert portal.computations.wait(warm, 600), "the portal's computations did not finish"
    try:
        with serve(app) as url:
            yield url
    finally:
        store.close()


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    # Playwright would otherwise look for (and offer to download) its own browser builds.
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium),
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object, portal_url: str) -> Iterator[object]:
    """A fresh browser context (no cookies) sized like a laptop, Norwegian locale."""
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(
        base_url=portal_url,
        locale="nb-NO",
        viewport={"width": 1366, "height": 900},
        accept_downloads=True,
    )
    context.set_default_timeout(30_000)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def log_in(page: object) -> Callable[[str], None]:
    """Log ``page`` in as one of :data:`USERS` through the login form."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)

    def go(username: str) -> None:
        page.goto("/logg-inn")
        page.get_by_label("Brukernavn").fill(username)
        page.get_by_label("Passord").fill(USERS[username][0])
        page.get_by_role("button", name="Logg inn").click()
        page.wait_for_load_state()

    return go


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
