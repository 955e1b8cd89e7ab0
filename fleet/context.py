"""Everything a fleet process holds, built once from its settings at start-up."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from fleet import audit
from fleet.access.sessions import SessionPolicy
from fleet.alerts.raising import active_counts
from fleet.broker.dynsec import DynsecAdmin
from fleet.broker.publisher import FleetPublisher
from fleet.errors import FleetError
from fleet.fleet_view import FleetView
from fleet.ingest import BrokerLogin, Ingest
from fleet.ingest.retained import RetainedSweeper
from fleet.metrics import FleetMetrics
from fleet.ops import FleetOps
from fleet.packet_files import PacketFiles
from fleet.provisioning import BrokerEndpoint
from fleet.settings import FleetSettings
from fleet.store.db import make_engine, migrate, read_only_engine, session_factory
from fleet.updates.engine import RolloutEngine
from fleet.updates.release import ReleaseCatalog, RepositoryCatalog
from fleet.updates.status_ingest import record_update_status
from protocol.errors import KeyFileError
from protocol.keys import CentralPublicKey
from protocol.provisioning import ca_fingerprint, pinned_token

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class FleetContext:
    settings: FleetSettings
    engine: Engine
    sessions: sessionmaker[Session]
    files: PacketFiles
    central_key: CentralPublicKey
    admin_token: str
    ingest: Ingest
    metrics: FleetMetrics
    _admin: DynsecAdmin | None = field(default=None, repr=False)
    _publisher: FleetPublisher | None = field(default=None, repr=False)
    _connect_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    ops: FleetOps = field(init=False, repr=False)
    rollouts: RolloutEngine = field(init=False, repr=False)
    # The published releases (fleet/updates/catalog.py); None: releases are named by target.
    release_catalog: ReleaseCatalog | None = field(default=None, repr=False)
    _views: dict[str, FleetView[Any]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # Health, alerts, configuration, reconciliation: fed by ingest, run by the jobs.
        self.ops = FleetOps(
            self.sessions,
            self.settings,
            publisher=self.publisher,
            on_raised=lambda alert: self.metrics.alerts_raised.labels(
                rule=alert.rule, severity=alert.severity
            ).inc(),
        )
        self.ingest.ops = self.ops
        self.ops.sweep_retained = lambda: self.retained_sweeper.sweep()
        self.ingest.on_retained = lambda _topics: self.ops.request_retained_sweep()
        if self.release_catalog is None and self.settings.updates.repository is not None:
            self.release_catalog = RepositoryCatalog(self.settings.updates.repository)
        # Rollouts: the engine ticks in its own thread (fleet/service.py); reports wake it.
        self.rollouts = RolloutEngine(
            self.sessions,
            self.settings.rollouts,
            clock=self.ops.clock,
            publisher=self.publisher,
            catalog=self.release_catalog,
            read_sessions=self.read_sessions,
        )
        self.ingest.on_update_status = self._on_update_status
        self.metrics.set_alert_source(self._active_alerts)

    def _on_update_status(self, station_id: str, payload: bytes) -> None:
        with self.sessions() as session:
            row = record_update_status(session, station_id, payload, now=self.ops.clock())
            session.commit()
        if row is not None and row.offer == "cleared":  # a final state: a decision may follow
            self.rollouts.wake()

    def _active_alerts(self) -> dict[tuple[str, str], int]:
        with self.sessions() as session:
            return active_counts(session)

    @classmethod
    def create(cls, settings: FleetSettings) -> FleetContext:
        """Open (and migrate) the store and read every secret: fail now, not at first use."""
        try:
            central_key = CentralPublicKey.load(settings.central.public_key_file)
            previous_keys = [
                CentralPublicKey.load(path) for path in settings.central.previous_public_key_files
            ]
        except KeyFileError as exc:
            raise FleetError(
                f"central public key: {exc}; get it from the central system "
                "(`ewp central keygen` makes one for a test setup)"
            ) from exc
        try:
            admin_token = settings.service.admin_token.read("the API admin token")
            settings.broker.admin_password.read("the broker admin password")
            settings.broker.service_password.read("the broker service password")
        except ValueError as exc:
            raise FleetError(str(exc)) from exc
        settings.service.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.database_url)
        migrate(engine)
        sessions = _keyed_sessions(engine, settings)
        files = PacketFiles(settings.packet_dir)
        metrics = FleetMetrics(sessions)
        ingest = Ingest(
            sessions,
            files,
            central_keys=[central_key, *previous_keys],
            duplicate_receipt_interval_s=settings.ingest.duplicate_receipt_interval_s,
            metrics=metrics,
            key_grace=timedelta(hours=settings.rotation.key_grace_hours),
        )
        context = cls(settings, engine, sessions, files, central_key, admin_token, ingest, metrics)
        ingest.set_station_password = context.set_station_password
        return context

    @property
    def audit_key_path(self) -> Path:
        return audit_key_path(self.settings)

    def view(self, name: str, build: Callable[[Session, datetime], T]) -> FleetView[T]:
        """The fleet-wide view ``name`` of this process (fleet/fleet_view.py), made on first use."""
        with self._connect_lock:
            if name not in self._views:
                self._views[name] = FleetView(name, build, self.sessions, self.ops.clock)
            return cast(FleetView[T], self._views[name])

    def set_station_password(self, station_id: str, password: str) -> None:
        """For credential rotation, from whichever thread finishes it."""
        self.broker_admin().set_station_password(station_id, password)

    @cached_property
    def read_sessions(self) -> sessionmaker[Session]:
        """Sessions for requests that only read (fleet/store/db.py: ``read_only_engine``)."""
        return session_factory(read_only_engine(self.engine))

    @cached_property
    def session_policy(self) -> SessionPolicy:
        return SessionPolicy.from_settings(self.settings.access)

    @property
    def broker_for_stations(self) -> BrokerEndpoint:
        """Stations use the TLS listener when the fleet has certificates (the plaintext one
        is on the loopback address, for the fleet's own processes)."""
        b = self.settings.broker
        if b.tls_files is not None:
            return BrokerEndpoint(b.station_host or b.host, b.station_port or b.tls_port, True)
        return BrokerEndpoint(b.station_host or b.host, b.station_port or b.port, b.tls)

    @cached_property
    def ca_certificate(self) -> bytes | None:
        """The fleet CA certificate (PEM) stations pin, if the fleet has TLS set up."""
        files = self.settings.broker.tls_files
        return files.ca_file.read_bytes() if files is not None else None

    def claim_token(self, secret: str) -> str:
        """The token to hand out: the one-time secret, with the fleet CA's fingerprint."""
        pem = self.ca_certificate
        return pinned_token(secret, ca_fingerprint(pem) if pem is not None else None)

    @cached_property
    def service_login(self) -> BrokerLogin:
        b = self.settings.broker
        return BrokerLogin(
            b.host,
            b.port,
            b.service_username,
            b.service_password.read("broker service password"),
            b.tls,
            b.ca_file,
        )

    @cached_property
    def retained_sweeper(self) -> RetainedSweeper:
        """Clears retained messages stations left on their up topics (decision 0032)."""
        i = self.settings.ingest
        return RetainedSweeper(
            self.service_login,
            self.ingest,
            max_messages=i.retained_sweep_max_messages,
            time_limit_s=i.retained_sweep_time_limit_s,
        )

    def broker_admin(self) -> DynsecAdmin:
        """The dynamic-security admin connection, opened on first use and kept."""
        with self._connect_lock:
            return self._broker_admin()

    def _broker_admin(self) -> DynsecAdmin:
        if self._admin is None:
            b = self.settings.broker
            self._admin = DynsecAdmin(
                self.service_login.address,
                b.admin_username,
                b.admin_password.read("broker admin password"),
            ).connect()
        return self._admin

    def publisher(self) -> FleetPublisher:
        """The fleet service's publishing connection, opened on first use and kept."""
        with self._connect_lock:
            return self._publisher_connection()

    def _publisher_connection(self) -> FleetPublisher:
        if self._publisher is None:
            login = self.service_login
            self._publisher = FleetPublisher(
                login.address, login.username, login.password
            ).connect()
        return self._publisher

    def close(self) -> None:
        self.ops.close()
        if self._publisher is not None:
            self._publisher.close()
            self._publisher = None
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if "read_sessions" in self.__dict__:  # made (cached_property)
            read_engine = self.read_sessions.kw["bind"]
            if read_engine is not self.engine:
                read_engine.dispose()
        self.engine.dispose()


def audit_key_path(settings: FleetSettings) -> Path:
    """``secrets/audit-key`` in the data directory, beside the other secrets."""
    return settings.service.data_dir / "secrets" / audit.AUDIT_KEY_FILE


def _keyed_sessions(engine: Engine, settings: FleetSettings) -> sessionmaker[Session]:
    """Sessions that key the audit chain (fleet/audit.py). A fleet without an audit key gets one
    now, and the first keyed entry says so: every entry after it must be keyed."""
    path = audit_key_path(settings)
    try:
        key, created = audit.ensure_key(path)
    except (OSError, ValueError) as exc:
        raise FleetError(f"audit key {path}: {exc}") from exc
    sessions = session_factory(engine, {audit.AUDIT_KEY: key})
    if created:
        log.warning(
            "created the audit key %s: keep it with the other secrets, copy it to every host "
            "that runs `ewp fleet ingest`, and back it up (without it the audit log cannot be "
            "verified)",
            path,
        )
        with sessions() as session:
            audit.record(
                session,
                actor="fleet",
                action="audit.key-created",
                target=str(path),
                detail={"note": "entries from here on are keyed with this file's key"},
            )
            session.commit()
    return sessions
