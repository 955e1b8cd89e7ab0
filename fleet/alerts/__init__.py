"""Alerts: rules over the stations' health, raised once, cleared when the condition ends.

A rule looks at every active station and says which have its condition now (`Condition`).
`sync` compares that with the alerts already active: a new condition raises an alert (one per
rule and station: the unique ``active_key`` makes a second impossible, even with two fleet
processes evaluating at once), a condition that is gone clears it. Raising, clearing and
acknowledging queue a webhook notification in the same transaction (fleet/webhook.py delivers
them), so a restart loses none. Tamper and reconciliation-gap alerts, and every
acknowledgement, go into the audit log too.

Rules and their defaults (``[alerts]`` in the fleet settings):

- station-offline: offline (last will or missed heartbeats) for more than ``offline_minutes``
  of service hours (Asia/Bangkok);
- backlog-old: the oldest packet waiting at the station is older than ``backlog_hours``;
- disk-full: the station's disk is more than ``disk_used_pct`` used;
- cpu-hot: CPU temperature above ``cpu_temperature_c``;
- sensor-fault: a sensor reported missing or in error, or a sensor-fault event came after the
  last heartbeat;
- tamper: the enclosure was opened (latched in the heartbeat, or a tamper event not cleared);
- reconciliation-gap: a packet the station created is neither at the fleet nor waiting at
  the station;
- station-misbehaving: raised by ingest, not by a rule here (fleet/ingest/flags.py): the
  station sent messages that were quarantined, or ran over a budget (it stays raised).

Modules: ``rules`` (the conditions, read once per evaluation by ``gather``), ``service_hours``
(the offline rule's clock), ``raising`` (``sync``, ``evaluate``, ``acknowledge``: alerts raised,
cleared and acknowledged, with their notifications).
"""
