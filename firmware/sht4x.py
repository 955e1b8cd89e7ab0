# Sensirion SHT4x temperature and humidity sensor on I2C, without blocking: start() sends the
# measure command, read() collects the result at least 10 ms later. Values are integers in
# hundredths (degC and %RH) so the board never allocates a float.

_ADDRESS = 0x44
_MEASURE_HIGH = b"\xfd"


def crc8(buf, start, end):
    crc = 0xFF
    for i in range(start, end):
        crc ^= buf[i]
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


class SHT4x:
    MEASURE_MS = 10

    def __init__(self, i2c, address=_ADDRESS):
        self.i2c = i2c
        self.address = address
        self.buf = bytearray(6)
        self.temperature = 0  # centi-degC
        self.humidity = 0  # centi-%RH

    def start(self):
        """Begin a measurement; OSError if the sensor does not answer."""
        self.i2c.writeto(self.address, _MEASURE_HIGH)

    def read(self):
        """Collect the measurement begun by start(); OSError if absent or corrupt."""
        b = self.buf
        self.i2c.readfrom_into(self.address, b)
        if crc8(b, 0, 2) != b[2] or crc8(b, 3, 5) != b[5]:
            raise OSError(5)  # EIO
        t_raw = (b[0] << 8) | b[1]
        rh_raw = (b[3] << 8) | b[4]
        # T = -45 + 175 * raw / 2**16 and RH = -6 + 125 * raw / 2**16, in hundredths.
        self.temperature = -4500 + ((t_raw * 4375) >> 14)
        rh = -600 + ((rh_raw * 3125) >> 14)
        self.humidity = 0 if rh < 0 else (10000 if rh > 10000 else rh)
