"""The wire contract shared by stations and the fleet: topics, messages, the sealed envelope.

See docs/protocol.md. Versioned: envelope and chunk formats carry a version byte, JSON messages
a ``v`` field, topics live under ``ewp/v1/``.
"""

from protocol.envelope import FORMAT_VERSION

__all__ = ["FORMAT_VERSION"]
