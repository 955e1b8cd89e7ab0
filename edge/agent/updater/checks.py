"""Checks both updaters (the agent's and the firmware's) make of an offer and of a bundle."""

from __future__ import annotations

import json
import tarfile
from typing import Any

from edge.agent.updater.errors import UpdateRefused
from protocol.updates import UpdateOffer, version_key

MANIFEST_LIMIT = 1 << 20  # bytes of release.json read at most


def is_downgrade(offer: UpdateOffer, installed: str | None) -> bool:
    """The offer would install an older version than ``installed`` without allowing it."""
    return (
        installed is not None
        and version_key(offer.version) < version_key(installed)
        and not offer.allow_downgrade
    )


def read_manifest(tar: tarfile.TarFile) -> Any:
    """The bundle's release.json, which must be its first member (else refused)."""
    first = tar.next()
    if first is None or first.name != "release.json":
        raise UpdateRefused("refused: the bundle does not start with release.json")
    f = tar.extractfile(first)
    assert f is not None
    return json.loads(f.read(MANIFEST_LIMIT))
