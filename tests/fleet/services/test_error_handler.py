"""One handler answers every fleet error: the kind decides the status, for the API (JSON) and
for the dashboard (its error page)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from fleet import application_status, errors
from fleet.alerts.raising import AlertNotFoundError
from fleet.api.error_handler import STATUS, detail_of, status_of
from fleet.configuration.layers import ConfigRefusedError, Problem
from fleet.updates.rollouts import RolloutConflictError, RolloutError, UnknownRolloutError
from tests.fleet.api_helpers import api_rig


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.UnknownStationError, 404),
        (errors.StationExistsError, 409),
        (errors.StationOfflineError, 409),
        (errors.ClaimRefusedError, 403),
        (errors.BrokerAdminError, 502),
        (errors.RegistryError, 422),
        (errors.RotationError, 409),
        (errors.AccessError, 422),
        (errors.UserExistsError, 409),
        (errors.UnknownUserError, 404),
        (errors.LastAdminError, 409),
        (errors.RoleTooHighError, 403),
        (errors.TokenMintingError, 403),
        (errors.LoginRefusedError, 401),
        (AlertNotFoundError, 404),
        (RolloutError, 422),
        (UnknownRolloutError, 404),
        (RolloutConflictError, 409),
        (application_status.ApplicationStatusError, 409),
        (application_status.UnknownPacketError, 404),
    ],
)
def test_the_nearest_kind_decides_the_status(error: type[errors.FleetError], status: int) -> None:
    assert status_of(error("why")) == status


def test_every_error_of_the_fleet_module_has_a_kind_but_the_broker_binary() -> None:
    """A new error without a kind would be a 500: only the start-up one is meant to."""
    kindless = [
        name
        for name, klass in inspect.getmembers(errors, inspect.isclass)
        if issubclass(klass, errors.FleetError)
        and klass is not errors.FleetError
        and status_of(klass.__new__(klass)) is None
    ]
    assert kindless == ["BrokerNotFoundError"]
    assert len(set(STATUS.values())) == len(STATUS)


def test_a_lock_out_says_when_to_try_again_and_a_refusal_names_each_key(tmp_path: Path) -> None:
    refused = ConfigRefusedError(
        "invalid", [Problem("capture.attempts", "too many", "mu-01"), Problem("x", "unknown")]
    )
    assert detail_of(refused) == [
        {"loc": ["body", "capture", "attempts"], "msg": "too many", "type": "config",
         "station_id": "mu-01"},
        {"loc": ["body", "x"], "msg": "unknown", "type": "config"},
    ]  # fmt: skip
    with api_rig(tmp_path) as rig, rig.client(None) as anonymous:
        for _ in range(rig.settings.access.login_max_failures):
            anonymous.post("/api/v1/auth/login", json={"username": "nobody", "password": "x" * 12})
        locked = anonymous.post(
            "/api/v1/auth/login", json={"username": "nobody", "password": "x" * 12}
        )
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) > 0
        assert "too many failed logins" in locked.json()["detail"]


def test_the_dashboard_shows_a_fleet_error_as_its_page_and_the_api_as_json(
    tmp_path: Path,
) -> None:
    password = "a long enough test passphrase"
    with api_rig(tmp_path) as rig, rig.client() as admin, rig.client(None) as browser:
        api = admin.get("/api/v1/stations/nowhere-01")
        assert (api.status_code, api.json()) == (404, {"detail": "no station nowhere-01"})
        created = admin.post(
            "/api/v1/users", json={"username": "vera", "password": password, "role": "viewer"}
        )
        assert created.status_code == 201, created.text
        logged_in = browser.post(
            "/api/v1/auth/login", json={"username": "vera", "password": password}
        )
        assert logged_in.status_code == 200
        page = browser.get("/ui/stations/nowhere-01", headers={"accept-language": "en"})
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert "Not found: no station nowhere-01" in page.text
        assert page.headers["x-frame-options"] == "DENY"
