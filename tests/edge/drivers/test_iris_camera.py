"""The iris camera driver against the simulated camera, over TCP and over a pty.

Every command of docs/iris-protocol.md, every state transition of its table, every result
code (provoked the way a station would meet it, and each one forced, mapped to its typed
error), pushed and polled status, and what the line can do wrong: noise, silence, damaged
frames both ways, lost status events, stale answers, a cable pulled in the middle of an image.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from edge.drivers.iris_camera import (
    IRIS_ERRORS,
    CaptureState,
    CaptureStatus,
    Eye,
    ImageFormat,
    IrisCamera,
    IrisCameraError,
    IrisDeviceInfo,
    IrisResultError,
    IrisRetryCaptureError,
    ResultCode,
    iris_error,
)
from edge.drivers.iris_camera_errors import (
    CANNOT_OPEN,
    CAPTURE_TIMED_OUT,
    DISCONNECTED,
    NOT_ANSWERING,
)
from edge.drivers.iris_frames import Command, IrisCrcError, IrisFrameError, encode_frame
from simulators.iris import Timing
from tests.edge.drivers.conftest import IrisRig, IrisRigFactory, damage_next_writes


@contextlib.contextmanager
def raises_code(code: int, match: str | None = None) -> Iterator[pytest.ExceptionInfo[Any]]:
    """``pytest.raises`` for the driver's one error type, and that it carries ``code``."""
    with pytest.raises(IrisResultError, match=match) as caught:
        yield caught
    assert caught.value.code == code, caught.value


COMPLETE, ABORT = CaptureState.COMPLETE, CaptureState.ABORT
LEFT, RIGHT = Eye.LEFT, Eye.RIGHT
# A capture that stays CAPTURING long enough to be stopped or watched.
SLOW = Timing(find=(0.01, 0.01), capture=(0.8, 0.8), frame_rate=20.0, status_interval=0.05)


def capture(
    rig: IrisRig,
    eye: Eye | str = "both",
    *,
    on_status: Callable[[CaptureStatus], None] | None = None,
    accept_unqualified: bool = False,
    **options: object,
) -> CaptureStatus:
    rig.camera.start_capture(eye, **options)  # type: ignore[arg-type]
    return rig.camera.wait_for_result(
        5, on_status, poll_interval=0.05, accept_unqualified=accept_unqualified
    )


def wait_for_state(rig: IrisRig, state: CaptureState, timeout: float = 3.0) -> CaptureStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = rig.camera.status()
        if status.state is state:
            return status
        assert time.monotonic() < deadline, f"never reached {state.name}: {status}"
        time.sleep(0.01)


def sim_state(rig: IrisRig) -> object:
    return rig.sim.camera.status()["state"]


# --- every command ---------------------------------------------------------------------------


def test_init_and_device_info(iris_rig: IrisRig) -> None:
    camera = iris_rig.camera
    assert camera.init() == (640, 480)
    assert camera.device_info() == IrisDeviceInfo(
        protocol=1,
        width=640,
        height=480,
        bits_per_pixel=8,
        eyes=(LEFT, RIGHT),
        formats=(ImageFormat.RAW, ImageFormat.PNG),
        max_block=4096,
        vid=0x1209,
        pid=0x0001,
        model="ewp-sim iris camera",
        serial_number="SIM-IRIS-0000-00",
        firmware="1.0.0",
    )


