"""Strict gettext catalogs, the station's (edge/agent/i18n.py) and the dashboard's
(fleet/web/i18n.py): a message a catalog lacks is an error, never shown as its key.

Not wire contract, but shared by both sides the way the import rules allow (edge and fleet
import protocol, never each other). The catalogs themselves stay with their side.
"""

from __future__ import annotations

import gettext
from pathlib import Path


class MissingMessage(gettext.NullTranslations):
    """A catalog's fallback: a message it lacks raises KeyError (with contexts: as the
    subclass decides; NullTranslations shows the message as it is)."""

    def gettext(self, message: str) -> str:
        raise KeyError(message)


def load_catalog(
    domain: str, locale_dir: Path, language: str, fallback: gettext.NullTranslations
) -> gettext.GNUTranslations:
    """The compiled catalog ``locale_dir/<language>/LC_MESSAGES/<domain>.mo`` with
    ``fallback`` behind it; a missing .mo is an error that says what to run."""
    try:
        found = gettext.translation(domain, locale_dir, languages=[language])
    except FileNotFoundError as exc:
        raise RuntimeError(
            f"no compiled {domain} catalog for {language!r} in {locale_dir}: "
            "run `make catalogs` (python -m ewp.catalogs)"
        ) from exc
    assert isinstance(found, gettext.GNUTranslations)
    found.add_fallback(fallback)
    return found
