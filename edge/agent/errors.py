"""Errors of the station agent; each message says what the operator or installer can do."""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error the station agent raises for a person to act on."""


class OutboxError(AgentError):
    """The outbox cannot do what was asked."""


class OutboxFullError(OutboxError):
    """Saving this packet would break the disk quota or fill the disk: nothing was saved."""


class NotProvisionedError(AgentError):
    """The station has no identity yet."""


class ProvisioningError(AgentError):
    """Provisioning against the fleet failed; the station keeps no half-made identity."""


class CaptureError(AgentError):
    """A capture could not be completed; the operator can retry."""
