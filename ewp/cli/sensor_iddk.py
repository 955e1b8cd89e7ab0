"""`ewp sensor iris info|capture --backend iddk`: an IriShield through IriTech's IDDK 2000.

The same JSON shape as the ewp-serial backend where the two agree (model, serial number,
per-eye total score and usable area, image files), with what only the SDK knows (its version,
the device descriptor). Errors are ``IddkError`` (a ``DeviceError``): the CLI prints their
message and advice and exits 2.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import typer

from edge.drivers.iddk2000 import (
    CaptureStatus,
    EyeSubtype,
    IddkCamera,
    IddkError,
    IddkLibrary,
    QualityMode,
)

CAPTURE_SECONDS = 3  # time-based: how long the camera captures once it sees an eye
_EYES = {"left": EyeSubtype.LEFT, "right": EyeSubtype.RIGHT, "both": EyeSubtype.BOTH}
_MODES = {
    "normal": QualityMode.NORMAL,
    "high": QualityMode.HIGH,
    "very-high": QualityMode.VERY_HIGH,
}


def info(library: str, device: str | None, timeout: float) -> dict[str, object]:
    lib = IddkLibrary.load(library)
    found = lib.scan(timeout)
    with IddkCamera.open(lib, device, timeout=timeout) as camera:
        details = camera.info
        state = camera.status()
    return {
        "backend": "iddk",
        "library": library,
        "sdk_version": lib.sdk_version(timeout),
        "devices": found,
        "device": details.descriptor,
        "model": details.product,
        "serial_number": details.serial_number,
        "binocular": details.binocular,
        "kernel": f"{details.kernel_version}.{details.kernel_revision}",
        "width": details.image_width,
        "height": details.image_height,
        "state": state.name,
    }


def capture(
    library: str,
    device: str | None,
    *,
    eye: str,
    quality: str,
    wait: float,
    timeout: float,
    out: Path | None,
    say: Callable[[str], None],
) -> tuple[dict[str, object], bool]:
    """One capture: the report, and whether every eye asked for was qualified."""
    if eye not in _EYES:
        raise typer.BadParameter("left, right or both", param_hint="--eye")
    if quality not in _MODES:
        raise typer.BadParameter("normal, high or very-high", param_hint="--quality")
    lib = IddkLibrary.load(library)
    with IddkCamera.open(lib, device, timeout=timeout) as camera:
        subtype = _EYES[eye]
        if not camera.info.binocular and subtype == EyeSubtype.BOTH:
            subtype = EyeSubtype.UNKNOWN  # a one-eye camera: whichever eye is presented
        started = time.monotonic()
        camera.start_capture(subtype, quality=_MODES[quality], seconds=CAPTURE_SECONDS)
        say("ask the applicant to look into the camera, eyes wide open...")
        try:
            camera.wait_for_result(wait + 5.0)
            seconds = time.monotonic() - started
            qualities = camera.result_quality()
            try:
                images = camera.result_images()
                code = 0
            except IddkError as exc:
                if not exc.retryable:
                    raise
                images, code = {}, exc.code
        finally:
            if camera.status() in (CaptureStatus.READY, CaptureStatus.CAPTURING):
                camera.stop()
            camera.clear()
    eyes: dict[str, object] = {}
    for side, scores in qualities.items():
        entry: dict[str, object] = {
            "found": scores.total_score > 0,
            "qualified": side in images,
            "total_score": scores.total_score,
            "usable_area": scores.usable_area,
        }
        image = images.get(side)
        if image is not None and out is not None:
            from PIL import Image

            path = out / f"iris-{side}.png"
            Image.frombytes("L", (image.width, image.height), image.pixels).save(path, format="PNG")
            entry.update({"file": str(path), "width": image.width, "height": image.height})
        eyes[side] = entry
    unqualified = [side for side, q in qualities.items() if q.total_score and side not in images]
    qualified = bool(images) and not unqualified
    if not code and unqualified:
        code = 0x3008 if unqualified == ["left"] else 0x3007 if unqualified == ["right"] else 0x3006
    report: dict[str, object] = {
        "backend": "iddk",
        "eye": eye,
        "qualified": qualified,
        "capture_seconds": round(seconds, 3),
        "eyes": eyes,
    }
    if code:
        report["advice"] = str(IddkError(code, call="Iddk_GetResultImage"))
    return report, qualified
