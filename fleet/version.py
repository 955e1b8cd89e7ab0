"""The installed software version, as the fleet reports it."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def software_version() -> str:
    try:
        return version("ewp")
    except PackageNotFoundError:
        return "0.0.0+source"
