"""README's claims that a test can hold: the test command CI runs, and the example's URL."""

from __future__ import annotations

import re
from pathlib import Path

from unisend import Failover, from_url

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_readme_test_command_verbatim() -> None:
    commands = re.findall(r"^# 2\..*\n(.+)$", README, flags=re.MULTILINE)
    assert len(commands) == 1
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert commands[0] in ci_lines


def test_quick_start_has_exactly_two_commands() -> None:
    block = README.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2


def test_example_url_builds_the_failover_it_describes() -> None:
    url = re.search(r'url = "(failover\(.+?\)\?cooldown=\d+)"', README)
    assert url is not None
    transport = from_url(url.group(1))
    assert isinstance(transport, Failover)
    assert [route.name for route in transport.routes] == ["smtp", "postmark"]
    assert transport.cooldown == 60.0
