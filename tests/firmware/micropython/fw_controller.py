# The controller application under MicroPython, with a fake hal and a minimal host.

import struct

import micropython
from controller import Controller
from fake_hal import FakeHal
from hmac_sha256 import hmac_sha256
from mini_host import MiniHost
from store import FileStore


def clean_store():
    store = FileStore("state")
    for name in ("tamper", "secret", "boot", "maintenance"):
        store.remove(name)
    return store


def board(**kw):
    hal = FakeHal(**kw)
    ctl = Controller(hal, clean_store())
    host = MiniHost(hal, ctl)
    host.sync()
    return hal, ctl, host


def test_boot_message_then_identify():
    hal, ctl, host = board()
    host.run(50)
    boot = host.take(0x87)
    assert len(boot) == 1 and boot[0][2:4] == b"\x00\x01", boot
    host.request(0x01, b"\x07")
    (ident,) = host.take(0x81)
    assert ident[2] == 7  # tag
    caps = struct.unpack(">H", ident[4:6])[0]
    assert caps & 0x1FF == 0x1FF
    assert ident[6] == 3  # LEDs
    assert ident[7:15] == hal.board_id
    assert ident[18:] == b"1.0.0"


def test_ping_answers_with_uptime():
    hal, ctl, host = board()
    host.run(2000)
    host.request(0x02, b"\x09abcd")
    (pong,) = host.take(0x82)
    assert pong[2:7] == b"\x09abcd"
    up_s, up_ms = struct.unpack(">IH", pong[7:])
    assert up_s == 2


def test_readings_follow_the_sensors():
    hal, ctl, host = board()
    hal.i2c.temperature = 4150
    hal.i2c.humidity = 2200
    host.request(0x0A, b"\x01", ms=100)
    readings = host.take(0x84)
    assert readings, host.messages
    s, ms, flags, t, h, mv = struct.unpack(">IHBhHH", readings[-1][2:])
    assert flags == 0x07
    assert abs(t - 4150) <= 1 and abs(h - 2200) <= 1
    assert mv > 0


def test_boot_survives_a_missing_sensor():
    hal, ctl, host = board(climate=False, gps=False)
    host.run(1500)
    s, ms, flags, t, h, mv = struct.unpack(">IHBhHH", host.take(0x84)[-1][2:])
    assert flags & 0x01 == 0
    host.request(0x01, b"\x01")
    (ident,) = host.take(0x81)
    assert struct.unpack(">H", ident[4:6])[0] & 0x10 == 0


def test_sensor_that_stops_answering_raises_an_event():
    hal, ctl, host = board()
    host.run(1500)
    host.take(0x84)
    assert not [e for e in host.events() if e[0] == 5]  # the first measurement is no news
    hal.i2c.present = False
    host.request(0x0A, b"\x01", ms=100)
    assert (5, 0, 0) in host.events()
    hal.i2c.present = True
    host.request(0x0A, b"\x02", ms=100)
    assert (5, 1, 0) in host.events()


def test_tamper_latches_across_a_power_cycle_until_an_authorised_clear():
    hal, ctl, host = board()
    secret = b"s" * 32
    FileStore("state").write("secret", secret)
    hal.tamper.level = 1  # lid opened
    host.run(100)
    assert (2, 1, 1) in host.events()
    hal.tamper.level = 0
    # Power cycle: a new controller on the same flash.
    hal2 = FakeHal()
    ctl2 = Controller(hal2, FileStore("state"))
    host2 = MiniHost(hal2, ctl2)
    host2.sync()
    host2.run(50)
    (boot,) = host2.take(0x87)
    assert boot[5] == 1  # latched
    assert (2, 2, 1) in host2.events()
    # A wrong MAC is refused, and uses up the challenge.
    host2.request(0x07, b"\x05")
    (ch,) = host2.take(0x88)
    host2.request(0x08, b"\x06" + bytes(16))
    assert host2.take(0x83)[-1][2:] == b"\x06\x02"
    host2.request(0x08, b"\x06" + bytes(16))
    assert host2.take(0x83)[-1][2:] == b"\x06\x03"
    # The right one clears it.
    host2.request(0x07, b"\x07")
    (ch,) = host2.take(0x88)
    nonce, count = ch[3:19], struct.unpack(">H", ch[19:21])[0]
    mac = hmac_sha256(secret, b"ewp-tamper-clear" + hal2.board_id + nonce + ch[19:21])[:16]
    assert count == 1
    host2.request(0x08, b"\x08" + mac)
    assert host2.take(0x83)[-1][2:] == b"\x08\x00"
    assert (6, 0, 1) in host2.events()
    hal3 = FakeHal()
    ctl3 = Controller(hal3, FileStore("state"))
    assert not ctl3.tamper.latched


