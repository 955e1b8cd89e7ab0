"""The one exception base of the simulators: what a tester must fix, said plainly."""

from __future__ import annotations


class SimulatorError(Exception):
    """A simulator cannot run as asked; the message says what to do."""
