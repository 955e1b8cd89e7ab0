"""Errors raised by the wire contract: one base class, messages that say what went wrong."""

from __future__ import annotations


class ProtocolError(Exception):
    """Bytes or messages that do not follow the ewp wire contract."""


class EnvelopeError(ProtocolError):
    """A sealed packet that is malformed, truncated or of an unknown version."""


class SignatureError(ProtocolError):
    """A signature that does not verify against the station's registered key."""


class DecryptionError(ProtocolError):
    """A sealed packet that cannot be opened with the given central private key."""


class ChunkError(ProtocolError):
    """A packet chunk message that is malformed."""


class KeyFileError(ProtocolError):
    """A key file that cannot be read or is of the wrong kind."""


class MessageError(ProtocolError):
    """A JSON message that does not match its schema."""
