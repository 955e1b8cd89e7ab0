"""Sealed packet size of a full enrolment, and the WSQ compression ratio of its finger images.

A full enrolment: ten fingers as ISO/IEC 19794-4:2011 records (WSQ, 500 ppi), two eyes as
ISO/IEC 19794-6:2011 records (640x480 PNG, lossless), each with its quality score, plus the
manifest with the application; built into the archive, sealed (HPKE, ML-KEM-768 + X25519,
ChaCha20-Poly1305) and signed (Ed25519) by the real packet builder.

Finger images come from the fingerprint simulator's image module (good presses of five
subjects), reduced to the 4 bits a pixel the R30x sends over the wire as the station receives
them; eye images from ``simulators.synthetic_eyes`` (open, sharp eyes with sensor noise).

Figures:

* sealed packet size: ratio = 1 MB (1,000,000 bytes) / measured envelope size (target >= 1:
  under 1 MB). Median over five applicants.
* WSQ compression: ratio = raw image bytes (256 x 288 x 8 bits) / WSQ bytes, over all fifty
  finger images (target about 15:1; the check is ">= 12"). Baseline: the same images as
  lossless PNG, the format the capture wrote before (its ratio in ``extra``).
"""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime

import numpy as np

from bench.report import Figure, report
from bench.station_side import bench_builder
from edge.agent.autopilot import synthetic_application
from edge.agent.biometric_records import finger_record, iris_record, png_compress, wsq_compress
from edge.agent.captured import CapturedRecord, Enrolment
from edge.agent.quality.finger_quality import finger_quality
from edge.agent.quality.iris_quality import iris_quality
from protocol.envelope import utc_timestamp
from simulators.fingerprint_images import (
    HEIGHT,
    WIDTH,
    FingerIdentity,
    FingerPosition,
    PressConditions,
    render_press,
)
from simulators.synthetic_eyes import EyeScene, render_eye

MB = 1_000_000
APPLICANTS = 5


def _as_on_the_wire(pixels: bytes) -> bytes:
    """The R30x sends 4 bits a pixel; the driver scales a nibble n to 17 n."""
    nibbles = np.frombuffer(pixels, dtype=np.uint8) >> 4
    return bytes((nibbles * 17).astype(np.uint8))


def _enrolment(subject: int) -> tuple[Enrolment, list[bytes]]:
    moment = datetime.now(UTC)
    records: list[CapturedRecord] = []
    fingers = []
    for finger in FingerPosition:
        seed = subject * 100 + finger.code
        conditions = PressConditions.draw(np.random.default_rng(seed), poor=False)
        pixels = _as_on_the_wire(render_press(FingerIdentity(subject, finger), conditions, seed))
        fingers.append(pixels)
        quality = finger_quality(pixels, WIDTH, HEIGHT)
        records.append(
            finger_record(
                pixels, WIDTH, HEIGHT, position=finger.value, captured_at=moment, quality=quality
            )
        )
    for index, eye in enumerate(("right-eye", "left-eye")):
        pixels = render_eye(EyeScene(seed=subject * 2 + index))
        records.append(
            iris_record(
                pixels,
                640,
                480,
                eye=eye,
                captured_at=moment,
                quality=iris_quality(pixels, 640, 480),
            )
        )
    enrolment = Enrolment(
        application=synthetic_application(random.Random(subject), subject, "mu-01"),
        operator_id="bench",
        captured_at=utc_timestamp(),
        records=records,
    )
    return enrolment, fingers


def main() -> None:
    builder = bench_builder("mu-01")
    sizes: list[int] = []
    finger_bytes: list[int] = []
    iris_bytes: list[int] = []
    wsq_sizes: list[int] = []
    png_sizes: list[int] = []
    for subject in range(1, APPLICANTS + 1):
        enrolment, fingers = _enrolment(subject)
        packet = builder.seal(enrolment, seq=subject, packet_id=f"{subject:032x}")
        sizes.append(len(packet.to_bytes()))
        finger_bytes.append(
            sum(len(r.data) for r in enrolment.records if r.entry.modality == "finger")
        )
        iris_bytes.append(sum(len(r.data) for r in enrolment.records if r.entry.modality == "iris"))
        for pixels in fingers:
            wsq_sizes.append(len(wsq_compress(pixels, WIDTH, HEIGHT)))
            png_sizes.append(len(png_compress(pixels, WIDTH, HEIGHT)))
    size = statistics.median(sizes)
    raw = WIDTH * HEIGHT
    report(
        Figure(
            name="sealed packet of a full enrolment (10 ISO 19794-4 WSQ + 2 ISO 19794-6 PNG)",
            ratio=MB / size,
            target=">= 1.0",
            ours=f"{size / 1000:.1f} kB sealed envelope (median of {APPLICANTS} applicants)",
            baseline="1 MB = 1,000,000 bytes, the issue's limit",
            extra={
                "largest_packet_kB": round(max(sizes) / 1000, 1),
                "finger_records_kB": round(statistics.median(finger_bytes) / 1000, 1),
                "iris_records_kB": round(statistics.median(iris_bytes) / 1000, 1),
                "other_kB (manifest, zip, envelope)": round(
                    (size - statistics.median(finger_bytes) - statistics.median(iris_bytes)) / 1000,
                    1,
                ),
            },
        )
    )
    wsq_ratio = raw / statistics.mean(wsq_sizes)
    png_ratio = raw / statistics.mean(png_sizes)
    report(
        Figure(
            name="WSQ compression of 500 ppi finger images (NBIS, 0.75 bpp)",
            ratio=wsq_ratio,
            target=">= 12.0",
            ours=f"{statistics.mean(wsq_sizes):.0f} bytes per 256x288 image "
            f"({len(wsq_sizes)} images), {wsq_ratio:.1f}:1",
            baseline=f"{raw} bytes raw; lossless PNG {statistics.mean(png_sizes):.0f} bytes, "
            f"{png_ratio:.1f}:1",
            extra={
                "target": "about 15:1",
                "wsq_ratio_min": round(raw / max(wsq_sizes), 2),
                "wsq_ratio_max": round(raw / min(wsq_sizes), 2),
                "png_ratio": round(png_ratio, 2),
            },
        )
    )


if __name__ == "__main__":
    main()
