"""A real Chromium for the dashboard's browser tests: Debian's ``chromium`` package driven by
Playwright for Python (no ``playwright install``: the browser comes from apt, which
``make test`` installs through scripts/ensure-system-deps.sh).

The machine has no internet: Chromium's own background traffic (component updates, sync,
QUIC probes) is switched off. Playwright gives every launch a fresh, temporary user-data-dir.
Screenshots go to ``test-artifacts/screenshots/`` (git-ignored); each path is printed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path(os.environ.get("EWP_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        raise AssertionError(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(`make test` installs it, or `apt-get install chromium fonts-thai-tlwg`; "
            "EWP_CHROMIUM=/path/to/chromium for another one)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot kept as a test artifact; its path is printed."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
