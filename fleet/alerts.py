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
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fleet import audit
from fleet.errors import NotFoundError
from fleet.health import StationGlance, StationHealth, all_station_health, station_glances
from fleet.ops_settings import WEEKDAYS, AlertSettings, RuleName, ServiceHours
from fleet.store.locking import locked
from fleet.store.models import StationEventRow
from fleet.store.ops_models import (
    Alert,
    AlertNotification,
    ReconciliationDayRow,
    ReconciliationState,
)
from protocol.ops_messages import format_ranges

log = logging.getLogger(__name__)

Detail = dict[str, str | int | float | bool | None]

SEVERITY: dict[RuleName, str] = {
    "station-offline": "warning",
    "backlog-old": "warning",
    "disk-full": "error",
    "cpu-hot": "warning",
    "sensor-fault": "error",
    "tamper": "critical",
    "reconciliation-gap": "critical",
    "station-misbehaving": "critical",
}
AUDITED_RULES: frozenset[str] = frozenset({"tamper", "reconciliation-gap", "station-misbehaving"})


@dataclass(frozen=True)
class Condition:
    rule: RuleName
    station_id: str
    summary: str
    detail: Detail = field(default_factory=dict)


@dataclass(frozen=True)
class Inputs:
    """What the rules look at, read once per evaluation."""

    now: datetime
    settings: AlertSettings
    stations: list[StationHealth]
    last_event: dict[tuple[str, str], datetime]  # (station, kind) -> newest
    active: set[str]  # active keys
    gaps: dict[str, tuple[ReconciliationState, list[str]]]  # station -> (state, days with gaps)


Rule = Callable[[Inputs], Iterable[Condition]]


def active_key(rule: str, station_id: str) -> str:
    return f"{rule}/{station_id}"


# -- service hours -----------------------------------------------------------------------------


def _window(day: datetime, hours: ServiceHours, tz: ZoneInfo) -> tuple[datetime, datetime]:
    sh, sm = map(int, hours.start.split(":"))
    eh, em = map(int, hours.end.split(":"))
    start = datetime.combine(day.date(), time(sh, sm), tz)
    end = (
        datetime.combine(day.date() + timedelta(days=1), time(0, 0), tz)
        if (eh, em) == (24, 0)
        else datetime.combine(day.date(), time(eh, em), tz)
    )
    return start, end


def service_seconds(start: datetime, end: datetime, hours: ServiceHours) -> float:
    """How much of [start, end) falls within service hours (at most the last 400 days)."""
    if end <= start:
        return 0.0
    tz = ZoneInfo(hours.timezone)
    start = max(start, end - timedelta(days=400))
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    total = 0.0
    day = datetime.combine(local_start.date(), time(0, 0), tz)
    while day <= local_end:
        if WEEKDAYS[day.weekday()] in hours.days:
            window_start, window_end = _window(day, hours, tz)
            overlap = min(window_end, local_end) - max(window_start, local_start)
            total += max(0.0, overlap.total_seconds())
        day += timedelta(days=1)
    return total


def in_service_hours(moment: datetime, hours: ServiceHours) -> bool:
    tz = ZoneInfo(hours.timezone)
    local = moment.astimezone(tz)
    if WEEKDAYS[local.weekday()] not in hours.days:
        return False
    start, end = _window(local, hours, tz)
    return start <= local < end


# -- rules -------------------------------------------------------------------------------------


def _offline(inputs: Inputs) -> Iterable[Condition]:
    limit = inputs.settings.offline_minutes * 60
    for station in inputs.stations:
        if station.state != "offline" or station.since is None:
            continue
        counted = service_seconds(station.since, inputs.now, inputs.settings.service_hours)
        raised = active_key("station-offline", station.station_id) in inputs.active
        if counted > limit or raised:  # once raised, it stays until the station is back
            yield Condition(
                "station-offline",
                station.station_id,
                f"{station.station_id} offline since {station.since:%Y-%m-%d %H:%M} UTC "
                f"({station.reason})",
                {
                    "since": station.since.isoformat(),
                    "reason": station.reason,
                    "service_minutes": round(counted / 60, 1),
                },
            )


