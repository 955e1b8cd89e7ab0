"""The simulated iris camera on its own: its frame codec, raw wire behaviour, timing, the
scripted applicant and the control port. (The driver against the simulator is tested in
tests/edge/drivers/.)"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.iris import (
    DEFAULT_TIMING,
    FAST_TIMING,
    CameraConfig,
    RunningIrisSimulator,
    Timing,
    build_frame,
    crc16_ccitt,
    start_iris_simulator,
)
from simulators.iris_codec import HostFrameScanner
from simulators.iris_control import serve_control
from simulators.iris_images import EyeConditions, EyeSide
from simulators.iris_sittings import iris_applicant
from tests.simulators.tcp_clients import ControlClient, RawTcpHost


class RawHost(RawTcpHost):
    """A raw host that sends and reads the camera's frames, numbering its commands."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.seq = 0

    def command(self, code: int, payload: bytes = b"") -> int:
        self.seq = (self.seq + 1) & 0xFF
        self.send(build_frame(code, self.seq, payload))
        return self.seq

    def frame(self, timeout: float = 2.0) -> tuple[int, int, bytes]:
        """The next frame: code, seq, payload (its CRC checked)."""
        header = self.read_exact(7, timeout)
        assert header[:2] == b"\xa5\x5a"
        length = int.from_bytes(header[2:4], "big")
        assert (header[2] + header[3] + header[4]) % 256 == 0
        rest = self.read_exact(length + 2)
        payload, crc = rest[:-2], int.from_bytes(rest[-2:], "big")
        assert crc == crc16_ccitt(header[2:] + payload)
        return header[5], header[6], payload

    def answer(self, code: int, payload: bytes = b"") -> bytes:
        """Send a command; the payload of its response (status events in between skipped)."""
        seq = self.command(code, payload)
        while True:
            got_code, got_seq, got = self.frame()
            if got_code != 0xE0:
                assert (got_code, got_seq) == (code | 0x80, seq)
                return got


START_BOTH_PUSH = struct.pack(">BBBBBBH", 3, 0, 0, 0, 0, 1, 20)
START_LEFT_POLL = struct.pack(">BBBBBBH", 1, 0, 0, 0, 0, 0, 20)


@pytest.fixture
def sim() -> Iterator[RunningIrisSimulator]:
    with start_iris_simulator(CameraConfig(timing=FAST_TIMING)) as running:
        yield running


@pytest.fixture
def host(sim: RunningIrisSimulator) -> Iterator[RawHost]:
    raw = RawHost(sim.url)
    yield raw
    raw.close()


# --- codec ---------------------------------------------------------------------------------


def test_crc_and_frame_layout() -> None:
    assert crc16_ccitt(b"123456789") == 0x29B1
    assert build_frame(0x04, 7) == b"\xa5\x5a\x00\x00\x00\x04\x07" + crc16_ccitt(
        b"\x00\x00\x00\x04\x07"
    ).to_bytes(2, "big")


@settings(max_examples=300)
@given(data=st.binary(max_size=700), chunk=st.integers(1, 50))
def test_scanner_never_raises_on_arbitrary_bytes(data: bytes, chunk: int) -> None:
    scanner = HostFrameScanner()
    for i in range(0, len(data), chunk):
        scanner.feed(data[i : i + chunk])
        while scanner.next_frame() is not None:
            pass
        scanner.drop_partial()


@given(
    frames=st.lists(
        st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=300)), max_size=4
    ),
    noise=st.binary(max_size=40).map(lambda b: b.replace(b"\xa5", b"")),
    chunk=st.integers(1, 400),
)
def test_scanner_round_trips_frames_after_noise(
    frames: list[tuple[int, int, bytes]], noise: bytes, chunk: int
) -> None:
    scanner = HostFrameScanner()
    wire = noise + b"".join(build_frame(code, seq, payload) for code, seq, payload in frames)
    got = []
    for i in range(0, len(wire), chunk):
        scanner.feed(wire[i : i + chunk])
        while (frame := scanner.next_frame()) is not None:
            got.append(frame)
    assert [(f.code, f.seq, f.payload) for f in got] == frames
    assert all(f.crc_ok for f in got)


