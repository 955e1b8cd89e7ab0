"""Training mode: a scripted operator enrols synthetic applicants, for demos and soak tests.

Applicants are made up (deterministic from a seed), but everything after that is real: the
fingerprints come from the configured sensor through the real driver, and packets are sealed,
queued and uploaded exactly as an operator's would be. Packets say ``source: autopilot`` in their
manifest so the central system can tell them apart.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import date, timedelta

from protocol.enrolment import Application
from protocol.reference_data import job_types, thai_id_check_digit

log = logging.getLogger(__name__)

_GIVEN = {
    "MMR": ["Aung", "Thida", "Kyaw", "Hnin", "Zaw", "Myo", "Ei", "Nandar", "Htet", "Su"],
    "KHM": ["Sokha", "Dara", "Chenda", "Vannak", "Sreymom", "Bopha", "Rithy", "Kosal"],
    "LAO": ["Souksavanh", "Keo", "Phonsavanh", "Noy", "Vilay", "Somphone", "Bounmy"],
    "VNM": ["Nguyen", "Linh", "Minh", "Trang", "Huy", "Thao"],
}
_FAMILY = {
    "MMR": ["Win", "Htun", "Oo", "Naing", "Aye", "Lwin", "Moe", "Soe"],
    "KHM": ["Chan", "Sok", "Kim", "Heng", "Phan", "Keo", "Ouk"],
    "LAO": ["Phommachanh", "Sisouphanh", "Vongsa", "Keomany", "Chanthavong"],
    "VNM": ["Tran", "Le", "Pham", "Hoang", "Vu"],
}
_EMPLOYERS = [
    "Siam Fresh Foods Co., Ltd.",
    "Andaman Seafood Co., Ltd.",
    "Chao Phraya Construction Co., Ltd.",
    "Lanna Garments Co., Ltd.",
    "Eastern Seaboard Builders Co., Ltd.",
]
# Where migrant workers are most often employed (ISO 3166-2:TH).
_PROVINCES = ["TH-10", "TH-74", "TH-20", "TH-63", "TH-50", "TH-90", "TH-85", "TH-73"]


def synthetic_application(rng: random.Random, number: int, station_id: str) -> Application:
    nationality = rng.choice(list(_GIVEN))
    first12 = "0" + "".join(str(rng.randrange(10)) for _ in range(11))
    born = date(1970, 1, 1) + timedelta(days=rng.randrange(365 * 35))
    return Application.model_validate(
        {
            "application_number": f"WP-{station_id.upper()}-{number:06d}",
            "kind": rng.choice(["new", "new", "renewal", "change-employer", "notification"]),
            "applicant": {
                "given_name": rng.choice(_GIVEN[nationality]),
                "family_name": rng.choice(_FAMILY[nationality]),
                "passport_number": f"{nationality[:2]}{rng.randrange(10**7):07d}",
                "nationality": nationality,
                "date_of_birth": born.isoformat(),
                "sex": rng.choice(["F", "M"]),
            },
            "employer": {
                "juristic_id": first12 + str(thai_id_check_digit(first12)),
                "name": rng.choice(_EMPLOYERS),
            },
            "job_type": rng.choice(sorted(job_types())),
            "work_province": rng.choice(_PROVINCES),
        }
    )


class Autopilot:
    """Runs ``enrol(application)`` for ``count`` synthetic applicants (None: until stopped),
    ``interval_s`` apart."""

    def __init__(
        self,
        *,
        station_id: str,
        count: int | None,
        interval_s: float,
        seed: int,
        enrol: Callable[[Application], None],
        first_number: int = 1,
    ) -> None:
        self.station_id = station_id
        self.count = count
        self.interval_s = interval_s
        self._rng = random.Random(f"{seed}:{station_id}")
        self._enrol = enrol
        self._next_number = first_number
        self.done = 0
        self.failed = 0

    def run(self, stop: threading.Event) -> None:
        # Skip the applicants enrolled before a restart, so numbers stay unique.
        for number in range(1, self._next_number):
            synthetic_application(self._rng, number, self.station_id)
        while (self.count is None or self.done < self.count) and not stop.is_set():
            application = synthetic_application(self._rng, self._next_number, self.station_id)
            try:
                self._enrol(application)
            except Exception as exc:
                self.failed += 1
                log.warning("autopilot enrolment %d failed: %s", self._next_number, exc)
                if stop.wait(max(self.interval_s, 1.0)):
                    return
                continue
            self.done += 1
            self._next_number += 1
            stop.wait(self.interval_s)
        log.info("autopilot finished: %d enrolments, %d failed attempts", self.done, self.failed)
