"""Docs that must stay true to the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol.topics import ALL_TOPICS, TopicSpec

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL_DOC = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("spec", ALL_TOPICS, ids=[t.suffix for t in ALL_TOPICS])
def test_every_topic_is_documented_with_its_qos_and_retain(spec: TopicSpec) -> None:
    suffix = spec.suffix.replace("+", "{packet_id}")
    rows = [line for line in PROTOCOL_DOC.splitlines() if line.startswith(f"| `{suffix}` |")]
    assert rows, f"docs/protocol.md has no table row for topic {suffix}"
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    direction, qos, retain = cells[1], cells[2], cells[3]
    assert direction == ("station → fleet" if spec.direction == "up" else "fleet → station")
    assert qos == str(spec.qos)
    assert retain == ("yes" if spec.retain else "no")


def test_readme_names_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme
    assert "make test" in readme
