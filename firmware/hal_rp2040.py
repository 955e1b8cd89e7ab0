# The real board: a Raspberry Pi Pico (RP2040). Every `machine` access of the firmware is here.
#
# Pin map (firmware/README.md):
#   link      USB CDC (the same port as the REPL)
#   LEDs      GP16, WS2812 strip of LED_COUNT
#   buzzer    GP15, PWM (passive piezo)
#   button    GP14 to ground, pull-up
#   tamper    GP13, lid switch loop to ground, pull-up (1 = loop open = tampered)
#   power     GP12, UPS "power good" (1 = external power present)
#   climate   I2C0 on GP4 (SDA) / GP5 (SCL), SHT4x at 0x44
#   battery   GP26 (ADC0) through a 47k / 10k divider
#   GPS       UART1 on GP8 (TX) / GP9 (RX), 9600 baud

import os
import select
import sys
import time

import machine
import micropython

LED_COUNT = 3


def _optional(make):
    # A part that is missing or mis-wired must not stop the boot.
    try:
        return make()
    except Exception:
        return None


def _leds():
    import neopixel

    return neopixel.NeoPixel(machine.Pin(16), LED_COUNT)


def _buzzer():
    pwm = machine.PWM(machine.Pin(15))
    pwm.duty_u16(0)
    return pwm


class Hal:
    def __init__(self):
        micropython.kbd_intr(-1)  # the link is binary: a 0x03 byte must not stop the program
        self.stdin = sys.stdin.buffer
        self.stdout = sys.stdout.buffer
        self.poller = select.poll()
        self.poller.register(sys.stdin, select.POLLIN)
        self.one = bytearray(1)
        pin = machine.Pin
        self.leds = _optional(_leds)
        self.buzzer = _optional(_buzzer)
        self.button = _optional(lambda: pin(14, pin.IN, pin.PULL_UP))
        self.tamper = _optional(lambda: pin(13, pin.IN, pin.PULL_UP))
        self.power_good = _optional(lambda: pin(12, pin.IN, pin.PULL_DOWN))
        self.i2c = _optional(lambda: machine.I2C(0, sda=pin(4), scl=pin(5), freq=100000))
        self.battery_adc = _optional(lambda: machine.ADC(26))
        self.gps = _optional(lambda: machine.UART(1, 9600, tx=pin(8), rx=pin(9)))
        self.ticks_ms = time.ticks_ms

    def link_read(self, buf):
        n = 0
        one = self.one
        while n < len(buf):
            ready = False
            for _ in self.poller.ipoll(0):
                ready = True
            if not ready or not self.stdin.readinto(one):
                break
            buf[n] = one[0]
            n += 1
        return n

    def link_write(self, buf, n):
        self.stdout.write(memoryview(buf)[:n])

    def unique_id(self):
        return machine.unique_id()

    def reset_cause(self):
        cause = machine.reset_cause()
        if cause == machine.PWRON_RESET:
            return 0
        if cause == machine.WDT_RESET:
            return 1
        return 2

    def random_bytes(self, n):
        return os.urandom(n)

    def watchdog(self, timeout_ms):
        return machine.WDT(timeout=timeout_ms)

    def idle(self):
        machine.idle()

    def reset(self):
        machine.reset()
