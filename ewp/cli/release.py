"""`ewp release`: signing keys, release bundles and the TUF repository of the fleet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ewp.cli import release_rollout

app = typer.Typer(no_args_is_help=True)
keys_app = typer.Typer(no_args_is_help=True)
app.add_typer(keys_app, name="keys", help="Signing keys: make them, sign a root offline.")
app.add_typer(
    release_rollout.app,
    name="rollout",
    help="Rollouts to the fleet: create, list, show, pause, resume, cancel, approve, rollback.",
)

RepoOption = Annotated[
    Path, typer.Option("--repo", help="The release repository (metadata/ and targets/).")
]
KeysOption = Annotated[
    Path, typer.Option("--keys", help="The directory of key files (never the database).")
]


@keys_app.command("init")
def keys_init(
    keys: KeysOption,
    repo: RepoOption,
    root_keys: Annotated[int, typer.Option(help="How many root keys.")] = 3,
    threshold: Annotated[int, typer.Option(help="Root signatures needed.")] = 2,
) -> None:
    """Make the root keys and online keys; write root v1 for offline signing."""
    from fleet.updates.keys import init_keys

    pending = init_keys(keys, repo / "metadata", root_keys=root_keys, threshold=threshold)
    typer.echo(f"keys in {keys}: root-1..{root_keys}.pem, targets.pem, snapshot.pem, timestamp.pem")
    typer.echo(f"root v1 waits for {threshold} signatures: {pending}")
    typer.echo(
        "sign it with `ewp release keys sign-root --key KEYS/root-N.pem`, then move the "
        "root-*.pem files offline"
    )


@keys_app.command("sign-root")
def keys_sign_root(
    repo: RepoOption,
    key: Annotated[Path, typer.Option("--key", help="One root key file (from offline).")],
) -> None:
    """Add one root key's signature to the pending root; it takes effect at the threshold."""
    from fleet.updates.keys import sign_root

    count, threshold, published = sign_root(repo / "metadata", key)
    state = "published" if published else "pending"
    typer.echo(f"root signed by {count} of {threshold} needed: {state}")


@keys_app.command("rotate")
def keys_rotate(
    keys: KeysOption,
    repo: RepoOption,
    role: Annotated[str, typer.Option(help="targets, snapshot or timestamp")],
) -> None:
    """Replace an online key: a new key file and a new root to sign offline."""
    from fleet.updates.keys import propose_root_rotation

    pending = propose_root_rotation(keys, repo / "metadata", role)
    typer.echo(f"new {role} key in {keys}; the new root waits for signatures: {pending}")


@app.command()
def build(
    kind: Annotated[str, typer.Argument(help="agent or firmware")],
    version: Annotated[str, typer.Option(help="The release version, e.g. 1.4.0.")],
    out: Annotated[Path, typer.Option(help="The bundle file to write.")],
    changelog: Annotated[str, typer.Option(help="What changed, for the fleet admins.")] = "",
    min_upgrade_from: Annotated[
        str | None, typer.Option(help="The lowest installed version that may upgrade to it.")
    ] = None,
    lock: Annotated[
        Path | None, typer.Option(help="Agent: pinned, hashed dependencies to bundle.")
    ] = None,
    wheels: Annotated[
        Path | None, typer.Option(help="Agent: a directory of extra wheels to bundle.")
    ] = None,
) -> None:
    """Build an agent or firmware release bundle."""
    from ewp.release_build import build_agent_release, build_firmware_release
    from fleet.updates.errors import UpdateError

    if kind == "agent":
        manifest = build_agent_release(
            out,
            version=version,
            changelog=changelog,
            min_upgrade_from=min_upgrade_from,
            lock=lock,
            wheels=wheels,
        )
    elif kind == "firmware":
        manifest = build_firmware_release(
            out, version=version, changelog=changelog, min_upgrade_from=min_upgrade_from
        )
    else:
        raise UpdateError(f"a release is agent or firmware, not {kind!r}")
    size = out.stat().st_size
    typer.echo(f"{out}: {kind} {manifest.version}, {len(manifest.files)} files, {size} bytes")


@app.command()
def publish(
    bundle: Annotated[Path, typer.Argument(help="A bundle from `ewp release build`.")],
    repo: RepoOption,
    keys: KeysOption,
    deltas_from: Annotated[int, typer.Option(help="Deltas from this many releases.")] = 3,
) -> None:
    """Publish a bundle into the repository (targets, deltas, snapshot, timestamp)."""
    from fleet.updates.publish import publish_release
    from fleet.updates.repository import FileRepository

    result = publish_release(FileRepository(repo, keys), bundle, deltas_from=deltas_from)
    typer.echo(f"published {result.target} ({result.length} bytes)")
    for version, length in result.deltas.items():
        typer.echo(f"  delta from {version}: {length} bytes")


@app.command("list")
def list_(repo: RepoOption) -> None:
    """The published releases and their deltas."""
    from fleet.updates.catalog import list_releases

    for r in list_releases(repo):
        deltas = ", ".join(f"from {d.from_version} ({d.length} B)" for d in r.deltas) or "none"
        minimum = r.min_upgrade_from or "any"
        typer.echo(
            f"{r.kind:8} {r.version:12} {r.length:>10} B  upgrades from {minimum}; deltas {deltas}"
        )


@app.command("refresh-timestamp")
def refresh_timestamp(repo: RepoOption, keys: KeysOption) -> None:
    """Re-sign the timestamp (and snapshot) if they expire soon; the fleet does it itself."""
    from fleet.updates.repository import FileRepository

    done = FileRepository(repo, keys).refresh_timestamp()
    typer.echo("refreshed" if done else "still fresh")
