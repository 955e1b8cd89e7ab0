"""The alert rules: each looks at what ``gather`` read and says which stations have its
condition now."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleet.alerts.service_hours import service_seconds
from fleet.health.reads import StationGlance, StationHealth, all_station_health, station_glances
from fleet.ops_settings import AlertSettings, RuleName
from fleet.reconciliation import ranges_text
from fleet.store.models import StationEventRow
from fleet.store.ops_models import Alert, ReconciliationDayRow, ReconciliationState

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


def _above(
    rule: RuleName, measure: str, value_of: Callable[[StationHealth], float | None], summary: str
) -> Rule:
    """A rule met where the station's ``measure`` is above the setting of the same name;
    ``summary`` formats ``station`` and ``value``."""

    def check(inputs: Inputs) -> Iterable[Condition]:
        limit = getattr(inputs.settings, measure)
        for station in inputs.stations:
            value = value_of(station)
            if value is not None and value > limit:
                text = summary.format(station=station.station_id, value=value)
                yield Condition(rule, station.station_id, text, {measure: value})

    return check


_disk = _above(
    "disk-full", "disk_used_pct", lambda s: s.disk_used_pct, "{station}: disk {value:.0f} % used"
)
_cpu = _above(
    "cpu-hot",
    "cpu_temperature_c",
    lambda s: s.heartbeat.cpu_temperature_c if s.heartbeat is not None else None,
    "{station}: CPU at {value:.0f} °C",
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
        seqs = ranges_text(state.lost_seqs)
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
