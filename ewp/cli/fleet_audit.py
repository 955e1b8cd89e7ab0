"""`ewp fleet audit ...`: check the audit log's keyed hash chain, list its newest entries."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ewp.cli.fleet_host import ConfigOption, fleet_context, fleet_settings

app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")


@app.command("verify")
def audit_verify(
    config: ConfigOption,
    expect: Annotated[
        str | None,
        typer.Option(
            help="ID:HASH of a head printed by an earlier run (kept outside the fleet): it must "
            "still be in the log, or the log was cut short or rolled back"
        ),
    ] = None,
) -> None:
    """Check every link of the audit log's keyed hash chain with the audit key (the
    ``secrets/audit-key`` file, never in the database); exit code 1 if it was tampered with."""
    from fleet import audit
    from fleet.context import audit_key_path
    from fleet.store.models import AuditEntry

    wanted: tuple[int, str] | None = None
    if expect is not None:
        expect_id, _, expect_hash = expect.partition(":")
        if not expect_id.isdigit() or len(expect_hash) != 64:
            raise typer.BadParameter("give ID:HASH as printed under `head`", param_hint="--expect")
        wanted = (int(expect_id), expect_hash)
    key_path = audit_key_path(fleet_settings(config))
    try:
        key = audit.load_key(key_path)
    except (OSError, ValueError) as exc:
        typer.echo(
            json.dumps({"ok": False, "problem": f"cannot read the audit key {key_path}: {exc}"})
        )
        raise typer.Exit(2) from None
    with fleet_context(config) as context, context.sessions() as session:
        result = audit.verify(session, key)
        problem, first_bad = result.problem, result.first_bad_id
        head = session.get(AuditEntry, result.entries) if result.entries else None
        if result.ok and wanted is not None:
            earlier = session.get(AuditEntry, wanted[0])
            if earlier is None or earlier.hash != wanted[1]:
                problem = (
                    f"entry {wanted[0]} recorded earlier as the head is gone or different: "
                    "the log was cut short or rolled back"
                )
                first_bad = wanted[0]
    ok = problem is None
    typer.echo(
        json.dumps(
            {
                "ok": ok,
                "entries": result.entries,
                "problem": problem,
                "first_bad_id": first_bad,
                "head": f"{head.id}:{head.hash}" if head is not None and ok else None,
            }
        )
    )
    if not ok:
        typer.echo(f"the audit log was tampered with: {problem}", err=True)
        raise typer.Exit(1)


@app.command("list")
def audit_list(
    config: ConfigOption,
    limit: Annotated[int, typer.Option(min=1, help="newest entries to show")] = 50,
) -> None:
    """The newest audit entries as JSON lines."""
    from sqlalchemy import select

    from fleet.store.models import AuditEntry

    with fleet_context(config) as context, context.sessions() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)).all()
        for row in reversed(rows):
            typer.echo(
                json.dumps(
                    {
                        "id": row.id,
                        "at": row.at.isoformat(),
                        "actor": row.actor,
                        "action": row.action,
                        "target": row.target,
                        "detail": json.loads(row.detail),
                    }
                )
            )
