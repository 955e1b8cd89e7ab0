"""``python -m ewp`` is the ``ewp`` command."""

from ewp.cli import main

main()
