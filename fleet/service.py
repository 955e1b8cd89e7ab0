"""`ewp fleet serve`: the HTTP API and the ingest workers in one process."""

from __future__ import annotations

import logging
import re
import signal
import threading
from datetime import timedelta
from types import FrameType

import uvicorn

from fleet.api.app import create_app
from fleet.context import FleetContext
from fleet.errors import FleetError
from fleet.ingest import IngestWorker
from fleet.services.health_reads import warm_fleet_views
from fleet.settings import FleetSettings
from fleet.updates.serve import TimestampRefresher

log = logging.getLogger(__name__)

STALE_CHUNK_SWEEP_S = 3600.0


def ingest_client_ids(count: int, process: str | None = None) -> list[str]:
    """The MQTT client ids of a process's ingest workers: ``ewp-ingest-{n}`` in `ewp fleet
    serve`, ``ewp-ingest-{process}-{n}`` in an `ewp fleet ingest --name {process}`.

    They must differ between processes (a second login with the same id throws the first one
    out) and stay the same across restarts: the broker keeps each worker's persistent session,
    and the messages of its share of the subscription, until it comes back (or is retired)."""
    if process is None:
        return [f"ewp-ingest-{n}" for n in range(count)]
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", process):
        raise FleetError(
            f"ingest process name {process!r}: up to 40 characters of a-z, 0-9 and -, "
            "e.g. the host name (--name)"
        )
    return [f"ewp-ingest-{process}-{n}" for n in range(count)]


def start_ingest_workers(
    context: FleetContext, count: int, stop: threading.Event, *, process: str | None = None
) -> list[threading.Thread]:
    threads = []
    for client_id in ingest_client_ids(count, process):
        worker = IngestWorker(context.ingest, context.service_login, client_id=client_id)
        thread = threading.Thread(
            target=worker.run, args=(stop,), name=client_id.removeprefix("ewp-"), daemon=True
        )
        thread.start()
        threads.append(thread)
    return threads


def start_ops_jobs(context: FleetContext, stop: threading.Event) -> threading.Thread:
    """Missed-heartbeat check, alert evaluation, webhook delivery, health rollups, retention."""
    thread = threading.Thread(
        target=context.ops.run_jobs, args=(stop,), name="ops-jobs", daemon=True
    )
    thread.start()
    return thread


def start_rollout_engine(context: FleetContext, stop: threading.Event) -> threading.Thread:
    """The rollout engine (fleet/updates/engine.py): offers, timeouts, soak checks, phases."""
    thread = threading.Thread(
        target=context.rollouts.run, args=(stop,), name="rollouts", daemon=True
    )
    thread.start()
    return thread


def _sweep_stale_chunks(context: FleetContext, stop: threading.Event) -> None:
    older_than = timedelta(hours=context.settings.ingest.stale_chunk_hours)
    while not stop.wait(STALE_CHUNK_SWEEP_S):
        dropped = context.ingest.drop_stale_chunks(older_than)
        if dropped:
            log.info("dropped %d chunks of uploads that never finished", dropped)


def serve(context: FleetContext) -> None:
    """Run until SIGINT/SIGTERM; ingest workers stop after the HTTP server."""
    settings = context.settings
    stop = threading.Event()
    workers = start_ingest_workers(context, settings.ingest.workers, stop)
    threading.Thread(target=_sweep_stale_chunks, args=(context, stop), daemon=True).start()
    jobs = start_ops_jobs(context, stop)
    rollouts = start_rollout_engine(context, stop)
    threading.Thread(target=warm_fleet_views, args=(context,), daemon=True).start()
    refresher = _start_timestamp_refresher(context)
    config = uvicorn.Config(
        create_app(context),
        host=settings.service.listen_host,
        port=settings.service.listen_port,
        log_config=None,
        access_log=False,
        ssl_certfile=https_files(settings)[0],
        ssl_keyfile=https_files(settings)[1],
    )
    server = uvicorn.Server(config)
    log.info(
        "fleet service on %s://%s:%d with %d ingest worker(s), broker %s:%d",
        "https" if settings.service.tls_cert_file else "http",
        settings.service.listen_host,
        settings.service.listen_port,
        len(workers),
        settings.broker.host,
        settings.broker.port,
    )
    try:
        server.run()
    finally:
        stop.set()
        if refresher is not None:
            refresher.stop()
        for thread in [*workers, jobs, rollouts]:
            thread.join(timeout=5)
        context.close()


def _start_timestamp_refresher(context: FleetContext) -> TimestampRefresher | None:
    """Keep the release repository's short-lived timestamp fresh (docs/updates.md)."""
    updates = context.settings.updates
    if updates.repository is None or updates.keys is None:
        return None
    from fleet.updates.repository import FileRepository

    if not (updates.repository / "metadata" / "timestamp.json").exists():
        log.warning("release repository %s has nothing published yet", updates.repository)
        return None
    refresher = TimestampRefresher(
        FileRepository(updates.repository, updates.keys), updates.timestamp_refresh_s
    )
    refresher.start()
    return refresher


def run_ingest_only(context: FleetContext, workers: int, process: str) -> None:
    """Extra ingest workers (scale-out): no HTTP, until SIGINT/SIGTERM. ``process`` names
    them (``ingest_client_ids``)."""
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    threads = start_ingest_workers(context, workers, stop, process=process)
    stop.wait()
    for thread in threads:
        thread.join(timeout=5)
    context.close()


def https_files(settings: FleetSettings) -> tuple[str | None, str | None]:
    """uvicorn's certificate and key when the service serves HTTPS itself (not behind a
    proxy); (None, None) for plain HTTP."""
    service = settings.service
    if service.tls_cert_file is None or service.tls_key_file is None:
        return None, None
    return str(service.tls_cert_file), str(service.tls_key_file)
