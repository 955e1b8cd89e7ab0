"""The simulated controller board's surroundings: sensor profiles over time.

A profile gives the temperature, humidity, battery voltage and external power the board's
sensors read ``t`` seconds after it started: steady, a parked van heating up in the sun, a
generator cutting out and a battery draining, or a random wander.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Environment:
    temperature: float  # degC
    humidity: float  # %RH
    battery: float  # volts
    external_power: bool


def _steady(t: float, rng: random.Random) -> Environment:
    return Environment(
        31.0 + rng.gauss(0, 0.15), 65.0 + rng.gauss(0, 0.5), 13.2 + rng.gauss(0, 0.01), True
    )


def _parked_van(t: float, rng: random.Random) -> Environment:
    # Engine off at noon in the Thai sun: the cabin climbs from 33 to about 68 degC with a
    # time constant of half an hour; the same moisture in hotter air means lower RH.
    temp = 33.0 + 35.0 * (1 - math.exp(-t / 1800.0))
    rh = 70.0 * math.exp(-(temp - 33.0) / 30.0)
    return Environment(temp + rng.gauss(0, 0.1), rh + rng.gauss(0, 0.3), 12.7, True)


def _generator_cut(t: float, rng: random.Random) -> Environment:
    # A service centre on a generator: it cuts out after a minute; the UPS battery then drops
    # off its surface charge and drains to the 11 V cut-off in about two hours.
    if t < 60:
        return Environment(30.0, 60.0, 13.6, True)
    d = t - 60
    volts = 12.6 - 1.4 * min(d / 7200.0, 1.0) + 1.0 * math.exp(-d / 120.0)
    if d > 7200:
        volts -= 0.002 * (d - 7200)
    return Environment(30.0 + rng.gauss(0, 0.1), 60.0, max(volts, 9.0), False)


def _wander(t: float, rng: random.Random) -> Environment:
    return Environment(
        30 + 8 * math.sin(t / 900) + rng.gauss(0, 0.5),
        60 + 20 * math.sin(t / 1300) + rng.gauss(0, 1),
        12.4 + 0.6 * math.sin(t / 3000),
        rng.random() > 0.02,
    )


PROFILES: dict[str, Callable[[float, random.Random], Environment]] = {
    "steady": _steady,
    "parked-van": _parked_van,
    "generator-cut": _generator_cut,
    "random": _wander,
}
