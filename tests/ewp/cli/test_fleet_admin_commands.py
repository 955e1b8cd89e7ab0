"""`ewp fleet admin create`, `ewp fleet user ...` and `ewp fleet token ...` as real processes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from ewp.local_fleet import FleetStack
from tests.ewp.cli.test_fleet_and_central_commands import ewp


def test_first_admin_users_and_tokens_from_the_command_line(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    config = str(fleet_stack.settings_path)
    secret = tmp_path / "pw"
    secret.write_text("the first admin's passphrase\n")
    created = json.loads(
        ewp(
            "fleet",
            "admin",
            "create",
            "root.admin",
            "--config",
            config,
            "--password-file",
            str(secret),
        ).stdout
    )
    assert (created["username"], created["role"]) == ("root.admin", "admin")
    weak = tmp_path / "weak"
    weak.write_text("short\n")
    refused = ewp(
        "fleet",
        "user",
        "add",
        "shorty",
        "--config",
        config,
        "--password-file",
        str(weak),
        check=False,
    )
    assert refused.returncode == 2 and "at least 12 characters" in refused.stderr
    ewp(
        "fleet",
        "user",
        "add",
        "field.lead",
        "--role",
        "operator",
        "--config",
        config,
        "--password-file",
        str(secret),
    )
    changed = json.loads(
        ewp("fleet", "user", "role", "field.lead", "viewer", "--config", config).stdout
    )
    assert changed["role"] == "viewer"
    listed = [
        json.loads(line)
        for line in ewp("fleet", "user", "list", "--config", config).stdout.splitlines()
    ]
    assert [u["username"] for u in listed] == ["field.lead", "root.admin"]
    last = ewp("fleet", "user", "disable", "root.admin", "--config", config, check=False)
    assert last.returncode == 2 and "last enabled admin" in last.stderr
    # The admin logs in on the web; a token made on the command line works for scripts.
    login = httpx.post(
        f"{fleet_stack.url}/api/v1/auth/login",
        json={"username": "root.admin", "password": "the first admin's passphrase"},
    )
    assert login.status_code == 200
    token = ewp(
        "fleet", "token", "create", "field.lead", "--name", "prometheus", "--config", config
    ).stdout.strip()
    me = httpx.get(
        f"{fleet_stack.url}/api/v1/auth/me", headers={"authorization": f"Bearer {token}"}
    )
    assert me.json()["role"] == "viewer"
    metrics = httpx.get(f"{fleet_stack.url}/metrics", headers={"authorization": f"Bearer {token}"})
    assert metrics.status_code == 200 and "ewp_stations" in metrics.text
    token_id = httpx.get(
        f"{fleet_stack.url}/api/v1/tokens", headers={"authorization": f"Bearer {token}"}
    ).json()[0]["id"]
    ewp("fleet", "token", "revoke", str(token_id), "--config", config)
    again = httpx.get(
        f"{fleet_stack.url}/api/v1/auth/me", headers={"authorization": f"Bearer {token}"}
    )
    assert again.status_code == 401
