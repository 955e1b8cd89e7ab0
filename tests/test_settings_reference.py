"""docs/settings.md documents every settings key, and is what the models say today."""

from __future__ import annotations

from ewp.settings_reference import FILES, PAGE, keys, render, undocumented


def test_the_page_is_current() -> None:
    assert PAGE.read_text(encoding="utf-8") == render(), (
        "docs/settings.md is out of date: run `.venv/bin/python -m ewp.settings_reference`"
    )


def test_every_key_says_what_it_means() -> None:
    assert undocumented() == [], "give these keys a docstring under the field (or a description)"


def test_every_key_of_every_model_is_on_the_page() -> None:
    page = render()
    for settings_file in FILES:
        for key in keys(settings_file.model):
            table = f"[[{key.table}]]" if key.array_of_tables else f"[{key.table}]"
            assert f"| `{key.name}` |" in page
            if key.table:
                assert f"### `{table}`" in page
    # A few that a newcomer asked about, with their defaults and limits.
    assert "| `enrolments` | integer, optional | unset | ≥ 0 |" in page
    assert "### `[[upload.windows]]`" in page
    assert '| `level` | `"DEBUG"` \\| `"INFO"`' in page
    assert "| `admin_token` | secret | **required** |" in page
