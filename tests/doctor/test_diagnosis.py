"""The data the API returns, the config check, composite URLs and argument errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from conftest import DoctorSMTPServer, smtp_url

import unisend
from unisend import Check, ConfigurationError, Diagnosis, adiagnose, diagnose
from unisend.doctor._model import CHECK_IDS


def test_public_names_are_exported_lazily() -> None:
    assert {"diagnose", "adiagnose", "Diagnosis", "Check"} <= set(unisend.__all__)
    assert unisend.Diagnosis is Diagnosis and unisend.Check.__doc__


def test_check_lookup_and_json_form() -> None:
    checks = [
        Check("connect", "a", "ok", "fine"),
        Check("connect", "b", "fail", "refused", "fix it", {"n": (1, 2)}),
    ]
    diagnosis = Diagnosis(checks, url="smtp://x")
    assert not diagnosis.ok
    assert diagnosis.check("connect") is checks[0]
    assert diagnosis.check("connect", route="b") is checks[1]
    assert diagnosis.check("connect", route="c") is None
    assert diagnosis.check("tls") is None
    data = json.loads(json.dumps(diagnosis.to_dict()))
    assert data["ok"] is False and data["counts"] == {"ok": 1, "warn": 0, "fail": 1, "skip": 0}
    assert data["checks"][1] == {
        "id": "connect",
        "route": "b",
        "status": "fail",
        "summary": "refused",
        "fix": "fix it",
        "details": {"n": [1, 2]},
    }
    assert "FAIL  connect" in str(diagnosis) and "fix: fix it" in str(diagnosis)


def test_no_url_is_a_failed_config_check() -> None:
    diagnosis = diagnose(None, timeout=1)
    config = diagnosis.check("config")
    assert config is not None and config.status == "fail"
    assert config.fix and "UNISEND_URL" in config.fix
    assert not diagnosis.ok


def test_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNISEND_URL", "memory://")
    config = diagnose(timeout=1).check("config")
    assert config is not None and config.route == "memory" and config.status == "warn"


def test_bad_url_fails_config_without_echoing_the_secret() -> None:
    diagnosis = diagnose("smtp://user:hunter2-secret@:587", timeout=1)
    config = diagnosis.check("config")
    assert config is not None and config.status == "fail" and config.fix
    assert "hunter2-secret" not in str(diagnosis) + json.dumps(diagnosis.to_dict())


def test_unknown_scheme_fails_config() -> None:
    config = diagnose("carrier-pigeon://coop", timeout=1).check("config")
    assert config is not None and config.status == "fail"
    assert config.fix and "known schemes" in config.fix


def test_composite_url_checks_every_route_by_name(
    smtp: Callable[..., DoctorSMTPServer], ca_file: str, closed_port: int
) -> None:
    good = smtp()
    url = (
        f"failover({smtp_url(good, ca_file, query='name=primary')} "
        f"roundrobin(smtp://u:pw-one@127.0.0.1:{closed_port}?name=backup "
        "sendgrid://SG.topsecret@default?base_url=http://127.0.0.1:9))"
    )
    diagnosis = diagnose(url, timeout=3)
    routes = list(dict.fromkeys(c.route for c in diagnosis.checks if c.route))
    assert routes == ["primary", "backup", "sendgrid"]
    primary = diagnosis.check("auth", route="primary")
    assert primary is not None and primary.status == "ok"
    backup = diagnosis.check("connect", route="backup")
    assert backup is not None and backup.status == "fail"
    config = diagnosis.check("config", route="sendgrid")
    assert (
        config is not None
        and config.details["url"] == "sendgrid://***@default?base_url=http://127.0.0.1:9"
    )
    text = str(diagnosis) + json.dumps(diagnosis.to_dict())
    for secret in ("pw-one", "SG.topsecret", "s3cret-Passw0rd!"):
        assert secret not in text


def test_one_bad_route_of_a_composite_fails_only_its_config() -> None:
    diagnosis = diagnose("failover(memory:// sendgrid://@default)", timeout=1)
    configs = [c for c in diagnosis.checks if c.id == "config"]
    assert [(c.route, c.status) for c in configs] == [("memory", "warn"), ("sendgrid", "fail")]


def test_routes_with_the_same_name_are_numbered() -> None:
    diagnosis = diagnose("failover(memory:// memory://)", timeout=1)
    assert [c.route for c in diagnosis.checks if c.id == "config"] == ["memory", "memory#2"]


def test_unbalanced_composition_fails_config() -> None:
    config = diagnose("failover(memory://", timeout=1).check("config")
    assert config is not None and config.status == "fail" and config.fix and "')'" in config.fix


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": 0},
        {"timeout": -1},
        {"timeout": float("nan")},
        {"timeout": True},
        {"nameservers": ["not-an-ip"]},
        {"nameservers": ["127.0.0.1:99999"]},
        {"nameservers": "127.0.0.1"},
        {"domain": "not a domain"},
        {"domain": "localhost"},
    ],
)
def test_bad_arguments_raise_configuration_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        diagnose("memory://", **kwargs)


def test_nameserver_forms_are_accepted() -> None:
    from unisend.doctor._dns import parse_nameservers

    assert parse_nameservers(["192.0.2.53", "127.0.0.1:5353", "[::1]:5300", "::1"]) == [
        ("192.0.2.53", 53),
        ("127.0.0.1", 5353),
        ("::1", 5300),
        ("::1", 53),
    ]


def test_domain_given_as_an_address_uses_its_domain(nameserver: str) -> None:
    diagnosis = diagnose("memory://", domain="Ann@Good.Test.", nameservers=[nameserver])
    assert diagnosis.domain == "good.test"


async def test_adiagnose_and_diagnose_inside_a_running_loop() -> None:
    awaited = await adiagnose("memory://", timeout=1)
    # diagnose() called from async code runs on a helper thread instead of failing
    blocking = diagnose("memory://", timeout=1)
    assert awaited.to_dict() == blocking.to_dict()
    assert asyncio.get_running_loop().is_running()


def test_every_warn_and_fail_has_a_fix_and_ids_are_stable(
    smtp: Callable[..., DoctorSMTPServer], ca_file: str, nameserver: str
) -> None:
    server = smtp(cert="soon")
    url = f"failover({smtp_url(server, ca_file, password='bad')} memory://)"
    diagnosis = diagnose(url, domain="noinclude.test", nameservers=[nameserver], timeout=3)
    assert {c.status for c in diagnosis.checks} >= {"ok", "warn", "fail"}
    for check in diagnosis.checks:
        assert check.id in CHECK_IDS
        if check.status in ("warn", "fail"):
            assert check.fix, check


def test_without_dnspython_hosts_still_resolve_and_domain_checks_say_what_to_install(
    closed_port: int,
) -> None:
    import subprocess
    import sys
    from pathlib import Path

    code = f"""
