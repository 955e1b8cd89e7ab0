"""Everything the dashboard says, in Thai and English, side by side in one place.

Templates call ``t("key", name=value)``; code passes keys, never sentences. Station states,
alert rules, severities and drift values have their own tables so a value from the API is
shown in the reader's language (``label("state", "online")``). A missing key is a bug that a
test catches (``tests/fleet/web/test_i18n.py``): both languages must have every key.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["th", "en"]
LANGUAGES: tuple[Language, ...] = ("th", "en")

MESSAGES: dict[str, dict[Language, str]] = {
    # -- frame --------------------------------------------------------------------------------
    "app-title": {"en": "ewp fleet", "th": "ศูนย์ควบคุมสถานี ewp"},
    "nav-overview": {"en": "Fleet", "th": "ภาพรวม"},
    "nav-alerts": {"en": "Alerts", "th": "การแจ้งเตือน"},
    "nav-config": {"en": "Configuration", "th": "การตั้งค่า"},
    "nav-status-page": {"en": "Application status page", "th": "หน้าตรวจสอบสถานะคำขอ"},
    "signed-in-as": {"en": "{name} ({role})", "th": "{name} ({role})"},
    "logout": {"en": "Log out", "th": "ออกจากระบบ"},
    "language-switch": {"en": "ภาษาไทย", "th": "English"},
    "times-in-bangkok": {
        "en": "Times are Bangkok time (UTC+7).",
        "th": "เวลาทั้งหมดเป็นเวลากรุงเทพฯ (UTC+7)",
    },
    "none": {"en": "none", "th": "ไม่มี"},
    "never": {"en": "never", "th": "ไม่เคย"},
    "unknown": {"en": "unknown", "th": "ไม่ทราบ"},
    "yes": {"en": "yes", "th": "ใช่"},
    "no": {"en": "no", "th": "ไม่ใช่"},
    "save": {"en": "Save", "th": "บันทึก"},
    "filter": {"en": "Filter", "th": "กรอง"},
    "all": {"en": "all", "th": "ทั้งหมด"},
    "back-to-overview": {"en": "Back to the fleet", "th": "กลับไปหน้าภาพรวม"},
    "needs-role": {
        "en": "Needs the {role} role.",
        "th": "ต้องมีสิทธิ์ระดับ {role}",
    },
    # -- login --------------------------------------------------------------------------------
    "login-title": {"en": "Log in to the fleet", "th": "เข้าสู่ระบบศูนย์ควบคุมสถานี"},
    "username": {"en": "Username", "th": "ชื่อผู้ใช้"},
    "password": {"en": "Password", "th": "รหัสผ่าน"},
    "login": {"en": "Log in", "th": "เข้าสู่ระบบ"},
    "login-failed": {"en": "Wrong username or password.", "th": "ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง"},
    "login-locked": {
        "en": "Too many failed logins: try again in {seconds} s.",
        "th": "เข้าสู่ระบบผิดหลายครั้งเกินไป กรุณาลองใหม่ในอีก {seconds} วินาที",
    },
    "logged-out": {"en": "You have logged out.", "th": "ออกจากระบบแล้ว"},
    "session-ended": {
        "en": "Your session has ended: log in again.",
        "th": "หมดเวลาการใช้งาน กรุณาเข้าสู่ระบบอีกครั้ง",
    },
    # -- errors -------------------------------------------------------------------------------
    "error-title": {"en": "Something is not right", "th": "เกิดข้อผิดพลาด"},
    "error-forbidden": {
        "en": "Your role ({role}) may not do this: it needs {needed}.",
        "th": "สิทธิ์ของท่าน ({role}) ทำรายการนี้ไม่ได้ ต้องมีสิทธิ์ {needed}",
    },
    "error-csrf": {
        "en": "This form has expired (missing security token): reload the page and try again.",
        "th": "แบบฟอร์มนี้หมดอายุ (ไม่มีรหัสความปลอดภัย) กรุณาโหลดหน้าใหม่แล้วลองอีกครั้ง",
    },
    "error-not-found": {"en": "Not found: {what}", "th": "ไม่พบ: {what}"},
    "error-too-large": {"en": "The form is too large.", "th": "ข้อมูลในแบบฟอร์มมีขนาดใหญ่เกินไป"},
    # -- overview -----------------------------------------------------------------------------
    "overview-title": {"en": "Fleet overview", "th": "ภาพรวมสถานีทั้งหมด"},
    "stations": {"en": "Stations", "th": "สถานี"},
    "stations-total": {"en": "{n} stations", "th": "{n} สถานี"},
    "count-online": {"en": "Online", "th": "ออนไลน์"},
    "count-offline": {"en": "Offline", "th": "ออฟไลน์"},
    "count-offline-timeout": {
        "en": "{n} by missed heartbeats",
        "th": "{n} สถานีขาดการส่งสัญญาณชีพ",
    },
    "count-revoked": {"en": "Revoked", "th": "ถูกเพิกถอน"},
    "count-awaiting-claim": {"en": "Awaiting claim", "th": "รอลงทะเบียนเครื่อง"},
    "count-never-seen": {"en": "Never seen", "th": "ยังไม่เคยติดต่อ"},
    "queue-totals": {"en": "Waiting to upload", "th": "รอส่งข้อมูล"},
    "queue-packets": {"en": "{n} packets ({size})", "th": "{n} ชุดข้อมูล ({size})"},
    "queue-stations": {"en": "at {n} stations", "th": "จาก {n} สถานี"},
    "oldest-backlog": {"en": "Oldest backlog", "th": "ข้อมูลค้างนานที่สุด"},
    "oldest-backlog-at": {"en": "{age} at {station}", "th": "{age} ที่ {station}"},
    "active-alerts": {"en": "Active alerts", "th": "การแจ้งเตือนที่ยังไม่หมด"},
    "alerts-unacknowledged": {"en": "{n} not acknowledged", "th": "{n} รายการยังไม่มีผู้รับทราบ"},
    "no-active-alerts": {"en": "No active alerts.", "th": "ไม่มีการแจ้งเตือน"},
    "all-alerts": {"en": "All alerts", "th": "การแจ้งเตือนทั้งหมด"},
    "map-title": {"en": "Map of the stations", "th": "แผนที่สถานี"},
    "map-alt": {
        "en": "Map of Thailand with {n} stations placed by GPS position or province",
        "th": "แผนที่ประเทศไทยแสดง {n} สถานี ตามพิกัด GPS หรือจังหวัด",
    },
    "map-by-gps": {"en": "by GPS position", "th": "ตามพิกัด GPS"},
    "map-by-province": {"en": "by province", "th": "ตามจังหวัด"},
    "map-province-group": {
        "en": "{province}: {n} stations, {off} not online",
        "th": "{province}: {n} สถานี ไม่ออนไลน์ {off} สถานี",
    },
    "map-unplaced": {
        "en": "Not on the map (no province, no position): {stations}",
        "th": "ไม่อยู่บนแผนที่ (ไม่มีจังหวัดหรือพิกัด): {stations}",
    },
    "map-source": {
        "en": "Outline: Natural Earth (public domain). Province positions: provincial capitals.",
        "th": "เส้นแบ่งเขต: Natural Earth (สาธารณสมบัติ) ตำแหน่งจังหวัด: ที่ตั้งศาลากลางจังหวัด",
    },
    "station-list": {"en": "All stations", "th": "รายชื่อสถานี"},
    "rows-most-urgent": {
        "en": "The {shown} of {total} stations that need attention most: offline first, then "
        "the oldest backlog. Every station: /api/v1/fleet/health/stations",
        "th": "แสดง {shown} จาก {total} สถานีที่ต้องดูแลก่อน: สถานีออฟไลน์ก่อน แล้วตามข้อมูลค้างนานที่สุด "
        "รายการทุกสถานี: /api/v1/fleet/health/stations",
    },
    "col-station": {"en": "Station", "th": "สถานี"},
    "col-kind": {"en": "Kind", "th": "ประเภท"},
    "col-state": {"en": "State", "th": "สถานะ"},
    "col-province": {"en": "Province", "th": "จังหวัด"},
    "col-last-heartbeat": {"en": "Last heartbeat", "th": "สัญญาณชีพล่าสุด"},
    "col-waiting": {"en": "Waiting", "th": "รอส่ง"},
    "col-oldest": {"en": "Oldest waiting", "th": "ค้างนานสุด"},
    "col-disk-free": {"en": "Disk free", "th": "พื้นที่ว่าง"},
    "col-cpu": {"en": "CPU", "th": "CPU"},
    "col-battery": {"en": "Battery", "th": "แบตเตอรี่"},
    "refreshed-at": {"en": "As of {time}", "th": "ข้อมูล ณ {time}"},
    # -- station ------------------------------------------------------------------------------
    "station-title": {"en": "Station {id}", "th": "สถานี {id}"},
    "registry": {"en": "Registry", "th": "ทะเบียนสถานี"},
    "field-name": {"en": "Name", "th": "ชื่อ"},
    "field-kind": {"en": "Kind", "th": "ประเภท"},
    "field-provisioning": {"en": "Provisioning", "th": "การลงทะเบียน"},
    "field-region": {"en": "Region", "th": "ภาค"},
    "field-province": {"en": "Province", "th": "จังหวัด"},
    "field-tags": {"en": "Tags", "th": "กลุ่ม"},
    "field-operators": {"en": "Assigned operators", "th": "เจ้าหน้าที่ประจำ"},
    "field-software": {"en": "Software", "th": "ซอฟต์แวร์"},
    "field-firmware": {"en": "Controller firmware", "th": "เฟิร์มแวร์บอร์ดควบคุม"},
    "field-key": {"en": "Key fingerprint", "th": "ลายนิ้วมือกุญแจ"},
    "field-claimed": {"en": "Claimed", "th": "ลงทะเบียนเมื่อ"},
    "liveness": {"en": "Liveness", "th": "การเชื่อมต่อ"},
    "field-state": {"en": "State", "th": "สถานะ"},
    "field-reason": {"en": "Reason", "th": "สาเหตุ"},
    "field-since": {"en": "Since", "th": "ตั้งแต่"},
    "field-last-heartbeat": {"en": "Last heartbeat", "th": "สัญญาณชีพล่าสุด"},
    "field-next-due": {"en": "Next heartbeat due by", "th": "ควรได้รับสัญญาณชีพถัดไปภายใน"},
    "field-interval": {"en": "Heartbeat every", "th": "ส่งสัญญาณชีพทุก"},
    "latest-health": {"en": "Latest health", "th": "สุขภาพเครื่องล่าสุด"},
    "field-queue": {"en": "Waiting to upload", "th": "รอส่ง"},
    "field-oldest": {"en": "Oldest waiting", "th": "ค้างนานสุด"},
    "field-created": {"en": "Created in all", "th": "สร้างทั้งหมด"},
    "field-disk-free": {"en": "Disk free", "th": "พื้นที่ดิสก์ว่าง"},
    "field-cpu-temp": {"en": "CPU temperature", "th": "อุณหภูมิ CPU"},
    "field-battery": {"en": "Battery", "th": "แบตเตอรี่"},
    "field-power": {"en": "Mains power", "th": "ไฟบ้าน"},
    "field-climate": {"en": "Enclosure climate", "th": "อุณหภูมิ/ความชื้นในตู้"},
    "field-position": {"en": "Position", "th": "พิกัด"},
    "field-tamper": {"en": "Tamper latch", "th": "สัญญาณงัดแงะ"},
    "field-sensors": {"en": "Sensors", "th": "อุปกรณ์อ่าน"},
    "tamper-set": {"en": "SET: the enclosure was opened", "th": "ทำงาน: มีการเปิดตู้"},
    "tamper-clear": {"en": "clear", "th": "ปกติ"},
    "no-heartbeat": {
        "en": "No heartbeat has arrived from this station yet.",
        "th": "ยังไม่ได้รับสัญญาณชีพจากสถานีนี้",
    },
    "health-history": {"en": "Health over time", "th": "สุขภาพเครื่องย้อนหลัง"},
    "range-24h": {"en": "24 hours", "th": "24 ชั่วโมง"},
    "range-7d": {"en": "7 days", "th": "7 วัน"},
    "range-30d": {"en": "30 days", "th": "30 วัน"},
    "resolution": {
        "en": "{n} points, resolution: {resolution}",
        "th": "{n} จุด ความละเอียด: {resolution}",
    },
    "chart-queue": {"en": "Packets waiting", "th": "ชุดข้อมูลรอส่ง"},
    "chart-oldest": {"en": "Oldest waiting (minutes)", "th": "ค้างนานสุด (นาที)"},
    "chart-disk": {"en": "Disk free (%)", "th": "พื้นที่ดิสก์ว่าง (%)"},
    "chart-cpu": {"en": "CPU temperature (°C)", "th": "อุณหภูมิ CPU (°C)"},
    "chart-battery": {"en": "Battery (V)", "th": "แบตเตอรี่ (V)"},
    "chart-no-data": {"en": "no data in this range", "th": "ไม่มีข้อมูลในช่วงนี้"},
    "no-history": {"en": "No health samples in this range.", "th": "ไม่มีข้อมูลในช่วงเวลานี้"},
    "station-alerts": {"en": "Alerts", "th": "การแจ้งเตือน"},
    "packets": {"en": "Packets received", "th": "ชุดข้อมูลที่ได้รับ"},
    "packets-newest": {"en": "the {n} newest", "th": "{n} รายการล่าสุด"},
    "col-seq": {"en": "No.", "th": "ลำดับ"},
    "col-packet": {"en": "Packet", "th": "ชุดข้อมูล"},
    "col-size": {"en": "Size", "th": "ขนาด"},
    "col-created": {"en": "Sealed at station", "th": "ปิดผนึกที่สถานี"},
    "col-received": {"en": "Received", "th": "ได้รับเมื่อ"},
    "col-resends": {"en": "Resends", "th": "ส่งซ้ำ"},
    "no-packets": {"en": "No packets from this station yet.", "th": "ยังไม่มีชุดข้อมูลจากสถานีนี้"},
    "reconciliation": {"en": "Reconciliation", "th": "การกระทบยอด"},
    "reconciliation-summary": {
        "en": "Created {created}, received {received}, waiting {pending}, lost {lost}.",
        "th": "สร้าง {created} ได้รับ {received} รอส่ง {pending} สูญหาย {lost}",
    },
    "reconciliation-missing": {
        "en": "Numbers with no row at the station: {seqs}",
        "th": "ลำดับที่ไม่มีในเครื่อง: {seqs}",
    },
    "reconciliation-duplicates": {
        "en": "Numbers stored twice: {seqs}",
        "th": "ลำดับที่ถูกบันทึกซ้ำ: {seqs}",
    },
    "reconciliation-none": {
        "en": "This station has not reported yet (every 10 minutes while connected).",
        "th": "สถานีนี้ยังไม่ได้รายงาน (รายงานทุก 10 นาทีขณะเชื่อมต่อ)",
    },
    "reconciliation-reported": {"en": "Reported {time}", "th": "รายงานเมื่อ {time}"},
    "col-day": {"en": "Day", "th": "วันที่"},
    "col-created-count": {"en": "Created", "th": "สร้าง"},
    "col-received-count": {"en": "Received", "th": "ได้รับ"},
    "col-pending-count": {"en": "Waiting", "th": "รอส่ง"},
    "col-lost-count": {"en": "Lost", "th": "สูญหาย"},
    "col-lost-seqs": {"en": "Lost numbers", "th": "ลำดับที่สูญหาย"},
    "station-config": {"en": "Configuration", "th": "การตั้งค่า"},
    "field-drift": {"en": "Drift", "th": "สถานะการตั้งค่า"},
    "field-desired": {"en": "Desired", "th": "ที่กำหนด"},
    "field-applied": {"en": "Applied at the station", "th": "ที่สถานีใช้อยู่"},
    "field-published": {"en": "Published version", "th": "เวอร์ชันที่ส่งแล้ว"},
    "field-sources": {"en": "Layers", "th": "ชั้นการตั้งค่า"},
    "field-station-error": {"en": "Station's answer", "th": "คำตอบจากสถานี"},
    "version-hash": {"en": "v{version} · {hash}", "th": "v{version} · {hash}"},
    "effective-config": {"en": "Effective configuration", "th": "การตั้งค่าที่มีผล"},
    "edit-station-layer": {
        "en": "Edit this station's own layer",
        "th": "แก้ไขการตั้งค่าเฉพาะสถานีนี้",
    },
    # -- alerts -------------------------------------------------------------------------------
    "alerts-title": {"en": "Alerts", "th": "การแจ้งเตือน"},
    "filter-state": {"en": "State", "th": "สถานะ"},
    "filter-rule": {"en": "Rule", "th": "กฎ"},
    "filter-station": {"en": "Station", "th": "สถานี"},
    "alert-active": {"en": "active", "th": "ยังไม่หมด"},
    "alert-cleared": {"en": "cleared", "th": "หมดแล้ว"},
    "col-severity": {"en": "Severity", "th": "ระดับ"},
    "col-rule": {"en": "Rule", "th": "กฎ"},
    "col-summary": {"en": "What", "th": "รายละเอียด"},
    "col-raised": {"en": "Raised", "th": "เกิดเมื่อ"},
    "col-alert-state": {"en": "State", "th": "สถานะ"},
    "col-acknowledged": {"en": "Acknowledged", "th": "รับทราบ"},
    "col-webhook": {"en": "Webhook", "th": "Webhook"},
    "acknowledge": {"en": "Acknowledge", "th": "รับทราบ"},
    "ack-note": {"en": "Note (optional)", "th": "หมายเหตุ (ไม่บังคับ)"},
    "acknowledged-by": {"en": "{who}, {time}", "th": "{who} เมื่อ {time}"},
    "not-acknowledged": {"en": "not yet", "th": "ยังไม่มี"},
    "no-alerts": {"en": "No alerts match.", "th": "ไม่มีการแจ้งเตือนที่ตรงเงื่อนไข"},
    "webhook-off": {
        "en": "No webhook is configured ([alerts.webhook] url): alerts are shown here only.",
        "th": "ไม่ได้ตั้งค่า webhook ([alerts.webhook] url) การแจ้งเตือนแสดงที่หน้านี้เท่านั้น",
    },
    "webhook-none": {"en": "not sent", "th": "ไม่ได้ส่ง"},
    "webhook-event": {
        "en": "{event}: {state} ({attempts} attempts)",
        "th": "{event}: {state} (พยายาม {attempts} ครั้ง)",
    },
    "cleared-at": {"en": "cleared {time}", "th": "หมดเมื่อ {time}"},
    # -- configuration ------------------------------------------------------------------------
    "config-title": {"en": "Configuration", "th": "การตั้งค่า"},
    "config-intro": {
        "en": "Layers merge fleet → tags (by name) → station; later wins. Each change is "
        "checked against the station configuration schema before it is accepted.",
        "th": "ชั้นการตั้งค่ารวมกันตามลำดับ ทั้งระบบ → กลุ่ม (ตามชื่อ) → สถานี ชั้นหลังมีผลเหนือกว่า "
        "ทุกการแก้ไขถูกตรวจสอบกับโครงสร้างการตั้งค่าสถานีก่อนบันทึก",
    },
    "layers": {"en": "Layers", "th": "ชั้นการตั้งค่า"},
    "col-scope": {"en": "Scope", "th": "ระดับ"},
    "col-target": {"en": "Applies to", "th": "ใช้กับ"},
    "col-version": {"en": "Version", "th": "เวอร์ชัน"},
    "col-document": {"en": "Settings", "th": "ค่าที่ตั้ง"},
    "col-updated": {"en": "Changed", "th": "แก้ไขเมื่อ"},
    "col-by": {"en": "By", "th": "โดย"},
    "scope-fleet": {"en": "fleet", "th": "ทั้งระบบ"},
    "scope-tag": {"en": "tag", "th": "กลุ่ม"},
    "scope-station": {"en": "station", "th": "สถานี"},
    "fleet-target": {"en": "every station", "th": "ทุกสถานี"},
    "no-layers": {
        "en": "No layers: every station runs its own settings file.",
        "th": "ยังไม่มีการตั้งค่า ทุกสถานีใช้ไฟล์ตั้งค่าของตนเอง",
    },
    "edit": {"en": "Edit", "th": "แก้ไข"},
    "view": {"en": "View", "th": "ดู"},
    "edit-fleet-layer": {"en": "Fleet layer", "th": "ชั้นทั้งระบบ"},
    "new-tag-layer": {"en": "Layer for a tag", "th": "ชั้นสำหรับกลุ่ม"},
    "new-station-layer": {"en": "Layer for a station", "th": "ชั้นสำหรับสถานี"},
    "open": {"en": "Open", "th": "เปิด"},
    "tags": {"en": "Tags", "th": "กลุ่มสถานี"},
    "col-tag": {"en": "Tag", "th": "กลุ่ม"},
    "col-members": {"en": "Stations", "th": "สถานี"},
    "col-layer-version": {"en": "Layer", "th": "ชั้นการตั้งค่า"},
    "no-tags": {"en": "No tags yet.", "th": "ยังไม่มีกลุ่ม"},
    "drift-title": {"en": "Drift", "th": "สถานะการตั้งค่าของแต่ละสถานี"},
    "history": {"en": "History", "th": "ประวัติการแก้ไข"},
    "layer-removed": {"en": "(removed)", "th": "(ลบแล้ว)"},
    "layer-title": {
        "en": "Configuration ({scope}): {target}",
        "th": "การตั้งค่า ({scope}): {target}",
    },
    "layer-document": {
        "en": "The layer (JSON: only the keys this layer sets)",
        "th": "ชั้นการตั้งค่า (JSON เฉพาะค่าที่ชั้นนี้กำหนด)",
    },
    "layer-new": {
        "en": "This layer does not exist yet; saving creates it.",
        "th": "ยังไม่มีชั้นนี้ การบันทึกจะสร้างขึ้นใหม่",
    },
    "layer-version": {
        "en": "Version {version}, {time} by {who}",
        "th": "เวอร์ชัน {version} {time} โดย {who}",
    },
    "layer-delete": {"en": "Remove this layer", "th": "ลบชั้นนี้"},
    "layer-saved": {
        "en": "Saved as version {version}. Stations changed: {stations}.",
        "th": "บันทึกเป็นเวอร์ชัน {version} แล้ว สถานีที่เปลี่ยน: {stations}",
    },
    "layer-deleted": {
        "en": "Layer removed. Stations changed: {stations}.",
        "th": "ลบชั้นแล้ว สถานีที่เปลี่ยน: {stations}",
    },
    "layer-refused": {
        "en": "Not saved: the configuration was refused.",
        "th": "ไม่ได้บันทึก: การตั้งค่าไม่ผ่านการตรวจสอบ",
    },
    "layer-problem": {"en": "{key}: {problem}", "th": "{key}: {problem}"},
    "layer-problem-station": {
        "en": "{key}: {problem} (station {station})",
        "th": "{key}: {problem} (สถานี {station})",
    },
    "layer-not-json": {
        "en": "Not valid JSON ({error}).",
        "th": "ไม่ใช่ JSON ที่ถูกต้อง ({error})",
    },
    "layer-not-object": {
        "en": 'The layer must be a JSON object: {"key": value, ...}.',
        "th": 'ชั้นการตั้งค่าต้องเป็นออบเจกต์ JSON: {"key": value, ...}',
    },
    "members": {"en": "Stations with this tag", "th": "สถานีในกลุ่มนี้"},
    "members-help": {
        "en": "Station ids separated by spaces or commas; exactly these carry the tag.",
        "th": "รหัสสถานีคั่นด้วยช่องว่างหรือจุลภาค เฉพาะสถานีเหล่านี้จะอยู่ในกลุ่ม",
    },
    "members-saved": {"en": "Members saved.", "th": "บันทึกสมาชิกแล้ว"},
    "schema-help": {
        "en": "Keys: capture.fingers, capture.eyes, capture.finger_quality_min (0-100), "
        "capture.iris_quality_min (0-100), capture.attempts, capture.finger_timeout_s, "
        "capture.duplicate_check, upload.windows [{start, end}], heartbeat_interval_s, "
        "retention_days.",
        "th": "คีย์ที่ใช้ได้: capture.fingers, capture.eyes, capture.finger_quality_min (0-100), "
        "capture.iris_quality_min (0-100), capture.attempts, capture.finger_timeout_s, "
        "capture.duplicate_check, upload.windows [{start, end}], heartbeat_interval_s, "
        "retention_days",
    },
}

# Values the API returns, shown in the reader's language.
LABELS: dict[str, dict[str, dict[Language, str]]] = {
    "state": {
        "online": {"en": "online", "th": "ออนไลน์"},
        "offline": {"en": "offline", "th": "ออฟไลน์"},
        "never-seen": {"en": "never seen", "th": "ยังไม่เคยติดต่อ"},
        "revoked": {"en": "revoked", "th": "ถูกเพิกถอน"},
        "awaiting-claim": {"en": "awaiting claim", "th": "รอลงทะเบียนเครื่อง"},
    },
    "reason": {
        "heartbeat": {"en": "heartbeat", "th": "ได้รับสัญญาณชีพ"},
        "status": {"en": "connected (status)", "th": "เชื่อมต่อแล้ว (สถานะ)"},
        "last will": {"en": "connection lost (last will)", "th": "การเชื่อมต่อขาด (last will)"},
        "heartbeat-timeout": {
            "en": "missed heartbeats",
            "th": "ขาดการส่งสัญญาณชีพ",
        },
    },
    "provisioning": {
        "awaiting_claim": {"en": "awaiting claim", "th": "รอลงทะเบียนเครื่อง"},
        "active": {"en": "active", "th": "ใช้งาน"},
        "revoked": {"en": "revoked", "th": "ถูกเพิกถอน"},
    },
    "kind": {
        "mobile": {"en": "mobile unit", "th": "หน่วยเคลื่อนที่"},
        "center": {"en": "service centre", "th": "ศูนย์บริการ"},
    },
    "rule": {
        "station-offline": {"en": "station offline", "th": "สถานีออฟไลน์"},
        "backlog-old": {"en": "old backlog", "th": "ข้อมูลค้างนาน"},
        "disk-full": {"en": "disk nearly full", "th": "ดิสก์ใกล้เต็ม"},
        "cpu-hot": {"en": "CPU hot", "th": "CPU ร้อนเกิน"},
        "sensor-fault": {"en": "sensor fault", "th": "อุปกรณ์อ่านขัดข้อง"},
        "tamper": {"en": "tamper", "th": "มีการงัดแงะ"},
        "reconciliation-gap": {"en": "reconciliation gap", "th": "ข้อมูลสูญหาย"},
    },
    "severity": {
        "warning": {"en": "warning", "th": "เตือน"},
        "error": {"en": "error", "th": "ผิดพลาด"},
        "critical": {"en": "critical", "th": "วิกฤต"},
    },
    "drift": {
        "unmanaged": {"en": "unmanaged (own settings file)", "th": "ไม่ได้จัดการ (ใช้ไฟล์ของตนเอง)"},
        "in-sync": {"en": "in sync", "th": "ตรงกัน"},
        "pending": {"en": "pending (not applied yet)", "th": "รอสถานีนำไปใช้"},
        "not-published": {"en": "not published yet", "th": "ยังไม่ได้ส่ง"},
        "refused": {"en": "refused by the station", "th": "สถานีปฏิเสธ"},
    },
    "packet": {
        "received": {"en": "received", "th": "ได้รับแล้ว"},
        "processed": {"en": "processed by central", "th": "ส่วนกลางดำเนินการแล้ว"},
    },
    "notification": {
        "pending": {"en": "pending", "th": "รอส่ง"},
        "delivered": {"en": "delivered", "th": "ส่งแล้ว"},
        "failed": {"en": "failed", "th": "ส่งไม่สำเร็จ"},
        "raised": {"en": "raised", "th": "เกิดขึ้น"},
        "cleared": {"en": "cleared", "th": "หมดแล้ว"},
        "acknowledged": {"en": "acknowledged", "th": "รับทราบ"},
    },
    "role": {
        "viewer": {"en": "viewer", "th": "ผู้ดู"},
        "operator": {"en": "operator", "th": "ผู้ปฏิบัติงาน"},
        "release-manager": {"en": "release manager", "th": "ผู้จัดการรุ่นซอฟต์แวร์"},
        "admin": {"en": "admin", "th": "ผู้ดูแลระบบ"},
        "central": {"en": "central system", "th": "ระบบส่วนกลาง"},
    },
    "sensor": {
        "ok": {"en": "ok", "th": "ปกติ"},
        "missing": {"en": "missing", "th": "ไม่พบอุปกรณ์"},
        "error": {"en": "error", "th": "ขัดข้อง"},
    },
    "resolution": {
        "raw": {"en": "every heartbeat", "th": "ทุกสัญญาณชีพ"},
        "5m": {"en": "5-minute buckets", "th": "ช่วงละ 5 นาที"},
        "1h": {"en": "hourly buckets", "th": "ช่วงละ 1 ชั่วโมง"},
    },
    "region": {
        "north": {"en": "North", "th": "ภาคเหนือ"},
        "northeast": {"en": "Northeast", "th": "ภาคตะวันออกเฉียงเหนือ"},
        "central": {"en": "Central", "th": "ภาคกลาง"},
        "east": {"en": "East", "th": "ภาคตะวันออก"},
        "west": {"en": "West", "th": "ภาคตะวันตก"},
        "south": {"en": "South", "th": "ภาคใต้"},
    },
}


def parse_language(text: str | None) -> Language | None:
    return "th" if text == "th" else "en" if text == "en" else None


def translate(message: str, language: Language, /, **values: object) -> str:
    """The message in that language, with ``{name}`` filled in (a missing key: KeyError)."""
    text = MESSAGES[message][language]
    return text.format(**values) if values else text


def label(kind: str, value: str | None, language: Language) -> str:
    """A value from the API in the reader's language; unknown values are shown as they are."""
    if value is None:
        return ""
    return LABELS.get(kind, {}).get(value, {}).get(language, value)


