"""Compile the gettext catalogs (.po -> .mo) with Babel: `python -m ewp.catalogs`.

Translators edit the .po files; the compiled .mo files are build output, written beside them
and never committed (decision 0065). `make setup` runs this, so `make test` and `make demo`
always read catalogs compiled from the .po files in the tree; the test suite compiles them too
when it starts, so a bare `pytest` works after a `git pull`. ``--check`` only reports catalogs
whose .mo is missing or older than its .po (exit status 1).

A catalog with a syntax error, a fuzzy entry or an empty translation is refused: a half-done
translation never reaches a screen.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
# Each directory holds {language}/LC_MESSAGES/{domain}.po.
LOCALE_DIRS = (ROOT / "edge" / "agent" / "locale", ROOT / "fleet" / "web" / "locale")


class CatalogError(Exception):
    """A .po file that cannot be compiled; the message names the file and the entry."""


def po_files() -> list[Path]:
    return sorted(p for d in LOCALE_DIRS for p in d.glob("*/LC_MESSAGES/*.po"))


def is_stale(po: Path) -> bool:
    mo = po.with_suffix(".mo")
    return not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime


def compile_catalog(po: Path) -> Path:
    """Compile one .po into the .mo beside it (written atomically); the .mo's path."""
    with po.open("rb") as f:
        try:
            catalog = read_po(f, abort_invalid=True)
        except Exception as exc:  # Babel raises its own PoFileError and ValueErrors
            raise CatalogError(f"{po}: {exc}") from exc
    for message in catalog:
        if not message.id:
            continue
        where = f"{po}:{message.lineno} ({message.id!r})"
        if message.fuzzy:
            raise CatalogError(f"{where}: marked fuzzy; review the translation and remove the flag")
        if not message.string:
            raise CatalogError(f"{where}: no translation")
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    mo = po.with_suffix(".mo")
    partial = mo.with_name(f".{mo.name}.{os.getpid()}")
    partial.write_bytes(buffer.getvalue())
    os.replace(partial, mo)
    return mo


def compile_all(*, only_stale: bool = True) -> list[Path]:
    """Compile every catalog whose .mo is missing or older than its .po; the .mo written."""
    written = []
    for po in po_files():
        if only_stale and not is_stale(po):
            continue
        written.append(compile_catalog(po))
        log.info("compiled %s", po.relative_to(ROOT))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ewp.catalogs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale catalogs")
    parser.add_argument("--all", action="store_true", help="recompile every catalog")
    args = parser.parse_args(argv)
    if args.check:
        stale = [po for po in po_files() if is_stale(po)]
        for po in stale:
            sys.stderr.write(f"stale: {po.relative_to(ROOT)} (run `make catalogs`)\n")
        return 1 if stale else 0
    try:
        written = compile_all(only_stale=not args.all)
    except CatalogError as exc:
        sys.stderr.write(f"ewp: catalog refused: {exc}\n")
        return 1
    sys.stderr.write(f"ewp: {len(written)} of {len(po_files())} catalogs compiled\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
