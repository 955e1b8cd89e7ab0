"""The simulated fingerprint module on its own: its frame codec, raw wire behaviour, templates,
the scripted applicant, the library file and the control port. (The driver against the
simulator is tested in tests/edge/drivers/.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.fingerprint import (
    RunningFingerprintSimulator,
    SensorConfig,
    start_fingerprint_simulator,
)
from simulators.fingerprint_control import serve_control
from simulators.fingerprint_images import FingerIdentity, FingerPosition
from simulators.fingerprint_packets import HostPacketScanner, build_packet, packet_sum
from simulators.fingerprint_presses import Press, finger_applicant
from simulators.fingerprint_templates import (
    TemplateLibrary,
    match_score,
    merge_templates,
    template_features,
)
from tests.simulators.tcp_clients import ControlClient, RawTcpHost


class RawHost(RawTcpHost):
    """A raw host that sends and reads the module's packets."""

    def command(self, instruction: int, parameters: bytes = b"", address: int = 0xFFFFFFFF) -> None:
        self.send(build_packet(0x01, bytes([instruction]) + parameters, address))

    def packet(self, timeout: float = 2.0) -> tuple[int, bytes, bool]:
        header = self.read_exact(9, timeout)
        assert header[:2] == b"\xef\x01"
        pid, length = header[6], int.from_bytes(header[7:9], "big")
        rest = self.read_exact(length)
        content, total = rest[:-2], int.from_bytes(rest[-2:], "big")
        return pid, content, total == packet_sum(pid, length, content)


@pytest.fixture
def sim() -> Iterator[RunningFingerprintSimulator]:
    with start_fingerprint_simulator(SensorConfig(mode="manual")) as running:
        yield running


@pytest.fixture
def host(sim: RunningFingerprintSimulator) -> Iterator[RawHost]:
    raw = RawHost(sim.url)
    yield raw
    raw.close()


# --- codec ---------------------------------------------------------------------------------


def test_build_packet_matches_the_datasheet_example() -> None:
    assert build_packet(0x01, b"\x01", 0xFFFFFFFF) == bytes.fromhex("ef01ffffffff010003010005")


@settings(max_examples=300)
@given(data=st.binary(max_size=700), chunk=st.integers(1, 50))
def test_scanner_never_raises_on_arbitrary_bytes(data: bytes, chunk: int) -> None:
    scanner = HostPacketScanner()
    for i in range(0, len(data), chunk):
        scanner.feed(data[i : i + chunk])
        while scanner.next_frame() is not None:
            pass
        scanner.drop_partial()


@given(
    packets=st.lists(
        st.tuples(st.sampled_from([0x01, 0x02, 0x08]), st.binary(max_size=256)), max_size=4
    ),
    noise=st.binary(max_size=40).map(lambda b: b.replace(b"\xef", b"")),
)
def test_scanner_round_trips_host_packets_after_noise(
    packets: list[tuple[int, bytes]], noise: bytes
) -> None:
    scanner = HostPacketScanner()
    scanner.feed(noise + b"".join(build_packet(pid, c, 0xFFFFFFFF) for pid, c in packets))
    got = []
    while (packet := scanner.next_frame()) is not None:
        got.append(packet)
    assert [(p.pid, p.content) for p in got] == packets
    assert all(p.checksum_ok for p in got)


def test_scanner_flags_a_bad_checksum() -> None:
    scanner = HostPacketScanner()
    scanner.feed(build_packet(0x01, b"\x01", 0xFFFFFFFF, corrupt=True))
    packet = scanner.next_frame()
    assert packet is not None and not packet.checksum_ok


# --- on the wire ---------------------------------------------------------------------------


def test_a_damaged_command_gets_confirmation_code_01(host: RawHost) -> None:
    host.send(build_packet(0x01, b"\x0f", 0xFFFFFFFF, corrupt=True))
    assert host.packet() == (0x07, b"\x01", True)


def test_another_address_and_line_noise_are_ignored(host: RawHost) -> None:
    host.command(0x40, address=0x12345678)
    assert host.silent_for(0.3)
    host.send(b"\x00\x55\xef\x13\x37" + build_packet(0x01, b"\x40", 0xFFFFFFFF))
    assert host.packet() == (0x07, b"\x00", True)


def test_a_half_received_packet_is_dropped_when_the_line_goes_idle(host: RawHost) -> None:
    # A whole header announcing 3 more bytes: without the idle drop, the next command would
    # be taken as its content and answered 0x01.
    host.send(build_packet(0x01, b"\x40", 0xFFFFFFFF)[:9])
    time.sleep(1.6)
    host.command(0x40)
    assert host.packet() == (0x07, b"\x00", True)


@pytest.mark.parametrize(
    ("instruction", "parameters", "code"),
    [
        (0x01, b"\x00", 0x01),  # GenImg takes no parameter: a malformed command
        (0x06, b"\x01", 0x01),  # Store without a page
        (0x77, b"", 0xFC),  # no such instruction
    ],
)
def test_malformed_and_unknown_commands(
    host: RawHost, instruction: int, parameters: bytes, code: int
) -> None:
    host.command(instruction, parameters)
    assert host.packet()[1][0] == code


def test_error_answers_keep_their_full_length(host: RawHost) -> None:
    host.command(0x04, b"\x01\x00\x00\x00\xc8")  # Search with empty buffers
    pid, content, ok = host.packet()
    assert (pid, content, ok) == (0x07, b"\x09" + bytes(4), True)


