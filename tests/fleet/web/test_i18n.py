"""The dashboard's message catalogue: both languages for every key, the same placeholders in
both, and every key the pages use is there."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from fleet.web import i18n

WEB = Path(i18n.__file__).parent


def load(language: str) -> Catalog:
    with (i18n.LOCALE_DIR / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.po").open("rb") as f:
        return read_po(f)


CATALOGS = {language: load(language) for language in i18n.LANGUAGES}


def entries(catalog: Catalog) -> dict[tuple[str | None, str], str]:
    return {(m.context, str(m.id)): str(m.string) for m in catalog if m.id}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_has_both_languages_with_the_same_placeholders() -> None:
    th, en = entries(CATALOGS["th"]), entries(CATALOGS["en"])
    assert len(en) > 200
    assert th.keys() == en.keys(), sorted(th.keys() ^ en.keys())
    for key, english in en.items():
        assert english.strip() and th[key].strip(), key
        assert placeholders(english) == placeholders(th[key]), key


def test_every_key_the_pages_use_exists() -> None:
    used: set[str] = set()
    for path in [
        *WEB.glob("templates/*.html"),
        *WEB.glob("*pages.py"),
        WEB / "access.py",
        WEB / "rendering.py",
    ]:
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9-]+)["']\s*[,)]""", text))
        used |= set(re.findall(r'translate\(\s*"([a-z0-9-]+)"\s*[,)]', text))
        used |= set(re.findall(r'PageError\(\s*\d+,\s*"([a-z0-9-]+)"', text))
    assert used, "the scan found no keys: has the calling convention changed?"
    known = {key for context, key in entries(CATALOGS["en"]) if context is None}
    assert not used - known, sorted(used - known)


def test_a_missing_key_is_an_error_not_a_silent_key_on_screen() -> None:
    with pytest.raises(KeyError):
        i18n.translate("no-such-message", "th")


def test_values_from_the_api_are_shown_in_the_readers_language() -> None:
    assert i18n.label("state", "online", "th") == "ออนไลน์"
    assert i18n.label("rule", "reconciliation-gap", "en") == "reconciliation gap"
    assert i18n.label("rule", "a-rule-from-the-future", "th") == "a-rule-from-the-future"
    assert i18n.translate("stations-total", "th", n=48) == "48 สถานี"
    assert i18n.duration(3 * 3600 + 5 * 60 + 7, "en") == "3 h 5 min"
    assert i18n.duration(2 * 86400 + 3600, "th") == "2 วัน 1 ชม."
    assert i18n.duration(40, "en") == "40 s"
    assert i18n.size(600_000) == "585.9 KB"