def test_a_capture_of_both_eyes_start_to_clear(iris_rig: IrisRig) -> None:
    camera, sim = iris_rig.camera, iris_rig.sim.camera
    sim.present(17)
    camera.init()
    seen: list[CaptureStatus] = []
    final = capture(iris_rig, "both", quality="high", on_status=seen.append)
    assert final.state is COMPLETE and final.result == 0 and final.progress == 100
    assert final.eyes_requested == final.eyes_found == final.eyes_qualified == (LEFT, RIGHT)
    assert final.frames > 0
    states = [status.state for status in seen]
    assert states[0] is CaptureState.READY and states[-1] is COMPLETE
    assert CaptureState.CAPTURING in states
    assert any(status.pushed for status in seen)
    assert camera.last_status is not None and camera.last_status.done

    scores = sim.status()["capture"]["scores"]  # type: ignore[index]
    for eye in (LEFT, RIGHT):
        quality = camera.result_quality(eye)
        assert quality.eye is eye and quality.qualified
        assert quality.total_score == scores[eye.value]["total"] >= 60
        assert quality.usable_area == scores[eye.value]["usable_area"]
        assert 90 <= quality.iris_radius <= 140 and 0 < quality.pupil_radius < quality.iris_radius
        raw = camera.result_image(eye)
        png = camera.result_image(eye, "png")
        assert (raw.width, raw.height, raw.eye, raw.format) == (640, 480, eye, ImageFormat.RAW)
        assert png.format is ImageFormat.PNG and png.encoded is not None
        assert png.pixels == raw.pixels and raw.encoded is None
    assert camera.result_image(LEFT).pixels != camera.result_image(RIGHT).pixels

    camera.clear()
    assert camera.status().state is CaptureState.IDLE
    with raises_code(ResultCode.NO_FRAME_AVAILABLE):
        camera.result_quality(LEFT)  # cleared: nothing left in the camera


def test_one_eye_captures_only_that_eye(iris_rig: IrisRig) -> None:
    iris_rig.sim.camera.present(4)
    final = capture(iris_rig, "right")
    assert final.eyes_requested == final.eyes_qualified == (RIGHT,)
    assert iris_rig.camera.result_quality("right").qualified
    with raises_code(ResultCode.NO_FRAME_AVAILABLE):
        iris_rig.camera.result_quality("left")
    with raises_code(ResultCode.NO_FRAME_AVAILABLE):
        iris_rig.camera.result_image("left")


def test_polled_status_without_events(iris_rig: IrisRig) -> None:
    iris_rig.sim.camera.present(5)
    seen: list[CaptureStatus] = []
    final = capture(iris_rig, "left", push_status=False, on_status=seen.append)
    assert final.state is COMPLETE and not final.push_enabled
    assert not any(status.pushed for status in seen)
    assert iris_rig.sim.camera.counters["events"] == 0


def test_frame_based_capture_stops_once_enough_frames_qualified(
    make_iris_rig: IrisRigFactory,
) -> None:
    rig = make_iris_rig(timing=SLOW)
    rig.sim.camera.present(6)
    started = time.monotonic()
    final = capture(rig, "left", mode="frame-based", count=2)
    assert final.state is COMPLETE and final.result == 0
    assert time.monotonic() - started < SLOW.capture[0]
    started = time.monotonic()
    capture(rig, "left", mode="time-based")
    assert time.monotonic() - started >= SLOW.capture[0]


def test_quality_modes_set_what_qualifies(iris_rig: IrisRig) -> None:
    iris_rig.sim.camera.present(8, occlusion=0.42)
    normal = capture(iris_rig, "left", quality="normal")
    score = iris_rig.camera.result_quality(LEFT).total_score
    assert 40 <= score < 60 and normal.eyes_qualified == (LEFT,)
    with raises_code(ResultCode.NO_QUALIFIED_FRAME):
        capture(iris_rig, "left", quality="high")
    assert not iris_rig.camera.result_quality(LEFT).qualified


def test_operator_initiated_capture_waits_for_the_trigger(iris_rig: IrisRig) -> None:
    camera = iris_rig.camera
    iris_rig.sim.camera.present(9)
    camera.start_capture("both", operation="operator")
    time.sleep(0.15)  # a person is in view, but the operator has not triggered yet
    waiting = camera.status()
    assert waiting.state is CaptureState.READY and waiting.awaiting_trigger
    camera.trigger()
    assert not camera.status().awaiting_trigger
    assert camera.wait_for_result(5, poll_interval=0.05).state is COMPLETE