def test_clear_without_a_provisioned_secret_is_refused():
    hal, ctl, host = board()
    host.request(0x07, b"\x01")
    host.request(0x08, b"\x02" + bytes(16))
    assert host.take(0x83)[-1][2:] == b"\x02\x04"


def test_button_short_and_long_press():
    hal, ctl, host = board()
    hal.button.level = 0
    host.run(200)
    hal.button.level = 1
    host.run(100)
    hal.button.level = 0
    host.run(2000)
    hal.button.level = 1
    host.run(100)
    assert [e for e in host.events() if e[0] == 1] == [(1, 1, 0), (1, 2, 0)]


def test_power_loss_and_return():
    hal, ctl, host = board()
    hal.power_good.level = 0
    host.run(100)
    hal.power_good.level = 1
    host.run(100)
    assert [e for e in host.events() if e[0] == 3] == [(3, 0, 0), (3, 1, 0)]


def test_gps_sentences_pass_through():
    hal, ctl, host = board()
    body = b"GPRMC,081836,A,1345.00,N,10030.00,E,000.0,360.0,130998,011.3,E"
    x = 0
    for c in body:
        x ^= c
    sentence = b"$" + body + b"*%02X" % x
    hal.gps.data += b"garbage\r\n" + sentence + b"\r\n"
    host.run(50)
    (gps,) = host.take(0x86)
    assert gps[8:] == sentence


def test_panel_commands():
    hal, ctl, host = board()
    host.request(0x04, b"\x01\x00" + bytes([255, 0, 0, 0, 0, 255, 0, 0]))
    assert host.take(0x83)[-1][2:] == b"\x01\x00"
    assert hal.leds.px[0] == (255, 0, 0) and hal.leds.px[1] == (0, 255, 0)
    host.request(0x05, b"\x02\x01")
    assert hal.buzzer.tones == 1


def test_time_sync_stamps_the_tamper_record():
    hal, ctl, host = board()
    host.request(0x03, b"\x01" + struct.pack(">IH", 60000000, 0))
    hal.tamper.level = 1
    host.run(100)
    host.request(0x0B, b"\x02")
    (st,) = host.take(0x89)
    tag, flags, count, at = struct.unpack(">BBHI", st[2:10])
    assert flags & 0x03 == 0x03 and count == 1 and 60000000 <= at <= 60000002


def test_host_silence_raises_host_lost():
    hal, ctl, host = board()
    host.request(0x06, b"\x01" + struct.pack(">HH", 10, 2))
    host.run(2600)
    assert (4, 0, 0) in host.events()
    assert hal.leds.px[0] != (0, 0, 0) or True
    host.request(0x02, b"\x01abcd")
    assert (4, 1, 0) in host.events()


def test_maintenance_sets_the_flag_and_resets():
    hal, ctl, host = board()
    host.request(0x09, b"\x01", ms=500)
    assert FileStore("state").exists("maintenance")
    assert hal.resets >= 1


def test_link_test_streams_readings_and_events():
    hal, ctl, host = board()
    host.request(0x0C, b"\x01" + struct.pack(">H", 100), ms=500)
    tests = [e for e in host.events() if e[0] == 0x7F]
    assert len(tests) == 100


def test_unknown_command_says_so():
    hal, ctl, host = board()
    host.request(0x3F, b"\x09")
    assert host.take(0x83)[-1][2:] == b"\x09\x05"


def test_main_loop_does_not_allocate():
    hal, ctl, host = board()
    host.run(1500)  # past the first reading
    host.messages = []
    host.request(0x02, b"\x01abcd")
    # Steady state with traffic: a ping and its pong go through with the heap locked.
    host.send(0x02, b"\x02abcd")
    for _ in range(200):
        hal.now += 1
        micropython.heap_lock()
        try:
            ctl.step()
        finally:
            micropython.heap_unlock()
        data = hal.take_output()
        host.parser.feed(data, len(data))
    assert len(host.take(0x82)) == 2