def test_scanner_flags_a_bad_crc_and_skips_a_false_sync() -> None:
    scanner = HostFrameScanner()
    scanner.feed(b"\xa5\x5a\x00\x07\x00" + build_frame(0x04, 1, corrupt=True))
    frame = scanner.next_frame()
    assert frame is not None and (frame.code, frame.seq, frame.crc_ok) == (0x04, 1, False)


# --- on the wire ---------------------------------------------------------------------------


def test_a_damaged_command_gets_a_nak_with_its_seq(
    sim: RunningIrisSimulator, host: RawHost
) -> None:
    host.send(build_frame(0x01, 42, corrupt=True))
    assert host.frame() == (0xFF, 42, b"\x01")
    assert sim.camera.counters["bad_frames"] == 1


@pytest.mark.parametrize(
    ("code", "payload", "result"),
    [
        (0x01, b"\x00", 0x03),  # INIT takes no parameter: a malformed command
        (0x07, b"", 0x03),  # GET_RESULT_QUALITY without its eye
        (0x03, START_LEFT_POLL, 0x04),  # START_CAPTURE before INIT
        (0x00, b"", 0x02),  # no such command
        (0x5F, b"", 0x02),
    ],
)
def test_malformed_unknown_and_premature_commands(
    host: RawHost, code: int, payload: bytes, result: int
) -> None:
    assert host.answer(code, payload) == bytes([result])


def test_frames_that_are_not_commands_and_noise_are_ignored(host: RawHost) -> None:
    host.send(build_frame(0x84, 3) + build_frame(0xE0, 4) + build_frame(0x60, 5))
    assert host.silent_for(0.3)
    host.send(b"\x00\x55\xa5\x13\x37" + build_frame(0x04, 9))
    assert host.frame()[:2] == (0x84, 9)


def test_a_half_received_frame_is_dropped_when_the_line_goes_idle(host: RawHost) -> None:
    # A whole header announcing 9 more bytes: without the idle drop, the next command would
    # be taken as its payload and NAKed.
    host.send(build_frame(0x07, 1, b"\x01")[:7])
    time.sleep(1.4)
    assert host.answer(0x01) == b"\x00" + struct.pack(">HH", 640, 480)


def test_info_on_the_wire(host: RawHost) -> None:
    info = host.answer(0x02)
    assert info[0] == 0
    assert struct.unpack(">BHHBBBHHH", info[1:15]) == (1, 640, 480, 8, 3, 3, 4096, 0x1209, 1)
    strings = info[15:]
    model = strings[1 : 1 + strings[0]]
    assert model == b"ewp-sim iris camera"


def test_status_events_are_pushed_only_when_asked_for(host: RawHost) -> None:
    host.answer(0x01)
    assert host.answer(0x03, START_LEFT_POLL) == b"\x00"  # nobody in view, no events
    assert host.silent_for(0.2)
    assert host.answer(0x06) == b"\x00"  # STOP
    seq = host.command(0x03, START_BOTH_PUSH)
    assert host.frame() == (0x83, seq, b"\x00")  # the response first, then the event
    code, _, status = host.frame()
    assert code == 0xE0
    # READY, result 0, initialised + events on, both eyes requested, none found yet
    assert status == bytes([1, 0, 0x03, 3, 0, 0, 0]) + b"\x00\x00"


def test_results_before_and_during_a_capture(host: RawHost) -> None:
    host.answer(0x01)
    assert host.answer(0x07, b"\x01") == b"\x10"  # IDLE: no frame
    assert host.answer(0x08, struct.pack(">BBBIH", 1, 0, 0, 0, 4096)) == b"\x10"
    host.answer(0x03, START_LEFT_POLL)
    assert host.answer(0x07, b"\x01") == b"\x05"  # busy capturing
    assert host.answer(0x07, b"\x03") == b"\x03"  # both eyes: per eye only
    assert host.answer(0x08, struct.pack(">BBBIH", 1, 2, 0, 0, 4096)) == b"\x03"  # format 2
    assert host.answer(0x08, struct.pack(">BBBIH", 1, 0, 0, 0, 4097)) == b"\x03"  # block too big


