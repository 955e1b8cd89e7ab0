"""A process that keeps writing to an outbox, for the SIGKILL test.

``python -m tests.edge.agent.outbox_writer DB``: forever: enqueue a packet and print
``saved <packet_id> <sha256>`` once it is durable; in between, move older packets through the
other states (sending with progress, acked, purged), so a kill can land in any kind of write.
"""

from __future__ import annotations

import sys
from pathlib import Path

from edge.agent.outbox import Outbox
from tests.edge.agent.helpers import make_builder, make_enrolment


def main() -> None:
    builder, _, _ = make_builder()
    outbox = Outbox(Path(sys.argv[1]), quota_bytes=10**9, min_free_bytes=0)
    number = 0
    while True:
        number += 1
        entry = builder.save(outbox, make_enrolment(number, image_size=20000))
        sys.stdout.write(f"saved {entry.packet_id} {entry.sha256}\n")
        sys.stdout.flush()
        waiting = outbox.waiting(limit=3)
        if waiting:
            outbox.mark_sending(waiting[0].packet_id)
            outbox.record_progress(waiting[0].packet_id, 1)
        if len(waiting) > 1:
            outbox.mark_acked(waiting[1].packet_id, '{"status": "stored"}')
        outbox.purge_acked(older_than_s=0)


if __name__ == "__main__":
    main()
