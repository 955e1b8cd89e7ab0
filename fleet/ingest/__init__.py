"""Fleet ingest: packet chunks, heartbeats, status, events and answers from stations, over MQTT.

- routes.py: ``Ingest`` and its ``dispatch``: every message through one routes table, bounded,
  and quarantined if it cannot be handled;
- packets.py: packet chunks, stored once (admission.py: signature and recipient checks;
  stored.py: a complete packet's file and rows; budgets.py: bounds on unfinished packets);
- telemetry.py: everything else a station sends;
- core.py: what the handlers share, refusals; quarantine.py and flags.py: where a message that
  cannot be handled goes, and the alert on a misbehaving station;
- worker.py: the MQTT consumers; retained.py: the sweeper clearing retained messages stations
  left on their up topics (the only modules here that speak MQTT).
"""

from fleet.ingest.core import IngestCounters
from fleet.ingest.routes import Ingest, Outgoing
from fleet.ingest.worker import BrokerLogin, IngestWorker, retire_sessions

__all__ = ["BrokerLogin", "Ingest", "IngestCounters", "IngestWorker", "Outgoing", "retire_sessions"]
