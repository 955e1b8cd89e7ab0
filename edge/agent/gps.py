"""Position from the NMEA sentences the controller board passes through (mobile units)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce


@dataclass(frozen=True)
class Position:
    latitude: float
    longitude: float


def _checksum_ok(sentence: str) -> bool:
    body, star, given = sentence.strip().lstrip("$").partition("*")
    if not star:
        return False
    try:
        expected = int(given[:2], 16)
    except ValueError:
        return False
    return reduce(lambda acc, ch: acc ^ ord(ch), body, 0) == expected


def _degrees(value: str, hemisphere: str, width: int) -> float:
    degrees = int(value[:width])
    minutes = float(value[width:])
    result = degrees + minutes / 60
    return -result if hemisphere in ("S", "W") else result


def parse_position(sentence: str) -> Position | None:
    """A fix from an RMC (status A) or GGA (quality > 0) sentence; None for anything else,
    including sentences with a bad checksum or no fix."""
    if not _checksum_ok(sentence):
        return None
    fields = sentence.strip().lstrip("$").partition("*")[0].split(",")
    kind = fields[0][2:]
    try:
        if kind == "RMC" and len(fields) >= 7 and fields[2] == "A":
            lat, ns, lon, ew = fields[3:7]
        elif kind == "GGA" and len(fields) >= 7 and fields[6] not in ("", "0"):
            lat, ns, lon, ew = fields[2:6]
        else:
            return None
        return Position(_degrees(lat, ns, 2), _degrees(lon, ew, 3))
    except (ValueError, IndexError):
        return None
