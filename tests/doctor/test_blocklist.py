"""The ``blocklist`` check: the SMTP server's IPv4 addresses against DNS blocklists served
under their real names by the test DNS server (reached with ``nameservers=``)."""

from __future__ import annotations

from doctor_dns import DnsServer

from unisend import diagnose
from unisend.doctor._blocklist import query_name


def test_query_name_reverses_the_octets() -> None:
    assert query_name("192.0.2.1", "zen.spamhaus.org") == "1.2.0.192.zen.spamhaus.org"


def test_listed_address_fails_naming_the_list(dns_server: DnsServer) -> None:
    diagnosis = diagnose(
        "smtp://listed.test:25?security=none", nameservers=[dns_server.nameserver], timeout=2
    )
    check = diagnosis.check("blocklist")
    assert check is not None and check.status == "fail", str(diagnosis)
    assert "127.0.0.2 on zen.spamhaus.org (127.0.0.2)" in check.summary
    assert check.fix and "request removal" in check.fix
    asked = {name for name, qtype in dns_server.queries if qtype == "A"}
    assert {
        "2.0.0.127.zen.spamhaus.org",
        "2.0.0.127.bl.spamcop.net",
        "2.0.0.127.b.barracudacentral.org",
    } <= asked


def test_refused_answers_are_inconclusive_not_listed(dns_server: DnsServer) -> None:
    diagnosis = diagnose(
        "smtp://refused.test:25?security=none", nameservers=[dns_server.nameserver], timeout=2
    )
    check = diagnosis.check("blocklist")
    assert check is not None and check.status == "skip", str(diagnosis)
    assert "refused the query" in check.summary and "public resolver" in check.summary
    verdicts = {r["list"]: r["verdict"] for r in check.details["results"]}
    assert verdicts["zen.spamhaus.org"] == "refused"


def test_clean_address_is_ok(dns_server: DnsServer) -> None:
    diagnosis = diagnose(
        "smtp://mx.good.test:25?security=none", nameservers=[dns_server.nameserver], timeout=2
    )
    check = diagnosis.check("blocklist")
    assert check is not None and check.status == "ok", str(diagnosis)
    assert check.details["addresses"] == ["127.0.0.1"]


def test_http_routes_have_no_blocklist_check() -> None:
    diagnosis = diagnose("sendgrid://SG.x@default?base_url=http://127.0.0.1:9", timeout=1)
    assert diagnosis.check("blocklist") is None
