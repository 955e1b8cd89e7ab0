"""`ewp demo --kiosk`: one more station serves its kiosk while the fleet runs, an autopilot
enrols one applicant through its forms, and that packet is checked like every other."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from ewp.demo.options import DemoOptions
from ewp.demo.run import run_demo


@pytest.mark.slow
def test_the_demo_drives_one_applicant_through_a_kiosk(tmp_path: Path) -> None:
    out = io.StringIO()
    options = DemoOptions(
        stations=1,
        mobile=0,
        enrolments_per_station=1,
        fingers=("right-index", "left-index"),
        eyes=("left",),
        timeout_s=300,
        workdir=tmp_path / "demo",
        kiosk=True,
    )
    result = run_demo(options, Console(file=out, width=200), hold=False)
    text = out.getvalue()
    assert result.ok, (result.problems, text)
    assert result.stations == 2 and result.expected == 2 == result.opened_by_central
    assert result.kiosk_url.startswith("http://127.0.0.1:")
    assert result.kiosk_saved.startswith("Saved: packet 1"), result.kiosk_saved
    assert "unlock?key=" in text, "the demo prints the kiosk's address and one-time link"
    assert result.average_attempts["finger"] > 1.0, "the kiosk's applicant needed one retry"
