"""``unisend doctor`` as a subprocess: the human report, --json, exit codes, colour only
on a terminal, and no secret in the output."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from conftest import DoctorSMTPServer, smtp_url
from doctor_http import KeyServer

import unisend

REPO_ROOT = Path(unisend.__file__).resolve().parent.parent


def env(**extra: str) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith(("UNISEND_", "NO_COLOR"))}
    values["PYTHONPATH"] = str(REPO_ROOT)
    values.update(extra)
    return values


def doctor(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "unisend", "doctor", *args],
        capture_output=True,
        text=True,
        env=env(**extra),
        timeout=60,
    )


def test_healthy_route_exits_0_with_a_plain_report(
    smtp: Callable[..., DoctorSMTPServer], ca_file: str
) -> None:
    server = smtp()
    url = smtp_url(server, ca_file)
    result = doctor("--url", url, "--timeout", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("unisend doctor: no problem found")
    assert "  ok    auth" in result.stdout
    assert "\033[" not in result.stdout  # no colour into a pipe
    assert "s3cret-Passw0rd!" not in result.stdout + result.stderr
    assert "smtp://mailer-user:***@127.0.0.1" in result.stdout


def test_failed_check_exits_1_and_prints_the_fix(closed_port: int) -> None:
    result = doctor("--url", f"smtp://u:pw-9999@127.0.0.1:{closed_port}", "--timeout", "2")
    assert result.returncode == 1
    assert "FAIL  connect" in result.stdout and "fix: check the host and port" in result.stdout
    assert "pw-9999" not in result.stdout + result.stderr


def test_url_from_the_environment_and_json(key_server: KeyServer) -> None:
    url = f"sendgrid://SG.good-key@default?base_url={key_server.base_url}"
    result = doctor("--json", "--no-login", UNISEND_URL=url)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["url"].startswith("sendgrid://***@default")
    assert {c["id"] for c in data["checks"]} >= {"config", "dns", "connect", "api-key"}
    assert "SG.good-key" not in result.stdout


def test_domain_and_nameserver_options(nameserver: str) -> None:
    result = doctor(
        "--url", "memory://", "--domain", "deep.test", "--nameserver", nameserver, "--json"
    )
    assert result.returncode == 1
    spf = next(c for c in json.loads(result.stdout)["checks"] if c["id"] == "spf")
    assert spf["status"] == "fail" and spf["details"]["lookups"] == 11


def test_usage_errors_exit_2() -> None:
    for args in (
        ["--timeout", "0"],
        ["--timeout", "soon"],
        ["--nameserver", "dns.google"],
        ["--bogus"],
        ["--domain", "not a domain"],
    ):
        result = doctor("--url", "memory://", *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr


def test_colour_only_on_a_terminal(closed_port: int) -> None:
    main, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "unisend", "doctor", "--url", f"smtp://127.0.0.1:{closed_port}"],
        stdout=child,
        stderr=child,
        env=env(TERM="xterm"),
    )
    os.close(child)
    output = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(main)
    assert process.wait(30) == 1
    assert b"\033[31mFAIL\033[0m" in output
    no_colour = doctor("--url", f"smtp://127.0.0.1:{closed_port}", NO_COLOR="1")
    assert "\033[" not in no_colour.stdout


def test_black_hole_run_ends_within_timeout_and_margin(black_hole: int) -> None:
    started = time.monotonic()
    doctor("--url", "memory://")  # the start-up cost of the command on this machine
    baseline = time.monotonic() - started
    started = time.monotonic()
    result = doctor("--url", f"smtp://127.0.0.1:{black_hole}", "--timeout", "1")
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert "timed out" in result.stdout
    # the 1 s budget on top of start-up, and a margin
    assert elapsed < baseline + 1.0 + 1.0, (elapsed, baseline)


def test_help_lists_the_doctor() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "unisend", "--help"], capture_output=True, text=True, env=env()
    )
    assert "doctor" in result.stdout
