"""The kiosk in a real Chromium (Debian's, through Playwright) against a running station: the
agent provisioned with a real fleet (Mosquitto with ACLs), simulated fingerprint sensor, iris
camera and controller board, and the operator's and applicant's hands at the sensors.

Screens are 800x480 (the official 7-inch display) unless a test says otherwise; screenshots are
kept in test-artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from edge.agent.outbox import Outbox
from ewp.local_fleet import FleetStack, start_fleet_stack
from simulators.network import NetworkSimulator
from tests.edge.agent.kiosk.rig import PIN, KioskRig, kiosk_station
from tests.fleet.web.browser import chromium, screenshot

SMALL = {"width": 800, "height": 480}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetStack]:
    stack = start_fleet_stack(tmp_path_factory.mktemp("fleet"))
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def netsim() -> Iterator[NetworkSimulator]:
    with NetworkSimulator() as sim:
        yield sim


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def rig(fleet: FleetStack, netsim: NetworkSimulator, tmp_path: Path) -> Iterator[KioskRig]:
    name = f"ct-{abs(hash(tmp_path.name)) % 90 + 10}"
    with kiosk_station(fleet, netsim, tmp_path, station_id=name) as station:
        yield station


def open_kiosk(browser: Browser, rig: KioskRig, viewport: dict[str, int] = SMALL) -> Page:
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(rig.unlock_url())
    return page


def log_in(page: Page) -> None:
    page.locator("label.tile").first.click()
    for digit in PIN:
        page.locator(f'.keypad button[data-key="{digit}"]').click()
    page.locator("#login").click()
    expect(page.locator("#operator")).to_be_visible(timeout=20_000)


def test_login_walk_in_capture_review_submit(browser: Browser, rig: KioskRig) -> None:
    page = open_kiosk(browser, rig)
    expect(page.locator("#screen")).to_have_attribute("data-screen", "login")
    screenshot(page, "kiosk-login-800x480")
    log_in(page)
    expect(page.locator("#link")).to_contain_text("Online", timeout=20_000)

    # A walk-in application: a short passport number is refused, then corrected.
    page.locator("#walk-in").click()
    page.fill("input[name=application_number]", "WP-KI-70-000001")
    page.fill("input[name=given_name]", "Aye")
    page.fill("input[name=family_name]", "Mar")
    page.fill("input[name=passport_number]", "MA12")
    page.select_option("select[name=nationality]", "MMR")
    page.fill("input[name=date_of_birth]", "1994-02-03")
    page.select_option("select[name=sex]", "F")
    page.fill("input[name=juristic_id]", "0105555012348")
    page.fill("input[name=employer_name]", "Siam Fresh Foods")
    page.select_option("select[name=work_province]", "TH-63")
    page.locator("#walk-in-continue").click()
    expect(page.locator("#problem-passport_number")).to_be_visible()
    screenshot(page, "kiosk-walk-in-error-800x480")
    page.fill("input[name=passport_number]", "MA1234567")
    page.locator("#walk-in-continue").click()

    # The applicant is Burmese: prompts in Burmese; one finger declared as an exception.
    expect(page.locator("#applicant-name")).to_have_text("Aye Mar")
    expect(page.locator("#applicant-lang-my")).to_have_class("current")
    page.locator("#declare-left-index select").select_option("amputated")
    page.locator("#declare-left-index button").click()
    expect(page.locator("#declare-left-index .declared")).to_be_visible()

    # The first press of the right middle finger is poor: one retry.
    rig.hands.poor["right-middle"] = 1
    page.locator("#start-capture").click()
    expect(page.locator("#prompt")).to_have_attribute("data-key", "place-finger", timeout=10_000)
    expect(page.locator("#prompt")).to_contain_text("ညာလက်")
    screenshot(page, "kiosk-capture-my-800x480")
    expect(page.locator("#screen")).to_have_attribute("data-screen", "review", timeout=60_000)
    screenshot(page, "kiosk-review-800x480")
    for position in ("right-index", "right-middle", "left-eye", "right-eye"):
        image = page.locator(f"#review-{position} img")
        expect(image).to_be_visible()
        assert image.evaluate("i => i.naturalWidth") > 0, position
    expect(page.locator("#review-left-index")).to_contain_text("amputated")
    expect(page.locator("#review-right-middle")).to_contain_text("attempt 2")
    response = page.request.get(f"{rig.url}/image/right-index.png")
    assert response.headers["cache-control"] == "no-store"

    with Outbox(rig.agent.settings.outbox_path, min_free_bytes=0) as outbox:
        assert outbox.stats().created_total == 0, "nothing is saved before the operator submits"
    page.locator("#submit").click()
    expect(page.locator("#saved")).to_be_visible(timeout=20_000)
    screenshot(page, "kiosk-saved-800x480")
    with Outbox(rig.agent.settings.outbox_path, min_free_bytes=0) as outbox:
        assert outbox.stats().created_total == 1, "the packet is in the outbox"
    page.locator("#next").click()
    expect(page.locator("#screen")).to_have_attribute("data-screen", "home")
