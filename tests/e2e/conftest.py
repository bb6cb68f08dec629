"""Headless Debian Chromium driven by Playwright (never a downloaded browser)."""

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def new_browser_page(monkeypatch):
    """A function opening a page in one headless Chromium: ``new_browser_page(locale="en-US", ...)``."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the tests happen outside it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)

        def new_page(locale: str = "fr-FR", **options):
            viewport = options.pop("viewport", {"width": 1400, "height": 1000})
            return browser.new_context(locale=locale, viewport=viewport, **options).new_page()

        yield new_page
        browser.close()
