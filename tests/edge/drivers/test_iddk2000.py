"""The IDDK 2000 binding against the fake libIddk2000.so (C, built by the suite with cc).

Every call the binding makes, every state transition, every injected fault, both eyes and
one eye, a camera unplugged and plugged back in, a library call that hangs; and the layouts:
each ctypes struct's size (and the fields that padding would move) equals C's sizeof.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.drivers.iddk2000 import (
    CaptureStatus,
    EyeSubtype,
    IddkCamera,
    IddkError,
    IddkLibrary,
    LedId,
    QualityMode,
)
from edge.drivers.iddk2000_defs import IDDK_ERRORS, STRUCTS, IddkImage
from protocol.iso19794_6 import EyeLabel, ImageFormat, decode_iris_record
from simulators.fake_iddk2000 import FakeFault, FakeIddk
from simulators.synthetic_eyes import EyeScene, render_eye


@pytest.fixture
def library(fake_iddk_library: Path) -> IddkLibrary:
    return IddkLibrary.load(fake_iddk_library)


@pytest.fixture
def camera(library: IddkLibrary, fake_iddk: FakeIddk) -> Iterator[IddkCamera]:
    fake_iddk.timing(5, 20)
    cam = IddkCamera.open(library, timeout=2.0)
    yield cam
    cam.close()
    assert fake_iddk.open_handles() == 0


@pytest.mark.parametrize("name", sorted(STRUCTS))
def test_every_struct_has_the_size_c_gives_it(name: str, fake_iddk: FakeIddk) -> None:
    assert ctypes.sizeof(STRUCTS[name]) == fake_iddk.struct_size(name)


@pytest.mark.parametrize(
    "field",
    [
        "IddkImage.imageData",
        "IddkImage.imageDataLen",
        "IddkDeviceInfo.propertyFlag",
        "IddkDeviceInfo.deviceFeatures",
        "IddkConfig.resetOnOpenDevice",
        "IddkDataBuffer.data",
    ],
)
def test_fields_after_padding_sit_where_c_puts_them(field: str, fake_iddk: FakeIddk) -> None:
    struct, member = field.split(".")
    assert getattr(STRUCTS[struct], member).offset == fake_iddk.field_offset(field)


def test_the_library_is_loaded_once_per_path(fake_iddk_library: Path) -> None:
    assert IddkLibrary.load(fake_iddk_library) is IddkLibrary.load(str(fake_iddk_library))


def test_a_missing_library_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(IddkError) as caught:
        IddkLibrary.load(tmp_path / "libIddk2000.so")
    assert caught.value.name == "EWP_LIBRARY_NOT_LOADED"
    assert "docs/devices/iris-irishield-iddk.md" in str(caught.value)


def test_version_scan_open_info_and_close(library: IddkLibrary, fake_iddk: FakeIddk) -> None:
    assert library.sdk_version() == "3.3.1"
    assert library.scan() == ["IriShield-USB-FAKE:0001"]
    with IddkCamera.open(library, "FAKE") as camera:
        info = camera.info
        assert info.binocular and info.product.startswith("IriShield-USB BK")
        assert info.serial_number == "FAKE0000000000001"  # all 17 characters, no terminator
        assert (info.image_width, info.image_height) == (640, 480)
        assert fake_iddk.open_handles() == 1
    assert fake_iddk.open_handles() == 0
    for call in ("Iddk_OpenDevice", "Iddk_GetDeviceInfo", "Iddk_InitCamera"):
        assert fake_iddk.calls(call) == 1
    assert fake_iddk.calls("Iddk_DeinitCamera") == fake_iddk.calls("Iddk_CloseDevice") == 1
    camera.close()  # twice is harmless
    assert fake_iddk.calls("Iddk_CloseDevice") == 1


def test_a_device_name_that_matches_nothing_is_not_found(
    library: IddkLibrary, fake_iddk: FakeIddk
) -> None:
    with pytest.raises(IddkError) as caught:
        IddkCamera.open(library, "MK2120U-SERIAL-9")
    assert caught.value.code == 2 and caught.value.device_lost
    assert fake_iddk.calls("Iddk_OpenDevice") == 0


def test_opening_twice_is_refused_with_advice(camera: IddkCamera, library: IddkLibrary) -> None:
    with pytest.raises(IddkError) as caught:
        IddkCamera.open(library)
    assert caught.value.name == "IDDK_DEVICE_ALREADY_OPEN"
    assert "close the other program" in caught.value.advice


def test_the_state_machine_idle_ready_capturing_complete_idle(
    camera: IddkCamera, fake_iddk: FakeIddk
) -> None:
    fake_iddk.timing(60, 60)
    assert camera.status() == CaptureStatus.IDLE
    camera.start_capture(EyeSubtype.BOTH)
    assert camera.status() == CaptureStatus.READY
    seen = set()
    while (state := camera.status()) != CaptureStatus.COMPLETE:
        seen.add(state)
    assert seen == {CaptureStatus.READY, CaptureStatus.CAPTURING}
    camera.clear()
    assert camera.status() == CaptureStatus.IDLE


def test_stop_aborts_and_clear_returns_to_idle(camera: IddkCamera, fake_iddk: FakeIddk) -> None:
    fake_iddk.timing(5, 5000)
    camera.start_capture(EyeSubtype.BOTH)
    with pytest.raises(IddkError) as busy:
        camera.start_capture(EyeSubtype.BOTH)
    assert busy.value.name == "IDDK_DEV_BUSY" and busy.value.retryable
    camera.stop()
    assert camera.status() == CaptureStatus.ABORT
    with pytest.raises(IddkError) as aborted:
        camera.wait_for_result(1.0)
    assert aborted.value.name == "EWP_CAPTURE_ABORTED" and aborted.value.retryable
    camera.clear()
    assert camera.status() == CaptureStatus.IDLE


def test_a_capture_that_runs_out_of_time_is_stopped(
    camera: IddkCamera, fake_iddk: FakeIddk
) -> None:
    fake_iddk.timing(5, 5000)
    camera.start_capture(EyeSubtype.BOTH)
    with pytest.raises(IddkError) as caught:
        camera.wait_for_result(0.1)
    assert caught.value.name == "EWP_CAPTURE_TIMED_OUT" and caught.value.retryable
    assert fake_iddk.calls("Iddk_StopCapture") == 1
    assert camera.status() == CaptureStatus.ABORT


def test_capture_before_init_is_refused(library: IddkLibrary, camera: IddkCamera) -> None:
    library.check("Iddk_DeinitCamera", camera._h(), timeout=1.0)
    with pytest.raises(IddkError) as caught:
        camera.start_capture(EyeSubtype.BOTH)
    assert caught.value.name == "IDDK_SE_NOT_INIT"


def test_both_eyes_images_quality_and_the_cameras_iso_record(
    camera: IddkCamera, fake_iddk: FakeIddk
) -> None:
    right = render_eye(EyeScene(seed=3))
    fake_iddk.eye("right", total=91, usable=77, pixels=right)
    fake_iddk.eye("left", total=64, usable=58, scene=EyeScene(seed=4))
    camera.start_capture(EyeSubtype.BOTH, quality=QualityMode.HIGH)
    camera.wait_for_result(2.0)
    assert {eye: (q.total_score, q.usable_area) for eye, q in camera.result_quality().items()} == {
        "right": (91, 77),
        "left": (64, 58),
    }
    images = camera.result_images()
    assert set(images) == {"right", "left"}
    assert images["right"].pixels == right and (images["right"].width, images["right"].height) == (
        640,
        480,
    )
    (representation,) = decode_iris_record(
        camera.result_iso_image(EyeSubtype.RIGHT)
    ).representations
    assert representation.eye == EyeLabel.RIGHT
    assert representation.image_format == ImageFormat.MONO_RAW
    assert representation.image_data == right
    assert representation.quality[0].score == 91
    camera.clear()


def test_one_eye_on_a_binocular_camera(camera: IddkCamera) -> None:
    camera.start_capture(EyeSubtype.LEFT)
    camera.wait_for_result(2.0)
    assert set(camera.result_images()) == {"left"}
    assert camera.result_quality()["right"].total_score == 0  # not asked for, not seen


def test_a_monocular_camera_labels_the_eye_it_was_asked_for(
    library: IddkLibrary, fake_iddk: FakeIddk
) -> None:
    fake_iddk.binocular(False)
    fake_iddk.eye("left", total=70, usable=66)
    with IddkCamera.open(library) as camera:
        assert not camera.info.binocular
        with pytest.raises(IddkError) as caught:
            camera.start_capture(EyeSubtype.BOTH)
        assert caught.value.name == "IDDK_WRONG_EYE_SUBTYPE"
        camera.start_capture(EyeSubtype.LEFT)
        camera.wait_for_result(2.0)
        assert list(camera.result_images()) == ["left"]
        assert camera.result_quality() == {"left": camera.result_quality()["left"]}
        assert camera.result_quality()["left"].total_score == 70


@pytest.mark.parametrize(
    ("fault", "code", "images"),
    [
        (FakeFault.NO_QUALIFIED_FRAME, 0x3006, None),
        (FakeFault.RIGHT_UNQUALIFIED, None, {"left"}),
        (FakeFault.LEFT_UNQUALIFIED, None, {"right"}),
    ],
)
def test_unqualified_frames(
    camera: IddkCamera,
    fake_iddk: FakeIddk,
    fault: FakeFault,
    code: int | None,
    images: set[str] | None,
) -> None:
    fake_iddk.inject(fault)
    camera.start_capture(EyeSubtype.BOTH)
    camera.wait_for_result(2.0)
    if code is not None:
        with pytest.raises(IddkError) as caught:
            camera.result_images()
        assert caught.value.code == code and caught.value.retryable
        assert "look at the camera" in caught.value.advice
    else:
        assert set(camera.result_images()) == images


def test_a_low_score_is_unqualified_in_high_mode_only(
    camera: IddkCamera, fake_iddk: FakeIddk
) -> None:
    fake_iddk.eye("right", total=50)
    camera.start_capture(EyeSubtype.BOTH, quality=QualityMode.NORMAL)
    camera.wait_for_result(2.0)
    assert set(camera.result_images()) == {"right", "left"}
    camera.start_capture(EyeSubtype.BOTH, quality=QualityMode.HIGH)
    camera.wait_for_result(2.0)
    assert set(camera.result_images()) == {"left"}
    with pytest.raises(IddkError) as caught:
        camera.result_iso_image(EyeSubtype.RIGHT)
    assert caught.value.name == "IDDK_SE_RIGHT_FRAME_UNQUALIFIED"


def test_no_eye_in_front_of_the_camera(camera: IddkCamera, fake_iddk: FakeIddk) -> None:
    fake_iddk.eye("right", present=False)
    fake_iddk.eye("left", present=False)
    camera.start_capture(EyeSubtype.BOTH)
    camera.wait_for_result(2.0)
    with pytest.raises(IddkError) as caught:
        camera.result_images()
    assert caught.value.name == "IDDK_SE_NO_FRAME_AVAILABLE" and caught.value.retryable


def test_results_before_a_capture_say_no_frame(camera: IddkCamera) -> None:
    for read in (camera.result_images, camera.result_quality):
        with pytest.raises(IddkError) as caught:
            read()
        assert caught.value.code == 0x3005


def test_device_not_found_until_the_fault_clears(library: IddkLibrary, fake_iddk: FakeIddk) -> None:
    fake_iddk.inject(FakeFault.DEVICE_NOT_FOUND)
    assert library.scan() == []
    with pytest.raises(IddkError) as caught:
        IddkCamera.open(library)
    assert caught.value.device_lost and "lsusb" in caught.value.advice
    fake_iddk.inject(FakeFault.NONE)
    with IddkCamera.open(library):
        pass


def test_an_io_timeout_mid_capture(camera: IddkCamera, fake_iddk: FakeIddk) -> None:
    fake_iddk.timing(5, 300)
    fake_iddk.inject(FakeFault.IO_TIMEOUT_MID_CAPTURE)
    camera.start_capture(EyeSubtype.BOTH)
    with pytest.raises(IddkError) as caught:
        camera.wait_for_result(2.0)
    assert caught.value.code == 9 and caught.value.device_lost
    assert "did not answer in time" in str(caught.value)
    assert fake_iddk.status() == CaptureStatus.ABORT


def test_unplugged_mid_capture_then_plugged_back_in(
    camera: IddkCamera, library: IddkLibrary, fake_iddk: FakeIddk
) -> None:
    fake_iddk.timing(5, 300)
    fake_iddk.inject(FakeFault.UNPLUG_MID_CAPTURE)
    camera.start_capture(EyeSubtype.BOTH)
    with pytest.raises(IddkError) as caught:
        camera.wait_for_result(2.0)
    assert caught.value.name == "IDDK_DEVICE_IO_FAILED" and caught.value.device_lost
    camera.close()  # the handle is dead: closing it must not raise
    assert library.scan() == []
    fake_iddk.plug()
    assert library.scan() == ["IriShield-USB-FAKE:0001"]
    with IddkCamera.open(library) as again:
        again.start_capture(EyeSubtype.BOTH)
        again.wait_for_result(2.0)
        assert set(again.result_images()) == {"right", "left"}


def test_a_handle_from_before_a_replug_is_dead(camera: IddkCamera, fake_iddk: FakeIddk) -> None:
    fake_iddk.unplug()
    fake_iddk.plug()
    with pytest.raises(IddkError) as caught:
        camera.status()
    assert caught.value.device_lost


def test_the_leds(camera: IddkCamera, fake_iddk: FakeIddk) -> None:
    camera.led(LedId.GREEN, True)
    assert fake_iddk.led(LedId.GREEN) == 1
    camera.led(LedId.GREEN, False)
    assert fake_iddk.led(LedId.GREEN) == 0


def test_a_call_that_hangs_is_bounded_and_the_camera_still_closes(
    library: IddkLibrary, fake_iddk: FakeIddk
) -> None:
    fake_iddk.delay("Iddk_InitCamera", 400)
    with pytest.raises(IddkError) as caught:
        IddkCamera.open(library, timeout=0.1)
    assert caught.value.name == "EWP_CALL_TIMED_OUT" and "Iddk_InitCamera" in str(caught.value)
    # The close waited for the overrunning call, then closed: nothing is left open.
    assert fake_iddk.open_handles() == 0
    fake_iddk.delay("Iddk_InitCamera", 0)
    with IddkCamera.open(library):
        pass


def test_a_call_that_never_returns_wedges_the_library_with_advice(
    fake_iddk_library: Path, fake_iddk: FakeIddk
) -> None:
    library = IddkLibrary(str(fake_iddk_library))  # its own worker: the wedge stays here
    fake_iddk.delay("Iddk_GetSdkVersion", 700)
    with pytest.raises(IddkError):
        library.sdk_version(timeout=0.05)
    with pytest.raises(IddkError) as caught:
        library.scan(timeout=0.05)
    assert caught.value.name == "EWP_LIBRARY_WEDGED" and "restart" in caught.value.advice


def test_every_error_names_its_code_and_says_what_to_do() -> None:
    for row in IDDK_ERRORS:
        text = str(IddkErrorFor(row.code))
        assert row.name in text and row.advice in text
    unknown = IddkErrorFor(0x7777)
    assert "0x7777" in str(unknown) and not unknown.retryable


def IddkErrorFor(code: int) -> IddkError:  # noqa: N802 - reads as the constructor it wraps
    return IddkError(code, call="Iddk_Test")


def test_the_image_struct_is_read_from_c_memory() -> None:
    pixels = (ctypes.c_ubyte * 4)(1, 2, 3, 4)
    image = IddkImage(1, 2, 2, 2, ctypes.cast(pixels, ctypes.POINTER(ctypes.c_ubyte)), 4)
    assert ctypes.string_at(image.imageData, image.imageDataLen) == b"\x01\x02\x03\x04"


def test_every_call_the_binding_declares_reaches_the_library(
    library: IddkLibrary, fake_iddk: FakeIddk
) -> None:
    """A tour of the binding: each declared IDDK function is called at least once for real."""
    from edge.drivers.iddk2000 import _SIGNATURES

    library.sdk_version()
    with IddkCamera.open(library) as camera:
        camera.led(LedId.BLUE, True)
        camera.start_capture(EyeSubtype.BOTH)
        camera.wait_for_result(2.0)
        camera.result_quality()
        camera.result_images()
        camera.result_iso_image(EyeSubtype.LEFT)
        camera.clear()
        camera.start_capture(EyeSubtype.RIGHT)
        camera.stop()
        camera.clear()
    unreached = [name for name in _SIGNATURES if fake_iddk.calls(name) < 1]
    assert unreached == []
    assert fake_iddk.open_handles() == 0


def test_a_call_hung_for_good_does_not_keep_the_process_from_exiting(
    fake_iddk_library: Path,
) -> None:
    script = f"""
from edge.drivers.iddk2000 import IddkError, IddkLibrary
from simulators.fake_iddk2000 import FakeIddk
FakeIddk({str(fake_iddk_library)!r}).delay("Iddk_GetSdkVersion", 60_000)
try:
    IddkLibrary.load({str(fake_iddk_library)!r}).sdk_version(timeout=0.1)
except IddkError as exc:
    print(exc.name)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=20, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "EWP_CALL_TIMED_OUT"
