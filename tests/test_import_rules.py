"""The layering of docs/development.md, enforced: a forbidden import fails the build."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> top-level packages it must never import
FORBIDDEN = {
    "mqtt_session": {"protocol", "edge", "fleet", "simulators", "ewp"},
    "protocol": {"mqtt_session", "edge", "fleet", "simulators", "ewp"},
    "edge": {"fleet", "simulators", "ewp"},
    "fleet": {"edge", "simulators", "ewp"},
    "simulators": {"mqtt_session", "edge", "fleet", "ewp"},
}
PRODUCT_PACKAGES = ("ewp", "mqtt_session", "protocol", "edge", "fleet", "simulators")


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_import_rules(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imported_top_levels(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def test_firmware_touches_machine_only_in_hal() -> None:
    for path in sorted((ROOT / "firmware").rglob("*.py")):
        if path.name.startswith("hal_"):
            continue
        assert "machine" not in _imported_top_levels(path), (
            f"{path.relative_to(ROOT)} imports machine; only hal_*.py may"
        )


def test_only_the_session_library_imports_paho() -> None:
    """One MQTT session library: TLS, reconnects and sessions are set up in one place.
    (Tests and bench/ may keep raw paho where they play an adversary or a baseline.)"""
    offenders = []
    for package in PRODUCT_PACKAGES:
        if package == "mqtt_session":
            continue
        for path in sorted((ROOT / package).rglob("*.py")):
            if "paho" in _imported_top_levels(path):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"import mqtt_session instead of paho in: {offenders}"