def test_the_scripted_applicant_is_captured_k_times_then_the_next_steps_up(
    make_iris_rig: IrisRigFactory,
) -> None:
    rig = make_iris_rig(mode="auto", captures_per_person=2)
    persons = []
    for _ in range(3):
        persons.append(rig.sim.camera.status()["in_view"]["person"])  # type: ignore[index]
        capture(rig, "both")
    assert persons[0] == persons[1] != persons[2]


# --- every state transition ------------------------------------------------------------------


def test_power_up_is_idle_and_uninitialised_until_init(iris_rig: IrisRig) -> None:
    status = iris_rig.camera.status()  # GET_STATUS works before INIT
    assert (status.state, status.initialised, status.result) == (CaptureState.IDLE, False, 0)
    iris_rig.camera.init()
    assert iris_rig.camera.status().initialised


def test_ready_to_capturing_to_complete_with_events(make_iris_rig: IrisRigFactory) -> None:
    rig = make_iris_rig(timing=SLOW)
    rig.sim.camera.present(10)
    seen: list[CaptureStatus] = []
    capture(rig, "left", on_status=seen.append)
    pushed = [s for s in seen if s.pushed]
    assert pushed[0].state is CaptureState.READY
    capturing = [s for s in pushed if s.state is CaptureState.CAPTURING]
    assert len(capturing) >= 5  # progress events every status interval
    progress = [s.progress for s in capturing]
    assert progress == sorted(progress) and progress[-1] > 50
    assert pushed[-1].state is COMPLETE and pushed[-1].progress == 100


def test_ready_times_out_to_abort_when_no_eye_is_in_view(iris_rig: IrisRig) -> None:
    iris_rig.camera.start_capture("both", timeout=0.3)  # nobody in front of the camera
    assert iris_rig.camera.status().state is CaptureState.READY
    with raises_code(ResultCode.NO_FRAME_AVAILABLE, match="no eye found") as caught:
        iris_rig.camera.wait_for_result(5, poll_interval=0.05)
    assert caught.value.status is not None and caught.value.status.state is ABORT


def test_closed_eyes_are_not_found(iris_rig: IrisRig) -> None:
    iris_rig.sim.camera.present(11, open="none")
    with raises_code(ResultCode.NO_FRAME_AVAILABLE):
        capture(iris_rig, "both", timeout=0.3)


def test_stop_in_ready_and_in_capturing_aborts(make_iris_rig: IrisRigFactory) -> None:
    rig = make_iris_rig(timing=SLOW)
    camera = rig.camera
    camera.start_capture("both")
    camera.stop()
    assert (camera.status().state, camera.status().result) == (ABORT, 0x14)
    rig.sim.camera.present(12)
    camera.start_capture("both")  # ABORT -> READY
    wait_for_state(rig, CaptureState.CAPTURING)
    camera.stop()
    with raises_code(ResultCode.CAPTURE_ABORTED) as caught:
        camera.wait_for_result(2, poll_interval=0.05)
    assert caught.value.status is not None and caught.value.status.result == 0x14
    with raises_code(ResultCode.CAPTURE_ABORTED):
        camera.result_quality(LEFT)  # in ABORT, results answer the abort's code


def test_a_sensor_fault_while_capturing_aborts(iris_rig: IrisRig) -> None:
    iris_rig.sim.camera.present(13)
    iris_rig.sim.camera.inject("sensor-fault")
    with raises_code(ResultCode.SENSOR_FAULT, match="replace the camera"):
        capture(iris_rig, "both")
    assert iris_rig.camera.status().state is ABORT


