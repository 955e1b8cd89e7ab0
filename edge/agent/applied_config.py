"""The configuration this station runs: its local settings until the fleet sends one, the
fleet's after that — kept in ``{data_dir}/config/applied.json`` so it survives restarts.

The fleet publishes a `DesiredConfig` retained on the station's ``config`` topic. The station
checks that it is for this station and that its hash matches, validates it again against
`StationConfig`, writes it durably (temporary file, fsync, rename), swaps it in, tells the
listeners (the uplink: heartbeat interval, retention, upload windows; capture reads the policy
for each enrolment), and answers with `ConfigApplied`. A configuration that fails any check is
refused and changes nothing; the answer says why, naming the key.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from edge.agent.settings import AgentSettings
from protocol.envelope import utc_timestamp
from protocol.errors import MessageError
from protocol.messages import AppliedConfigRef, parse_message
from protocol.ops_messages import ConfigApplied, DesiredConfig
from protocol.private_files import write_private
from protocol.station_config import StationConfig, config_sha256

log = logging.getLogger(__name__)

APPLIED_FILE = Path("config") / "applied.json"


def local_station_config(settings: AgentSettings) -> StationConfig:
    """What the agent's own settings file says, as a StationConfig (version 0)."""
    return StationConfig(
        capture=settings.capture,
        upload=settings.upload,
        heartbeat_interval_s=settings.uplink.heartbeat_interval_s,
        retention_days=settings.outbox.retention_days,
    )


@dataclass(frozen=True)
class RunningConfig:
    version: int  # 0: the local settings
    sha256: str
    config: StationConfig
    applied_at: str | None = None

    @property
    def ref(self) -> AppliedConfigRef:
        return AppliedConfigRef(version=self.version, sha256=self.sha256)


Listener = Callable[[StationConfig], None]


class AppliedConfig:
    """Thread-safe: the uplink thread applies, any thread reads ``current``."""

    def __init__(self, data_dir: Path, local: StationConfig, station_id: str) -> None:
        self.path = data_dir / APPLIED_FILE
        self.station_id = station_id
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self.current = self._load() or RunningConfig(0, config_sha256(local), local)

    def _load(self) -> RunningConfig | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            config = StationConfig.model_validate(data["config"])
            running = RunningConfig(
                int(data["version"]), config_sha256(config), config, data.get("applied_at")
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, ValidationError) as exc:
            log.error(
                "the applied configuration %s cannot be read (%s): running the local settings "
                "until the fleet sends it again",
                self.path,
                exc,
            )
            return None
        if running.sha256 != data.get("sha256"):
            log.error("the applied configuration %s does not match its hash: ignored", self.path)
            return None
        log.info("running fleet configuration v%d (%s)", running.version, running.sha256[:12])
        return running

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` now with the current configuration and on every change."""
        with self._lock:
            self._listeners.append(listener)
            config = self.current.config
        listener(config)

    def ref(self) -> AppliedConfigRef:
        return self.current.ref

    def handle(self, payload: bytes) -> ConfigApplied | None:
        """A message on the ``config`` topic; returns the answer for the fleet."""
        if not payload:
            return None  # a cleared retained message: keep what runs
        try:
            desired = parse_message(DesiredConfig, payload)
        except MessageError as exc:
            return self._answer("refused", None, str(exc))
        if desired.station_id != self.station_id:
            return self._answer(
                "refused", desired.version, f"configuration is for {desired.station_id}"
            )
        digest = config_sha256(desired.config)
        if digest != desired.sha256:
            return self._answer(
                "refused", desired.version, "the configuration does not match its sha256"
            )
        if digest == self.current.sha256 and desired.version == self.current.version:
            return self._answer("applied", desired.version)  # retained again after a reconnect
        running = RunningConfig(desired.version, digest, desired.config, utc_timestamp())
        try:
            self._store(running)
        except OSError as exc:
            return self._answer(
                "refused", desired.version, f"cannot keep the configuration: {exc.strerror}"
            )
        with self._lock:
            self.current = running
            listeners = list(self._listeners)
        for listener in listeners:
            listener(running.config)
        log.info("applied fleet configuration v%d (%s)", running.version, running.sha256[:12])
        return self._answer("applied", desired.version)

    def _answer(
        self, status: str, desired_version: int | None, error: str | None = None
    ) -> ConfigApplied:
        if error:
            log.error("refused the fleet's configuration v%s: %s", desired_version, error)
        running = self.current
        return ConfigApplied.model_validate(
            {
                "station_id": self.station_id,
                "version": running.version,
                "sha256": running.sha256,
                "status": status,
                "desired_version": desired_version,
                "error": error[:2000] if error else None,
                "applied_at": utc_timestamp(),
            }
        )

    def _store(self, running: RunningConfig) -> None:
        data = {
            "version": running.version,
            "sha256": running.sha256,
            "applied_at": running.applied_at,
            "config": running.config.model_dump(mode="json"),
        }
        # A unique temporary file, renamed into place (not a fixed ".tmp" name).
        text = json.dumps(data, indent=2, sort_keys=True)
        write_private(self.path, text.encode("utf-8"), mode=0o644)
