"""`ewp sim iddk`: build the fake libIddk2000.so and say how to point the station at it.

The fake IDDK 2000 library runs inside the process that loads it (as IriTech's does), so
there is nothing to serve: this command compiles ``simulators/fake_iddk2000.c`` with the
system C compiler and prints the library's path, for ``--library`` of ``ewp sensor iris ...
--backend iddk`` or ``library`` in ``[sensors.iris]``. The camera it simulates is set up with
``FAKE_IDDK_*`` environment variables in the process that loads it (docs/tools/ewp-sim-iddk.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def iddk(
    out: Annotated[
        Path | None, typer.Option(help="directory to build into (default: the temp directory)")
    ] = None,
) -> None:
    """Build the fake libIddk2000.so; print {"library": PATH} as JSON."""
    from simulators.fake_iddk2000 import build_fake_iddk

    typer.echo(json.dumps({"library": str(build_fake_iddk(out))}))
