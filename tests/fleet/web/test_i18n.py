"""The dashboard's message catalogue: both languages for every key, the same placeholders in
both, and every key the pages use is there."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from fleet.web import i18n

WEB = Path(i18n.__file__).parent


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(i18n.MESSAGES))
def test_every_message_has_both_languages_with_the_same_placeholders(key: str) -> None:
    message = i18n.MESSAGES[key]
    assert set(message) == set(i18n.LANGUAGES)
    assert all(message[lang].strip() for lang in i18n.LANGUAGES)
    if placeholders(message["en"]) or placeholders(message["th"]):
        assert placeholders(message["en"]) == placeholders(message["th"])


def test_every_label_has_both_languages() -> None:
    for kind, values in i18n.LABELS.items():
        for value, text in values.items():
            assert set(text) == set(i18n.LANGUAGES), f"{kind}/{value}"


def test_every_key_the_pages_use_exists() -> None:
    used: set[str] = set()
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("*pages.py"), WEB / "access.py"]:
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9-]+)["']\s*[,)]""", text))
        used |= set(re.findall(r'translate\(\s*"([a-z0-9-]+)"\s*[,)]', text))
        used |= set(re.findall(r'PageError\(\s*\d+,\s*"([a-z0-9-]+)"', text))
    assert used, "the scan found no keys: has the calling convention changed?"
    assert not used - i18n.MESSAGES.keys(), sorted(used - i18n.MESSAGES.keys())


def test_values_from_the_api_are_shown_in_the_readers_language() -> None:
    assert i18n.label("state", "online", "th") == "ออนไลน์"
    assert i18n.label("rule", "reconciliation-gap", "en") == "reconciliation gap"
    assert i18n.label("rule", "a-rule-from-the-future", "th") == "a-rule-from-the-future"
    assert i18n.translate("stations-total", "th", n=48) == "48 สถานี"
    assert i18n.duration(3 * 3600 + 5 * 60 + 7, "en") == "3 h 5 min"
    assert i18n.duration(2 * 86400 + 3600, "th") == "2 วัน 1 ชม."
    assert i18n.duration(40, "en") == "40 s"
    assert i18n.size(600_000) == "585.9 KB"