def _backlog(inputs: Inputs) -> Iterable[Condition]:
    limit = inputs.settings.backlog_hours * 3600
    for station in inputs.stations:
        age = station.backlog_age_s
        if age is not None and age > limit and station.heartbeat is not None:
            queue = station.heartbeat.queue
            yield Condition(
                "backlog-old",
                station.station_id,
                f"{station.station_id}: oldest packet waiting {age / 3600:.1f} h "
                f"({queue.pending + queue.sending} waiting)",
                {"oldest_pending_age_s": age, "waiting": queue.pending + queue.sending},
            )


def _disk(inputs: Inputs) -> Iterable[Condition]:
    for station in inputs.stations:
        used = station.disk_used_pct
        if used is not None and used > inputs.settings.disk_used_pct:
            yield Condition(
                "disk-full",
                station.station_id,
                f"{station.station_id}: disk {used:.0f} % used",
                {"disk_used_pct": used},
            )


def _cpu(inputs: Inputs) -> Iterable[Condition]:
    for station in inputs.stations:
        hb = station.heartbeat
        hot = hb.cpu_temperature_c if hb is not None else None
        if hot is not None and hot > inputs.settings.cpu_temperature_c:
            yield Condition(
                "cpu-hot",
                station.station_id,
                f"{station.station_id}: CPU at {hot:.0f} °C",
                {"cpu_temperature_c": hot},
            )


def _after(event: datetime | None, moment: datetime | None) -> bool:
    return event is not None and (moment is None or event >= moment)


def _sensor_fault(inputs: Inputs) -> Iterable[Condition]:
    for station in inputs.stations:
        faulty = {}
        if station.heartbeat is not None:
            faulty = {
                s.kind: s.detail or s.state
                for s in station.heartbeat.sensors
                if s.state in ("missing", "error")
            }
        event = inputs.last_event.get((station.station_id, "sensor-fault"))
        if faulty or _after(event, station.last_heartbeat_at):
            names = ", ".join(sorted(faulty)) or "reported by an event"
            detail: Detail = {k: str(v)[:200] for k, v in faulty.items()}
            yield Condition(
                "sensor-fault",
                station.station_id,
                f"{station.station_id}: sensor fault ({names})",
                detail,
            )


def _tamper(inputs: Inputs) -> Iterable[Condition]:
    for station in inputs.stations:
        env = station.heartbeat.environment if station.heartbeat else None
        latched = env is not None and env.tamper_latched
        opened = inputs.last_event.get((station.station_id, "tamper"))
        cleared = inputs.last_event.get((station.station_id, "tamper-cleared"))
        unanswered = _after(opened, cleared) and _after(opened, station.last_heartbeat_at)
        if latched or unanswered:
            yield Condition(
                "tamper",
                station.station_id,
                f"{station.station_id}: enclosure opened; capture locked until cleared",
                {"latched": latched, "event_at": opened.isoformat() if opened else None},
            )


def _reconciliation_gap(inputs: Inputs) -> Iterable[Condition]:
    for station in inputs.stations:
        gap = inputs.gaps.get(station.station_id)
        if gap is None:
            continue
        state, days = gap
        seqs = format_ranges(tuple(r) for r in json.loads(state.lost_seqs))
        yield Condition(
            "reconciliation-gap",
            station.station_id,
            f"{station.station_id}: {state.lost_total} packet(s) created but never received "
            f"(seq {seqs[:80]})",
            {"lost": state.lost_total, "seqs": seqs[:500], "days": ",".join(days)[:500]},
        )


RULE_FUNCTIONS: dict[RuleName, Rule] = {
    "station-offline": _offline,
    "backlog-old": _backlog,
    "disk-full": _disk,
    "cpu-hot": _cpu,
    "sensor-fault": _sensor_fault,
    "tamper": _tamper,
    "reconciliation-gap": _reconciliation_gap,
}
EVENT_KINDS = ("sensor-fault", "tamper", "tamper-cleared")


