"""The instructions of the simulated R30x module: what each does to the module's state.

Each ``_do_<name>`` handler (names from ``fingerprint_faults.INSTRUCTIONS``) takes the
instruction's parameter bytes and returns the :class:`Answer`: the confirmation code the
datasheet gives for the case, answer parameters, and data packets to follow. See
``docs/devices/fingerprint-r30x.md`` for the table. The line (packets, faults on the wire,
pacing) is the device's, in ``fingerprint``.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from simulators.fingerprint_faults import INSTRUCTION_NAMES, INSTRUCTIONS, FaultPlan
from simulators.fingerprint_packets import pack_nibbles
from simulators.fingerprint_presses import FingerPresenter, Press
from simulators.fingerprint_templates import (
    MATCH_THRESHOLDS,
    TemplateLibrary,
    match_score,
    merge_templates,
    template_features,
)

log = logging.getLogger("simulators.fingerprint")
wire_log = logging.getLogger("ewp.wire.sim.fingerprint")

BAUD_UNIT = 9600
PACKET_SIZES = (32, 64, 128, 256)

# Parameter bytes each instruction takes (after the instruction code).
_PARAMETER_SIZES = {
    0x01: 0,  # GenImg
    0x02: 1,  # Img2Tz: buffer
    0x03: 0,  # Match
    0x04: 5,  # Search: buffer, start page, page count
    0x05: 0,  # RegModel
    0x06: 3,  # Store: buffer, page
    0x07: 3,  # LoadChar: buffer, page
    0x08: 1,  # UpChar: buffer
    0x09: 1,  # DownChar: buffer
    0x0A: 0,  # UpImage
    0x0C: 4,  # DeletChar: page, count
    0x0D: 0,  # Empty
    0x0E: 2,  # SetSysPara: register, value
    0x0F: 0,  # ReadSysPara
    0x13: 4,  # VfyPwd: password
    0x1D: 0,  # TemplateNum
    0x1F: 1,  # ReadIndexTable: index page
    0x35: 4,  # AuraLedConfig: control, speed, colour, count
    0x36: 0,  # CheckSensor
    0x40: 0,  # HandShake
}
# Parameter bytes of each answer after the confirmation code (zero-filled on an error).
ANSWER_SIZES = {0x03: 2, 0x04: 4, 0x0F: 16, 0x1D: 2, 0x1F: 32}


@dataclass
class Answer:
    code: int
    parameters: bytes = b""
    data: bytes | None = None  # data packets to follow the ack
    unplug_after: int | None = None  # pull the cable after this many data packets
    after: Callable[[], None] | None = None  # once the whole answer is on the line


@dataclass
class Download:
    buffer: int
    data: bytearray = field(default_factory=bytearray)


class InstructionSet:
    """The module's state and its instructions (mixed into ``SimulatedFingerprintSensor``)."""

    faults: FaultPlan
    address: int
    password: int
    baudrate: int
    packet_size: int
    security_level: int
    library: TemplateLibrary
    led: dict[str, int]
    counters: dict[str, int]
    _presenter: FingerPresenter
    _image: bytes | None
    _image_press: Press | None
    _image_taken: bool
    _buffers: dict[int, bytes | None]
    _verified: bool
    _matched: bool
    _download: Download | None

    def _execute(self, instruction: int, parameters: bytes) -> Answer:
        expected = _PARAMETER_SIZES.get(instruction)
        if expected is None:
            return Answer(0xFC)
        if len(parameters) != expected:
            return Answer(0x01)
        if self.password != 0 and not self._verified and instruction != INSTRUCTIONS["vfypwd"]:
            return Answer(0x21)
        forced = self.faults.forced_code(instruction)
        if forced:
            wire_log.debug("sim: forced code %02x for %s", forced, INSTRUCTION_NAMES[instruction])
            return Answer(forced)
        handler: Callable[[bytes], Answer] = getattr(self, f"_do_{INSTRUCTION_NAMES[instruction]}")
        return handler(parameters)

    @staticmethod
    def _buffer_id(value: int) -> int:
        """CharBuffer1 is 1; the datasheet treats every other value as CharBuffer2."""
        return 1 if value == 1 else 2

    def _threshold(self) -> int:
        return MATCH_THRESHOLDS[self.security_level]

    def _take_image(self) -> None:
        """The host took the image of the press on the glass: an applicant lifts the finger."""
        if self._image_press is not None and not self._image_taken:
            self._image_taken = True
            self._presenter.taken(self._image_press)

    def _do_genimg(self, _: bytes) -> Answer:
        if self.faults.no_finger():
            return Answer(0x02)
        press = self._presenter.current()
        if press is None:
            return Answer(0x02)
        if press != self._image_press or self._image is None:
            self._image = press.render()
            self._image_press = press
            self._image_taken = False
        return Answer(0x00)

    def _do_img2tz(self, parameters: bytes) -> Answer:
        if self._image is None or self._image_press is None:
            return Answer(0x15)
        press = self._image_press
        self._take_image()
        bad = self.faults.bad_image()
        if bad is not None:
            return Answer(bad)
        self._buffers[self._buffer_id(parameters[0])] = press.character_file()
        return Answer(0x00)

    def _do_match(self, _: bytes) -> Answer:
        first, second = self._buffers[1], self._buffers[2]
        if first is None or second is None:
            self._matched = False
            return Answer(0x08)
        score = match_score(first, second)
        self._matched = score >= self._threshold()
        return Answer(0x00 if self._matched else 0x08, score.to_bytes(2, "big"))

    def _do_search(self, parameters: bytes) -> Answer:
        buffer, start, count = struct.unpack(">BHH", parameters)
        if start >= self.library.capacity:
            return Answer(0x0B)
        probe = self._buffers[self._buffer_id(buffer)]
        self._matched = False
        if probe is None:
            return Answer(0x09)
        best_page, best_score = 0, -1
        for page in self.library.pages():
            if start <= page < start + count:
                template = self.library.get(page)
                score = match_score(probe, template) if template is not None else 0
                if score > best_score:
                    best_page, best_score = page, score
        if best_score < self._threshold():
            return Answer(0x09)
        self._matched = True
        return Answer(0x00, struct.pack(">HH", best_page, best_score))

    def _do_regmodel(self, _: bytes) -> Answer:
        first, second = self._buffers[1], self._buffers[2]
        if first is None or second is None:
            return Answer(0x0A)
        if template_features(first) is None or template_features(second) is None:
            return Answer(0x0A)
        if match_score(first, second) < self._threshold():
            return Answer(0x0A)
        model = merge_templates(first, second)
        self._buffers[1] = self._buffers[2] = model
        return Answer(0x00)

    def _do_store(self, parameters: bytes) -> Answer:
        buffer, page = struct.unpack(">BH", parameters)
        if page >= self.library.capacity:
            return Answer(0x0B)
        template = self._buffers[self._buffer_id(buffer)]
        if template is None:
            return Answer(0x22)
        try:
            self.library.put(page, template)
        except OSError as exc:
            log.error("simulated flash write failed: %s", exc)
            return Answer(0x18)
        return Answer(0x00)

    def _do_loadchar(self, parameters: bytes) -> Answer:
        buffer, page = struct.unpack(">BH", parameters)
        if page >= self.library.capacity:
            return Answer(0x0B)
        template = self.library.get(page)
        if template is None:
            return Answer(0x0C)
        self._buffers[self._buffer_id(buffer)] = template
        return Answer(0x00)

    def _do_upchar(self, parameters: bytes) -> Answer:
        template = self._buffers[self._buffer_id(parameters[0])]
        if template is None:
            return Answer(0x0D)
        return Answer(0x00, data=template)

    def _do_downchar(self, parameters: bytes) -> Answer:
        self._download = Download(self._buffer_id(parameters[0]))
        return Answer(0x00)

    def _do_upimage(self, _: bytes) -> Answer:
        if self._image is None:
            return Answer(0x0F)

        def sent() -> None:
            self.counters["images_sent"] += 1
            self._take_image()

        return Answer(
            0x00,
            data=pack_nibbles(self._image),
            unplug_after=self.faults.unplug_after(),
            after=sent,
        )

    def _do_deletchar(self, parameters: bytes) -> Answer:
        page, count = struct.unpack(">HH", parameters)
        if count == 0 or page + count > self.library.capacity:
            return Answer(0x10)
        try:
            self.library.delete(page, count)
        except OSError:
            return Answer(0x10)
        return Answer(0x00)

    def _do_empty(self, _: bytes) -> Answer:
        try:
            self.library.clear()
        except OSError:
            return Answer(0x11)
        return Answer(0x00)

    def _do_setsyspara(self, parameters: bytes) -> Answer:
        register, value = parameters
        if register == 4:
            if not 1 <= value <= 12:
                return Answer(0x1B)

            def switch_baud() -> None:
                self.baudrate = value * BAUD_UNIT

            # The module answers at the old rate and switches afterwards.
            return Answer(0x00, after=switch_baud)
        if register == 5:
            if not 1 <= value <= 5:
                return Answer(0x1B)
            self.security_level = value
            return Answer(0x00)
        if register == 6:
            if value >= len(PACKET_SIZES):
                return Answer(0x1B)
            self.packet_size = PACKET_SIZES[value]
            return Answer(0x00)
        return Answer(0x1A)

    def _status_register(self) -> int:
        return (
            (0x02 if self._matched else 0)
            | (0x04 if self._verified else 0)
            | (0x08 if self._image is not None else 0)
        )

    def _do_readsyspara(self, _: bytes) -> Answer:
        parameters = struct.pack(
            ">HHHHIHH",
            self._status_register(),
            0x0000,
            self.library.capacity,
            self.security_level,
            self.address,
            PACKET_SIZES.index(self.packet_size),
            self.baudrate // BAUD_UNIT,
        )
        return Answer(0x00, parameters)

    def _do_vfypwd(self, parameters: bytes) -> Answer:
        if int.from_bytes(parameters, "big") != self.password:
            self._verified = False
            return Answer(0x13)
        self._verified = True
        return Answer(0x00)

    def _do_templatenum(self, _: bytes) -> Answer:
        return Answer(0x00, len(self.library).to_bytes(2, "big"))

    def _do_readindextable(self, parameters: bytes) -> Answer:
        page = parameters[0]
        if page > 3:
            return Answer(0x0B)
        table = bytearray(32)
        for used in self.library.pages():
            offset = used - 256 * page
            if 0 <= offset < 256:
                table[offset // 8] |= 1 << (offset % 8)
        return Answer(0x00, bytes(table))

    def _do_auraledconfig(self, parameters: bytes) -> Answer:
        control, speed, colour, count = parameters
        if not 1 <= control <= 6 or not 1 <= colour <= 7:
            return Answer(0xFE)
        self.led = {"control": control, "speed": speed, "colour": colour, "count": count}
        return Answer(0x00)

    def _do_checksensor(self, _: bytes) -> Answer:
        return Answer(0x00)

    def _do_handshake(self, _: bytes) -> Answer:
        return Answer(0x00)
