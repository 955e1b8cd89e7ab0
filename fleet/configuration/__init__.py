"""Desired configuration: layers per fleet, tag and station, merged, validated, versioned,
published retained on each station's ``config`` topic, and compared with what it applied.

- A layer is a partial `StationConfig` (JSON object). For a station the layers merge in order
  fleet -> its tags (by tag name) -> the station itself; later wins, objects merge key by key,
  lists and values replace. A layer is accepted only if it validates on its own (unknown keys,
  wrong types and out-of-range values are refused, naming the key) and every station it
  touches still gets a valid configuration.
- Stations with no layer at all have no desired configuration: they run their local settings.
  A fleet layer ``{}`` means "the defaults of StationConfig for everything".
- Each station's merged configuration has a version (+1 whenever its hash changes). After the
  change commits it is published, retained, QoS 1; a job republishes anything not yet
  published (broker down), so nothing waits for the next change.
- Drift: desired version and hash against what the station reports (`ConfigApplied` and every
  heartbeat's ``config``).

Every change is in the audit log, in the same transaction.

Modules: ``layers`` (validating, the layers of a station, merging them), ``changes`` (setting
and deleting layers, tag members, each station's desired version), ``publishing`` (the retained
``config`` message), ``reports`` (what the stations say they run, and the drift).
"""