def test_image_blocks_on_the_wire(sim: RunningIrisSimulator, host: RawHost) -> None:
    sim.camera.present(3)
    host.answer(0x01)
    host.answer(0x03, START_LEFT_POLL)
    deadline = time.monotonic() + 5
    while host.answer(0x04)[1] != 3:  # until COMPLETE
        assert time.monotonic() < deadline
    image = b""
    while True:
        data = host.answer(0x08, struct.pack(">BBBIH", 1, 0, 0, len(image), 4096))
        assert data[0] == 0
        eye, fmt, total, offset = struct.unpack(">BBII", data[1:11])
        assert (eye, fmt, total, offset) == (1, 0, 640 * 480, len(image))
        image += data[11:]
        if len(image) == total:
            break
    assert len(image) == 640 * 480
    too_far = host.answer(0x08, struct.pack(">BBBIH", 1, 0, 0, 640 * 480, 16))
    assert too_far == b"\x03"
    assert sim.camera.counters["images_sent"] == 1


def test_timing_of_a_capture() -> None:
    with start_iris_simulator(
        CameraConfig(
            timing=Timing(find=(0.2, 0.2), capture=(0.3, 0.3), status_interval=0.05),
            mode="auto",
        )
    ) as running:
        raw = RawHost(running.url)
        try:
            raw.answer(0x01)
            started = time.monotonic()
            raw.answer(0x03, START_BOTH_PUSH)
            arrivals: dict[int, float] = {}
            while 3 not in arrivals:
                code, _, status = raw.frame()
                assert code == 0xE0
                arrivals.setdefault(status[0], time.monotonic() - started)
            # READY until the eyes were in view for the find time, then the capture time (less
            # a little for the scheduling of the two frames' writes).
            assert arrivals[2] >= 0.2
            assert arrivals[3] - arrivals[2] >= 0.28
        finally:
            raw.close()


def test_default_timing_is_realistic_and_fast_timing_is_not() -> None:
    assert DEFAULT_TIMING.capture == (0.5, 2.0) and DEFAULT_TIMING.status_interval == 0.25
    assert FAST_TIMING.capture[1] < 0.1
    with pytest.raises(ValueError, match="capture time range"):
        Timing(capture=(2.0, 1.0))


def test_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="poor rate") as caught:
        CameraConfig(poor_rate=1.5, captures_per_person=0)
    assert "captures per person" in str(caught.value)
    assert CameraConfig(seed=7, index=2).serial_number == "SIM-IRIS-0007-02"


def test_present_and_its_refusals(sim: RunningIrisSimulator) -> None:
    camera = sim.camera
    sitting = camera.present(5, open="left", occlusion=0.3, right={"blur": 2.0})
    assert sitting.left == EyeConditions(open=True, occlusion=0.3, blur=0.6)
    assert sitting.right == EyeConditions(open=False, occlusion=0.3, blur=2.0)
    assert sitting.open_mask() == 1
    for bad in (
        lambda: camera.present(5, open="maybe"),  # type: ignore[arg-type]
        lambda: camera.present(5, occlusion=1.2),
        lambda: camera.present(5, left={"colour": "brown"}),
        lambda: camera.present(-1),
    ):
        with pytest.raises(ValueError):
            bad()
    camera.set_mode("auto")
    with pytest.raises(ValueError, match="auto mode"):
        camera.present(5)
    with pytest.raises(ValueError, match="auto mode"):
        camera.withdraw()


# --- the scripted applicant ----------------------------------------------------------------


