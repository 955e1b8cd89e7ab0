"""The fingerprint driver against the simulated module, over TCP and over a pty.

Every instruction the driver sends, every confirmation code the simulator produces (each
raised as the one error type carrying the code, with its row of the table), and what the line
can do wrong: noise, silence, damaged packets, a cable pulled in the middle of an image, a baud
rate or packet size change.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.drivers.fingerprint_r30x import (
    R30X_ERRORS,
    AuraColour,
    AuraMode,
    FingerprintError,
    FingerprintSensor,
    ModuleStatus,
    NoMatchError,
    NotFoundError,
    RetryCaptureError,
    SearchResult,
)
from edge.drivers.fingerprint_r30x_errors import (
    CANNOT_OPEN,
    DAMAGED_PACKET,
    DISCONNECTED,
    FINGER_NOT_LIFTED,
    NO_FINGER,
    NOT_ANSWERING,
    fingerprint_error,
)
from simulators.fingerprint import pack_nibbles
from tests.edge.drivers.conftest import Rig, RigFactory, damage_next_writes


def enrol(rig: Rig, subject: int = 17, finger: str = "right-index", page: int = 0) -> None:
    """The two-press enrolment a station does, with the tester placing the finger."""
    sensor, sim = rig.sensor, rig.sim.sensor
    for buffer in (1, 2):
        sim.place(subject, finger)
        sensor.capture_image()
        sensor.image_to_template(buffer)
        sim.lift()
    sensor.create_model()
    sensor.store_template(1, page)


def press_and_convert(rig: Rig, subject: int, finger: str = "right-index", buffer: int = 1) -> None:
    rig.sim.sensor.place(subject, finger)
    rig.sensor.capture_image()
    rig.sensor.image_to_template(buffer)


# --- every instruction ---------------------------------------------------------------------


def test_system_instructions(rig: Rig) -> None:
    sensor = rig.sensor
    sensor.verify_password()
    sensor.probe()
    sensor.check_sensor()
    params = sensor.read_system_parameters()
    assert (params.library_size, params.security_level, params.packet_size) == (200, 3, 128)
    assert (params.baud_rate, params.address, params.system_id) == (57600, 0xFFFFFFFF, 0)
    assert params.flags == ModuleStatus.PASSWORD_VERIFIED
    sensor.set_security_level(5)
    assert sensor.read_system_parameters().security_level == 5
    sensor.aura_led(AuraMode.BREATHING, AuraColour.PURPLE, speed=200, count=3)
    assert rig.sim.sensor.led == {"control": 1, "speed": 200, "colour": 3, "count": 3}


def test_capture_enrol_match_search_and_manage_the_library(rig: Rig) -> None:
    sensor = rig.sensor
    enrol(rig, subject=17, page=3)
    enrol(rig, subject=18, page=7)
    assert sensor.template_count() == 2
    assert sensor.read_index_table(0) == {3, 7}
    assert sensor.read_index_table(1) == set()
    assert ModuleStatus.IMAGE_VALID in sensor.read_system_parameters().flags

    press_and_convert(rig, 17)
    found = sensor.search(1, 0, 200)
    assert isinstance(found, SearchResult)
    assert found.page_id == 3 and found.score >= 100
    assert ModuleStatus.MATCHED in sensor.read_system_parameters().flags

    sensor.load_template(2, 3)
    assert sensor.match() >= 100
    template = sensor.read_template(2)
    assert len(template) == 512
    sensor.write_template(1, template)
    assert sensor.match() == 300  # the same template in both buffers

    sensor.delete_templates(3)
    assert sensor.read_index_table(0) == {7}
    sensor.empty_library()
    assert sensor.template_count() == 0


def test_read_image_is_the_rendered_press_at_four_bits(rig: Rig) -> None:
    press = rig.sim.sensor.place(23, "left-middle", "poor")
    rig.sensor.capture_image()
    image = rig.sensor.read_image()
    assert (image.width, image.height, len(image.pixels)) == (256, 288, 256 * 288)
    wire = pack_nibbles(press.render())
    expected = bytes(v for b in wire for v in ((b >> 4) * 17, (b & 0x0F) * 17))
    assert image.pixels == expected


def test_wait_for_finger_and_for_its_removal(rig: Rig) -> None:
    sensor, sim = rig.sensor, rig.sim.sensor
    with pytest.raises(RetryCaptureError, match=r"within 0\.2 s") as no_finger:
        sensor.wait_for_finger(0.2, poll_interval=0.05)
    assert no_finger.value.code == NO_FINGER
    sim.place(5, "right-thumb")
    sensor.wait_for_finger(1.0, poll_interval=0.05)
    with pytest.raises(RetryCaptureError, match="lift the finger") as caught:
        sensor.wait_for_finger_removed(0.2, poll_interval=0.05)
    assert caught.value.code == FINGER_NOT_LIFTED and caught.value.retryable
    sim.lift()
    sensor.wait_for_finger_removed(1.0, poll_interval=0.05)


def test_auto_mode_applicant_enrols_with_two_presses_then_is_identified(
    make_rig: RigFactory,
) -> None:
    rig = make_rig(mode="auto", presses_per_finger=3, lift_polls=2)
    sensor = rig.sensor
    for buffer in (1, 2):
        sensor.wait_for_finger(2.0, poll_interval=0.01)
        sensor.image_to_template(buffer)
        sensor.wait_for_finger_removed(2.0, poll_interval=0.01)
    sensor.create_model()
    sensor.store_template(1, 42)
    sensor.wait_for_finger(2.0, poll_interval=0.01)  # the third press of the same finger
    sensor.image_to_template(1)
    assert sensor.search(1, 0, 200).page_id == 42


def test_the_library_survives_a_simulator_restart(make_rig: RigFactory, tmp_path: Path) -> None:
    library = tmp_path / "kept.json"
    first = make_rig(library=library)
    enrol(first, subject=99, page=12)
    first.port.close()
    first.sim.stop()
    second = make_rig(library=library)
    assert second.sensor.read_index_table(0) == {12}
    press_and_convert(second, 99)
    assert second.sensor.search(1, 0, 200).page_id == 12


def test_password_is_verified_automatically_when_the_module_asks(make_rig: RigFactory) -> None:
    rig = make_rig(password=0x1234, driver_password=0x1234)
    assert rig.sensor.template_count() == 0  # answered 0x21 first, then verified and repeated
    assert ModuleStatus.PASSWORD_VERIFIED in rig.sensor.read_system_parameters().flags


def test_a_module_with_its_own_address(make_rig: RigFactory) -> None:
    rig = make_rig(address=0x12345678, driver_address=0x12345678)
    assert rig.sensor.read_system_parameters().address == 0x12345678
    other = make_rig(address=0x12345678)  # the driver speaks to FFFFFFFF: the module ignores it
    with pytest.raises(FingerprintError) as caught:
        other.sensor.probe()
    assert caught.value.code == NOT_ANSWERING


def test_a_wrong_password_is_refused(make_rig: RigFactory) -> None:
    rig = make_rig(password=0x1234, driver_password=0x4321)
    with pytest.raises(FingerprintError, match="password") as caught:
        rig.sensor.template_count()
    assert caught.value.code == 0x13


# --- every confirmation code the simulator produces ----------------------------------------


NATURAL_CODES: list[tuple[int, Callable[[Rig], object]]] = [
    (0x01, lambda rig: (damage_next_writes(rig.port), rig.sensor.template_count())),
    (0x02, lambda rig: rig.sensor.capture_image()),
    (0x06, lambda rig: (rig.sim.sensor.inject("messy-image"), press_and_convert(rig, 1))),
    (0x07, lambda rig: (rig.sim.sensor.inject("few-features"), press_and_convert(rig, 1))),
    (0x08, lambda rig: (press_and_convert(rig, 1), rig.sim.sensor.lift(),
                        press_and_convert(rig, 2, buffer=2), rig.sensor.match())),
    (0x09, lambda rig: (press_and_convert(rig, 1), rig.sensor.search(1, 0, 200))),
    (0x0A, lambda rig: (press_and_convert(rig, 1), rig.sim.sensor.lift(),
                        press_and_convert(rig, 2, buffer=2), rig.sensor.create_model())),
    (0x0B, lambda rig: (press_and_convert(rig, 1), rig.sensor.store_template(1, 200))),
    (0x0C, lambda rig: rig.sensor.load_template(1, 5)),
    (0x0D, lambda rig: rig.sensor.read_template(2)),
    (0x0F, lambda rig: rig.sensor.read_image()),
    (0x10, lambda rig: rig.sensor.delete_templates(198, 5)),
    (0x13, lambda rig: (setattr(rig.sensor, "password", 8), rig.sensor.verify_password())),
    (0x15, lambda rig: rig.sensor.image_to_template(1)),
    (0x1A, lambda rig: rig.sensor._set_system_parameter(9, 1)),
    (0x1B, lambda rig: rig.sensor._set_system_parameter(4, 13)),
    (0x22, lambda rig: rig.sensor.store_template(1, 0)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("code", "provoke"), NATURAL_CODES, ids=[f"{c:#04x}" for c, _ in NATURAL_CODES]
)
def test_each_error_case_gets_its_confirmation_code_and_typed_error(
    rig: Rig, code: int, provoke: Callable[[Rig], object]
) -> None:
    with pytest.raises(FingerprintError) as caught:
        provoke(rig)
    assert caught.value.code == code
    assert f"{code:#06x}" in str(caught.value) and R30X_ERRORS[code].advice in str(caught.value)
    rig.sensor.probe()  # the line is still in step


DEVICE_CODES = sorted(row.code for row in R30X_ERRORS if row.code > 0)


@pytest.mark.parametrize("code", DEVICE_CODES, ids=lambda c: f"{c:#04x}")
def test_every_confirmation_code_raises_its_row(rig: Rig, code: int) -> None:
    rig.sim.sensor.inject(f"code:vfypwd:{code:#x}")
    with pytest.raises(FingerprintError) as caught:
        rig.sensor.verify_password()
    error = caught.value
    row = R30X_ERRORS[code]
    assert error.code == code and error.name == row.name
    assert row.message in str(error) and row.advice in str(error) and "VFY_PWD" in str(error)
    assert isinstance(error, RetryCaptureError) == row.retryable


def test_an_unknown_confirmation_code_is_still_a_fingerprint_error(rig: Rig) -> None:
    rig.sim.sensor.inject("code:handshake:0x99")
    with pytest.raises(FingerprintError, match="unknown result code") as caught:
        rig.sensor.probe()
    assert caught.value.code == 0x99 and "0x0099" in str(caught.value)
    assert not isinstance(caught.value, RetryCaptureError)


def test_error_types_follow_the_table() -> None:
    retryable = {row.code for row in R30X_ERRORS if row.retryable}
    assert retryable == {0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x17, 0x26, FINGER_NOT_LIFTED}
    for row in R30X_ERRORS:
        error = fingerprint_error(row.code)
        assert isinstance(error, RetryCaptureError) == row.retryable, row.name
    assert type(fingerprint_error(0x08)) is NoMatchError
    assert type(fingerprint_error(0x09)) is NotFoundError
    assert type(fingerprint_error(0x0A)) is FingerprintError
    assert fingerprint_error(DISCONNECTED).device_lost
    assert fingerprint_error(CANNOT_OPEN).device_lost
    assert not fingerprint_error(NOT_ANSWERING).device_lost


# --- what the line can do ------------------------------------------------------------------


def test_resync_after_line_noise(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    rig.sim.sensor.inject("garbage:200")
    with caplog.at_level(logging.DEBUG, logger="ewp.wire.fingerprint"):
        assert rig.sensor.template_count() == 0
    assert any("line noise" in r.getMessage() for r in caplog.records)


def test_a_timeout_on_silence_says_where_and_what_to_do(rig: Rig) -> None:
    rig.sim.sensor.inject("silence:1")
    with pytest.raises(FingerprintError) as caught:
        rig.sensor.template_count()
    assert caught.value.code == NOT_ANSWERING
    message = str(caught.value)
    assert rig.sensor.port_name in message and "57600 baud" in message
    assert "ewp sensor fingerprint info --port" in message
    assert rig.sensor.template_count() == 0  # the next command is answered again


def test_silence_for_a_time(rig: Rig) -> None:
    rig.sim.sensor.inject("silence:0.8s")
    started = time.monotonic()
    timeouts = 0
    while True:
        try:
            rig.sensor.probe()
            break
        except FingerprintError as exc:
            assert exc.code == NOT_ANSWERING
            timeouts += 1
            assert timeouts < 10
    assert timeouts >= 1
    assert time.monotonic() - started >= 0.8


def test_a_damaged_answer_is_detected(rig: Rig) -> None:
    rig.sim.sensor.inject("bad-checksum")
    with pytest.raises(FingerprintError, match="checksum") as caught:
        rig.sensor.template_count()
    assert caught.value.code == DAMAGED_PACKET
    assert rig.sensor.template_count() == 0


def test_a_damaged_image_ack_does_not_leave_the_data_on_the_line(rig: Rig) -> None:
    rig.sim.sensor.place(3, "right-ring")
    rig.sensor.capture_image()
    rig.sim.sensor.inject("bad-checksum")
    with pytest.raises(FingerprintError) as caught:
        rig.sensor.read_image()
    assert caught.value.code == DAMAGED_PACKET
    assert rig.sensor.template_count() == 0
    assert len(rig.sensor.read_image().pixels) == 256 * 288


def test_a_damaged_data_packet_fails_the_transfer_but_keeps_the_line_in_step(rig: Rig) -> None:
    rig.sim.sensor.place(3, "right-ring")
    rig.sensor.capture_image()
    rig.sim.sensor.inject("bad-data-checksum:2")
    with pytest.raises(FingerprintError) as caught:
        rig.sensor.read_image()
    assert caught.value.code == DAMAGED_PACKET
    assert rig.sensor.template_count() == 0


def test_unplugged_in_the_middle_of_an_image(rig: Rig) -> None:
    rig.sim.sensor.place(3, "right-ring")
    rig.sensor.capture_image()
    rig.sim.sensor.inject("unplug-mid-image:20")
    with pytest.raises(FingerprintError, match="disconnected") as caught:
        rig.sensor.read_image()
    assert caught.value.code == DISCONNECTED and caught.value.device_lost


@pytest.mark.parametrize("transport", ["pty"])
def test_a_pty_sensor_comes_back_under_a_new_name(make_rig: RigFactory) -> None:
    """What a USB serial adapter does when it is plugged in again."""
    rig = make_rig()
    old = rig.sim.url
    rig.sim.sensor.unplug()
    with pytest.raises(FingerprintError) as caught:
        rig.sensor.template_count()
    assert caught.value.code == DISCONNECTED
    new = rig.sim.endpoint.wait_for_url_change(old, timeout=5)
    assert new != old
    with FingerprintSensor.open(new, timeout=0.5) as sensor:
        assert sensor.template_count() == 0


def test_baud_rate_change_takes_effect_on_both_sides(make_rig: RigFactory) -> None:
    rig = make_rig(pace=True)
    rig.sensor.probe()  # connected: the module's session is running
    assert rig.sim.sensor.status()["pacing_baud"] == 57600
    rig.sensor.set_baud_rate(115200)
    assert rig.port.baudrate == 115200
    assert rig.sensor.read_system_parameters().baud_rate == 115200
    assert rig.sim.sensor.status()["pacing_baud"] == 115200
    with pytest.raises(ValueError, match="9600 x N"):
        rig.sensor.set_baud_rate(100000)


def test_packet_size_change(rig: Rig) -> None:
    enrol(rig, subject=8, page=1)
    rig.sensor.set_packet_size(32)
    assert rig.sensor.read_system_parameters().packet_size == 32
    rig.sensor.load_template(1, 1)
    template = rig.sensor.read_template(1)  # 16 data packets of 32 bytes
    rig.sensor.write_template(2, template)  # the driver sends 32-byte packets too
    assert rig.sensor.match() == 300
    rig.sensor.set_packet_size(256)
    rig.sim.sensor.place(8, "right-index")
    rig.sensor.capture_image()
    assert len(rig.sensor.read_image().pixels) == 256 * 288


def test_wire_traffic_is_logged_at_debug(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="ewp.wire.fingerprint"):
        rig.sensor.probe()
    lines = [r.getMessage() for r in caplog.records if r.name == "ewp.wire.fingerprint"]
    assert lines[0].startswith("-> ef 01 ff ff ff ff 01 00 03 40")
    assert lines[1].startswith("<- ack")


def test_open_reports_a_port_that_is_not_there() -> None:
    with pytest.raises(FingerprintError, match="/dev/ttyNOSUCH0") as caught:
        FingerprintSensor.open("/dev/ttyNOSUCH0")
    assert caught.value.code == CANNOT_OPEN and "ls /dev/serial/by-id/" in str(caught.value)


def test_arguments_are_checked_before_anything_is_sent(rig: Rig) -> None:
    with pytest.raises(ValueError):
        rig.sensor.image_to_template(3)
    with pytest.raises(ValueError):
        rig.sensor.set_packet_size(100)
    with pytest.raises(ValueError):
        rig.sensor.set_security_level(6)
    with pytest.raises(ValueError):
        rig.sensor.read_index_table(4)


def test_the_device_page_lists_every_row_of_the_table() -> None:
    page = (Path(__file__).parents[3] / "docs/devices/fingerprint-r30x.md").read_text("utf-8")
    for row in R30X_ERRORS:
        assert f"| `{row.name}` | {'yes' if row.retryable else ''} | {row.message}:" in page, row