@pytest.mark.parametrize(
    ("left", "right", "eye", "result", "error"),
    [
        (0.1, 0.1, "both", 0x00, False),
        (0.8, 0.1, "both", 0x12, True),
        (0.1, 0.8, "both", 0x13, True),
        (0.8, 0.8, "both", 0x11, True),
        (0.8, 0.1, "left", 0x11, True),
    ],
    ids=["ok", "left-unqualified", "right-unqualified", "none-qualified", "single-unqualified"],
)
def test_capturing_to_complete_with_each_result(
    iris_rig: IrisRig,
    left: float,
    right: float,
    eye: str,
    result: int,
    error: bool,
) -> None:
    sim, camera = iris_rig.sim.camera, iris_rig.camera
    sim.present(14, left={"occlusion": left}, right={"occlusion": right})
    final = capture(iris_rig, eye, accept_unqualified=True)
    assert (final.state, final.result) == (COMPLETE, result)
    for single in Eye(eye).single_eyes():
        quality = camera.result_quality(single)
        assert quality.qualified == (single in final.eyes_qualified)
        if quality.qualified:
            assert quality.total_score >= 40
        else:
            assert quality.total_score < 40 and quality.usable_area < 40
    if error:
        with raises_code(result) as caught:
            capture(iris_rig, eye)
        assert isinstance(caught.value, IrisRetryCaptureError)
        assert caught.value.status is not None and caught.value.status.result == result


def test_an_unqualified_eye_image_needs_asking_for(iris_rig: IrisRig) -> None:
    iris_rig.sim.camera.present(15, left={"open": False})  # the left eye is closed
    final = capture(iris_rig, "both", accept_unqualified=True)
    assert final.result == 0x12 and final.eyes_found == (RIGHT,)
    with raises_code(ResultCode.NO_FRAME_AVAILABLE):
        iris_rig.camera.result_image(LEFT, unqualified=True)  # never in view: no frame
    iris_rig.sim.camera.present(15, left={"occlusion": 0.85})
    capture(iris_rig, "both", accept_unqualified=True)
    with raises_code(ResultCode.LEFT_FRAME_UNQUALIFIED):
        iris_rig.camera.result_image(LEFT)
    image = iris_rig.camera.result_image(LEFT, unqualified=True)
    assert len(image.pixels) == 640 * 480


def test_clear_and_start_from_complete_and_abort(iris_rig: IrisRig) -> None:
    camera = iris_rig.camera
    iris_rig.sim.camera.present(16)
    capture(iris_rig, "left")
    camera.stop()  # COMPLETE: nothing to stop
    assert camera.status().state is COMPLETE
    camera.clear()  # COMPLETE -> IDLE
    assert camera.status().state is CaptureState.IDLE
    camera.clear()  # IDLE -> IDLE
    camera.stop()
    assert camera.status().state is CaptureState.IDLE
    capture(iris_rig, "left")
    camera.start_capture("right")  # COMPLETE -> READY, the old result discarded
    assert camera.status().state in (CaptureState.READY, CaptureState.CAPTURING)
    camera.stop()
    camera.stop()  # ABORT: nothing to stop
    assert camera.status().state is ABORT
    camera.clear()  # ABORT -> IDLE
    assert camera.status().state is CaptureState.IDLE


def test_status_events_follow_commands_too(iris_rig: IrisRig) -> None:
    camera = iris_rig.camera
    camera.start_capture("both")  # READY event
    camera.stop()  # ABORT event
    camera.clear()  # IDLE event
    assert camera.status().state is CaptureState.IDLE  # the IDLE event came before its answer
    assert camera.counters["events"] == 3
    assert [status.state for status in camera._events] == [CaptureState.READY, ABORT,
                                                           CaptureState.IDLE]  # fmt: skip
    assert camera.last_status is not None and not camera.last_status.pushed


# --- every result code ---------------------------------------------------------------------


def absent_then_start(rig: IrisRig) -> None:
    rig.camera.start_capture("both")  # nobody in view: stays READY