import sys
sys.modules["dns"] = None  # as if dnspython were not installed
import unisend
d = unisend.diagnose("smtp://localhost:{closed_port}", timeout=2)
print(d.check("dns").status, d.check("connect").details["error"], d.check("blocklist").status)
print(d.check("blocklist").summary)
try:
    unisend.diagnose("memory://", domain="example.com")
except unisend.ConfigurationError as exc:
    print("raised:", exc)
"""
    root = Path(unisend.__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "ok refused skip", result.stdout + result.stderr
    assert "pip install 'unisend[doctor]'" in lines[1]
    assert lines[2].startswith("raised:") and "unisend[doctor]" in lines[2]


def test_smtp_relays_of_providers_get_the_provider_dns_advice(nameserver: str) -> None:
    from unisend.doctor._routes import load_routes

    routes, _ = load_routes("smtp://apikey:SG.x@smtp.sendgrid.net:587")
    assert routes[0].provider is not None and routes[0].provider.name == "sendgrid"
    diagnosis = diagnose(
        "smtp://apikey:SG.x@smtp.sendgrid.net:587",
        domain="noinclude.test",
        nameservers=[nameserver],
        timeout=1,
    )
    spf = diagnosis.check("spf")
    assert spf is not None and spf.fix and "include:sendgrid.net" in spf.fix
