"""``python -m edge.agent.updater boot|rollback|status --root DIR``: the systemd units' steps.

- ``boot`` (``ExecStartPre=`` of ewp-agent.service): count the start of a version on trial; go
  back to the previous version past its chances (3 starts, or the health deadline).
- ``rollback`` (ewp-agent-rollback.service, the agent's ``OnFailure=``): the agent unit gave
  up; if a version is on trial, go back to the previous one. Runs from ``previous/site``.
- ``status``: what runs, what is on trial, which reports wait for the link (JSON).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from edge.agent.updater.layout import MAX_BOOTS, Layout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge.agent.updater")
    parser.add_argument("step", choices=("boot", "rollback", "status"))
    parser.add_argument("--root", type=Path, required=True, help="e.g. /opt/ewp")
    parser.add_argument("--max-boots", type=int, default=MAX_BOOTS)
    parser.add_argument("--log-file", type=Path, default=None)
    parser.add_argument(
        "--reason", default="the new version did not start (the agent unit gave up)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    layout = Layout(args.root, log_file=args.log_file)
    if args.step == "boot":
        decision = layout.on_boot(max_boots=args.max_boots)
        logging.getLogger("edge.agent.updater").info(
            "boot: %s, running %s", decision.outcome, decision.version
        )
    elif args.step == "rollback":
        done = layout.rollback(args.reason)
        logging.getLogger("edge.agent.updater").info(
            "rollback: %s", "back to " + str(layout.installed_version()) if done else "no trial"
        )
    else:
        status = {
            "current": layout.installed_version(),
            "previous": layout.previous_version(),
            "trial": layout.trial(),
            "reports_waiting": len(layout.pending_reports()),
        }
        sys.stdout.write(json.dumps(status, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
