"""The alert tests' rig: a fleet whose alerts notify a webhook, and what they look at."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from fleet.store.ops_models import Alert, AlertNotification
from tests.fleet.conftest import OpsRig, make_rig

WEBHOOK = """
[alerts]
offline_minutes = 15
[alerts.webhook]
url = "http://127.0.0.1:9/alerts"
"""


@pytest.fixture
def rig(tmp_path: Path, database_url: str) -> Iterator[OpsRig]:
    yield from make_rig(tmp_path, database_url, WEBHOOK)


def active(rig: OpsRig) -> list[tuple[str, str]]:
    with rig.sessions() as session:
        rows = session.scalars(select(Alert).where(Alert.cleared_at.is_(None)).order_by(Alert.id))
        return [(a.rule, a.station_id) for a in rows]


def notifications(rig: OpsRig) -> list[tuple[str, str]]:
    with rig.sessions() as session:
        rows = session.scalars(select(AlertNotification).order_by(AlertNotification.id)).all()
        return [(n.event, json.loads(n.payload)["alert"]["rule"]) for n in rows]
