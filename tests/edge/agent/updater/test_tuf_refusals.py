"""The station's updater against a real TUF repository served over HTTP: a good release is
installed; each attack is refused with its reason and nothing is installed."""

from __future__ import annotations

from datetime import timedelta

from securesystemslib.signer import CryptoSigner

from fleet.updates.repository import Expiry
from tests.edge.agent.updater.conftest import World


def _nothing_installed(world: World) -> None:
    assert world.layout.installed_version() == "1.0.0"
    assert world.installed_releases() == ["1.0.0"]
    assert world.layout.trial() is None
    assert world.states()[-1] == "refused"


def test_a_signed_release_is_installed_and_put_on_trial(world: World) -> None:
    world.publish("1.1.0")
    outcome = world.updater().handle(world.offer("1.1.0"))
    assert outcome.restart and outcome.state == "restarting"
    assert world.states() == ["downloading", "downloaded", "installing", "restarting"]
    assert world.layout.installed_version() == "1.1.0"
    assert world.layout.previous_version() == "1.0.0"
    trial = world.layout.trial()
    assert trial is not None and trial["version"] == "1.1.0" and trial["from_version"] == "1.0.0"
    site = world.layout.current / "site" / "ewp_app" / "__init__.py"
    assert 'VERSION = "1.1.0"' in site.read_text()


def test_a_tampered_target_is_refused(world: World) -> None:
    world.publish("1.1.0")
    stored = world.repo.target_file("agent/1.1.0/bundle.tar")
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01  # same length, one bit flipped
    stored.write_bytes(bytes(data))
    world.updater().handle(world.offer("1.1.0"))
    _nothing_installed(world)
    reason = world.reports[-1].reason or ""
    assert "does not match its signed length and hashes (tampered)" in reason
    assert not list(world.layout.cache.glob("*.part")), "a tampered download is not kept"


def test_an_offer_of_an_older_version_is_refused(world: World) -> None:
    world.publish("1.1.0")
    assert world.updater().handle(world.offer("1.1.0")).restart
    world.layout.confirm()
    world.reports.clear()
    world.updater().handle(world.offer("1.0.0"))
    assert world.states() == ["refused"]
    assert "older than the installed 1.1.0" in (world.reports[-1].reason or "")
    assert world.layout.installed_version() == "1.1.0"


def test_replayed_older_metadata_is_refused(world: World) -> None:
    old_timestamp = (world.repo.metadata_dir / "timestamp.json").read_bytes()
    world.publish("1.1.0")
    world.trusted().refresh()  # the station has seen the newer timestamp
    (world.repo.metadata_dir / "timestamp.json").write_bytes(old_timestamp)
    world.updater().handle(world.offer("1.1.0"))
    _nothing_installed(world)
    assert "older than what this station already trusts" in (world.reports[-1].reason or "")


def test_an_expired_timestamp_is_refused(world: World) -> None:
    world.repo.expiry = Expiry(timestamp=timedelta(seconds=-60))
    world.publish("1.1.0")
    world.updater().handle(world.offer("1.1.0"))
    _nothing_installed(world)
    reason = world.reports[-1].reason or ""
    assert "expired metadata" in reason and "timestamp" in reason


def test_a_freeze_attack_with_an_old_snapshot_is_refused(world: World) -> None:
    world.trusted().refresh()
    world.publish("1.1.0")
    meta = world.repo.metadata_dir
    current = world.repo.snapshot().version
    # the attacker serves the timestamp that names the new snapshot, but the old snapshot
    (meta / f"{current}.snapshot.json").write_bytes(
        (meta / f"{current - 1}.snapshot.json").read_bytes()
    )
    world.updater().handle(world.offer("1.1.0"))
    _nothing_installed(world)
    assert "rollback attack" in (world.reports[-1].reason or "")


def test_a_release_signed_by_a_wrong_key_is_refused(world: World) -> None:
    keys = world.repo.keys_dir / "targets.pem"
    keys.unlink()
    keys.write_bytes(CryptoSigner.generate_ed25519().private_bytes)  # not in the root
    world.publish("1.1.0")
    world.updater().handle(world.offer("1.1.0"))
    _nothing_installed(world)
    assert "not signed by the keys the station trusts" in (world.reports[-1].reason or "")


def test_an_offer_that_does_not_match_the_signed_release_is_refused(world: World) -> None:
    world.publish("1.1.0")
    world.updater().handle(world.offer("1.2.0", target="agent/1.1.0/bundle.tar"))
    _nothing_installed(world)
    assert "not the offered agent 1.2.0" in (world.reports[-1].reason or "")
