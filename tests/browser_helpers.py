"""What the browser tests need besides fixtures: Debian's Chromium, its flags, failure screenshots.

Loaded by tests/test_browser.py as a plugin (`pytest_plugins`), so that the
report hook below is registered: it keeps each phase's report on the test item,
the pytest-documented way for a fixture to learn, at teardown, that its test failed.
"""

import os
from pathlib import Path

import pytest

# Debian's package, never `playwright install`; SERVER_LAYERS_CHROMIUM names another binary
CHROMIUM = Path(os.environ.get("SERVER_LAYERS_CHROMIUM") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"  # gitignored

REPORTS = pytest.StashKey[dict]()


def require_chromium() -> str:
    """The browser's path, or fail (never skip): CI installs it, so a missing one is a broken setup."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium), or name "
                    "another binary with SERVER_LAYERS_CHROMIUM", pytrace=False)
    return str(CHROMIUM)


def failed(item: pytest.Item) -> bool:
    """Did the test's setup or call fail (as seen from a fixture's teardown)?"""
    return any(report.failed for report in item.stash.get(REPORTS, {}).values())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report
