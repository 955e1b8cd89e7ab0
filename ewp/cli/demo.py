"""`ewp demo`: broker, fleet service and a simulated fleet of stations, end to end."""

from __future__ import annotations


def demo() -> None:
    """Run the whole system on this machine and show what arrived."""
    raise NotImplementedError