def test_auto_applicant_is_deterministic_and_captures_each_person_k_times() -> None:
    def sequence(seed: int, index: int) -> list[tuple[int, bool, bool]]:
        applicant = iris_applicant(seed=seed, index=index, captures_per_person=2, poor_rate=0.3)
        out = []
        for _ in range(8):
            sitting = applicant.current()
            assert sitting is not None
            out.append((sitting.person, sitting.left.occlusion > 0.5, sitting.right.blur > 3))
            applicant.taken(sitting)
        return out

    first = sequence(5, 0)
    assert first == sequence(5, 0)
    assert first != sequence(5, 1)
    persons = [person for person, _, _ in first]
    assert persons[0] == persons[1] != persons[2] == persons[3]


def test_the_next_applicant_steps_up_after_a_capture_spoilt_by_a_fault() -> None:
    config = CameraConfig(mode="auto", captures_per_person=1, timing=FAST_TIMING)
    with start_iris_simulator(config) as running:
        raw = RawHost(running.url)
        try:
            raw.answer(0x01)
            first = running.camera.status()["in_view"]["person"]  # type: ignore[index]
            running.camera.inject("occlusion")
            raw.answer(0x03, START_LEFT_POLL)
            deadline = time.monotonic() + 5
            while (status := raw.answer(0x04))[1] != 3:  # until COMPLETE
                assert time.monotonic() < deadline
            assert status[2] == 0x11  # the occluded eye did not qualify
            assert running.camera.status()["in_view"]["person"] != first  # type: ignore[index]
        finally:
            raw.close()


def test_poor_rate_gives_that_share_of_poor_eyes() -> None:
    applicant = iris_applicant(seed=1, captures_per_person=1, poor_rate=0.25)
    poor = 0
    for _ in range(200):
        sitting = applicant.current()
        assert sitting is not None
        for side in EyeSide:
            conditions = sitting.eye(side)
            poor += conditions.occlusion > 0.5 or conditions.blur > 3
        applicant.taken(sitting)
    assert 60 < poor < 140  # of 400 eyes


# --- the control port ----------------------------------------------------------------------


def test_control_port_speaks_json_lines(sim: RunningIrisSimulator, host: RawHost) -> None:
    control = serve_control([sim.camera])
    try:
        with ControlClient(control.url) as client:
            presented = client.ask(
                {"cmd": "present", "person": 17, "occlusion": 0.2, "open": "right"}
            )
            assert presented["ok"] is True
            assert presented["in_view"] == {
                "person": 17,
                "left": {"open": False, "occlusion": 0.2, "blur": 0.6},
                "right": {"open": True, "occlusion": 0.2, "blur": 0.6},
            }
            armed = client.ask({"cmd": "fault", "spec": "code:init:0x20"})
            assert armed["armed"] == "code:init:0x20:1"
            assert host.answer(0x01) == b"\x20"
            armed = client.ask({"cmd": "fault", "kind": "silence", "seconds": 0.2})
            assert armed["armed"] == "silence:0.2s"
            assert client.ask({"cmd": "clear-faults"})["ok"] is True
            status = client.ask({"cmd": "status"})
            assert status["mode"] == "manual" and status["connected"] is True
            assert status["in_view"] is not None and status["state"] == "IDLE"
            assert client.ask({"cmd": "withdraw"}) == {"ok": True, "camera": 0}
            assert client.ask({"cmd": "mode", "mode": "auto"})["ok"] is True
            refused = client.ask({"cmd": "present", "person": 1})
            assert refused["ok"] is False and "auto mode" in str(refused["error"])
            assert client.ask({"cmd": "present", "person": "x"})["ok"] is False
            assert client.ask({"cmd": "present", "person": 1, "blur": "a lot"})["ok"] is False
            assert client.ask({"cmd": "fly"})["ok"] is False
            assert client.ask({"cmd": "fault", "spec": "nonsense"})["ok"] is False
            assert client.ask({"cmd": "status", "camera": 3})["ok"] is False
            assert client.ask({"cmd": "unplug"})["unplugged"] is True
    finally:
        control.stop()
