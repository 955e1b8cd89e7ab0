"""protocol/catalogs.py: a compiled catalog with a strict fallback; a missing one says what to
run."""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest

from ewp.catalogs import compile_catalog
from protocol.catalogs import MissingMessage, load_catalog

HEADER = 'msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'


def _catalog(root: Path) -> Path:
    messages = root / "th" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    po = messages / "demo.po"
    entries = 'msgid "done"\nmsgstr "เสร็จ"\n\nmsgctxt "state"\nmsgid "online"\nmsgstr "ออนไลน์"\n'
    po.write_text(HEADER + entries, encoding="utf-8")
    compile_catalog(po)
    return root


def test_a_message_the_catalog_lacks_is_an_error_never_its_key(tmp_path: Path) -> None:
    catalog = load_catalog("demo", _catalog(tmp_path), "th", MissingMessage())
    assert catalog.gettext("done") == "เสร็จ"
    assert catalog.pgettext("state", "online") == "ออนไลน์"
    with pytest.raises(KeyError):
        catalog.gettext("no-such-message")
    # Without a context rule of its own the fallback shows an unknown label as it is.
    assert catalog.pgettext("state", "unheard-of") == "unheard-of"


def test_the_fallback_decides_about_contexts(tmp_path: Path) -> None:
    class Strict(MissingMessage):
        def pgettext(self, context: str, message: str) -> str:
            raise KeyError(f"{context}/{message}")

    catalog = load_catalog("demo", _catalog(tmp_path), "th", Strict())
    with pytest.raises(KeyError):
        catalog.pgettext("state", "unheard-of")


def test_a_catalog_not_compiled_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="make catalogs"):
        load_catalog("demo", tmp_path, "th", gettext.NullTranslations())
