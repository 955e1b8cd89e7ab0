"""What a demo run found, as a table on the console or JSON (`ewp demo --json`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from ewp.demo_rollout import render_rollout


@dataclass
class DemoResult:
    stations: int
    expected: int  # stations x enrolments per station
    packets_created: int
    packets_received: int
    lost: int
    duplicates: int
    hash_mismatches: int
    opened_by_central: int
    resends_acknowledged: int
    links_cut: int
    average_attempts: dict[str, float]
    exceptions: int
    packet_kb: dict[str, float]
    elapsed_s: float
    fleet_url: str
    workdir: str
    problems: list[str] = field(default_factory=list)
    dashboard_url: str = ""
    dashboard_user: str = ""
    dashboard_password: str = ""  # a throwaway demo fleet's admin, shown at the end
    kiosk_url: str = ""
    kiosk_saved: str = ""  # what the kiosk said when its applicant was saved
    rollout: dict[str, Any] | None = None  # `--rollout`: RolloutResult.as_dict()

    @property
    def ok(self) -> bool:
        return (
            not self.problems
            and self.packets_created == self.expected
            and self.lost == 0
            and self.duplicates == 0
            and self.hash_mismatches == 0
            and self.packets_received == self.packets_created == self.opened_by_central
            and (self.rollout is None or bool(self.rollout["ok"]))
        )


def render(result: DemoResult, console: Console) -> None:
    table = Table(title="ewp demo: what the stations created vs what the fleet stored")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in (
        ("stations", result.stations),
        ("mobile links cut for part of the run", result.links_cut),
        ("enrolments asked for", result.expected),
        ("packets created at stations", result.packets_created),
        ("packets stored at the fleet", result.packets_received),
        ("lost", result.lost),
        ("stored twice (duplicates)", result.duplicates),
        ("hash mismatches", result.hash_mismatches),
        ("opened and checked with the central key", result.opened_by_central),
        ("resent packets acknowledged again", result.resends_acknowledged),
        ("average attempts per finger", result.average_attempts.get("finger", "-")),
        ("average attempts per iris", result.average_attempts.get("iris", "-")),
        ("biometric exceptions recorded", result.exceptions),
        (
            "sealed packet size, mean / max",
            f"{result.packet_kb['mean']:.0f} / {result.packet_kb['max']:.0f} KB",
        ),
        ("elapsed", f"{result.elapsed_s:.0f} s"),
    ):
        table.add_row(name, str(value))
    console.print(table)
    if result.rollout is not None:
        render_rollout(result.rollout, console)
    for problem in result.problems:
        console.print(f"[red]problem:[/red] {problem}")
    if result.packets_created < result.expected:
        console.print(
            f"[red]only {result.packets_created} of {result.expected} enrolments were made "
            f"in time: see the station logs in {result.workdir}/logs[/red]"
        )
    verdict = "[green]every packet arrived exactly once[/green]" if result.ok else "[red]FAILED"
    console.print(f"{verdict}  fleet: {result.fleet_url}")
    if result.kiosk_url:
        console.print(f"kiosk: {result.kiosk_url} — {result.kiosk_saved or 'nothing saved'}")
    if result.dashboard_url:
        console.print(
            f"dashboard: {result.dashboard_url}  log in as {result.dashboard_user} "
            f"with the password {result.dashboard_password}"
        )


def result_json(result: DemoResult) -> str:
    data = {k: v for k, v in result.__dict__.items()}
    data["ok"] = result.ok
    return json.dumps(data)
