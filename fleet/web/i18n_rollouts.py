"""The rollout pages' messages and labels, in Thai and English (merged into fleet/web/i18n.py's
catalogue, which the pages and the catalogue's tests use)."""

from __future__ import annotations

from typing import Literal

Lang = Literal["th", "en"]

ROLLOUT_MESSAGES: dict[str, dict[Lang, str]] = {
    "nav-rollouts": {"en": "Rollouts", "th": "การอัปเดตซอฟต์แวร์"},
    "rollouts-title": {"en": "Software rollouts", "th": "การทยอยอัปเดตซอฟต์แวร์"},
    "rollouts-none": {"en": "No rollout yet.", "th": "ยังไม่มีการอัปเดต"},
    "rollouts-help": {
        "en": "Create a rollout with `ewp release rollout create` or POST /api/v1/rollouts.",
        "th": "สร้างการอัปเดตด้วยคำสั่ง `ewp release rollout create` หรือ POST /api/v1/rollouts",
    },
    "rollout-title": {"en": "Rollout {rollout}", "th": "การอัปเดต {rollout}"},
    "rollout-release": {"en": "Release", "th": "รุ่นซอฟต์แวร์"},
    "rollout-target": {"en": "Target", "th": "เป้าหมาย"},
    "rollout-state": {"en": "State", "th": "สถานะ"},
    "rollout-created": {"en": "Created", "th": "สร้างเมื่อ"},
    "rollout-created-by": {"en": "By", "th": "โดย"},
    "rollout-rollback-of": {"en": "Rolls back {rollout}", "th": "ย้อนกลับการอัปเดต {rollout}"},
    "rollout-halted-why": {"en": "Why it halted", "th": "สาเหตุที่หยุด"},
    "rollout-halted-measure": {
        "en": "The soak check found a regression in: {measure}",
        "th": "การเฝ้าดูหลังอัปเดตพบว่าแย่ลงที่: {measure}",
    },
    "rollout-phases": {"en": "Phases", "th": "ระยะการอัปเดต"},
    "rollout-phase": {"en": "Phase", "th": "ระยะ"},
    "rollout-stations": {"en": "Stations", "th": "สถานี"},
    "rollout-healthy": {"en": "Healthy", "th": "ปกติ"},
    "rollout-failed": {"en": "Failed", "th": "ล้มเหลว"},
    "rollout-thresholds": {
        "en": "success ≥ {success}, errors ≤ {errors}, timeout {timeout}, soak {soak}",
        "th": "สำเร็จ ≥ {success} ผิดพลาด ≤ {errors} หมดเวลา {timeout} เฝ้าดู {soak}",
    },
    "rollout-approval": {"en": "waits for approval", "th": "รอการอนุมัติ"},
    "rollout-soak": {"en": "Soak check", "th": "ผลการเฝ้าดูหลังอัปเดต"},
    "rollout-soak-measure": {"en": "Measure", "th": "ตัวชี้วัด"},
    "rollout-soak-updated": {"en": "Updated", "th": "สถานีที่อัปเดตแล้ว"},
    "rollout-soak-baseline": {"en": "Compared with", "th": "เทียบกับ"},
    "rollout-soak-regressed": {"en": "regressed", "th": "แย่ลง"},
    "rollout-station": {"en": "Station", "th": "สถานี"},
    "rollout-from": {"en": "From version", "th": "จากรุ่น"},
    "rollout-progress": {"en": "Download", "th": "ดาวน์โหลด"},
    "rollout-reason": {"en": "Reason", "th": "เหตุผล"},
    "rollout-last-report": {"en": "Last report", "th": "รายงานล่าสุด"},
    "rollout-pause": {"en": "Pause", "th": "หยุดชั่วคราว"},
    "rollout-resume": {"en": "Resume", "th": "ดำเนินการต่อ"},
    "rollout-cancel": {"en": "Cancel", "th": "ยกเลิก"},
    "rollout-approve": {"en": "Approve the next phase", "th": "อนุมัติระยะถัดไป"},
    "rollout-rollback": {"en": "Roll back", "th": "ย้อนกลับรุ่นเดิม"},
    "rollout-refused": {"en": "Not done: {reason}", "th": "ดำเนินการไม่ได้: {reason}"},
}

ROLLOUT_LABELS: dict[str, dict[str, dict[Lang, str]]] = {
    "rollout-state": {
        "running": {"en": "running", "th": "กำลังดำเนินการ"},
        "paused": {"en": "paused", "th": "หยุดชั่วคราว"},
        "waiting-approval": {"en": "waiting for approval", "th": "รอการอนุมัติ"},
        "halted": {"en": "halted", "th": "หยุดเอง"},
        "cancelled": {"en": "cancelled", "th": "ยกเลิกแล้ว"},
        "completed": {"en": "completed", "th": "เสร็จสิ้น"},
        "pending": {"en": "pending", "th": "รอคิว"},
        "soaking": {"en": "soaking", "th": "กำลังเฝ้าดู"},
        "passed": {"en": "passed", "th": "ผ่าน"},
        "failed": {"en": "failed", "th": "ล้มเหลว"},
        "waiting-window": {"en": "waiting for its window", "th": "รอช่วงเวลาบำรุงรักษา"},
        "offered": {"en": "offered", "th": "ส่งข้อเสนอแล้ว"},
        "downloading": {"en": "downloading", "th": "กำลังดาวน์โหลด"},
        "downloaded": {"en": "downloaded", "th": "ดาวน์โหลดแล้ว"},
        "installing": {"en": "installing", "th": "กำลังติดตั้ง"},
        "restarting": {"en": "restarting", "th": "กำลังเริ่มใหม่"},
        "healthy": {"en": "healthy", "th": "ปกติ"},
        "rolled-back": {"en": "rolled back", "th": "ย้อนกลับเอง"},
        "refused": {"en": "refused", "th": "ปฏิเสธ"},
        "timed-out": {"en": "timed out", "th": "หมดเวลา"},
        "skipped": {"en": "not offered", "th": "ไม่ได้ส่ง"},
    },
    "soak-measure": {
        "captures_per_hour": {"en": "captures per hour", "th": "การลงทะเบียนต่อชั่วโมง"},
        "capture_failure_rate": {"en": "capture failure rate", "th": "อัตราการเก็บข้อมูลล้มเหลว"},
        "upload_backlog": {"en": "upload backlog", "th": "คิวรอส่งข้อมูล"},
        "restarts_per_hour": {"en": "restarts per hour", "th": "การเริ่มระบบใหม่ต่อชั่วโมง"},
        "sensor_errors_per_hour": {
            "en": "sensor errors per hour",
            "th": "ข้อผิดพลาดของอุปกรณ์ต่อชั่วโมง",
        },
    },
}
