"""The HTTP providers' ``api-key`` check against a key-check HTTP server on loopback
(local to these tests: the shared HTTP test server is being written concurrently)."""

from __future__ import annotations

import pytest
from doctor_http import KeyServer

from unisend import diagnose

#: scheme -> (URL user part for a key containing WORD, the path the check must call)
PROVIDERS = {
    "sendgrid": ("SG.{word}-key", "/v3/scopes"),
    "postmark": ("{word}-server-token", "/server"),
    "mailjet": ("public-{word}:secret-{word}", "/v3/REST/apikey"),
    "brevo": ("xkeysib-{word}", "/v3/account"),
    "mailtrap": ("{word}-token", "/api/accounts"),
}


def url(scheme: str, word: str, server: KeyServer) -> str:
    user = PROVIDERS[scheme][0].format(word=word)
    return f"{scheme}://{user}@default?base_url={server.base_url}"


@pytest.mark.parametrize("scheme", sorted(PROVIDERS))
@pytest.mark.parametrize(
    ("word", "expected"), [("good", "ok"), ("wrong", "fail"), ("limited", "warn")]
)
def test_key_check_per_provider(
    key_server: KeyServer, scheme: str, word: str, expected: str
) -> None:
    diagnosis = diagnose(url(scheme, word, key_server), timeout=3)
    check = diagnosis.check("api-key")
    assert check is not None and check.status == expected, str(diagnosis)
    assert check.details["status_code"] == {"ok": 200, "fail": 401, "warn": 403}[expected]
    if expected != "ok":
        assert check.fix
    for id in ("config", "dns", "connect"):
        found = diagnosis.check(id)
        assert found is not None and found.status == "ok", found
    # exactly one read-only call, to the documented endpoint
    assert [(method, path) for method, path, _ in key_server.requests] == [
        ("GET", PROVIDERS[scheme][1])
    ]
    # the key never shows up in what the doctor returns
    secret = PROVIDERS[scheme][0].format(word=word).split(":")[-1]
    assert secret not in str(diagnosis) + repr(diagnosis.to_dict())


def test_bad_key_fix_names_the_provider_dashboard(key_server: KeyServer) -> None:
    check = diagnose(url("sendgrid", "bad", key_server), timeout=3).check("api-key")
    assert check is not None and check.fix is not None
    assert "create a new API key in the sendgrid dashboard" in check.fix


def test_brevo_unrecognised_ip_is_a_valid_key(key_server: KeyServer) -> None:
    check = diagnose(url("brevo", "ipblock", key_server), timeout=3).check("api-key")
    assert check is not None and check.status == "warn"
    assert check.fix and "Authorised IPs" in check.fix


def test_credentials_reach_the_server_in_the_provider_header(key_server: KeyServer) -> None:
    diagnose(url("postmark", "good", key_server), timeout=3)
    diagnose(url("brevo", "good", key_server), timeout=3)
    postmark, brevo = (headers for _, _, headers in key_server.requests)
    assert postmark["x-postmark-server-token"] == "good-server-token"
    assert brevo["api-key"] == "xkeysib-good"


def test_wrong_base_url_path_is_404(key_server: KeyServer) -> None:
    diagnosis = diagnose(
        f"sendgrid://SG.good@default?base_url={key_server.base_url}/nowhere", timeout=3
    )
    check = diagnosis.check("api-key")
    assert check is not None and check.status == "fail" and check.fix
    assert "base_url" in check.fix


def test_api_host_refusing_connections(closed_port: int) -> None:
    diagnosis = diagnose(f"brevo://xkeysib-x@default?base_url=http://127.0.0.1:{closed_port}")
    connect = diagnosis.check("connect")
    assert connect is not None and connect.status == "fail" and connect.fix
    api_key = diagnosis.check("api-key")
    assert api_key is not None and api_key.status == "skip"


def test_postmark_sandbox_has_no_key_to_check(key_server: KeyServer) -> None:
    diagnosis = diagnose(f"postmark://default?sandbox=true&base_url={key_server.base_url}")
    check = diagnosis.check("api-key")
    assert check is not None and check.status == "skip"
    config = diagnosis.check("config")
    assert config is not None and config.status == "warn" and config.fix
    assert key_server.requests == []


def test_mailtrap_default_hosts_check_the_account_api() -> None:
    from unisend.doctor._routes import load_routes

    routes, _ = load_routes("mailtrap://tok@default")
    assert routes[0].key_url == "https://mailtrap.io/api/accounts"
    routes, _ = load_routes("sendgrid://SG.x@default")
    assert routes[0].key_url == "https://api.sendgrid.com/v3/scopes"
    for route in routes:
        assert route.transport is not None
        route.transport.close()


def test_behind_a_proxy_the_direct_connect_is_not_judged(
    key_server: KeyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The "proxy" is the key server itself: httpx sends it the absolute URL.
    monkeypatch.setenv("HTTP_PROXY", key_server.base_url)
    monkeypatch.setenv("NO_PROXY", "")
    diagnosis = diagnose("sendgrid://SG.good@default?base_url=http://api.example.test", timeout=3)
    connect = diagnosis.check("connect")
    assert connect is not None and connect.status == "skip" and "HTTP_PROXY" in connect.summary
    api_key = diagnosis.check("api-key")
    assert api_key is not None and api_key.status == "ok", str(diagnosis)
