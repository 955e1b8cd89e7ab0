"""`ewp central` commands: the central system's key pair and opening stored packets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)


@app.command()
def keygen(
    out: Annotated[Path, typer.Option(help="directory for central.key and central.pub")],
    kem: Annotated[str, typer.Option(help="MLKEM768_X25519 (default) or X25519")] = (
        "MLKEM768_X25519"
    ),
) -> None:
    """Generate the central HPKE key pair. The private key stays with the central system."""
    from protocol.keys import CentralPrivateKey

    if kem not in ("MLKEM768_X25519", "X25519"):
        raise typer.BadParameter("use MLKEM768_X25519 or X25519", param_hint="--kem")
    private_path, public_path = out / "central.key", out / "central.pub"
    if private_path.exists():
        raise typer.BadParameter(f"{private_path} exists: refusing to overwrite a private key")
    key = CentralPrivateKey.generate(kem)  # type: ignore[arg-type]
    out.mkdir(parents=True, exist_ok=True)
    key.save(private_path)
    key.public_key().save(public_path)
    typer.echo(
        json.dumps(
            {
                "key_id": key.public_key().key_id,
                "kem": kem,
                "private_key": str(private_path),
                "public_key": str(public_path),
            }
        )
    )


@app.command("open")
def open_packets(
    key: Annotated[Path, typer.Option(help="the central private key file")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="fleet settings: open from its store")
    ] = None,
    packet_ids: Annotated[
        list[str] | None, typer.Argument(help="packet ids (default: all)")
    ] = None,
    file: Annotated[list[Path] | None, typer.Option(help="open .ewp files instead")] = None,
    out: Annotated[
        Path | None, typer.Option(help="extract the records into this directory")
    ] = None,
    nist: Annotated[
        Path | None,
        typer.Option(help="also write an ANSI/NIST-ITL 1-2011 transaction per packet here"),
    ] = None,
) -> None:
    """Verify, decrypt and check stored packets; print one JSON line per packet and a summary.

    With --config the station's registered key verifies each signature too. Exit code 1 when
    any packet fails.
    """
    from sqlalchemy import select

    from fleet.central import extract, open_and_check
    from fleet.context import FleetContext
    from fleet.store.admin_models import StationKey
    from fleet.store.models import Packet, Station
    from protocol.envelope import SealedPacket
    from protocol.errors import ProtocolError
    from protocol.keys import CentralPrivateKey, decode_station_public_key

    central = CentralPrivateKey.load(key)
    jobs: list[tuple[str, SealedPacket | None, str | None, Exception | None]] = []
    if file:
        for path in file:
            try:
                jobs.append((str(path), SealedPacket.from_bytes(path.read_bytes()), None, None))
            except (OSError, ProtocolError) as exc:
                jobs.append((str(path), None, None, exc))
    elif config is not None:
        from ewp.cli.settings_loader import load_settings
        from fleet.settings import FleetSettings

        context = FleetContext.create(load_settings(FleetSettings, config))
        with context.sessions() as session:
            query = select(Packet, Station.public_key).join(Station)
            if packet_ids:
                query = query.where(Packet.packet_id.in_(packet_ids))
            for row, station_key in session.execute(query.order_by(Packet.received_at)):
                try:
                    stored = context.files.read(row.path)
                    # The key that signed it, from the station's key history (it may have
                    # rotated its key since).
                    signer = session.get(StationKey, (row.station_id, stored.header.signer))
                    if signer is not None:
                        station_key = signer.public_key
                    jobs.append((row.packet_id, stored, station_key, None))
                except (OSError, ProtocolError) as exc:
                    jobs.append((row.packet_id, None, None, exc))
        context.close()
    else:
        raise typer.BadParameter("give --config (fleet store) or --file")
    ok = failed = 0
    for name, sealed, station_key, error in jobs:
        if sealed is not None and error is None:
            try:
                verify = decode_station_public_key(station_key) if station_key else None
                opened = open_and_check(sealed, central, verify)
                if out is not None:
                    extract(opened, out)  # every path checked to stay inside --out
            except ProtocolError as exc:
                error = exc
            else:
                ok += 1
                typer.echo(json.dumps({"ok": True, **opened.summary()}, ensure_ascii=False))
                if nist is not None:
                    from fleet.nist_export import export_transaction

                    nist.mkdir(parents=True, exist_ok=True)
                    transaction = export_transaction(opened.manifest, opened.files)
                    (nist / f"{opened.packet.packet_id}.an2").write_bytes(transaction)
                continue
        failed += 1
        typer.echo(json.dumps({"ok": False, "packet": name, "error": str(error)}))
    typer.echo(json.dumps({"opened": ok, "failed": failed}))
    if failed:
        raise typer.Exit(1)