NATURAL_CODES: list[tuple[int, Callable[[IrisRig], object]]] = [
    (0x01, lambda rig: (damage_next_writes(rig.port, 3), rig.camera.clear())),
    (0x03, lambda rig: rig.camera._request(Command.START_CAPTURE, bytes([9, 0, 0, 0, 0, 0, 0, 9]))),
    (0x03, lambda rig: rig.camera._request(Command.GET_RESULT_QUALITY, b"")),
    (0x04, lambda rig: (setattr(rig.camera, "auto_init", False), rig.camera.start_capture())),
    (0x05, lambda rig: (absent_then_start(rig), rig.camera.start_capture())),
    (0x05, lambda rig: (absent_then_start(rig), rig.camera.clear())),
    (0x05, lambda rig: (absent_then_start(rig), rig.camera.result_quality("left"))),
    (0x05, lambda rig: (rig.sim.camera.inject("busy"), rig.camera.start_capture())),
    (0x06, lambda rig: rig.camera.trigger()),
    (0x10, lambda rig: rig.camera.result_image("left")),
    (0x10, lambda rig: (rig.sim.camera.present(1), rig.sim.camera.inject("no-eye"),
                        capture(rig, timeout=0.2))),
    (0x11, lambda rig: (rig.sim.camera.present(1, blur=5.0), capture(rig))),
    (0x11, lambda rig: (rig.sim.camera.present(1), rig.sim.camera.inject("occlusion"),
                        capture(rig))),
    (0x12, lambda rig: (rig.sim.camera.present(1, left={"blur": 5.0}), capture(rig))),
    (0x13, lambda rig: (rig.sim.camera.present(1, right={"occlusion": 0.9}), capture(rig))),
    (0x14, lambda rig: (absent_then_start(rig), rig.camera.stop(),
                        rig.camera.wait_for_result(2, poll_interval=0.05))),
    (0x20, lambda rig: (rig.sim.camera.present(1), rig.sim.camera.inject("sensor-fault"),
                        capture(rig))),
]  # fmt: skip


@pytest.mark.parametrize(
    ("code", "provoke"),
    NATURAL_CODES,
    ids=[f"{code:#04x}-{n}" for n, (code, _) in enumerate(NATURAL_CODES)],
)
def test_each_error_case_gets_its_result_code_and_typed_error(
    iris_rig: IrisRig, code: int, provoke: Callable[[IrisRig], object]
) -> None:
    with raises_code(code) as caught:
        provoke(iris_rig)
    assert f"{code:#06x}" in str(caught.value) and IRIS_ERRORS[code].advice in str(caught.value)
    assert iris_rig.camera.status().state in CaptureState  # the line is still in step


CAMERA_CODES = sorted(row.code for row in IRIS_ERRORS if row.code > 0)


@pytest.mark.parametrize("code", CAMERA_CODES, ids=lambda c: f"{c:#04x}")
def test_every_result_code_raises_its_row(iris_rig: IrisRig, code: int) -> None:
    iris_rig.sim.camera.inject(f"code:get_status:{code:#x}:3")  # 3: a NAK code is sent again
    with raises_code(code) as caught:
        iris_rig.camera.status()
    error = caught.value
    row = IRIS_ERRORS[code]
    assert isinstance(error, IrisCameraError) and error.name == row.name
    assert row.message in str(error) and row.advice in str(error) and "GET_STATUS" in str(error)
    assert isinstance(error, IrisRetryCaptureError) == row.retryable
    iris_rig.sim.camera.clear_faults()
    assert iris_rig.camera.status().state is CaptureState.IDLE


def test_an_unknown_result_code_is_still_an_iris_error(iris_rig: IrisRig) -> None:
    iris_rig.sim.camera.inject("code:get_info:0x99")
    with raises_code(0x99, match="unknown result code") as caught:
        iris_rig.camera.device_info()
    assert "0x0099" in str(caught.value) and not caught.value.retryable


def test_error_types_follow_the_table() -> None:
    retryable = {row.code for row in IRIS_ERRORS if row.retryable}
    assert retryable == {0x10, 0x11, 0x12, 0x13, CAPTURE_TIMED_OUT}
    for row in IRIS_ERRORS:
        assert isinstance(iris_error(row.code), IrisRetryCaptureError) == row.retryable
    assert {row.code for row in IRIS_ERRORS if row.code > 0} == set(ResultCode) - {0}
    assert iris_error(DISCONNECTED).device_lost and not iris_error(NOT_ANSWERING).device_lost
    assert issubclass(IrisCrcError, IrisCameraError) and issubclass(IrisFrameError, IrisCameraError)
    no_qualified = str(iris_error(ResultCode.NO_QUALIFIED_FRAME))
    assert "remove glasses" in no_qualified and "look at the green light" in no_qualified


