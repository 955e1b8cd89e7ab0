"""The station's gettext catalogs: staff text in Thai and English, the applicant's prompts in all
six languages, the same placeholders everywhere, every key the code uses present (extracted with
Babel, as a translator's template would be), and catalogs that refuse half-done translations."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from edge.agent import i18n
from ewp.catalogs import CatalogError, compile_catalog, is_stale, po_files

AGENT = Path(i18n.__file__).parent
Entries = dict[tuple[str | None, str], str]


def entries(domain: str, language: str) -> Entries:
    with (i18n.LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po").open("rb") as f:
        catalog: Catalog = read_po(f)
    return {(m.context, str(m.id)): str(m.string) for m in catalog if m.id}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize(
    ("domain", "languages"),
    [("station", i18n.LANGUAGES), ("applicant", i18n.APPLICANT_LANGUAGES)],
)
def test_every_key_exists_in_every_language_with_the_same_placeholders(
    domain: str, languages: tuple[str, ...]
) -> None:
    english = entries(domain, "en")
    assert len(english) >= 20
    for language in languages:
        other = entries(domain, language)
        assert other.keys() == english.keys(), (language, sorted(other.keys() ^ english.keys()))
        for key, text in english.items():
            assert other[key].strip(), (language, key)
            assert placeholders(other[key]) == placeholders(text), (language, key)


def test_the_applicant_catalog_holds_the_prompts_the_kiosk_shows() -> None:
    keys = {key for context, key in entries("applicant", "en") if context is None}
    assert keys == set(i18n.APPLICANT_PROMPTS)


def test_every_finger_and_eye_has_a_name_in_every_applicant_language() -> None:
    for language in i18n.APPLICANT_LANGUAGES:
        names = {i18n.position_name(p, language, "applicant") for p in i18n.POSITIONS}
        assert len(names) == len(i18n.POSITIONS), language
        assert not names & set(i18n.POSITIONS), f"{language}: a position left as its key"


def test_every_key_the_code_uses_is_in_the_catalog() -> None:
    """Babel's extractor over the agent's code: every ``Guidance("key")``, ``render("key")``,
    ``say("key")``, ``_t("key")`` and template ``_("key")`` is a message of the station catalog."""
    keywords = {"Guidance": None, "render": None, "say": None, "_t": None, "_": None}
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2.ext:babel_extract")]
    used = {
        str(message)
        for _, _, message, _, _ in extract_from_dir(
            str(AGENT), method_map=method_map, keywords=keywords
        )
    }
    assert {"place-finger", "look-at-camera", "login-pin"} <= used, "the extraction works"
    known = {key for context, key in entries("station", "en") if context is None}
    assert not used - known, sorted(used - known)


def test_sentences_are_rendered_in_the_language_asked() -> None:
    assert i18n.render("place-finger", "th", finger="right-index", attempt=1, attempts=3) == (
        "วางนิ้วชี้ขวาลงบนกระจกให้แนบสนิท (ครั้งที่ 1 จาก 3)"
    )
    assert i18n.render("finger-skipped", "en", finger="left-thumb", reason="amputated") == (
        "left thumb: recorded as amputated"
    )
    assert i18n.prompt("place-finger", "en", finger="right-index") == (
        "Place your right index finger on the glass"
    )
    assert i18n.prompt("place-finger", "my", finger="right-index").startswith("ညာလက်ညှိုး")
    assert i18n.applicant_language("mmr") == "my"
    assert i18n.applicant_language("IND") == "en"
    with pytest.raises(KeyError):
        i18n.render("no-such-message", "th")


def test_the_compiled_catalogs_are_current() -> None:
    assert po_files() and not [po for po in po_files() if is_stale(po)]


def test_a_fuzzy_or_empty_translation_is_refused(tmp_path: Path) -> None:
    header = 'msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
    fuzzy = tmp_path / "fuzzy.po"
    fuzzy.write_text(header + '#, fuzzy\nmsgid "done"\nmsgstr "เสร็จ"\n', encoding="utf-8")
    with pytest.raises(CatalogError, match="fuzzy"):
        compile_catalog(fuzzy)
    empty = tmp_path / "empty.po"
    empty.write_text(header + 'msgid "done"\nmsgstr ""\n', encoding="utf-8")
    with pytest.raises(CatalogError, match="no translation"):
        compile_catalog(empty)
    good = tmp_path / "good.po"
    good.write_text(header + 'msgid "done"\nmsgstr "เสร็จ"\n', encoding="utf-8")
    assert compile_catalog(good).read_bytes().startswith(b"\xde\x12\x04\x95")
