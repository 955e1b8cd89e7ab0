"""Everything the dashboard says, in Thai and English: gettext catalogs, one per language.

Translators edit ``fleet/web/locale/{th,en}/LC_MESSAGES/dashboard.po`` (never Python); the
compiled .mo beside each is build output (`make catalogs`, decision 0065). Message ids are keys:
templates call ``t("key", name=value)`` and code passes keys, never sentences. Station states,
alert rules, severities and drift values are entries with a context (``msgctxt "state"``) so a
value from the API is shown in the reader's language (``label("state", "online")``). A missing
key is a bug that a test catches (``tests/fleet/web/test_i18n.py``): both languages must have
every key.
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path
from typing import Literal

from protocol.catalogs import MissingMessage, load_catalog

Language = Literal["th", "en"]
LANGUAGES: tuple[Language, ...] = ("th", "en")
DOMAIN = "dashboard"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"


@cache
def catalog(language: Language) -> gettext.GNUTranslations:
    """The compiled catalog of one language (a missing .mo: an error that says what to run).
    A missing message is an error; a missing label (a context's entry) is the value itself."""
    return load_catalog(DOMAIN, LOCALE_DIR, language, MissingMessage())


def parse_language(text: str | None) -> Language | None:
    return "th" if text == "th" else "en" if text == "en" else None


def translate(message: str, language: Language, /, **values: object) -> str:
    """The message in that language, with ``{name}`` filled in (a missing key: KeyError)."""
    try:
        text = catalog(language).gettext(message)
    except KeyError:
        raise KeyError(f"no message {message!r} in the {language} dashboard catalog") from None
    return text.format(**values) if values else text


def label(kind: str, value: str | None, language: Language) -> str:
    """A value from the API in the reader's language; unknown values are shown as they are."""
    if value is None:
        return ""
    return catalog(language).pgettext(kind, value)


class Translator:
    """What templates get as ``t`` and ``label``: bound to the reader's language."""

    def __init__(self, language: Language) -> None:
        self.language = language
        self.other: Language = "en" if language == "th" else "th"

    def __call__(self, message: str, /, **values: object) -> str:
        return translate(message, self.language, **values)

    def label(self, kind: str, value: str | None) -> str:
        return label(kind, value, self.language)


def units(language: Language) -> tuple[str, str, str, str]:
    """Day, hour, minute and second, abbreviated as the dashboard shows them."""
    keys = ("unit-day", "unit-hour", "unit-minute", "unit-second")
    day, hour, minute, second = (translate(key, language) for key in keys)
    return day, hour, minute, second


def duration(seconds: float | None, language: Language) -> str:
    """``3 h 5 min``, ``2 d 4 h``, ``40 s``: the two largest units that matter."""
    if seconds is None:
        return ""
    day, hour, minute, second = units(language)
    total = int(max(0.0, seconds))
    parts = [
        (total // 86400, day),
        (total % 86400 // 3600, hour),
        (total % 3600 // 60, minute),
        (total % 60, second),
    ]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    return " ".join(f"{n} {unit}" for n, unit in parts[:2] if n or parts[0][0] == 0)


def size(count: float | None) -> str:
    if count is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"  # pragma: no cover
