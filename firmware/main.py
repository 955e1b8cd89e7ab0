# Boot: pick the hal, start the watchdog and run the controller's loop. With the maintenance
# flag on flash (set by the MAINTENANCE command before `ewp firmware deploy`), stay at the REPL
# instead, without the watchdog, so that mpremote can copy a new bundle.

import sys

from store import FileStore
from version import VERSION

WATCHDOG_MS = 5000
MAX_CONSECUTIVE_ERRORS = 20


def open_hal():
    if sys.platform == "rp2":
        import hal_rp2040 as hal
    else:
        import hal_sim as hal
    return hal.Hal()


def main():
    store = FileStore("state")
    if store.exists("maintenance"):
        print("ewp controller " + VERSION + ": maintenance mode, REPL open")
        return
    hal = open_hal()
    from controller import Controller

    controller = Controller(hal, store)
    wdt = hal.watchdog(WATCHDOG_MS)
    errors = 0
    while True:
        try:
            controller.step()
            errors = 0
        except Exception:  # a bug: keep serving; a run of them stops the loop and the
            errors += 1  # watchdog, unfed, restarts the board
            if errors > MAX_CONSECUTIVE_ERRORS:
                raise
        wdt.feed()
        hal.idle()


main()
