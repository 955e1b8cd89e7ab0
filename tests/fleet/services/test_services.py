"""The services the API routes and the dashboard pages share, called as a page calls them:
plain arguments, plain defaults, the fleet's own errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from fleet.access import users
from fleet.configuration.layers import ConfigRefusedError
from fleet.errors import (
    BadRequestError,
    InvalidError,
    NotFoundError,
    RegistryError,
    UnknownStationError,
)
from fleet.roles import Principal, Role
from fleet.services import (
    access,
    alerts,
    configuration,
    health_reads,
    packets,
    reconciliation,
    rollouts,
    stations,
    summary,
)
from fleet.services.stations import StationFilter
from fleet.updates.rollouts import UnknownRolloutError
from tests.fleet.api_helpers import ApiRig, api_rig
from tests.fleet.ops_helpers import heartbeat


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[ApiRig]:
    with api_rig(tmp_path) as rig:
        for station_id, kind in (("ct-01", "center"), ("mu-01", "mobile"), ("mu-02", "mobile")):
            rig.station(station_id, kind=kind)
        yield rig


def test_stations_a_page_at_a_time_with_the_total_and_their_registry_fields(rig: ApiRig) -> None:
    with rig.sessions() as session:
        total, page = stations.list_stations(
            session, StationFilter(kind="mobile"), limit=1, after=None
        )
        assert (total, [s.station_id for s in page]) == (2, ["mu-01"])
        total, page = stations.list_stations(session, StationFilter(), limit=10, after="ct-01")
        assert (total, [s.station_id for s in page]) == (3, ["mu-01", "mu-02"])
        changed = stations.update_station(
            session, "mu-01", {"name": None, "tags": ["vans"]}, actor="test"
        )
        assert (changed.name, changed.tags) == ("mu-01", ["vans"])  # an empty name changes nothing
        with pytest.raises(RegistryError):
            stations.update_station(session, "mu-01", {"tags": ["Not A Tag"]}, actor="test")
        with pytest.raises(UnknownStationError, match="no station mu-99"):
            stations.get_station(session, "mu-99")
        with pytest.raises(NotFoundError, match="no command c-1"):
            stations.get_command(session, "mu-01", "c-1")
        with pytest.raises(NotFoundError, match="no packet p-1"):
            packets.get_packet(session, "p-1")
        assert packets.list_packets(session, station_id="mu-01") == []


def test_health_history_refuses_a_window_that_ends_before_it_starts(rig: ApiRig) -> None:
    rig.heartbeat(heartbeat("mu-01"))
    with rig.sessions() as session:
        now = rig.clock()
        found = health_reads.history(session, rig.context, "mu-01")
        assert (found.until - found.since, found.resolution) == (timedelta(hours=24), "raw")
        weeks = health_reads.history(session, rig.context, "mu-01", since=now - timedelta(days=60))
        assert weeks.resolution == "1h"
        with pytest.raises(BadRequestError, match="since must be before until"):
            health_reads.history(session, rig.context, "mu-01", since=now, until=now)
        with pytest.raises(UnknownStationError):
            health_reads.station_health(session, rig.context, "mu-99")
        assert health_reads.station_health(session, rig.context, "mu-01").state == "online"
        numbers = health_reads.fleet_numbers(session, rig.context)
        assert numbers.stations.online == 1


def test_a_layer_is_set_refused_or_removed_and_tags_list_their_members(rig: ApiRig) -> None:
    ctx = rig.context
    with rig.sessions() as session:
        assert configuration.find_layer(session, "tag", "vans") is None
        with pytest.raises(NotFoundError, match="no tag configuration for vans"):
            configuration.get_layer(session, "tag", "vans")
        configuration.set_tag_members(session, ctx, "vans", ["mu-01", "mu-02"], actor="test")
        assert configuration.tag_members(session, "vans") == ["mu-01", "mu-02"]
        change = configuration.change_layer(
            session, ctx, "tag", "vans", {"capture": {"attempts": 2}}, actor="test"
        )
        assert change.layer is not None and change.layer.version == 1
        assert [s.station_id for s in change.stations] == ["mu-01", "mu-02"]
        with pytest.raises(ConfigRefusedError) as refused:
            configuration.change_layer(
                session, ctx, "tag", "vans", {"capture": {"atempts": 2}}, actor="test"
            )
        assert [p.key for p in refused.value.problems] == ["capture.atempts"]
        session.rollback()
        assert configuration.effective(session, "mu-01").drift != "unmanaged"
        assert [s.station_id for s in configuration.station_configs(session, drifted=True)] == [
            "mu-01", "mu-02"]  # fmt: skip
        removed = configuration.change_layer(session, ctx, "tag", "vans", None, actor="test")
        assert removed.layer is None
        assert [(h.version, h.document) for h in configuration.history(session, scope="tag")] == [
            (2, None), (1, {"capture": {"attempts": 2}})]  # fmt: skip


def test_reconciliation_of_a_station_that_has_not_reported_is_none_for_a_page(
    rig: ApiRig,
) -> None:
    with rig.sessions() as session:
        assert reconciliation.find_station_reconciliation(session, "mu-01") is None
        with pytest.raises(NotFoundError, match="has not reported yet"):
            reconciliation.station_reconciliation(session, "mu-01")
        with pytest.raises(UnknownStationError):
            reconciliation.find_station_reconciliation(session, "mu-99")
        assert reconciliation.list_reconciliation(session) == []


def test_rollout_actions_and_alert_lookups_raise_not_found(rig: ApiRig) -> None:
    with rig.sessions() as session:
        with pytest.raises(NotFoundError, match="no rollout action explode"):
            rollouts.act(session, rig.context, "r-1", "explode", actor="test")
        with pytest.raises(UnknownRolloutError):
            rollouts.act(session, rig.context, "r-1", "pause", actor="test")
        with pytest.raises(NotFoundError, match="no alert 7"):
            alerts.get_alert(session, 7)
        assert alerts.list_alerts(session) == []
        assert alerts.notifications_of(session, {7}) == {}
        assert alerts.rules(rig.context).webhook.secret is None


def test_tokens_need_an_owner_and_only_their_owner_or_an_admin_revokes_them(rig: ApiRig) -> None:
    bootstrap = Principal("admin-token", Role.ADMIN)
    with rig.sessions() as session:
        with pytest.raises(InvalidError, match="name the token's owner"):
            access.create_token(
                session, rig.context, bootstrap, name="t", username=None, role=None, days=None
            )
        users.create_user(session, "olga", "a long enough test passphrase", role=Role.OPERATOR,
                          actor="test")  # fmt: skip
        row, owner, secret = access.create_token(
            session, rig.context, bootstrap, name="t", username="olga", role=None, days=None
        )
        assert (owner.username, secret.startswith("ewp_")) == ("olga", True)
        other = Principal("someone", Role.VIEWER, user_id=owner.id + 1000)
        with pytest.raises(NotFoundError, match=f"no token {row.id}"):
            access.revoke_token(session, other, row.id)
        assert access.revoke_token(session, bootstrap, row.id).revoked_at is not None


def test_the_summary_counts_stations_and_pages_the_per_station_packets(rig: ApiRig) -> None:
    with rig.sessions() as session:
        totals = summary.summary(session, per_station_limit=2)
        assert (totals.stations, totals.packets, totals.rejections) == (3, 0, 0)
        assert totals.per_station == []  # no station of the page has packets yet
        assert summary.rejections(session) == []
