"""Reference lists both sides validate against: nationalities, Thai provinces, job types.

Bundled JSON in protocol/data/ (names in Thai and English), loaded once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Named:
    code: str
    en: str
    th: str

    def name(self, language: str) -> str:
        return self.th if language == "th" else self.en


@dataclass(frozen=True)
class Province(Named):
    region: str  # north, northeast, central, east, west, south
    lat: float
    lon: float
    aliases: tuple[str, ...] = ()  # other English spellings (Chonburi for Chon Buri)


def _load(name: str, key: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads((DATA / name).read_text(encoding="utf-8"))[key]
    return rows


@cache
def nationalities() -> dict[str, Named]:
    return {
        str(r["code"]): Named(str(r["code"]), str(r["en"]), str(r["th"]))
        for r in _load("nationalities.json", "nationalities")
    }


@cache
def provinces() -> dict[str, Province]:
    return {
        str(r["code"]): Province(
            str(r["code"]),
            str(r["en"]),
            str(r["th"]),
            str(r["region"]),
            float(str(r["lat"])),
            float(str(r["lon"])),
            tuple(str(a) for a in r.get("aliases", [])),  # type: ignore[attr-defined]
        )
        for r in _load("provinces.json", "provinces")
    }


@cache
def job_types() -> dict[str, Named]:
    return {
        str(r["code"]): Named(str(r["code"]), str(r["en"]), str(r["th"]))
        for r in _load("job_types.json", "job_types")
    }


def province_by_name(name: str) -> Province | None:
    """Look a province up by code, English or Thai name (case-insensitive for English)."""
    folded = name.strip().casefold()
    for province in provinces().values():
        names = (province.code, province.en, *province.aliases)
        if folded in (n.casefold() for n in names) or name.strip() == province.th:
            return province
    return None


@cache
def regions() -> dict[str, Named]:
    rows: list[dict[str, str]] = json.loads((DATA / "provinces.json").read_text(encoding="utf-8"))[
        "regions"
    ]
    return {r["id"]: Named(r["id"], r["en"], r["th"]) for r in rows}


def thai_id_check_digit(first12: str) -> int:
    """Check digit of a 13-digit Thai national or juristic id (mod 11 weighted sum)."""
    if len(first12) != 12 or not first12.isdigit():
        raise ValueError("need the first 12 digits")
    total = sum(int(d) * (13 - i) for i, d in enumerate(first12))
    return (11 - total % 11) % 10


def valid_thai_id(number: str) -> bool:
    return (
        len(number) == 13
        and number.isdigit()
        and thai_id_check_digit(number[:12]) == int(number[12])
    )
