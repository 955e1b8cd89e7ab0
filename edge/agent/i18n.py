"""What field staff read, in Thai and English. Code speaks in message keys; screens render them.

Keep every operator-facing sentence here, both languages side by side, so a translation can be
reviewed in one place. ``render("place-finger", "th", finger="right-index")`` also translates
the finger and eye names.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["th", "en"]
LANGUAGES: tuple[Language, ...] = ("th", "en")

POSITIONS: dict[str, dict[str, str]] = {
    "right-thumb": {"en": "right thumb", "th": "นิ้วโป้งขวา"},
    "right-index": {"en": "right index finger", "th": "นิ้วชี้ขวา"},
    "right-middle": {"en": "right middle finger", "th": "นิ้วกลางขวา"},
    "right-ring": {"en": "right ring finger", "th": "นิ้วนางขวา"},
    "right-little": {"en": "right little finger", "th": "นิ้วก้อยขวา"},
    "left-thumb": {"en": "left thumb", "th": "นิ้วโป้งซ้าย"},
    "left-index": {"en": "left index finger", "th": "นิ้วชี้ซ้าย"},
    "left-middle": {"en": "left middle finger", "th": "นิ้วกลางซ้าย"},
    "left-ring": {"en": "left ring finger", "th": "นิ้วนางซ้าย"},
    "left-little": {"en": "left little finger", "th": "นิ้วก้อยซ้าย"},
    "left-eye": {"en": "left eye", "th": "ตาซ้าย"},
    "right-eye": {"en": "right eye", "th": "ตาขวา"},
    "both-eyes": {"en": "both eyes", "th": "ตาทั้งสองข้าง"},
}

REASONS: dict[str, dict[str, str]] = {
    "missing": {"en": "missing", "th": "ไม่มี"},
    "amputated": {"en": "amputated", "th": "ถูกตัด"},
    "bandaged": {"en": "bandaged", "th": "มีผ้าพันแผล"},
    "unusable": {"en": "unusable", "th": "ใช้งานไม่ได้"},
    "other": {"en": "other", "th": "อื่น ๆ"},
}

MESSAGES: dict[str, dict[str, str]] = {
    "place-finger": {
        "en": "Place the {finger} flat on the glass (attempt {attempt} of {attempts})",
        "th": "วาง{finger}ลงบนกระจกให้แนบสนิท (ครั้งที่ {attempt} จาก {attempts})",
    },
    "lift-finger": {"en": "Lift the finger", "th": "ยกนิ้วขึ้น"},
    "finger-good": {
        "en": "{finger}: good (quality {quality})",
        "th": "{finger}: ดี (คุณภาพ {quality})",
    },
    "finger-low-quality": {
        "en": "{finger}: quality {quality} is below {threshold}: {advice}",
        "th": "{finger}: คุณภาพ {quality} ต่ำกว่า {threshold}: {advice}",
    },
    "finger-unreadable": {
        "en": "{finger}: the sensor could not read this press: {advice}",
        "th": "{finger}: เครื่องอ่านลายนิ้วมือไม่ได้: {advice}",
    },
    "duplicate-finger": {
        "en": "This is the {other} again, not the {finger}: present the {finger}",
        "th": "นี่คือ{other}ซ้ำ ไม่ใช่{finger}: กรุณาวาง{finger}",
    },
    "finger-skipped": {
        "en": "{finger}: recorded as {reason}",
        "th": "{finger}: บันทึกว่า{reason}",
    },
    "finger-accepted-low": {
        "en": "{finger}: kept the best press (quality {quality}, below {threshold})",
        "th": "{finger}: เก็บภาพที่ดีที่สุด (คุณภาพ {quality} ต่ำกว่า {threshold})",
    },
    "look-at-camera": {
        "en": "Look at the green light, eyes wide open ({eye}, attempt {attempt} of {attempts})",
        "th": "มองที่ไฟสีเขียว ลืมตากว้าง ๆ ({eye} ครั้งที่ {attempt} จาก {attempts})",
    },
    "iris-good": {"en": "{eye}: good (quality {quality})", "th": "{eye}: ดี (คุณภาพ {quality})"},
    "iris-low-quality": {
        "en": "{eye}: quality {quality} is below {threshold}: {advice}",
        "th": "{eye}: คุณภาพ {quality} ต่ำกว่า {threshold}: {advice}",
    },
    "iris-not-found": {
        "en": "{eye}: no usable eye image: {advice}",
        "th": "{eye}: ไม่ได้ภาพม่านตาที่ใช้ได้: {advice}",
    },
    "iris-camera-lost": {
        "en": "The iris camera stopped answering: check its USB cable (looking for it again)",
        "th": "กล้องม่านตาไม่ตอบสนอง: ตรวจสอบสาย USB (กำลังค้นหากล้องอีกครั้ง)",
    },
    "iris-camera-missing": {
        "en": "No iris camera found: plug it in (waiting up to {seconds} s)",
        "th": "ไม่พบกล้องม่านตา: กรุณาเสียบกล้อง (รอได้ถึง {seconds} วินาที)",
    },
    "iris-camera-back": {
        "en": "The iris camera is back: capturing again",
        "th": "กล้องม่านตากลับมาแล้ว: กำลังถ่ายใหม่",
    },
    "iris-accepted-low": {
        "en": "{eye}: kept the best image (quality {quality}, below {threshold})",
        "th": "{eye}: เก็บภาพที่ดีที่สุด (คุณภาพ {quality} ต่ำกว่า {threshold})",
    },
    "saved": {
        "en": "Saved: packet {seq} waits to upload ({waiting} waiting)",
        "th": "บันทึกแล้ว: ชุดข้อมูลที่ {seq} รอส่ง (รอส่ง {waiting} ชุด)",
    },
    # The terminal enrolment (`ewp enrol`).
    "login-operator": {"en": "Operator id", "th": "รหัสเจ้าหน้าที่"},
    "login-pin": {"en": "PIN", "th": "รหัส PIN"},
    "login-finger": {
        "en": "Place your finger to confirm it is you",
        "th": "วางนิ้วของท่านเพื่อยืนยันตัวตน",
    },
    "logged-in": {"en": "Logged in as {name}", "th": "เข้าสู่ระบบในชื่อ {name}"},
    "logged-out-idle": {
        "en": "Logged out after {minutes} minutes without activity",
        "th": "ออกจากระบบแล้ว เนื่องจากไม่มีการใช้งาน {minutes} นาที",
    },
    "menu": {
        "en": "[n] new application  [l] look up a pre-registered one  [q] upload queue  "
        "[x] log out",
        "th": "[n] คำขอใหม่  [l] ค้นหาคำขอที่ลงทะเบียนล่วงหน้า  [q] คิวรอส่ง  [x] ออกจากระบบ",
    },
    "choice": {"en": "Choice", "th": "เลือก"},
    "application-number": {"en": "Application number", "th": "เลขที่คำขอ"},
    "not-found": {
        "en": "No pre-registered application {number} on this station",
        "th": "ไม่พบคำขอที่ลงทะเบียนล่วงหน้าเลขที่ {number} ในเครื่องนี้",
    },
    "confirm-applicant": {
        "en": "{name}, passport {passport}, {nationality}: is this the applicant? [y/n]",
        "th": "{name} หนังสือเดินทาง {passport} สัญชาติ{nationality}: ใช่ผู้ยื่นคำขอหรือไม่ [y/n]",
    },
    "field-kind": {
        "en": "Application type (new, renewal, change-employer, notification)",
        "th": "ประเภทคำขอ (new, renewal, change-employer, notification)",
    },
    "field-given_name": {"en": "Given name", "th": "ชื่อ"},
    "field-family_name": {"en": "Family name", "th": "นามสกุล"},
    "field-passport_number": {"en": "Passport number", "th": "เลขที่หนังสือเดินทาง"},
    "field-nationality": {
        "en": "Nationality (3-letter code, e.g. MMR, KHM, LAO)",
        "th": "สัญชาติ (รหัส 3 ตัวอักษร เช่น MMR, KHM, LAO)",
    },
    "field-date_of_birth": {"en": "Date of birth (YYYY-MM-DD)", "th": "วันเกิด (ปปปป-ดด-วว ค.ศ.)"},
    "field-sex": {"en": "Sex (F, M, X)", "th": "เพศ (F, M, X)"},
    "field-juristic_id": {
        "en": "Employer's 13-digit id",
        "th": "เลขประจำตัวนายจ้าง 13 หลัก",
    },
    "field-employer_name": {"en": "Employer's name", "th": "ชื่อนายจ้าง"},
    "field-job_type": {"en": "Job type ({choices})", "th": "ประเภทงาน ({choices})"},
    "field-work_province": {"en": "Work province", "th": "จังหวัดที่ทำงาน"},
    "invalid": {"en": "Not accepted: {problem}", "th": "ไม่ถูกต้อง: {problem}"},
    "declare-exception": {
        "en": "A finger or eye that cannot be captured? (e.g. 'left-thumb amputated'; empty: none)",
        "th": "มีนิ้วหรือตาที่เก็บไม่ได้หรือไม่ (เช่น 'left-thumb amputated' เว้นว่างถ้าไม่มี)",
    },
    "resolve": {
        "en": "{position}: best quality {quality}. [k] keep it  [u] record as unusable",
        "th": "{position}: คุณภาพดีที่สุด {quality} [k] เก็บไว้  [u] บันทึกว่าใช้งานไม่ได้",
    },
    "queue": {
        "en": "{waiting} packets waiting to upload (oldest {age}); {acked} acknowledged",
        "th": "รอส่ง {waiting} ชุด (เก่าสุด {age}) ส่งสำเร็จแล้ว {acked} ชุด",
    },
    # Quality advice (components of ewp-fq-1 / ewp-iq-1, weakest first).
    "advice-area": {
        "en": "press the whole fingertip flat, in the middle of the glass",
        "th": "กดปลายนิ้วทั้งหมดให้แนบกลางกระจก",
    },
    "advice-orientation_certainty": {
        "en": "clean the glass and hold the finger still",
        "th": "เช็ดกระจกและวางนิ้วนิ่ง ๆ",
    },
    "advice-ridge_clarity": {
        "en": "moisten a dry finger or press a little firmer",
        "th": "ทำให้นิ้วชื้นเล็กน้อยหรือกดแรงขึ้นอีกนิด",
    },
    "advice-press-again": {"en": "press again", "th": "กดใหม่อีกครั้ง"},
    "advice-usable_area": {
        "en": "open the eyes wide; lift the eyelids gently if needed",
        "th": "ลืมตากว้าง ๆ หากจำเป็นให้ช่วยเปิดเปลือกตาเบา ๆ",
    },
    "advice-sharpness": {
        "en": "hold still at the right distance from the camera",
        "th": "อยู่นิ่ง ๆ ในระยะที่เหมาะสมกับกล้อง",
    },
    "advice-pupil_iris_contrast": {
        "en": "remove glasses or contact lenses; avoid bright light",
        "th": "ถอดแว่นตาหรือคอนแทคเลนส์ หลีกเลี่ยงแสงจ้า",
    },
    "advice-iris_sclera_contrast": {
        "en": "look straight at the green light",
        "th": "มองตรงไปที่ไฟสีเขียว",
    },
    "advice-dilation": {"en": "avoid bright light on the face", "th": "หลีกเลี่ยงแสงจ้าที่ใบหน้า"},
    "advice-margin": {
        "en": "centre the eye in the camera's view",
        "th": "จัดตาให้อยู่กลางภาพของกล้อง",
    },
    "advice-look-again": {"en": "look at the green light again", "th": "มองไฟสีเขียวอีกครั้ง"},
}


def position_name(position: str, language: Language) -> str:
    names = POSITIONS.get(position)
    return names[language] if names else position


def render(key: str, language: Language, **params: object) -> str:
    """The sentence for ``key`` in ``language``; finger/eye/reason parameters translated."""
    template = MESSAGES[key][language]
    values: dict[str, object] = {}
    for name, value in params.items():
        if name in ("finger", "other", "eye", "position") and isinstance(value, str):
            values[name] = position_name(value, language)
        elif name == "reason" and isinstance(value, str) and value in REASONS:
            values[name] = REASONS[value][language]
        elif name == "advice" and isinstance(value, str) and f"advice-{value}" in MESSAGES:
            values[name] = MESSAGES[f"advice-{value}"][language]
        else:
            values[name] = value
    return template.format(**values)