# --- what the line can do ------------------------------------------------------------------


def test_resync_after_line_noise(iris_rig: IrisRig, caplog: pytest.LogCaptureFixture) -> None:
    iris_rig.sim.camera.inject("garbage:300")
    with caplog.at_level(logging.DEBUG, logger="ewp.wire.iris"):
        assert iris_rig.camera.init() == (640, 480)
    assert any("line noise" in record.getMessage() for record in caplog.records)


def test_a_timeout_on_silence_says_where_and_what_to_do(make_iris_rig: IrisRigFactory) -> None:
    iris_rig = make_iris_rig(timeout=0.3)
    iris_rig.sim.camera.inject("silence:1")
    with raises_code(NOT_ANSWERING) as caught:
        iris_rig.camera.init()
    message = str(caught.value)
    assert iris_rig.camera.port_name in message and "check the USB cable" in message
    assert "ewp sensor iris info --port" in message
    assert iris_rig.camera.init() == (640, 480)  # answered again


def test_silence_for_a_time(make_iris_rig: IrisRigFactory) -> None:
    rig = make_iris_rig(timeout=0.3)
    rig.sim.camera.inject("silence:0.7s")
    started = time.monotonic()
    timeouts = 0
    while True:
        try:
            rig.camera.status()
            break
        except IrisResultError as exc:
            assert exc.code == NOT_ANSWERING
            timeouts += 1
            assert timeouts < 10
    assert timeouts >= 1 and time.monotonic() - started >= 0.7


def test_a_late_answer_is_stale_and_dropped(iris_rig: IrisRig) -> None:
    iris_rig.port.write(encode_frame(Command.GET_INFO, 200))  # nobody waits for this answer
    time.sleep(0.1)
    assert iris_rig.camera.status().state is CaptureState.IDLE
    assert iris_rig.camera.counters["stale_frames"] == 1


def test_a_damaged_answer_to_an_idempotent_command_is_asked_again(iris_rig: IrisRig) -> None:
    iris_rig.sim.camera.inject("bad-crc")
    assert iris_rig.camera.status().state is CaptureState.IDLE
    assert iris_rig.camera.counters["retries"] == 1
    iris_rig.sim.camera.inject("bad-crc:3")
    with pytest.raises(IrisCrcError, match="CRC"):
        iris_rig.camera.device_info()
    assert iris_rig.camera.device_info().width == 640


def test_a_damaged_answer_to_a_state_change_is_not_repeated(iris_rig: IrisRig) -> None:
    iris_rig.camera.init()
    iris_rig.sim.camera.inject("bad-crc")
    with pytest.raises(IrisCrcError):
        iris_rig.camera.start_capture("both")
    assert sim_state(iris_rig) == "READY"  # it was done once, and only once
    assert iris_rig.sim.camera.counters["commands"] == 2


def test_a_damaged_command_is_sent_again(iris_rig: IrisRig) -> None:
    damage_next_writes(iris_rig.port)
    assert iris_rig.camera.init() == (640, 480)
    assert iris_rig.camera.counters["retries"] == 1
    assert iris_rig.sim.camera.counters["bad_frames"] == 1


def test_damaged_and_lost_status_events_fall_back_to_polling(iris_rig: IrisRig) -> None:
    iris_rig.sim.camera.present(20)
    iris_rig.camera.init()
    iris_rig.sim.camera.inject("drop-events:1000")
    seen: list[CaptureStatus] = []
    final = capture(iris_rig, "both", on_status=seen.append)
    assert final.state is COMPLETE and not any(status.pushed for status in seen)
    iris_rig.sim.camera.clear_faults()
    iris_rig.camera.start_capture("both")
    iris_rig.sim.camera.inject("bad-crc:2")  # the next events (or a status answer)
    assert iris_rig.camera.wait_for_result(5, poll_interval=0.05).state is COMPLETE
    assert iris_rig.camera.counters["damaged_frames"] >= 1