def test_downchar_refuses_data_packets_of_the_wrong_size(host: RawHost) -> None:
    host.command(0x09, b"\x01")
    assert host.packet()[1] == b"\x00"
    host.send(build_packet(0x02, bytes(100), 0xFFFFFFFF))  # packet size is 128
    assert host.packet()[1] == b"\x0e"


def test_data_packets_outside_a_download_are_ignored(host: RawHost) -> None:
    host.send(build_packet(0x08, bytes(10), 0xFFFFFFFF))
    assert host.silent_for(0.3)


def test_image_upload_on_the_wire(sim: RunningFingerprintSimulator, host: RawHost) -> None:
    sim.sensor.place(4, "left-thumb")
    host.command(0x01)
    assert host.packet()[1] == b"\x00"
    host.command(0x0A)
    assert host.packet()[1] == b"\x00"
    total, pids = 0, []
    while True:
        pid, content, ok = host.packet()
        assert ok
        pids.append(pid)
        total += len(content)
        if pid == 0x08:
            break
    assert total == 256 * 288 // 2
    assert pids.count(0x02) == len(pids) - 1 == 36864 // 128 - 1


# --- templates -----------------------------------------------------------------------------


def char_file(subject: int, number: int, *, poor: bool = False) -> bytes:
    return Press(FingerIdentity(subject, FingerPosition.RIGHT_INDEX), poor, number).character_file()


def test_templates_score_high_for_the_same_finger_and_low_for_others() -> None:
    a1, a2, a3 = char_file(1, 1), char_file(1, 2), char_file(1, 3, poor=True)
    model = merge_templates(a1, a2)
    assert len(model) == 512 and template_features(model) is not None
    assert match_score(a1, a2) > 200
    assert match_score(model, a3) > 150
    others = [match_score(model, char_file(s, 1)) for s in range(2, 40)]
    assert max(others) < 30


def test_a_damaged_template_does_not_match() -> None:
    template = bytearray(char_file(1, 1))
    template[100] ^= 0xFF
    assert template_features(bytes(template)) is None
    assert match_score(bytes(template), char_file(1, 2)) == 0


# --- the scripted applicant ------------------------------------------------------------------


def test_auto_applicant_is_deterministic_and_presses_each_finger_k_times() -> None:
    def sequence(seed: int, index: int) -> list[tuple[int, str, bool]]:
        applicant = finger_applicant(seed=seed, index=index, presses_per_finger=2, poor_rate=0.3)
        out = []
        for _ in range(8):
            press = None
            while press is None:
                press = applicant.current()
            out.append((press.identity.subject, press.identity.finger.value, press.poor))
            applicant.taken(press)
        return out

    first = sequence(5, 0)
    assert first == sequence(5, 0)
    assert first != sequence(5, 1)
    assert [finger for _, finger, _ in first] == [
        "right-thumb", "right-thumb", "right-index", "right-index",
        "right-middle", "right-middle", "right-ring", "right-ring",
    ]  # fmt: skip
    assert len({subject for subject, _, _ in first}) == 1


def test_auto_applicant_stays_until_the_image_is_taken_then_lifts() -> None:
    applicant = finger_applicant(seed=0, lift_polls=3)
    press = applicant.current()
    assert press is not None
    assert applicant.current() == press  # still on the glass
    applicant.taken(press)
    assert [applicant.current() for _ in range(3)] == [None, None, None]
    following = applicant.current()
    assert following is not None and following != press


def test_poor_rate_gives_that_share_of_poor_presses() -> None:
    applicant = finger_applicant(seed=1, poor_rate=0.25, lift_polls=1)
    poor = 0
    for _ in range(400):
        press = applicant.current() or applicant.current()
        assert press is not None
        poor += press.poor
        applicant.taken(press)
    assert 60 < poor < 140


# --- the library ---------------------------------------------------------------------------


def test_library_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "library.json"
    library = TemplateLibrary(path, capacity=200)
    library.put(7, char_file(1, 1))
    library.put(9, char_file(2, 1))
    library.delete(9, 1)
    again = TemplateLibrary(path, capacity=200)
    assert again.pages() == [7]
    assert again.get(7) == char_file(1, 1)


def test_a_broken_library_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "library.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="cannot load the template library"):
        TemplateLibrary(path, capacity=200)


# --- the control port ----------------------------------------------------------------------


def test_control_port_speaks_json_lines(sim: RunningFingerprintSimulator, host: RawHost) -> None:
    control = serve_control([sim.sensor])
    try:
        with ControlClient(control.url) as client:
            placed = client.ask({"cmd": "place", "subject": 17, "finger": "right-index"})
            assert placed["ok"] is True
            host.command(0x01)
            assert host.packet()[1] == b"\x00"
            assert client.ask({"cmd": "lift"}) == {"ok": True, "sensor": 0}
            host.command(0x01)
            assert host.packet()[1] == b"\x02"
            armed = client.ask({"cmd": "fault", "spec": "code:handshake:0x29"})
            assert armed["armed"] == "code:handshake:0x29:1"
            host.command(0x40)
            assert host.packet()[1] == b"\x29"
            status = client.ask({"cmd": "status"})
            assert status["mode"] == "manual" and status["connected"] is True
            assert client.ask({"cmd": "mode", "mode": "auto"})["ok"] is True
            refused = client.ask({"cmd": "place", "subject": 1})
            assert refused["ok"] is False and "auto mode" in str(refused["error"])
            assert client.ask({"cmd": "fly"})["ok"] is False
            assert client.ask({"cmd": "fault", "spec": "nonsense"})["ok"] is False
            assert client.ask({"cmd": "status", "sensor": 3})["ok"] is False
    finally:
        control.stop()
