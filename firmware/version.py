# The firmware's version, reported in IDENTITY and BOOT and stamped on `ewp firmware build`.
VERSION = "1.0.0"
PROTOCOL = 1
