# Firmware parts under MicroPython: CRC, HMAC, NMEA, SHT4x arithmetic, panel, debounce.

from fake_hal import ADC, I2C, LEDs, Buzzer, Pin
from frame import crc16
from hmac_sha256 import equal, hmac_sha256
from link import ticks_diff


def test_crc16_check_value():
    assert crc16(b"123456789", 0, 9) == 0x6F91


def test_hmac_sha256_rfc4231_case_2():
    mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert mac.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert equal(mac, mac) and not equal(mac, bytes(32))


def test_hmac_long_key():
    # RFC 4231 case 6: a 131-byte key is hashed first.
    mac = hmac_sha256(b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First")
    assert mac.hex() == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"


def test_nmea_checksum_and_resync():
    from nmea import NMEAReader

    r = NMEAReader()
    good = b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n"
    bad = b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48\r\n"
    got = []
    for c in b"noise$GP" + good + bad + good:
        n = r.feed_byte(c)
        if n:
            got.append(bytes(r.line[:n]))
    assert got == [good[:-2], good[:-2]], got
    assert r.bad == 1


def test_sht4x_conversion():
    from sht4x import SHT4x

    bus = I2C()
    bus.temperature = 4237
    bus.humidity = 1830
    s = SHT4x(bus)
    s.start()
    s.read()
    assert abs(s.temperature - 4237) <= 1, s.temperature
    assert abs(s.humidity - 1830) <= 1, s.humidity
    bus.present = False
    try:
        s.start()
        raise AssertionError("no OSError")
    except OSError:
        pass


def test_battery_divider():
    from battery import Battery

    adc = ADC()
    adc.raw = 14000  # 0.705 V at the pin
    assert Battery(adc).read() == 4012


def test_debounce_ignores_bounces():
    from debounce import Debounced

    pin = Pin(1)
    d = Debounced(pin, 0, interval_ms=30)
    pin.level = 0
    assert d.update(0, ticks_diff) == -1
    pin.level = 1
    assert d.update(10, ticks_diff) == -1  # bounced back
    pin.level = 0
    assert d.update(20, ticks_diff) == -1
    assert d.update(45, ticks_diff) == -1
    assert d.update(50, ticks_diff) == 0


def test_panel_blinks_and_beeps():
    from panel import Panel

    leds, buzzer = LEDs(3), Buzzer()
    p = Panel(leds, buzzer)
    p.set_led(1, 0, 200, 0, 1)  # green, blinking
    p.update(0, ticks_diff)
    assert leds.px[1] == (0, 200, 0)
    p.update(600, ticks_diff)
    assert leds.px[1] == (0, 0, 0)
    p.beep(2, 1000)  # double beep
    for t in range(1000, 1400, 10):
        p.update(t, ticks_diff)
    assert buzzer.tones == 2 and buzzer.duty == 0


def test_panel_without_hardware():
    from panel import Panel

    p = Panel(None, None)
    p.set_led(0, 1, 2, 3, 0)
    p.beep(1, 0)
    p.update(10, ticks_diff)
