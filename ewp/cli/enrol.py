"""`ewp enrol`: the enrolment workflow at a terminal, for stations without the kiosk screen."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer


def enrol(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="agent settings file", envvar="EWP_AGENT_CONFIG")
    ],
    lang: Annotated[str, typer.Option(help="th (ภาษาไทย) or en")] = "th",
) -> None:
    """Log in (PIN + finger), enter or look up applications, capture, save.

    Runs the station agent while the session lasts (uploads and heartbeats continue); stop
    `ewp agent run` first, since both use the sensors.
    """
    from rich.console import Console
    from rich.prompt import Prompt

    from edge.agent.service import StationAgent
    from edge.agent.settings import AgentSettings
    from edge.agent.terminal import TerminalEnrolment
    from ewp import __version__, log
    from ewp.cli.settings_loader import load_settings

    if lang not in ("th", "en"):
        raise typer.BadParameter("th or en", param_hint="--lang")
    settings = load_settings(AgentSettings, config)
    log.configure("WARNING")
    console = Console()

    def ask(prompt: str, secret: bool) -> str:
        if secret:
            return getpass.getpass(f"{prompt}: ")
        return Prompt.ask(prompt, console=console, default="", show_default=False)

    agent = StationAgent(settings, software_version=__version__)
    agent.start()
    try:
        TerminalEnrolment(agent, console, ask, language=lang).run()  # type: ignore[arg-type]
    finally:
        agent.stop()
