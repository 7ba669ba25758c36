"""The sender-domain checks (mx, spf, dkim, dmarc) against a real DNS server on loopback
(dnslib) serving test zones, reached with ``nameservers=``."""

from __future__ import annotations

from typing import Any

import pytest

from unisend import Check, diagnose
from unisend.doctor._dns import Dns
from unisend.doctor._domain import check_domain
from unisend.doctor._net import Deadline
from unisend.doctor._providers import PROVIDERS
from unisend.doctor._results import Results


async def domain_checks(
    domain: str,
    nameserver: str,
    providers: tuple[str, ...] = ("sendgrid",),
    timeout: float = 3.0,
) -> dict[str, Check]:
    """The four domain checks, as a provider route would get them."""
    host, _, port = nameserver.partition(":")
    dns = Dns([(host, int(port))], Deadline(timeout))
    out = Results(None)
    await check_domain(domain, [PROVIDERS[p] for p in providers], dns, out)
    return out.checks


def expect(check: Check, status: str, *words: str, fix: str | None = None) -> None:
    assert check.status == status, check
    text = check.summary
    for word in words:
        assert word in text, (word, check)
    if status in ("warn", "fail"):
        assert check.fix, check
    if fix is not None:
        assert check.fix is not None and fix in check.fix, check


async def test_good_domain_is_all_ok(nameserver: str) -> None:
    checks = await domain_checks("good.test", nameserver)
    assert {id: c.status for id, c in checks.items()} == dict.fromkeys(
        ("mx", "spf", "dkim", "dmarc"), "ok"
    ), checks
    assert checks["spf"].details["lookups"] == 1
    assert checks["dkim"].details["found"] == ["s1", "s2"]
    assert checks["dmarc"].details["policy"] == "reject"


async def test_two_spf_records_fail(nameserver: str) -> None:
    spf = (await domain_checks("twospf.test", nameserver))["spf"]
    expect(spf, "fail", "2 v=spf1 records")


async def test_spf_needing_11_lookups_fails(nameserver: str) -> None:
    spf = (await domain_checks("deep.test", nameserver, ()))["spf"]
    expect(
        spf,
        "fail",
        "needs 11 DNS lookups",
        fix="your SPF record needs 11 DNS lookups; the limit is 10",
    )
    assert spf.details["lookups"] == 11
    assert "a4.deep.test" in spf.details["includes"]  # followed down to the leaves


async def test_plus_all_fails(nameserver: str) -> None:
    expect((await domain_checks("plusall.test", nameserver))["spf"], "fail", "+all", fix="~all")


async def test_neutral_all_warns(nameserver: str) -> None:
    expect((await domain_checks("neutral.test", nameserver))["spf"], "warn", "?all")


async def test_missing_provider_include_warns(nameserver: str) -> None:
    spf = (await domain_checks("noinclude.test", nameserver))["spf"]
    expect(spf, "warn", "sendgrid", fix="add include:sendgrid.net to your SPF record")
    brevo = (await domain_checks("noinclude.test", nameserver, ("brevo",)))["spf"]
    expect(brevo, "warn", fix="add include:spf.brevo.com to your SPF record")


async def test_void_lookups_over_two_fail(nameserver: str) -> None:
    spf = (await domain_checks("voids.test", nameserver, ()))["spf"]
    expect(spf, "fail", "3 SPF lookups find nothing")


async def test_include_without_spf_fails(nameserver: str) -> None:
    spf = (await domain_checks("badinclude.test", nameserver, ()))["spf"]
    expect(spf, "fail", "include:nospf.test has no SPF record")


async def test_no_spf_record_warns_with_the_record_to_publish(nameserver: str) -> None:
    spf = (await domain_checks("nodmarc.test", nameserver))["spf"]
    expect(spf, "warn", "no SPF record", fix='"v=spf1 include:sendgrid.net ~all"')


async def test_no_dmarc_warns(nameserver: str) -> None:
    dmarc = (await domain_checks("nodmarc.test", nameserver))["dmarc"]
    expect(dmarc, "warn", "no DMARC record", fix="_dmarc.nodmarc.test")


