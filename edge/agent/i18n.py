"""What field staff and applicants read: gettext catalogs. Code speaks in message keys; screens
render them.

Two domains under ``edge/agent/locale/{language}/LC_MESSAGES/`` (translators edit the .po
files, never Python; the .mo beside each is build output, `make catalogs`, decision 0065):

- ``station``: what field staff read (the terminal and the kiosk), in Thai and English.
  ``render("place-finger", "th", finger="right-index")`` also translates the finger and eye
  names (``msgctxt "position"``) and exception reasons (``msgctxt "reason"``).
- ``applicant``: the few large prompts an applicant follows during capture ("place your right
  index finger", "look at the green light", "hold still", "done"), in the six languages of
  the applicants: Thai, English, Burmese, Khmer, Lao and Vietnamese.

A missing key is an error (KeyError), and a test checks that every key exists in every language
of its domain.
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path
from typing import Literal

from protocol.catalogs import MissingMessage, load_catalog
from protocol.station_config import ALL_FINGERS

Language = Literal["th", "en"]
LANGUAGES: tuple[Language, ...] = ("th", "en")
ApplicantLanguage = Literal["th", "en", "my", "km", "lo", "vi"]
APPLICANT_LANGUAGES: tuple[ApplicantLanguage, ...] = ("th", "en", "my", "km", "lo", "vi")
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

# Every finger and eye the workflow names (the catalogs hold each one's words).
POSITIONS: tuple[str, ...] = (*ALL_FINGERS, "left-eye", "right-eye", "both-eyes")
# The applicant catalog's prompts (besides the finger and eye names).
APPLICANT_PROMPTS: tuple[str, ...] = (
    "place-finger",
    "hold-still",
    "lift-finger",
    "try-again",
    "wrong-finger",
    "look-at-light",
    "good",
    "done",
    "wait",
    "language-name",
)
REASONS: tuple[str, ...] = ("missing", "amputated", "bandaged", "unusable", "other")
# The applicant's language from the application's nationality (ISO 3166 alpha-3).
NATIONALITY_LANGUAGE: dict[str, ApplicantLanguage] = {
    "MMR": "my",
    "KHM": "km",
    "LAO": "lo",
    "VNM": "vi",
    "THA": "th",
}


class _Missing(MissingMessage):
    """The fallback of every catalog: a key it lacks is an error, never shown as the key."""

    def pgettext(self, context: str, message: str) -> str:
        raise KeyError(f"{context}/{message}")


@cache
def catalog(domain: str, language: str) -> gettext.GNUTranslations:
    """The compiled catalog (a missing .mo: an error that says what to run)."""
    return load_catalog(domain, LOCALE_DIR, language, _Missing())


def _lookup(domain: str, language: str, key: str, context: str | None = None) -> str:
    messages = catalog(domain, language)
    try:
        return messages.gettext(key) if context is None else messages.pgettext(context, key)
    except KeyError:
        raise KeyError(f"no message {key!r} in the {language} {domain} catalog") from None


def position_name(position: str, language: str, domain: str = "station") -> str:
    """A finger or eye in that language; an unknown position is shown as it is."""
    return _lookup(domain, language, position, "position") if position in POSITIONS else position


def reason_name(reason: str, language: Language) -> str:
    return _lookup("station", language, reason, "reason") if reason in REASONS else reason


def status_name(status: str, language: Language) -> str:
    """An application's status from central (``received``, ``card-ready``, ...)."""
    try:
        return _lookup("station", language, status, "status")
    except KeyError:
        return status


def render(key: str, language: Language, **params: object) -> str:
    """The sentence for ``key`` in ``language``; finger/eye/reason parameters translated."""
    template = _lookup("station", language, key)
    values: dict[str, object] = {}
    for name, value in params.items():
        if name in ("finger", "other", "eye", "position") and isinstance(value, str):
            values[name] = position_name(value, language)
        elif name == "reason" and isinstance(value, str):
            values[name] = reason_name(value, language)
        elif name == "advice" and isinstance(value, str):
            try:
                values[name] = _lookup("station", language, f"advice-{value}")
            except KeyError:
                values[name] = value
        else:
            values[name] = value
    return template.format(**values)


def prompt(key: str, language: ApplicantLanguage, **params: object) -> str:
    """An applicant's prompt (domain ``applicant``) in one of the six applicant languages."""
    template = _lookup("applicant", language, key)
    values = {
        name: position_name(value, language, "applicant") if isinstance(value, str) else value
        for name, value in params.items()
    }
    return template.format(**values)


def applicant_language(nationality: str | None) -> ApplicantLanguage:
    """The language to guide an applicant in: from the nationality, English otherwise."""
    return NATIONALITY_LANGUAGE.get((nationality or "").upper(), "en")
