"""One small MQTT v5 session library that both the station and the fleet use.

The only package of the project that imports paho-mqtt (``tests/test_import_rules.py`` checks
it): TLS options, v5 session expiry, reconnects with backoff and jitter, subscriptions restored
on every connect, and typed handlers given when the session is created. It imports nothing of
ewp's own but itself.
"""

from mqtt_session.errors import SessionError
from mqtt_session.options import (
    Backoff,
    BrokerAddress,
    Credentials,
    SessionOptions,
    TlsOptions,
    Will,
)
from mqtt_session.session import (
    Handler,
    Message,
    MqttSession,
    Publication,
    Refusal,
    SessionHooks,
    Subscription,
)

__all__ = [
    "Backoff",
    "BrokerAddress",
    "Credentials",
    "Handler",
    "Message",
    "MqttSession",
    "Publication",
    "Refusal",
    "SessionError",
    "SessionHooks",
    "SessionOptions",
    "Subscription",
    "TlsOptions",
    "Will",
]