def gather(
    session: Session, *, now: datetime, settings: AlertSettings, station_id: str | None = None
) -> Inputs:
    """What the rules look at. Only stations that may meet a condition are read in full (their
    heartbeat parsed): those a first pass over the typed latest health picks, those with
    events the rules look at, with an active alert or with a reconciliation gap. Thousands of
    healthy stations cost one lean query."""
    events = select(
        StationEventRow.station_id, StationEventRow.kind, func.max(StationEventRow.at)
    ).where(StationEventRow.kind.in_(EVENT_KINDS))
    if station_id is not None:
        events = events.where(StationEventRow.station_id == station_id)
    last_event = {
        (sid, kind): at
        for sid, kind, at in session.execute(
            events.group_by(StationEventRow.station_id, StationEventRow.kind)
        )
    }
    active = set(session.scalars(select(Alert.active_key).where(Alert.active_key.is_not(None))))
    gap_query = select(ReconciliationState).where(ReconciliationState.lost_total > 0)
    if station_id is not None:
        gap_query = gap_query.where(ReconciliationState.station_id == station_id)
    gaps: dict[str, tuple[ReconciliationState, list[str]]] = {
        state.station_id: (state, []) for state in session.scalars(gap_query)
    }
    if station_id is not None:
        names = {station_id}
    else:
        names = {g.station_id for g in station_glances(session, now=now) if _may_match(g, settings)}
        names |= {sid for sid, _ in last_event}
        names |= {key.split("/", 1)[1] for key in active if key}
        names |= set(gaps)
    stations = [
        s
        for s in all_station_health(session, now=now, station_ids=names)
        if s.registry_state == "active"
    ]
    if gaps:
        for sid, day in session.execute(
            select(ReconciliationDayRow.station_id, ReconciliationDayRow.day)
            .where(
                ReconciliationDayRow.lost > 0,
                ReconciliationDayRow.station_id.in_(list(gaps)),
            )
            .order_by(ReconciliationDayRow.day)
        ):
            gaps[sid][1].append(day)
    return Inputs(now, settings, stations, last_event, {k for k in active if k}, gaps)


def _may_match(glance: StationGlance, settings: AlertSettings) -> bool:
    """Whether a rule may find its condition at this station (a first pass: the rules decide,
    on the station's full health; this only has to pick every station they could pick)."""
    return (
        glance.state == "offline"
        or (
            glance.backlog_age_s is not None
            and glance.backlog_age_s >= settings.backlog_hours * 3600 - 1
        )
        or (glance.disk_used_pct is not None and glance.disk_used_pct >= settings.disk_used_pct)
        or (
            glance.cpu_temperature_c is not None
            and glance.cpu_temperature_c >= settings.cpu_temperature_c
        )
        or glance.sensors_faulty > 0
        or bool(glance.tamper_latched)
    )


# -- raising, clearing, acknowledging ------------------------------------------------------------


@dataclass
class Changes:
    raised: list[Alert] = field(default_factory=list)
    cleared: list[Alert] = field(default_factory=list)


def alert_json(alert: Alert) -> dict[str, object]:
    return {
        "id": alert.id,
        "rule": alert.rule,
        "station_id": alert.station_id,
        "severity": alert.severity,
        "summary": alert.summary,
        "detail": json.loads(alert.detail),
        "state": "active" if alert.cleared_at is None else "cleared",
        "raised_at": alert.raised_at.isoformat(),
        "cleared_at": alert.cleared_at.isoformat() if alert.cleared_at else None,
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "acknowledged_by": alert.acknowledged_by,
    }


def _notify(session: Session, alert: Alert, event: str, *, now: datetime, webhook: bool) -> None:
    if not webhook:
        return
    session.flush()  # the alert's id
    notification = AlertNotification(
        alert_id=alert.id, event=event, payload="", next_attempt_at=now, created_at=now
    )
    session.add(notification)
    session.flush()
    notification.payload = json.dumps(
        {"v": 1, "id": notification.id, "event": event, "alert": alert_json(alert)},
        ensure_ascii=False,
        sort_keys=True,
    )