class Translator:
    """What templates get as ``t`` and ``label``: bound to the reader's language."""

    def __init__(self, language: Language) -> None:
        self.language = language
        self.other: Language = "en" if language == "th" else "th"

    def __call__(self, message: str, /, **values: object) -> str:
        return translate(message, self.language, **values)

    def label(self, kind: str, value: str | None) -> str:
        return label(kind, value, self.language)


UNITS: dict[Language, tuple[str, str, str, str]] = {
    "en": ("d", "h", "min", "s"),
    "th": ("วัน", "ชม.", "นาที", "วินาที"),
}


def duration(seconds: float | None, language: Language) -> str:
    """``3 h 5 min``, ``2 d 4 h``, ``40 s``: the two largest units that matter."""
    if seconds is None:
        return ""
    day, hour, minute, second = UNITS[language]
    total = int(max(0.0, seconds))
    parts = [
        (total // 86400, day),
        (total % 86400 // 3600, hour),
        (total % 3600 // 60, minute),
        (total % 60, second),
    ]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    return " ".join(f"{n} {unit}" for n, unit in parts[:2] if n or parts[0][0] == 0)


def size(count: float | None) -> str:
    if count is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"  # pragma: no cover


def _merge_rollouts() -> None:
    from fleet.web.i18n_rollouts import ROLLOUT_LABELS, ROLLOUT_MESSAGES

    MESSAGES.update(ROLLOUT_MESSAGES)
    LABELS.update(ROLLOUT_LABELS)


_merge_rollouts()
