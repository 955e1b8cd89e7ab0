"""`ewp fleet serve`: the HTTP API and the ingest workers in one process."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta
from types import FrameType

import uvicorn

from fleet.api.app import create_app
from fleet.context import FleetContext
from fleet.ingest import IngestWorker

log = logging.getLogger(__name__)

STALE_CHUNK_SWEEP_S = 3600.0


def start_ingest_workers(
    context: FleetContext, count: int, stop: threading.Event, *, name: str = "ingest"
) -> list[threading.Thread]:
    threads = []
    for n in range(count):
        worker = IngestWorker(context.ingest, context.service_login, client_id=f"ewp-{name}-{n}")
        thread = threading.Thread(target=worker.run, args=(stop,), name=f"{name}-{n}", daemon=True)
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
    config = uvicorn.Config(
        create_app(context),
        host=settings.service.listen_host,
        port=settings.service.listen_port,
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    log.info(
        "fleet service on http://%s:%d with %d ingest worker(s), broker %s:%d",
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
        for thread in [*workers, jobs]:
            thread.join(timeout=5)
        context.close()


def run_ingest_only(context: FleetContext, workers: int) -> None:
    """Extra ingest workers (scale-out): no HTTP, until SIGINT/SIGTERM."""
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    threads = start_ingest_workers(context, workers, stop, name="ingest-extra")
    stop.wait()
    for thread in threads:
        thread.join(timeout=5)
    context.close()
