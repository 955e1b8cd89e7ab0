"""The kiosk in a real Chromium (Debian's, through Playwright) against a running station: the
agent provisioned with a real fleet (Mosquitto with ACLs), simulated fingerprint sensor, iris
camera and controller board, and the operator's and applicant's hands at the sensors.

Screens are 800x480 (the official 7-inch display) unless a test says otherwise; screenshots are
kept in test-artifacts/screenshots/.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from playwright.sync_api import Browser, CDPSession, Page, expect

from edge.agent.i18n import APPLICANT_LANGUAGES
from edge.agent.outbox import Outbox
from ewp.local_fleet import FleetStack, wait_until
from simulators.network import NetworkSimulator
from tests.edge.agent.kiosk.rig import PIN, STATION_NUMBERS, KioskRig, kiosk_station
from tests.fleet.web.browser import screenshot

SMALL = {"width": 800, "height": 480}


def open_kiosk(browser: Browser, rig: KioskRig, viewport: dict[str, int] = SMALL) -> Page:
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(rig.unlock_url())
    return page


def assert_touchable(page: Page) -> None:
    """Every control at least 48 px each way, and nothing wider than the screen."""
    problems = page.evaluate(
        """() => {
        const out = [];
        const controls = 'button, a.button, select, label.tile, '
            + 'input:not([type=hidden]):not([type=radio])';
        for (const el of document.querySelectorAll(controls)) {
            const r = el.getBoundingClientRect();
            if (r.width === 0 && r.height === 0) continue;
            if (r.height < 48 || r.width < 48)
                out.push(`${el.tagName} ${el.id || el.name || el.textContent.trim()}: `
                    + `${Math.round(r.width)}x${Math.round(r.height)}`);
        }
        const wide = document.documentElement.scrollWidth;
        if (wide > window.innerWidth) out.push(`page ${wide} px wide`);
        return out;
    }"""
    )
    assert not problems, problems


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
    assert_touchable(page)
    log_in(page)
    assert_touchable(page)
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
    assert_touchable(page)
    page.fill("input[name=passport_number]", "MA1234567")
    page.locator("#walk-in-continue").click()

    # The applicant is Burmese: prompts in Burmese; one finger declared as an exception.
    expect(page.locator("#applicant-name")).to_have_text("Aye Mar")
    expect(page.locator("#applicant-lang-my")).to_have_class("current")
    page.locator("#declare-left-index select").select_option("amputated")
    page.locator("#declare-left-index button").click()
    expect(page.locator("#declare-left-index .declared")).to_be_visible()
    assert_touchable(page)

    # The first press of the right middle finger is poor: one retry.
    rig.hands.poor["right-middle"] = 1
    page.locator("#start-capture").click()
    expect(page.locator("#prompt")).to_have_attribute("data-key", "place-finger", timeout=10_000)
    expect(page.locator("#prompt")).to_contain_text("ညာလက်")
    screenshot(page, "kiosk-capture-my-800x480")
    assert_touchable(page)
    expect(page.locator("#screen")).to_have_attribute("data-screen", "review", timeout=60_000)
    screenshot(page, "kiosk-review-800x480")
    assert_touchable(page)
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


def find_preregistered(page: Page, rig: KioskRig) -> str:
    number = rig.agent.preregistered.numbers()[0]
    page.fill("#number", number.lower())  # as a barcode scanner types it, then Enter
    page.press("#number", "Enter")
    expect(page.locator("#screen")).to_have_attribute("data-screen", "confirm")
    return number


def test_link_down_the_flow_goes_on_and_the_packet_waits(browser: Browser, rig: KioskRig) -> None:
    page = open_kiosk(browser, rig)
    log_in(page)
    expect(page.locator("#link")).to_contain_text("Online", timeout=20_000)
    rig.link.cut()
    expect(page.locator("#link")).to_contain_text("Offline since", timeout=30_000)
    find_preregistered(page, rig)
    page.locator("#start-capture").click()
    expect(page.locator("#screen")).to_have_attribute("data-screen", "review", timeout=60_000)
    page.locator("#submit").click()
    expect(page.locator("#saved")).to_be_visible(timeout=20_000)
    expect(page.locator("#queue")).to_contain_text("1 waiting", timeout=10_000)
    screenshot(page, "kiosk-offline-saved-800x480")
    rig.link.restore()
    expect(page.locator("#queue")).to_contain_text("0 waiting", timeout=60_000)
    expect(page.locator("#link")).to_contain_text("Online")


def test_tamper_shows_a_banner_and_capture_is_refused(browser: Browser, rig: KioskRig) -> None:
    page = open_kiosk(browser, rig)
    log_in(page)
    rig.board.open_tamper()
    wait_until(lambda: rig.agent.controller is not None and rig.agent.controller.locked)
    expect(page.locator("#banner-tamper")).to_be_visible(timeout=10_000)
    find_preregistered(page, rig)
    page.locator("#start-capture").click()
    expect(page.locator("#screen")).to_have_attribute("data-screen", "capture-failed")
    expect(page.locator("#error")).to_contain_text("tamper")
    screenshot(page, "kiosk-tamper-800x480")


def test_sensor_unplugged_mid_capture_then_retry(browser: Browser, rig: KioskRig) -> None:
    page = open_kiosk(browser, rig)
    log_in(page)
    find_preregistered(page, rig)
    rig.hands.unplug_at = "right-middle"
    page.locator("#start-capture").click()
    expect(page.locator("#screen")).to_have_attribute(
        "data-screen", "capture-failed", timeout=30_000
    )
    expect(page.locator("#error")).to_contain_text("fingerprint")
    screenshot(page, "kiosk-sensor-unplugged-800x480")
    page.locator("#retry").click()
    expect(page.locator("#screen")).to_have_attribute("data-screen", "review", timeout=60_000)
    expect(page.locator("#review-right-middle img")).to_be_visible()


def test_a_reload_mid_capture_resumes_the_applicant(browser: Browser, rig: KioskRig) -> None:
    page = open_kiosk(browser, rig)
    log_in(page)
    find_preregistered(page, rig)
    rig.hands.hold_at = "right-middle"
    page.locator("#start-capture").click()
    expect(page.locator('#diagram [data-position="right-index"]')).to_have_class(
        "finger good", timeout=30_000
    )
    page.reload()
    expect(page.locator("#screen")).to_have_attribute("data-screen", "capture")
    expect(page.locator('#diagram [data-position="right-index"]')).to_have_class("finger good")
    expect(page.locator("#now")).to_contain_text("right middle finger")
    rig.hands.hold_at = None
    expect(page.locator("#screen")).to_have_attribute("data-screen", "review", timeout=60_000)
    expect(page.locator("#review-right-index img")).to_be_visible()


@pytest.mark.parametrize(
    ("staff", "applicant", "staff_text", "prompt_text"),
    [
        ("th", "th", "ตอนนี้", "วางนิ้วชี้ขวาบนกระจก"),
        ("en", "en", "Now: right index finger", "Place your right index finger on the glass"),
        ("th", "my", "ตอนนี้", "ညာလက်ညှိုးကို မှန်ပေါ်တွင် တင်ပါ"),
    ],
)
def test_thai_english_and_burmese_screens(
    browser: Browser,
    rig: KioskRig,
    staff: str,
    applicant: str,
    staff_text: str,
    prompt_text: str,
) -> None:
    page = open_kiosk(browser, rig)
    if staff == "th":
        page.locator("#staff-language").click()
    log_in(page)
    find_preregistered(page, rig)
    page.locator(f"#applicant-lang-{applicant}").click()
    rig.hands.hold_at = "right-index"
    page.locator("#start-capture").click()
    expect(page.locator("#prompt")).to_have_text(prompt_text, timeout=20_000)
    expect(page.locator("#now")).to_contain_text(staff_text)
    screenshot(page, f"kiosk-capture-{staff}-{applicant}-800x480")
    page.set_viewport_size({"width": 1280, "height": 800})
    screenshot(page, f"kiosk-capture-{staff}-{applicant}-1280x800")
    assert_touchable(page)
    rig.hands.hold_at = None
    expect(page.locator("#screen")).to_have_attribute("data-screen", "review", timeout=60_000)


def font_file(postscript_name: str, family: str) -> Path:
    """The font file fontconfig (Chromium's font source on Linux) has for a font Chromium used."""
    for pattern in (f":postscriptname={postscript_name}", family):
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True, check=True
        ).stdout.strip()
        if found and Path(found).exists():
            return Path(found)
    raise AssertionError(f"no font file for {postscript_name} ({family})")


