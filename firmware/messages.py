# Message ids and codes of the host link (docs/controller-protocol.md is the contract; the
# host's copy is edge/drivers/controller_messages.py; tests/firmware/test_messages_agree.py
# checks that the two agree). A message is id(1) | len(1) | body(len);
# numbers are big-endian.

try:
    from micropython import const
except ImportError:

    def const(value):
        return value


# host -> board; each starts with a tag(1) that the reply repeats
IDENTIFY = const(0x01)
PING = const(0x02)  # tag token(4)
TIME_SYNC = const(0x03)  # tag seconds_since_2024(4) ms(2)
SET_LEDS = const(0x04)  # tag first(1) then (r g b mode)* ; mode: LED_*
BUZZER = const(0x05)  # tag pattern(1)
SET_CONFIG = const(0x06)  # tag reading_interval_s(2) host_timeout_s(2)
TAMPER_CHALLENGE = const(0x07)  # tag
TAMPER_CLEAR = const(0x08)  # tag mac(16)
MAINTENANCE = const(0x09)  # tag
READ_SENSORS = const(0x0A)  # tag
GET_STATUS = const(0x0B)  # tag
LINK_TEST = const(0x0C)  # tag count(2): send count READINGS/EVENT pairs as fast as possible

# board -> host
IDENTITY = const(0x81)  # tag proto caps(2) leds board_id(8) boot_count(2) reset_cause version
PONG = const(0x82)  # tag token(4) uptime_s(4) uptime_ms(2)
RESULT = const(0x83)  # tag status(1)
READINGS = const(0x84)  # time(6) flags temp_centi(2, signed) rh_centi(2) battery_mv(2)
EVENT = const(0x85)  # time(6) kind value count(2)
GPS = const(0x86)  # time(6) sentence (ASCII, no CR LF)
BOOT = const(0x87)  # boot_count(2) reset_cause tamper_latched version
CHALLENGE = const(0x88)  # tag nonce(16) tamper_count(2)
STATUS = const(0x89)  # tag flags tamper_count(2) tamper_at(4) uptime_s(4) events_dropped(2)
#                      reading_interval_s(2) host_timeout_s(2)

# RESULT status
OK = const(0)
BAD_REQUEST = const(1)
UNAUTHORISED = const(2)
NO_CHALLENGE = const(3)
NOT_PROVISIONED = const(4)
UNKNOWN = const(5)

# EVENT kinds
EV_BUTTON = const(1)  # value 1 short press, 2 long press
EV_TAMPER = const(2)  # value 1 opened now, 2 still latched at boot
EV_POWER = const(3)  # value 0 external power lost, 1 restored
EV_HOST = const(4)  # value 0 host silent too long, 1 host back
EV_SENSOR = const(5)  # value 0 temperature/humidity sensor lost, 1 back
EV_TAMPER_CLEARED = const(6)
EV_LINK_TEST = const(0x7F)

# READINGS flags / STATUS flags
R_CLIMATE = const(0x01)  # temperature and humidity valid
R_BATTERY = const(0x02)  # battery voltage valid
R_EXT_POWER = const(0x04)  # external power present
S_TAMPER = const(0x01)
S_TIME_SYNCED = const(0x02)
S_SENSOR = const(0x04)
S_EXT_POWER = const(0x08)
S_PROVISIONED = const(0x10)
S_HOST_LOST = const(0x20)

# capabilities
CAP_LEDS = const(0x0001)
CAP_BUZZER = const(0x0002)
CAP_BUTTON = const(0x0004)
CAP_TAMPER = const(0x0008)
CAP_CLIMATE = const(0x0010)
CAP_BATTERY = const(0x0020)
CAP_GPS = const(0x0040)
CAP_POWER_SENSE = const(0x0080)
CAP_WATCHDOG = const(0x0100)

# LED modes
LED_SOLID = const(0)
LED_BLINK = const(1)
LED_FAST = const(2)
LED_PULSE = const(3)

# buzzer patterns
BEEP_OFF = const(0)
BEEP_SHORT = const(1)
BEEP_DOUBLE = const(2)
BEEP_LONG = const(3)
BEEP_ERROR = const(4)
BEEP_ALARM = const(5)

# reset causes
RESET_POWER_ON = const(0)
RESET_WATCHDOG = const(1)
RESET_SOFT = const(2)
