"""Station health: heartbeats as a time series, liveness, and the views built on them.

- ``writes``: every heartbeat becomes a row of ``health_samples`` and the station's latest
  health; liveness from the broker's retained status (the station's last will says
  ``offline``) and a missed-heartbeat timeout: each heartbeat sets ``expected_by`` = now + 1.5 x
  the station's heartbeat interval, and the periodic check marks a station whose heartbeat is
  overdue offline (``heartbeat-timeout``), so a station that hangs without dropping its
  connection is caught.
- ``rollups``: a periodic job folds samples (kept ``raw_retention_days``, 7 by default) into
  5-minute and then hourly ``health_rollups`` (kept 90 days and 2 years) and deletes what is
  past its retention.
- ``history``: a station's time series at the resolution a time span needs.
- ``reads``: the latest health of stations and the fleet's numbers, for the API, the dashboard
  and the alert rules.

Every function takes ``now`` (an aware UTC datetime) from the caller's clock, so tests drive
time by hand.
"""
