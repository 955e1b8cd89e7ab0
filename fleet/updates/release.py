"""What a rollout needs to know about a release, whoever keeps the releases.

The release catalogue (fleet/updates/catalog.py, the TUF repository's list of published
releases) answers these questions; the rollout code depends only on this small interface, so
it does not care how releases are built or signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Release(Protocol):
    """A published release: a component at a version, and its full bundle's TUF target."""

    @property
    def component(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def target(self) -> str: ...


class ReleaseCatalog(Protocol):
    """The published releases."""

    def find(self, component: str, version: str) -> Release | None:
        """The release, or None when it was never published."""
        ...

    def delta_target(self, component: str, from_version: str, to_version: str) -> str | None:
        """The TUF target of a delta from ``from_version`` to ``to_version``, if published."""
        ...


@dataclass(frozen=True)
class ReleaseRef:
    """A release named by hand (no catalogue, or a release the catalogue does not list yet)."""

    component: str
    version: str
    target: str
