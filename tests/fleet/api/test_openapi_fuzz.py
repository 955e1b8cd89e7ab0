"""Schemathesis against the fleet's own OpenAPI document: generated requests (valid and
invalid) to every operation, with admin credentials, against a running fleet with a
provisioned station, users and a stored packet. No answer may be a 5xx, and every answer must
match the document (status codes, content types, response schemas).

Schemathesis runs as its command line (its pytest plugin does not support pytest 9 yet), with
a bounded number of examples per operation and a fixed seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ewp.local_fleet import start_fleet_stack
from fleet.roles import Role
from tests.e2e.test_rotation import deliver, sealed_packet
from tests.fleet.api.conftest import RoleFleet, make_users
from tests.fleet.api.test_route_roles import ROUTES

MAX_EXAMPLES = 20
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


def test_no_server_errors_and_answers_match_the_document(tmp_path: Path) -> None:
    stack = start_fleet_stack(tmp_path)
    try:
        make_users(stack)
        identity = stack.provision_station("ct-01", tmp_path / "ct-01")
        assert (
            deliver(stack, "ct-01", sealed_packet(identity, tmp_path / "p.sqlite", 1)) == "stored"
        )
        stack.add_station("mu-02", "mobile")
        result = subprocess.run(
            [
                SCHEMATHESIS,
                "run",
                f"{stack.url}/api/v1/openapi.json",
                "--header",
                f"Authorization: Bearer {stack.admin_token}",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--seed",
                "20261126",
                "--workers",
                "2",
                "--phases",
                "examples,coverage,fuzzing",
                "--checks",
                "all",
                # Business rules the JSON Schema cannot say (password strength, a province
                # name, "the bootstrap token is no user") rightly answer 422 to schema-valid
                # input; Starlette's 405 lists only the first matching route's methods.
                "--exclude-checks",
                "positive_data_acceptance,allow_header_conformance",
                "--generation-database",
                "none",
                "--request-timeout",
                "30",
                "--no-color",
                "--report",
                "junit",
                "--report-junit-path",
                str(tmp_path / "schemathesis.xml"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        )
    finally:
        stack.stop()
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert "generated" in result.stdout, result.stdout


def test_the_document_names_security_errors_and_response_models(role_fleet: RoleFleet) -> None:
    with role_fleet.anonymous() as client:
        doc = client.get("/api/v1/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert (schemes["session"]["in"], schemes["session"]["name"]) == ("cookie", "ewp_session")
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            needed = ROUTES[(method.upper(), path)]
            responses = operation["responses"]
            if needed is not None:
                assert operation.get("security") == [{"bearer": []}, {"session": []}], where
                assert "401" in responses, where
                if isinstance(needed, Role) and needed > Role.VIEWER:
                    assert "403" in responses, where
            success = next(code for code in responses if code.startswith("2"))
            content = responses[success].get("content")
            if success != "204":
                assert content, f"{where}: its answer has no documented content"
