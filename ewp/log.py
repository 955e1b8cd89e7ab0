"""Logging set-up for ewp processes (library code only ever calls ``logging.getLogger``).

Wire traffic goes to its own loggers under ``ewp.wire`` (for example ``ewp.wire.fingerprint``),
apart from the application log, and is off unless asked for with ``--wire-log``.
"""

from __future__ import annotations

import logging
import sys

WIRE_LOGGER = "ewp.wire"


def configure(level: str = "INFO", *, wire: bool = False, plain: bool = False) -> None:
    """Configure the root logger once per process: to stderr, so stdout stays for results."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler: logging.Handler
    if sys.stderr.isatty() and not plain:
        from rich.logging import RichHandler

        handler = RichHandler(show_path=False, rich_tracebacks=True)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger(WIRE_LOGGER).setLevel(logging.DEBUG if wire else logging.WARNING)
    # Third-party chatter that is not ours to show at INFO.
    for noisy in ("uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
