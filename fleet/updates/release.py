"""What a rollout needs to know about a release, whoever keeps the releases.

The release catalogue (fleet/updates/catalog.py, the TUF repository's list of published
releases) answers these questions; the rollout code depends only on this small interface, so
it does not care how releases are built or signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fleet.updates import catalog


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


class RepositoryCatalog:
    """The releases the fleet's TUF repository publishes (fleet/updates/catalog.py), read from
    its signed targets metadata at each question (the repository changes under a running
    fleet when a release is published)."""

    def __init__(self, repo_dir: Path) -> None:
        self.repo_dir = repo_dir

    def find(self, component: str, version: str) -> Release | None:
        if component not in catalog.KINDS:
            return None
        found = catalog.find_release(self.repo_dir, component, version)
        return None if found is None else ReleaseRef(found.kind, found.version, found.target)

    def delta_target(self, component: str, from_version: str, to_version: str) -> str | None:
        if component not in catalog.KINDS:
            return None
        found = catalog.find_release(self.repo_dir, component, to_version)
        delta = found.delta_from(from_version) if found is not None else None
        return delta.target if delta is not None else None
