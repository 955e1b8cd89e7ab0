"""Sessions for requests that only read: they never wait for a writer, and cannot write."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from fleet.store.db import make_engine, read_only_engine, session_factory
from fleet.store.models import Station


def test_a_reader_does_not_wait_for_a_writer_and_cannot_write(database_url: str) -> None:
    engine = make_engine(database_url)
    reader_engine = read_only_engine(engine)
    writers, readers = session_factory(engine), session_factory(reader_engine)
    try:
        with writers() as writer:
            writer.add(Station(station_id="ct-01", name="one", kind="center", state="active"))
            writer.commit()
            # A write transaction in progress (on SQLite it holds the write lock) ...
            writer.add(Station(station_id="ct-02", name="two", kind="center", state="active"))
            writer.flush()
            started = time.monotonic()
            with readers() as reader:  # ... a reader sees what was committed, at once
                assert reader.scalars(select(Station.station_id)).all() == ["ct-01"]
            assert time.monotonic() - started < 2
            writer.commit()
        with readers() as reader:
            reader.add(Station(station_id="ct-03", name="three", kind="center", state="active"))
            with pytest.raises(DBAPIError, match=r"(?i)read-?only"):
                reader.commit()
    finally:
        if reader_engine is not engine:
            reader_engine.dispose()
        engine.dispose()