def uncovered(
    cdp: CDPSession, node: int, text: str, cmaps: dict[Path, set[int]]
) -> tuple[set[str], list[str]]:
    """The characters of ``text`` that none of the fonts Chromium drew the node with has."""
    used = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    covered: set[int] = set()
    for font in used:
        path = font_file(font["postScriptName"], font["familyName"])
        if path not in cmaps:
            with TTFont(path, fontNumber=0, lazy=True) as ttf:
                cmaps[path] = set(ttf.getBestCmap())
        covered |= cmaps[path]
    missing = {ch for ch in text if not ch.isspace() and ord(ch) not in covered}
    return missing, [font["familyName"] for font in used]


def test_every_applicant_language_renders_without_tofu(browser: Browser, rig: KioskRig) -> None:
    """Each prompt as Chromium draws it: the fonts it used for the text (DevTools'
    CSS.getPlatformFontsForNode) must between them have a glyph for every character."""
    page = open_kiosk(browser, rig)
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    cmaps: dict[Path, set[int]] = {}
    for language in APPLICANT_LANGUAGES:
        page.goto(f"{rig.url}/prompts?lang={language}")
        items = page.locator("#prompts li")
        expect(items.first).to_be_visible()
        if language in ("th", "en", "my"):
            screenshot(page, f"kiosk-prompts-{language}-800x480")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        nodes = cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": "#prompts li"})
        assert len(nodes["nodeIds"]) == items.count() > 10
        for node, text in zip(nodes["nodeIds"], items.all_inner_texts(), strict=True):
            missing, names = uncovered(cdp, node, text, cmaps)
            assert not missing, f"{language}: {text!r} has no glyph for {missing} in {names}"
    # The check can fail: a character no font has (an unassigned code point) is found.
    page.evaluate("document.querySelector('#prompts li').textContent = 'ok \\u0378'")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    first = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#prompts li"})["nodeId"]
    assert uncovered(cdp, first, "ok \u0378", cmaps)[0] == {"\u0378"}


def test_an_idle_operator_is_logged_out(
    browser: Browser, fleet: FleetStack, netsim: NetworkSimulator, tmp_path: Path
) -> None:
    name = f"ct-{next(STATION_NUMBERS)}"
    with kiosk_station(fleet, netsim, tmp_path, station_id=name, idle_logout_s=10) as rig:
        page = open_kiosk(browser, rig)
        log_in(page)
        expect(page.locator("#screen")).to_have_attribute("data-screen", "login", timeout=30_000)
        expect(page.locator("#message")).to_contain_text("Logged out after")
