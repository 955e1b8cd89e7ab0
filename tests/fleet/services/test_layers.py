"""Pages and routes stand on the services, never on each other (decision 0070): the dashboard
imports no API route module, and the services know nothing of HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

import fleet

FLEET = Path(fleet.__file__).parent
# What of fleet/api the dashboard may use: dependencies, views, the one error mapping.
SHARED_API = {"fleet.api.deps", "fleet.api.error_handler"}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def is_view_module(name: str) -> bool:
    return name == "fleet.api.schemas" or name.endswith("_schemas")


def test_the_dashboard_calls_services_not_api_routes() -> None:
    for path in sorted((FLEET / "web").glob("*.py")):
        for name in imported(path):
            module = ".".join(name.split(".")[:3])
            if module.startswith("fleet.api.") and module != "fleet.api.schemas":
                assert module in SHARED_API or is_view_module(module), f"{path.name}: {name}"


def test_the_services_know_nothing_of_http_nor_of_routes() -> None:
    for path in sorted((FLEET / "services").glob("*.py")):
        for name in imported(path):
            assert not name.startswith(("fastapi", "starlette")), f"{path.name}: {name}"
            module = ".".join(name.split(".")[:3])
            if module.startswith("fleet.api"):
                assert is_view_module(module), f"{path.name}: {name}"
            assert not name.startswith("fleet.web"), f"{path.name}: {name}"