def test_unplugged_in_the_middle_of_an_image(iris_rig: IrisRig) -> None:
    iris_rig.sim.camera.present(21)
    capture(iris_rig, "left")
    iris_rig.sim.camera.inject("unplug-mid-image:5")
    with raises_code(DISCONNECTED, match="disconnected"):
        iris_rig.camera.result_image(LEFT)


def test_unplugged_while_waiting_for_the_result(iris_rig: IrisRig) -> None:
    iris_rig.camera.start_capture("both")
    iris_rig.sim.camera.unplug()
    with raises_code(DISCONNECTED, match="plugged in"):
        iris_rig.camera.wait_for_result(3, poll_interval=0.05)


@pytest.mark.parametrize("transport", ["pty"])
def test_a_pty_camera_comes_back_under_a_new_name_and_is_initialised_again(
    make_iris_rig: IrisRigFactory,
) -> None:
    """What a USB CDC device does when it is plugged in again."""
    rig = make_iris_rig()
    rig.camera.init()
    old = rig.sim.url
    rig.sim.camera.unplug()
    with raises_code(DISCONNECTED):
        rig.camera.status()
    new = rig.sim.endpoint.wait_for_url_change(old, timeout=5)
    assert new != old
    rig.sim.camera.present(22)
    with IrisCamera.open(new, timeout=1.0) as camera:
        camera.start_capture("left")  # NOT_INITIALISED, then INIT and once more
        assert camera.wait_for_result(5, poll_interval=0.05).state is COMPLETE


@pytest.mark.parametrize("transport", ["tcp"])
def test_a_new_connection_is_a_power_up(make_iris_rig: IrisRigFactory) -> None:
    rig = make_iris_rig(auto_init=False)
    rig.camera.init()
    rig.port.close()
    with IrisCamera.open(rig.sim.url, timeout=1.0, auto_init=False) as camera:
        with raises_code(ResultCode.NOT_INITIALISED, match="not initialised"):
            camera.start_capture()
        camera.init()
        camera.start_capture()


def test_waiting_too_long_stops_the_capture(iris_rig: IrisRig) -> None:
    iris_rig.camera.start_capture("both", timeout=None)  # the camera would look forever
    with raises_code(CAPTURE_TIMED_OUT, match="was stopped"):
        iris_rig.camera.wait_for_result(0.3, poll_interval=0.05)
    assert iris_rig.camera.status().state is ABORT


def test_wire_traffic_is_logged_at_debug(
    iris_rig: IrisRig, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="ewp.wire.iris"):
        iris_rig.camera.status()
    lines = [r.getMessage() for r in caplog.records if r.name == "ewp.wire.iris"]
    assert lines[0].startswith("-> a5 5a 00 00 00 04 01")
    assert lines[1].startswith("<- get_status-response #1 [10] 00")


def test_open_reports_a_port_that_is_not_there() -> None:
    with raises_code(CANNOT_OPEN, match="/dev/ttyNOSUCH0") as caught:
        IrisCamera.open("/dev/ttyNOSUCH0")
    assert "ewp sensor iris list" in str(caught.value) and caught.value.device_lost


def test_arguments_are_checked_before_anything_is_sent(iris_rig: IrisRig) -> None:
    camera = iris_rig.camera
    for call in (
        lambda: camera.start_capture("middle"),
        lambda: camera.start_capture(quality="ultra"),
        lambda: camera.start_capture(count=3),  # count is for frame-based captures
        lambda: camera.start_capture(mode="frame-based", count=0),
        lambda: camera.start_capture(timeout=0),
        lambda: camera.result_quality("both"),
        lambda: camera.result_image("left", "jpeg"),
        lambda: camera.wait_for_result(0),
    ):
        with pytest.raises(ValueError):
            call()
    assert iris_rig.sim.camera.counters["commands"] == 0