def sync(
    session: Session,
    conditions: Iterable[Condition],
    *,
    rules: Iterable[str],
    now: datetime,
    settings: AlertSettings,
    station_id: str | None = None,
) -> Changes:
    """Make the active alerts of ``rules`` (for one station, or all) match ``conditions``.

    The caller commits. Disabled rules raise nothing (and clear what they had raised).
    """
    rules = set(rules)
    webhook = settings.webhook.url is not None
    wanted = {
        active_key(c.rule, c.station_id): c
        for c in conditions
        if settings.enabled(c.rule) and c.rule in rules
    }
    query = select(Alert).where(Alert.active_key.is_not(None), Alert.rule.in_(rules))
    if station_id is not None:
        query = query.where(Alert.station_id == station_id)
    # Locked (in id order: no deadlock between two evaluations): on PostgreSQL a second
    # evaluation waits, then finds an alert the first one cleared no longer active, instead
    # of clearing (and notifying) it a second time.
    query = query.order_by(Alert.id).with_for_update()
    current = {a.active_key or "": a for a in session.scalars(query)}
    changes = Changes()
    for key, condition in wanted.items():
        alert = current.get(key)
        detail = json.dumps(condition.detail, sort_keys=True, default=str)
        if alert is not None:
            if alert.detail != detail or alert.summary != condition.summary:
                alert.detail, alert.summary, alert.updated_at = detail, condition.summary, now
            continue
        alert = Alert(
            rule=condition.rule,
            station_id=condition.station_id,
            active_key=key,
            severity=SEVERITY[condition.rule],
            summary=condition.summary[:300],
            detail=detail,
            raised_at=now,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(alert)
        except IntegrityError:
            continue  # another fleet process raised it a moment ago: still raised once
        _notify(session, alert, "raised", now=now, webhook=webhook)
        if condition.rule in AUDITED_RULES:
            audit.record(
                session,
                actor="fleet:alerts",
                action=f"alert.raise.{condition.rule}",
                target=condition.station_id,
                detail={"alert_id": alert.id, **condition.detail},
            )
        log.warning("alert raised: %s", condition.summary)
        changes.raised.append(alert)
    for key, alert in current.items():
        if key in wanted:
            continue
        alert.active_key = None
        alert.cleared_at = alert.updated_at = now
        _notify(session, alert, "cleared", now=now, webhook=webhook)
        log.info("alert cleared: %s", alert.summary)
        changes.cleared.append(alert)
    return changes


def evaluate(
    session: Session,
    *,
    now: datetime,
    settings: AlertSettings,
    station_id: str | None = None,
) -> Changes:
    """Run every rule (for one station, or all) and sync the alerts. Caller commits."""
    inputs = gather(session, now=now, settings=settings, station_id=station_id)
    conditions = [c for rule in RULE_FUNCTIONS.values() for c in rule(inputs)]
    return sync(
        session,
        conditions,
        rules=RULE_FUNCTIONS,
        now=now,
        settings=settings,
        station_id=station_id,
    )


class AlertNotFoundError(NotFoundError, LookupError):
    pass


def acknowledge(
    session: Session,
    alert_id: int,
    *,
    actor: str,
    note: str | None,
    now: datetime,
    settings: AlertSettings,
) -> Alert:
    """An operator has seen it (audited). Acknowledging twice changes nothing. Caller commits."""
    alert = locked(session, Alert, alert_id)  # two operators at once: audited once
    if alert is None:
        raise AlertNotFoundError(f"no alert {alert_id}")
    if alert.acknowledged_at is not None:
        return alert
    alert.acknowledged_at, alert.acknowledged_by = now, actor
    alert.acknowledged_note = note[:500] if note else None
    alert.updated_at = now
    audit.record(
        session,
        actor=actor,
        action="alert.acknowledge",
        target=alert.station_id,
        detail={"alert_id": alert.id, "rule": alert.rule, "note": alert.acknowledged_note},
    )
    _notify(session, alert, "acknowledged", now=now, webhook=settings.webhook.url is not None)
    return alert


def active_counts(session: Session) -> dict[tuple[str, str], int]:
    """Active alerts by (rule, severity), for the metrics endpoint."""
    rows = session.execute(
        select(Alert.rule, Alert.severity, func.count())
        .where(Alert.active_key.is_not(None))
        .group_by(Alert.rule, Alert.severity)
    ).all()
    return {(rule, severity): count for rule, severity, count in rows}
