"""Errors of the station's updater."""

from __future__ import annotations

from edge.agent.errors import AgentError


class UpdaterError(AgentError):
    """An update step that could not be done."""


class UpdateRefused(UpdaterError):  # noqa: N818 (a refusal, with its reason for the fleet)
    """An offer or a file refused for good (unsigned, tampered, older, too large...):
    nothing is installed; ``str(exc)`` is the reason sent to the fleet."""


class DownloadInterrupted(UpdaterError):  # noqa: N818
    """The link broke during a download; the ``.part`` file keeps what arrived."""


class DownloadPaused(DownloadInterrupted):
    """The download stepped aside for sealed packets or a closed upload window."""