async def test_dmarc_p_none_warns(nameserver: str) -> None:
    dmarc = (await domain_checks("noinclude.test", nameserver))["dmarc"]
    expect(dmarc, "warn", "p=none", fix="p=quarantine")
    assert dmarc.details["policy"] == "none"


async def test_two_dmarc_records_fail(nameserver: str) -> None:
    expect((await domain_checks("dmarc2.test", nameserver))["dmarc"], "fail", "2 DMARC records")


async def test_invalid_dmarc_policy_fails(nameserver: str) -> None:
    expect((await domain_checks("badp.test", nameserver))["dmarc"], "fail", "p=maybe")


async def test_subdomain_inherits_the_parent_dmarc_policy(nameserver: str) -> None:
    dmarc = (await domain_checks("sub.good.test", nameserver))["dmarc"]
    expect(dmarc, "ok", "inherited by sub.good.test")
    assert dmarc.details["found_at"] == "_dmarc.good.test"


@pytest.mark.parametrize(
    ("domain", "status", "words"),
    [
        ("good.test", "ok", ("mx.good.test",)),
        ("aonly.test", "ok", ("falls back to its A record",)),
        ("nomx.test", "fail", ("no MX and no A record",)),
        ("nullmx.test", "warn", ("null MX",)),
        ("nowhere.test", "fail", ("does not exist",)),
    ],
)
async def test_mx(nameserver: str, domain: str, status: str, words: tuple[str, ...]) -> None:
    expect((await domain_checks(domain, nameserver))["mx"], status, *words)


async def test_dkim_selectors_absent_warn(nameserver: str) -> None:
    dkim = (await domain_checks("noinclude.test", nameserver))["dkim"]
    expect(dkim, "warn", "s1._domainkey.noinclude.test", fix="sendgrid")


async def test_dkim_for_the_wrong_provider_warns(nameserver: str) -> None:
    # good.test publishes SendGrid's selectors, not Mailjet's
    dkim = (await domain_checks("good.test", nameserver, ("mailjet",)))["dkim"]
    expect(dkim, "warn", "mailjet._domainkey.good.test")


async def test_revoked_dkim_key_warns(nameserver: str) -> None:
    dkim = (await domain_checks("revoked.test", nameserver))["dkim"]
    expect(dkim, "warn", "revoked")


async def test_dkim_without_provider_probes_common_selectors(nameserver: str) -> None:
    found = (await domain_checks("good.test", nameserver, ()))["dkim"]
    expect(found, "ok", "default")
    absent = (await domain_checks("nodmarc.test", nameserver, ()))["dkim"]
    expect(absent, "skip", "usual selectors")


async def test_postmark_dkim_selector_cannot_be_guessed(nameserver: str) -> None:
    dkim = (await domain_checks("good.test", nameserver, ("postmark",)))["dkim"]
    expect(dkim, "skip", "postmark")


async def test_unreachable_resolver_warns_instead_of_guessing(closed_port: int) -> None:
    checks = await domain_checks("good.test", f"127.0.0.1:{closed_port}", timeout=0.5)
    for id in ("mx", "spf", "dmarc"):
        expect(checks[id], "warn", "could not look up", fix="resolver")


def test_diagnose_with_domain_and_provider_route(nameserver: str, key_server: Any) -> None:
    url = f"sendgrid://SG.good@default?base_url={key_server.base_url}"
    diagnosis = diagnose(url, domain="good.test", nameservers=[nameserver], timeout=3)
    assert diagnosis.ok, str(diagnosis)
    assert [c.status for c in diagnosis.checks if c.route is None] == ["ok"] * 4
    assert diagnosis.domain == "good.test"
    sendgrid = diagnose(url, domain="noinclude.test", nameservers=[nameserver], timeout=3)
    spf = sendgrid.check("spf")
    assert spf is not None and spf.status == "warn" and spf.route is None


def test_domain_checks_are_skipped_without_a_domain() -> None:
    diagnosis = diagnose("memory://", timeout=1)
    for id in ("mx", "spf", "dkim", "dmarc"):
        check = diagnosis.check(id)
        assert check is not None and check.status == "skip" and "no sender domain" in check.summary
