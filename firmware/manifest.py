# Freeze the controller firmware into a custom MicroPython image for the Pico:
#   make -C ports/rp2 BOARD=RPI_PICO FROZEN_MANIFEST=<path to this file>
# (`ewp firmware build` makes the usual .mpy bundle instead; both use the same modules.)

include("$(PORT_DIR)/boards/manifest.py")

module("version.py")
module("messages.py")
module("frame.py")
module("link.py")
module("msgring.py")
module("store.py")
module("hmac_sha256.py")
module("tamper.py")
module("debounce.py")
module("panel.py")
module("sht4x.py")
module("battery.py")
module("nmea.py")
module("controller.py")
module("hal_rp2040.py")
