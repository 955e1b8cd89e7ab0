# Feed hex lines from stdin to the firmware's FrameParser and print what it found, one line
# per input: "seq:payload,..." then "|crc_errors garbage". Used by the host's differential
# tests to run the board's parser under MicroPython itself.

import sys

from frame import FrameParser


def main():
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        data = bytes.fromhex(line.strip())
        found = []

        def on_frame(buf, length):
            found.append("%d:%s" % (buf[1], bytes(buf[2 : length - 3]).hex()))

        p = FrameParser(on_frame)
        for i in range(0, len(data), 7):
            chunk = data[i : i + 7]
            p.feed(chunk, len(chunk))
        print(",".join(found) + "|%d %d" % (p.crc_errors, p.garbage))


main()
