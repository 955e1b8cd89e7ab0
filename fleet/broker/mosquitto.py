"""Mosquitto for ewp: its configuration, its dynamic-security file, and running it.

The broker runs with authentication and per-station ACLs through Mosquitto's dynamic-security
plugin, so the fleet can add, rotate and revoke station credentials while it runs (a disabled
client is disconnected at once). Mosquitto 2.0 has no ``%u`` substitution in dynamic-security
ACLs, so every station gets its own role, generated from protocol/topics.py.

Listeners: stations connect over TLS (8883 by default, the fleet CA's server certificate); the
plaintext listener is bound to the loopback address for the fleet's own processes on the same
host. Limits: no message larger than the largest legitimate one (a chunk of the largest size
with the longest header), no retained messages except where the protocol uses them (the
stations' ``status``; the fleet's ``config`` and ``update``; refused by the ACL elsewhere), and
bounded in-flight and queued messages per client.

The initial ``dynamic-security.json`` holds two clients: the admin that manages the plugin (and
nothing else) and the fleet service, which reads every station's up topics and writes their
down topics. Passwords are hashed the way the plugin stores them (PBKDF2-HMAC-SHA512).
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import glob
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from fleet.errors import BrokerNotFoundError, FleetError
from fleet.tls import TlsFiles
from protocol.chunks import MAX_CHUNK_MESSAGE_SIZE
from protocol.private_files import create_private_once
from protocol.topics import AclEntry, acl_for_fleet

log = logging.getLogger(__name__)

DYNSEC_FILE = "dynamic-security.json"
CONF_FILE = "mosquitto.conf"
PBKDF2_ITERATIONS = 101  # what mosquitto_ctrl uses; passwords are random 32-byte tokens
DYNSEC_PLUGIN_GLOBS = (
    "/usr/lib/*/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/*/mosquitto_dynamic_security.so",
)


# Per client: QoS 1 messages on the wire at once, and what the broker queues for a client that
# is offline or slow (a van out of coverage for a week gets receipts, commands, configuration;
# more than this is dropped and the fleet sends again what matters).
MAX_INFLIGHT_MESSAGES = 64
MAX_QUEUED_MESSAGES = 10_000
MAX_QUEUED_BYTES = 256 * 1024 * 1024
# Room above the largest payload for the topic and properties of a PUBLISH packet.
PACKET_OVERHEAD = 1024


@dataclass(frozen=True)
class TlsListener:
    """The broker's TLS listener for stations: address, port and certificate files."""

    host: str
    port: int
    files: TlsFiles


@dataclass(frozen=True)
class BrokerAccounts:
    admin_username: str
    admin_password: str
    service_username: str
    service_password: str


def find_mosquitto() -> str:
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)),
        None,
    )
    if found is None:
        raise BrokerNotFoundError(
            "the Mosquitto broker is not installed: run `sudo apt-get install mosquitto` "
            "(`make demo` and `make test` do this for you)"
        )
    return found


def find_dynsec_plugin() -> str:
    for pattern in DYNSEC_PLUGIN_GLOBS:
        for path in sorted(glob.glob(pattern)):
            return path
    raise BrokerNotFoundError(
        "Mosquitto's dynamic-security plugin (mosquitto_dynamic_security.so) was not found: "
        "install Mosquitto 2.0 or newer from your distribution"
    )


def hash_password(password: str, salt: bytes | None = None) -> dict[str, str | int]:
    salt = salt or os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS, 64)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": PBKDF2_ITERATIONS,
    }


def _acl_json(entries: list[AclEntry]) -> list[dict[str, object]]:
    return [
        {"acltype": e.acltype, "topic": e.topic, "priority": 0, "allow": e.allow} for e in entries
    ]


