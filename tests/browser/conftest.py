"""Browser fixtures: a live server on its own database, headless Chromium, pages.

The tests drive Debian's ``/usr/bin/chromium`` through Playwright's sync API (never a
browser that ``playwright install`` downloads). Without Chromium the tests skip, loudly;
with ``RESPONDR_REQUIRE_BROWSER=1`` (as in CI) they fail instead. When a test fails,
a full-page screenshot of each page it opened goes to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright

from respondr.extensions import db as flask_db
from tests import factories
from tests.conftest import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # No network here: without these Chromium keeps trying to reach Google's services.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
DEFAULT_TIMEOUT_MS = 10_000
# How Chromium logs a response with an error status (the page's own 401 included).
FAILED_TO_LOAD = "Failed to load resource: the server responded with a status of"

BROWSER_DIR = Path(__file__).resolve().parent
REPO_ROOT = BROWSER_DIR.parent.parent
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/browser is a browser test (``-m "not browser"`` leaves them)."""
    for item in items:
        if item.path.is_relative_to(BROWSER_DIR):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Keep each phase's report on the item (``rep_setup``, ``rep_call``, ...) so the
    ``page`` fixture knows at teardown whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def screenshot_path(name: str) -> Path:
    """Where a screenshot called ``name`` goes; the directories are made as needed."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"


@dataclass(frozen=True)
class LiveUser:
    id: int
    email: str
    name: str
    password: str


@pytest.fixture
def make_live_user(live_server: LiveServer) -> Callable[..., LiveUser]:
    """Create (and commit) a user in the live server's database; takes ``create_user``'s
    keyword arguments and returns what a browser test needs to sign in as them."""

    def make(**kwargs: object) -> LiveUser:
        password = str(kwargs.setdefault("password", factories.PASSWORD))
        with live_server.app.app_context():
            user = factories.create_user(flask_db.session, **kwargs)
            flask_db.session.commit()
            return LiveUser(id=user.id, email=user.email, name=user.name, password=password)

    return make


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("RESPONDR_REQUIRE_BROWSER") == "1":
            pytest.fail(
                f"{CHROMIUM} is not installed, and RESPONDR_REQUIRE_BROWSER=1 requires the "
                "browser tests: install it with `apt-get install chromium`",
                pytrace=False,
            )
        pytest.skip(f"browser tests skipped: {CHROMIUM} is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


class ConsoleErrors(list[str]):
    """Console messages of type ``error`` and uncaught page exceptions, as text."""

    def listen(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "?")
        self.append(f"{message.text} ({url})")

    def _on_page_error(self, error: Error) -> None:
        self.append(f"uncaught: {error.message}")


@pytest.fixture
def console_errors() -> ConsoleErrors:
    """Everything the test's pages logged as an error; tests assert it stays empty."""
    return ConsoleErrors()


@pytest.fixture
def new_page(
    browser: Browser, console_errors: ConsoleErrors, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh browser context (own cookies); keyword arguments go to
    ``browser.new_context`` (the viewport is the desktop one unless given)."""
    pages: list[Page] = []

    def new(**context_options: object) -> Page:
        context_options.setdefault("viewport", DESKTOP)
        context = browser.new_context(**context_options)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        page = context.new_page()
        console_errors.listen(page)
        pages.append(page)
        return page

    yield new

    report = getattr(request.node, "rep_call", None)
    failed = report is not None and report.failed
    for number, page in enumerate(pages, start=1):
        if failed and not page.is_closed():
            name = request.node.name if number == 1 else f"{request.node.name}-{number}"
            page.screenshot(path=screenshot_path(name), full_page=True)
        page.context.close()


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    """A desktop-sized page (1280x800) in a fresh browser context."""
    return new_page()
