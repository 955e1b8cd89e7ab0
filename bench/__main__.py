"""Run the benchmarks: ``python -m bench`` runs them all, ``python -m bench NAME ...`` some.

Each benchmark is a module ``bench/<name>.py`` with a ``main() -> None`` that measures its
figure and a baseline in the same run and reports the ratio through ``bench.report``.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
from pathlib import Path

# Not benchmarks: minimal_ingest is a baseline; station_backlog, station_side and fleet_store
# are what the uplink, station-side and fleet benches share.
SKIP = {
    "__main__",
    "report",
    "__init__",
    "minimal_ingest",
    "station_backlog",
    "station_side",
    "fleet_store",
}


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name not in SKIP)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    names = argv or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        sys.stderr.write(f"unknown benchmark(s) {unknown}; available: {available()}\n")
        return 2
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
