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


AXE_JS = Path(__file__).resolve().parents[2] / "static" / "vendor" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa"]
FAILING_IMPACTS = {"critical", "serious"}

# Violations from Django admin's own, unmodified templates that we cannot reasonably fix. Each entry is an exact
# (rule id, CSS selector of the node as axe reports it) with why; a rule is never disabled as a whole.
AXE_ALLOWED: dict[tuple[str, str], str] = {}


def assert_accessible(page, context: str) -> None:
    """Inject the vendored axe-core into ``page``, run the WCAG 2 A/AA rules, fail on any critical or serious
    violation (issue #10), each listed with its rule, impact, help text and the first offending selectors."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Our pages forbid inline scripts (Content-Security-Policy: script-src 'self'), so ``add_script_tag`` is
        # refused; Playwright's own evaluation is not subject to the page's policy and leaves the policy in force.
        page.evaluate(f"() => {{ {AXE_JS.read_text(encoding='utf-8')}\n}}")
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", AXE_TAGS
    )
    problems = []
    for violation in results["violations"]:
        if violation["impact"] not in FAILING_IMPACTS:
            continue
        targets = [
            " ".join(map(str, node["target"]))
            for node in violation["nodes"]
            if (violation["id"], " ".join(map(str, node["target"]))) not in AXE_ALLOWED
        ]
        if targets:
            problems.append(
                f"- {violation['id']} ({violation['impact']}): {violation['help']} "
                f"[{len(targets)} node(s)] {', '.join(targets[:5])}"
            )
    assert not problems, f"axe-core on {context} ({page.url}):\n" + "\n".join(problems)


@pytest.fixture(name="assert_accessible")
def assert_accessible_fixture():
    """The axe-core check as a fixture: ``assert_accessible(page, context="order list")``."""
    return assert_accessible
