"""Regenerate protocol/data/nationalities.json from Unicode CLDR (via babel) and ISO 3166.

Run by hand when the country list changes: ``pip install babel pycountry`` then
``python scripts/generate_nationalities.py``. Not a runtime dependency.
"""

from __future__ import annotations

import json
from pathlib import Path

import pycountry  # type: ignore[import-not-found]
from babel import Locale  # type: ignore[import-not-found]

OUT = Path(__file__).resolve().parent.parent / "protocol" / "data" / "nationalities.json"


def main() -> None:
    thai, english = Locale("th"), Locale("en")
    rows = [
        {
            "code": country.alpha_3,
            "en": english.territories.get(country.alpha_2, country.name),
            "th": thai.territories.get(country.alpha_2, country.name),
        }
        for country in pycountry.countries
    ]
    rows.sort(key=lambda r: r["code"])
    OUT.write_text(
        json.dumps(
            {"source": "ISO 3166-1 alpha-3; names from Unicode CLDR", "nationalities": rows},
            ensure_ascii=False,
            indent=0,
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