def initial_dynsec(accounts: BrokerAccounts) -> dict[str, object]:
    admin_acls = [
        AclEntry("publishClientSend", "$CONTROL/dynamic-security/#"),
        AclEntry("publishClientReceive", "$CONTROL/dynamic-security/#"),
        AclEntry("subscribePattern", "$CONTROL/dynamic-security/#"),
    ]
    return {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": [
            {
                "username": accounts.admin_username,
                "textname": "ewp fleet: manages broker clients",
                "roles": [{"rolename": "ewp-dynsec-admin"}],
                **hash_password(accounts.admin_password),
            },
            {
                "username": accounts.service_username,
                "textname": "ewp fleet service (ingest, receipts, commands)",
                "roles": [{"rolename": "ewp-fleet-service"}],
                **hash_password(accounts.service_password),
            },
        ],
        "groups": [],
        "roles": [
            {"rolename": "ewp-dynsec-admin", "acls": _acl_json(admin_acls)},
            {"rolename": "ewp-fleet-service", "acls": _acl_json(acl_for_fleet())},
        ],
    }


def write_broker_config(
    directory: Path,
    *,
    host: str,
    port: int,
    accounts: BrokerAccounts,
    tls: TlsListener | None = None,
    persistence: bool = True,
) -> Path:
    """Write mosquitto.conf (always) and dynamic-security.json (only if absent: it holds the
    station clients the fleet created). ``host``/``port`` is the plaintext listener, meant for
    the loopback address; ``tls`` the stations' listener. Returns the path of mosquitto.conf."""
    directory.mkdir(parents=True, exist_ok=True)
    dynsec = directory / DYNSEC_FILE
    if not dynsec.exists():
        create_private_once(dynsec, json.dumps(initial_dynsec(accounts), indent=2).encode())
    lines = [
        "# Written by ewp (fleet/broker/mosquitto.py); edits are overwritten.",
        "per_listener_settings false",
        "allow_anonymous false",
        f"listener {port} {host}",
    ]
    if tls is not None:
        lines += [
            f"listener {tls.port} {tls.host}",
            f"cafile {tls.files.ca_file}",
            f"certfile {tls.files.cert_file}",
            f"keyfile {tls.files.key_file}",
            "tls_version tlsv1.2",
        ]
    lines += [
        f"plugin {find_dynsec_plugin()}",
        f"plugin_opt_config_file {dynsec}",
        f"persistence {'true' if persistence else 'false'}",
        f"persistence_location {directory}/",
        "autosave_interval 30",
        f"message_size_limit {MAX_CHUNK_MESSAGE_SIZE}",
        f"max_packet_size {MAX_CHUNK_MESSAGE_SIZE + PACKET_OVERHEAD}",
        f"max_inflight_messages {MAX_INFLIGHT_MESSAGES}",
        f"max_queued_messages {MAX_QUEUED_MESSAGES}",
        f"max_queued_bytes {MAX_QUEUED_BYTES}",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "connection_messages true",
    ]
    if os.geteuid() == 0:
        # Mosquitto drops root to user "mosquitto", who could not write our files.
        lines.append(f"user {getpass.getuser()}")
    conf = directory / CONF_FILE
    conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return conf


class MosquittoProcess:
    """Run Mosquitto with a config from `write_broker_config` (tests, demo, development)."""

    def __init__(self, conf: Path, host: str, port: int, log_path: Path | None = None) -> None:
        self.conf = conf
        self.host = host
        self.port = port
        self.log_path = log_path or conf.with_name("mosquitto.log")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        binary = find_mosquitto()
        log_file = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [binary, "-c", str(self.conf)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise FleetError(
                    f"Mosquitto exited at start-up (code {self._proc.returncode}); see "
                    f"{self.log_path}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        self.stop()
        raise FleetError(
            f"Mosquitto did not listen on {self.host}:{self.port}; see {self.log_path}"
        )

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully (SIGTERM: Mosquitto saves its persistence file)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def kill(self) -> None:
        """Crash it (SIGKILL): whatever was not yet saved is gone, as after a power cut."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
