"""`ewp release rollout ...`: create and steer rollouts on the fleet host (the fleet's settings
file, like `ewp fleet station ...`). The running fleet service's rollout engine acts on a change
at its next tick (``[rollouts] tick_interval_s``)."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ewp.cli.fleet_host import ConfigOption, actor, fleet_context

if TYPE_CHECKING:
    from fleet.updates.rollout_views import RolloutView

app = typer.Typer(no_args_is_help=True)

RolloutId = Annotated[str, typer.Argument(help="the rollout's id (`ewp release rollout list`)")]


def _plan_from(path: Path | None) -> object:
    from fleet.updates.plan import RolloutPlan

    if path is None:
        return RolloutPlan()
    text = path.read_text(encoding="utf-8")
    document = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    return RolloutPlan.model_validate(document)


@app.command("create")
def create(
    config: ConfigOption,
    component: Annotated[str, typer.Option(help="agent or firmware")],
    version: Annotated[str, typer.Option(help="the release's version, e.g. 1.5.0")],
    fleet: Annotated[bool, typer.Option("--fleet", help="target every active station")] = False,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="target stations with this tag (repeat)")
    ] = None,
    station: Annotated[
        list[str] | None, typer.Option("--station", help="target this station (repeat)")
    ] = None,
    plan: Annotated[
        Path | None,
        typer.Option(help="the plan, JSON or TOML (docs/rollouts.md); default: canary, 10%, rest"),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="the full bundle's TUF target, if no catalogue lists it")
    ] = None,
) -> None:
    """Start a rollout of a published release."""
    from pydantic import ValidationError

    from fleet.updates import rollout_views, rollouts
    from fleet.updates.plan import RolloutPlan, Selector

    try:
        selector = Selector(fleet=fleet, tags=tag or [], stations=station or [])
        chosen = _plan_from(plan)
    except ValidationError as exc:
        problems = "; ".join(e["msg"] for e in exc.errors())
        raise typer.BadParameter(problems) from None
    assert isinstance(chosen, RolloutPlan)
    with fleet_context(config) as context, context.sessions() as session:
        release = rollouts.resolve_release(context.release_catalog, component, version, target)
        rollout = rollouts.create(
            session,
            release=release,
            selector=selector,
            plan=chosen,
            actor=actor(),
            now=context.ops.clock(),
        )
        session.commit()
        _print(rollout_views.view(session, rollout.rollout_id))


@app.command("list")
def list_(config: ConfigOption) -> None:
    """Rollouts, newest first."""
    from fleet.updates import rollout_views

    with fleet_context(config) as context, context.sessions() as session:
        for r in rollout_views.list_rollouts(session):
            typer.echo(
                f"{r.rollout_id}  {r.component} {r.version}  {r.state}  "
                f"{r.created_at:%Y-%m-%d %H:%M}Z  {r.created_by}"
            )


@app.command("show")
def show(
    rollout_id: RolloutId,
    config: ConfigOption,
    as_json: Annotated[bool, typer.Option("--json", help="as the API shows it")] = False,
) -> None:
    """Phases, each station's state, and why a halted rollout stopped."""
    from fleet.api.rollout_schemas import RolloutPublic
    from fleet.updates import rollout_views

    with fleet_context(config) as context, context.sessions() as session:
        view = rollout_views.view(session, rollout_id)
        if as_json:
            typer.echo(RolloutPublic.of(view).model_dump_json(indent=2))
        else:
            _print(view)


def _print(view: RolloutView) -> None:
    r = view.rollout
    typer.echo(f"rollout {r.rollout_id}: {r.component} {r.version} to {view.selector.describe()}")
    typer.echo(f"state: {r.state}")
    if r.halt_reason:
        typer.echo(f"halted: {r.halt_reason}")
    for phase in view.phases:
        typer.echo(
            f"  phase {phase.index + 1} {phase.name}: {phase.state}, {phase.stations} stations, "
            f"{phase.healthy} healthy, {phase.failed} failed"
        )
    for s in view.stations:
        reason = f"  ({s.reason})" if s.reason else ""
        typer.echo(f"    {s.station_id}  {view.phases[s.phase].name}  {s.state}{reason}")


# The commands that change a rollout's state: name -> what it does (the command's help).
_CHANGES = {
    "pause": "No new offers, phase changes or timeouts until resumed.",
    "resume": "Go on from where the rollout was paused.",
    "cancel": "Cancel offers not yet installed; offer nothing more.",
    "approve": "Start the next phase of a rollout waiting for approval.",
}


def _change(config: Path, rollout_id: str, action: str) -> None:
    from fleet.updates import rollouts

    change = {
        "pause": rollouts.pause,
        "resume": rollouts.resume,
        "cancel": rollouts.cancel,
        "approve": rollouts.approve,
    }[action]
    with fleet_context(config) as context, context.sessions() as session:
        rollout = change(session, rollout_id, actor=actor(), now=context.ops.clock())
        session.commit()
        typer.echo(f"rollout {rollout_id}: {rollout.state}")


def _change_command(action: str) -> Callable[[str, Path], None]:
    def command(rollout_id: RolloutId, config: ConfigOption) -> None:
        _change(config, rollout_id, action)

    command.__name__ = action
    command.__doc__ = _CHANGES[action]
    return command


for _action in _CHANGES:
    app.command(_action)(_change_command(_action))


@app.command("rollback")
def rollback(
    rollout_id: RolloutId,
    config: ConfigOption,
    version: Annotated[
        str | None,
        typer.Option(help="the version to go back to; default: what most stations ran before"),
    ] = None,
    target: Annotated[str | None, typer.Option(help="its TUF target, if no catalogue")] = None,
) -> None:
    """Roll the previous version out to every station the rollout offered its release to."""
    from fleet.updates import rollout_views, rollouts

    with fleet_context(config) as context, context.sessions() as session:
        back = rollouts.roll_back(
            session,
            rollout_id,
            catalog=context.release_catalog,
            actor=actor(),
            now=context.ops.clock(),
            version=version,
            target=target,
        )
        session.commit()
        _print(rollout_views.view(session, back.rollout_id))
