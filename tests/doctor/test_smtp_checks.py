"""SMTP route checks against real aiosmtpd servers on loopback (trustme / cryptography
certificates): every outcome of connect, greeting, tls, certificate and auth."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import pytest
from conftest import DoctorSMTPServer, smtp_url
from servers.smtp import PASSWORD, USER

from unisend import Diagnosis, diagnose

MakeServer = Callable[..., DoctorSMTPServer]


def run(url: str, **kwargs: Any) -> Diagnosis:
    kwargs.setdefault("timeout", 3.0)
    return diagnose(url, **kwargs)


def status(diagnosis: Diagnosis, id: str) -> str:
    check = diagnosis.check(id)
    assert check is not None, f"no {id} check in {diagnosis}"
    return check.status


def statuses(diagnosis: Diagnosis, *ids: str) -> dict[str, str]:
    return {id: status(diagnosis, id) for id in ids}


SMTP_IDS = ("config", "dns", "connect", "greeting", "tls", "certificate", "auth")


def test_healthy_server_every_check_ok_and_no_mail_sent(smtp: MakeServer, ca_file: str) -> None:
    server = smtp()
    diagnosis = run(smtp_url(server, ca_file))
    assert statuses(diagnosis, *SMTP_IDS) == dict.fromkeys(SMTP_IDS, "ok"), str(diagnosis)
    assert diagnosis.ok
    tls = diagnosis.check("tls")
    assert tls is not None and tls.details["version"] in ("TLSv1.2", "TLSv1.3")
    certificate = diagnosis.check("certificate")
    assert certificate is not None and certificate.details["days_left"] > 300
    auth = diagnosis.check("auth")
    assert auth is not None and f"logged in as {USER}" in auth.summary
    # One AUTH, then QUIT: never MAIL, RCPT or DATA.
    commands = server.recorder.commands
    assert commands == ["EHLO", "STARTTLS", "EHLO", "AUTH", "QUIT"], commands
    assert server.recorder.auth == [("PLAIN", USER, True)]
    assert server.messages == []


def test_implicit_tls_healthy(smtp: MakeServer, ca_file: str) -> None:
    server = smtp(tls="implicit")
    diagnosis = run(smtp_url(server, ca_file, scheme="smtps"))
    assert statuses(diagnosis, *SMTP_IDS) == dict.fromkeys(SMTP_IDS, "ok"), str(diagnosis)
    assert server.recorder.commands == ["EHLO", "AUTH", "QUIT"]


def test_login_false_makes_no_auth_attempt(smtp: MakeServer, ca_file: str) -> None:
    server = smtp()
    diagnosis = run(smtp_url(server, ca_file), login=False)
    auth = diagnosis.check("auth")
    assert auth is not None and auth.status == "ok"
    assert "login not tried" in auth.summary and "PLAIN" in auth.details["mechanisms"]
    assert "AUTH" not in server.recorder.commands
    assert server.recorder.auth == []


def test_auth_login_mechanism_when_plain_is_not_offered(smtp: MakeServer, ca_file: str) -> None:
    server = smtp(auth_exclude=["PLAIN"])
    diagnosis = run(smtp_url(server, ca_file))
    assert status(diagnosis, "auth") == "ok"
    assert server.recorder.auth == [("LOGIN", USER, True)]


def test_utf8_credentials_are_sent_as_utf8(smtp: MakeServer, ca_file: str) -> None:
    server = smtp(auth_reply="535 5.7.8 Authentication credentials invalid")
    run(smtp_url(server, ca_file, user="jos%C3%A9", password="p%C3%A4ss-w0rd"))
    assert server.recorder.auth == [("PLAIN", "josé", False)]


def test_wrong_password(smtp: MakeServer, ca_file: str) -> None:
    server = smtp()
    diagnosis = run(smtp_url(server, ca_file, password="not-the-password"))
    auth = diagnosis.check("auth")
    assert auth is not None and auth.status == "fail"
    assert "535" in auth.summary and "5.7.8" in auth.summary
    assert auth.fix and "app password" in auth.fix and "%40" in auth.fix
    assert not diagnosis.ok
    assert server.recorder.commands[-1] == "QUIT"
    assert len(server.recorder.auth) == 1  # one attempt only


@pytest.mark.parametrize(
    ("reply", "summary", "fix"),
    [
        (
            "534 5.7.9 Application-specific password required",
            "app password",
            "Gmail needs an app password (534 5.7.9)",
        ),
        (
            "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled "
            "for the Tenant",
            "535 5.7.139",
            "Microsoft 365 has SMTP AUTH turned off for this mailbox (535 5.7.139)",
        ),
        (
            "535 5.7.139 Authentication unsuccessful, user is locked by your organization's "
            "security defaults policy",
            "5.7.139",
            "Security Defaults",
        ),
        (
            "550 5.7.30 Basic authentication is not supported for Client Submission.",
            "550 5.7.30",
            "XOAUTH2",
        ),
        ("535 5.7.3 Authentication unsuccessful", "wrong user name or password", "password"),
        ("504 5.5.4 Unrecognized authentication type", "refused", "SMTP AUTH"),
    ],
)
def test_auth_failure_codes_are_named(
    smtp: MakeServer, ca_file: str, reply: str, summary: str, fix: str
) -> None:
    server = smtp(auth_reply=reply)
    auth = run(smtp_url(server, ca_file)).check("auth")
    assert auth is not None and auth.status == "fail", auth
    assert summary in auth.summary
    assert auth.fix is not None and fix in auth.fix
    assert auth.details["reply"].startswith(reply[:3])


def test_temporary_auth_failure_warns(smtp: MakeServer, ca_file: str) -> None:
    server = smtp(auth_reply="454 4.7.0 Temporary authentication failure")
    auth = run(smtp_url(server, ca_file)).check("auth")
    assert auth is not None and auth.status == "warn" and auth.fix


def test_no_credentials_skips_auth(smtp: MakeServer, ca_file: str) -> None:
    server = smtp()
    diagnosis = run(f"smtp://127.0.0.1:{server.port}?ca_file={ca_file}")
    auth = diagnosis.check("auth")
    assert auth is not None and auth.status == "skip" and "no credentials" in auth.summary
    assert "AUTH" not in server.recorder.commands


def test_credentials_but_no_auth_offered(smtp: MakeServer, ca_file: str) -> None:
    server = smtp(auth=False)
    # aiosmtpd advertises AUTH whenever an authenticator is set; drop every mechanism
    server.stop()
    server = smtp(auth=False, auth_exclude=["PLAIN", "LOGIN"])
    auth = run(smtp_url(server, ca_file)).check("auth")
    assert auth is not None and auth.status == "fail"
    assert auth.fix and "remove the credentials" in auth.fix


def test_starttls_not_offered(smtp: MakeServer, ca_file: str) -> None:
    server = smtp(tls=None)
    diagnosis = run(smtp_url(server, ca_file))
    tls = diagnosis.check("tls")
    assert tls is not None and tls.status == "fail"
    assert "does not offer STARTTLS" in tls.summary and tls.fix and "smtps://" in tls.fix
    assert statuses(diagnosis, "certificate", "auth") == {"certificate": "skip", "auth": "skip"}
    assert "AUTH" not in server.recorder.commands  # no password over plain text


def test_security_none_while_starttls_is_offered_warns(smtp: MakeServer) -> None:
    server = smtp(auth=False)
    diagnosis = run(f"smtp://127.0.0.1:{server.port}?security=none")
    assert statuses(diagnosis, "tls", "certificate") == {"tls": "warn", "certificate": "skip"}


def test_security_none_on_a_plain_server_skips_tls(smtp: MakeServer) -> None:
    server = smtp(tls=None, auth=False)
    diagnosis = run(f"smtp://127.0.0.1:{server.port}?security=none")
    assert statuses(diagnosis, "greeting", "tls") == {"greeting": "ok", "tls": "skip"}
    assert diagnosis.ok


def test_tls12_only_server_with_min_tls_13(smtp: MakeServer, ca_file: str) -> None:
    server = smtp(max_tls=ssl.TLSVersion.TLSv1_2)
    diagnosis = run(smtp_url(server, ca_file, query="min_tls=1.3"))
    tls = diagnosis.check("tls")
    assert tls is not None and tls.status == "fail", str(diagnosis)
    assert tls.fix and "min_tls=1.2" in tls.fix
    assert statuses(diagnosis, "certificate", "auth") == {"certificate": "skip", "auth": "skip"}


def test_tls12_only_server_is_fine_with_the_default_min_tls(smtp: MakeServer, ca_file: str) -> None:
    server = smtp(max_tls=ssl.TLSVersion.TLSv1_2)
    tls = run(smtp_url(server, ca_file)).check("tls")
    assert tls is not None and tls.status == "ok" and tls.details["version"] == "TLSv1.2"


@pytest.mark.parametrize(
    ("cert", "summary", "fix"),
    [
        ("untrusted", "not trusted", "ca_file"),
        ("wrong-host", "not for 127.0.0.1", "host name"),
        ("expired", "has expired", "renew"),
    ],
)
def test_bad_certificates_fail(
    smtp: MakeServer, ca_file: str, cert: str, summary: str, fix: str
) -> None:
    server = smtp(cert=cert)
    diagnosis = run(smtp_url(server, ca_file))
    certificate = diagnosis.check("certificate")
    assert certificate is not None and certificate.status == "fail", str(diagnosis)
    assert summary in certificate.summary
    assert certificate.fix and fix in certificate.fix
    assert statuses(diagnosis, "tls", "auth") == {"tls": "skip", "auth": "skip"}
    assert "AUTH" not in server.recorder.commands


def test_certificate_about_to_expire_warns(smtp: MakeServer, ca_file: str) -> None:
    server = smtp(cert="soon")
    diagnosis = run(smtp_url(server, ca_file))
    certificate = diagnosis.check("certificate")
    assert certificate is not None and certificate.status == "warn", str(diagnosis)
    assert certificate.details["days_left"] in (4, 5)
    assert certificate.fix and "renew" in certificate.fix
    assert status(diagnosis, "auth") == "ok"


def test_host_name_checked_against_the_certificate_through_dns(
    smtp: MakeServer, ca_file: str, nameserver: str
) -> None:
    server = smtp()
    url = smtp_url(server, ca_file, host="mail.good.test")
    diagnosis = run(url, nameservers=[nameserver])
    assert statuses(diagnosis, *SMTP_IDS) == dict.fromkeys(SMTP_IDS, "ok"), str(diagnosis)
    dns = diagnosis.check("dns")
    assert dns is not None and dns.details["addresses"] == ["127.0.0.1"]


def test_unknown_host_fails_dns(nameserver: str) -> None:
    diagnosis = run("smtp://u:p@missing.test:587", nameservers=[nameserver])
    dns = diagnosis.check("dns")
    assert dns is not None and dns.status == "fail" and "NXDOMAIN" in dns.summary
    assert dns.fix and "host name" in dns.fix
    for id in ("connect", "greeting", "tls", "certificate", "auth", "blocklist"):
        assert status(diagnosis, id) == "skip"


def test_closed_port_is_refused(closed_port: int) -> None:
    diagnosis = run(f"smtp://u:p@127.0.0.1:{closed_port}")
    connect = diagnosis.check("connect")
    assert connect is not None and connect.status == "fail"
    assert "refused" in connect.summary and connect.details["error"] == "refused"
    assert connect.fix and "port" in connect.fix
    assert status(diagnosis, "greeting") == "skip"


def test_dropped_packets_time_out_and_are_told_apart(black_hole: int) -> None:
    diagnosis = run(f"smtp://u:p@127.0.0.1:{black_hole}", timeout=1.0)
    connect = diagnosis.check("connect")
    assert connect is not None and connect.status == "fail"
    assert "timed out" in connect.summary and connect.details["error"] == "timeout"
    assert connect.fix and "firewall" in connect.fix


def test_listener_that_never_greets(silent_listener: int) -> None:
    diagnosis = run(f"smtp://u:p@127.0.0.1:{silent_listener}", timeout=1.0)
    greeting = diagnosis.check("greeting")
    assert greeting is not None and greeting.status == "fail"
    assert "no greeting" in greeting.summary and greeting.fix
    assert statuses(diagnosis, "tls", "auth") == {"tls": "skip", "auth": "skip"}


def test_implicit_tls_port_reached_with_smtp_scheme(smtp: MakeServer, ca_file: str) -> None:
    server = smtp(tls="implicit")
    diagnosis = run(smtp_url(server, ca_file), timeout=2.0)
    greeting = diagnosis.check("greeting")
    assert greeting is not None and greeting.status == "fail", str(diagnosis)
    assert (
        greeting.fix
        == f"port {server.port} expects implicit TLS: use smtps://127.0.0.1:{server.port}"
    )


def test_starttls_port_reached_with_smtps_scheme(smtp: MakeServer, ca_file: str) -> None:
    server = smtp()
    diagnosis = run(smtp_url(server, ca_file, scheme="smtps"))
    tls = diagnosis.check("tls")
    assert tls is not None and tls.status == "fail", str(diagnosis)
    assert tls.fix and f"use smtp://127.0.0.1:{server.port}" in tls.fix
    assert statuses(diagnosis, "greeting", "auth") == {"greeting": "skip", "auth": "skip"}


def test_greeting_refused_with_554(smtp: MakeServer, ca_file: str) -> None:
    from servers.smtp import Faults

    server = smtp(faults=Faults(greeting="554 5.7.1 Your IP is on our blocklist"))
    greeting = run(smtp_url(server, ca_file)).check("greeting")
    assert greeting is not None and greeting.status == "fail"
    assert "554" in greeting.summary and greeting.fix and "blocklist" in greeting.fix


def test_secrets_never_appear(smtp: MakeServer, ca_file: str) -> None:
    server = smtp()
    secret = "Sup3r-Secret-Pw"
    diagnosis = run(smtp_url(server, ca_file, password=secret))
    text = str(diagnosis) + repr(diagnosis.to_dict())
    assert secret not in text
    assert PASSWORD not in text
    assert "smtp://mailer-user:***@127.0.0.1" in text
