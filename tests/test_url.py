"""The configuration URL table of DESIGN.md.

Transports that ship with the core are built through ``from_url``; provider schemes and
compositions are checked at the parsed-spec level (``parse_url``), which every factory
starts from.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from leaks import leaks

from unisend import ConfigurationError, from_url
from unisend._url import SCHEMES, UrlSpec, _split_routes, parse_url
from unisend.transports.console import ConsoleTransport
from unisend.transports.memory import MemoryTransport
from unisend.transports.sandbox import SandboxTransport

SECRET = "S3cr3t-pa55"


# -- the parsed spec of every form in the table --------------------------------------


@pytest.mark.parametrize(
    ("url", "scheme", "username", "password", "host", "port", "query"),
    [
        (
            "smtp://user:pass@mail.example.com:587",
            "smtp",
            "user",
            "pass",
            "mail.example.com",
            587,
            {},
        ),
        (
            "smtps://user:pass@mail.example.com:465",
            "smtps",
            "user",
            "pass",
            "mail.example.com",
            465,
            {},
        ),
        (
            "smtp://mx.example.com:25?security=none",
            "smtp",
            "",
            "",
            "mx.example.com",
            25,
            {"security": "none"},
        ),
        (
            "smtp://u:p@h:25?security=none&allow_insecure_auth=true",
            "smtp",
            "u",
            "p",
            "h",
            25,
            {"security": "none", "allow_insecure_auth": "true"},
        ),
        (
            "smtp://h?min_tls=1.3&timeout=10&ca_file=/etc/ca.pem",
            "smtp",
            "",
            "",
            "h",
            None,
            {"min_tls": "1.3", "timeout": "10", "ca_file": "/etc/ca.pem"},
        ),
        ("sendgrid://SG.key-123@default", "sendgrid", "SG.key-123", "", "default", None, {}),
        (
            "sendgrid://KEY@api.eu.sendgrid.com",
            "sendgrid",
            "KEY",
            "",
            "api.eu.sendgrid.com",
            None,
            {},
        ),
        (
            "sendgrid://KEY@default?base_url=http://127.0.0.1:8025",
            "sendgrid",
            "KEY",
            "",
            "default",
            None,
            {"base_url": "http://127.0.0.1:8025"},
        ),
        (
            "postmark://SERVER_TOKEN@default?message_stream=outbound",
            "postmark",
            "SERVER_TOKEN",
            "",
            "default",
            None,
            {"message_stream": "outbound"},
        ),
        (
            "mailjet://API_KEY:SECRET_KEY@default",
            "mailjet",
            "API_KEY",
            "SECRET_KEY",
            "default",
            None,
            {},
        ),
        ("brevo://API_KEY@default", "brevo", "API_KEY", "", "default", None, {}),
        ("mailtrap://TOKEN@default", "mailtrap", "TOKEN", "", "default", None, {}),
        (
            "mailtrap+sandbox://TOKEN@default?inbox_id=42",
            "mailtrap+sandbox",
            "TOKEN",
            "",
            "default",
            None,
            {"inbox_id": "42"},
        ),
        ("memory://", "memory", "", "", "", None, {}),
        ("console://", "console", "", "", "", None, {}),
        ("sandbox://", "sandbox", "", "", "", None, {}),
        ("SMTP://Mail.Example.com", "smtp", "", "", "mail.example.com", None, {}),
    ],
)
def test_parsed_spec(
    url: str,
    scheme: str,
    username: str,
    password: str,
    host: str,
    port: int | None,
    query: dict[str, str],
) -> None:
    spec = parse_url(url)
    assert (spec.scheme, spec.username, spec.password, spec.host, spec.port) == (
        scheme,
        username,
        password,
        host,
        port,
    )
    assert dict(spec.query) == query


def test_every_scheme_in_the_table_is_registered() -> None:
    table = {
        "smtp",
        "smtps",
        "sendgrid",
        "postmark",
        "mailjet",
        "brevo",
        "mailtrap",
        "mailtrap+sandbox",
        "memory",
        "console",
        "sandbox",
    }
    assert table <= set(SCHEMES)


def test_secrets_are_percent_decoded() -> None:
    spec = parse_url("smtp://u%40x:p%2Fw%3A%40@h")
    assert (spec.username, spec.password, spec.host) == ("u@x", "p/w:@", "h")
    token = parse_url("sendgrid://SG.a%2Bb%3D@default")
    assert token.username == "SG.a+b="
    assert parse_url("mailjet://k:s%20t@default").password == "s t"


def test_spec_repr_hides_the_password() -> None:
    spec = parse_url(f"smtp://user:{SECRET}@mail.example.com:587")
    assert spec.password == SECRET
    assert SECRET not in repr(spec)
    assert SECRET not in str(spec)
    assert "mail.example.com" in repr(spec)
    assert SECRET not in spec.display


def test_spec_repr_hides_a_bare_token() -> None:
    spec = parse_url(f"sendgrid://{SECRET}@default")
    assert spec.username == SECRET
    assert SECRET not in repr(spec)


@pytest.mark.parametrize("url", ["smtp://h:notaport", "smtp://h:99999", "smtp://u:p@h:-1"])
def test_bad_port(url: str) -> None:
    with pytest.raises(ConfigurationError, match="port"):
        parse_url(url)


def test_bad_port_does_not_echo_the_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_url(f"smtp://u:{SECRET}@h:port")
    assert SECRET not in str(caught.value)


def test_duplicated_query_parameter_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="'timeout' is given twice"):
        parse_url("smtp://h?timeout=1&timeout=2")


def test_not_a_url() -> None:
    with pytest.raises(ConfigurationError, match=r"scheme://"):
        from_url("mail.example.com:587")


# -- unknown schemes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"nope://user:{SECRET}@host:25",
        f"nope://{SECRET}@default",
        "nope://user:S3cr3t%2Dpa55@host",
    ],
)
def test_unknown_scheme_names_it_and_hides_the_secret(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        from_url(url)
    text = str(caught.value)
    assert "'nope'" in text
    assert "smtp" in text  # says what is known
    assert SECRET not in text
    assert "S3cr3t%2Dpa55" not in text


# -- transports built from URLs ------------------------------------------------------


def test_memory() -> None:
    transport = from_url("memory://")
    assert isinstance(transport, MemoryTransport)
    assert transport.name == "memory"
    assert from_url("memory://?name=outbox-b").name == "outbox-b"


def test_console() -> None:
    transport = from_url("console://")
    assert isinstance(transport, ConsoleTransport)
    assert transport.name == "console"
    assert from_url("console://?name=screen").name == "screen"


@pytest.mark.parametrize("url", ["console://host", "console:///path", "console://u:p@x"])
def test_console_takes_no_location(url: str) -> None:
    with pytest.raises(ConfigurationError, match="console://"):
        from_url(url)


def test_sandbox_default_is_the_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNISEND_SANDBOX", str(tmp_path / "env.sqlite3"))
    transport = from_url("sandbox://")
    assert isinstance(transport, SandboxTransport)
    assert transport.name == "sandbox"
    assert transport.path == tmp_path / "env.sqlite3"


def test_sandbox_without_env_uses_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UNISEND_SANDBOX")
    monkeypatch.chdir(tmp_path)
    transport = from_url("sandbox://")
    assert isinstance(transport, SandboxTransport)
    assert transport.path == tmp_path / ".unisend" / "sandbox.sqlite3"


def test_sandbox_absolute_path_wins_over_env(tmp_path: Path) -> None:
    transport = from_url(f"sandbox://{tmp_path}/Abs%20Dir/mail.sqlite3")
    assert isinstance(transport, SandboxTransport)
    assert transport.path == tmp_path / "Abs Dir" / "mail.sqlite3"


def test_sandbox_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    transport = from_url("sandbox://./Sub/Mail.sqlite3?name=local")
    assert isinstance(transport, SandboxTransport)
    assert transport.path == tmp_path / "Sub" / "Mail.sqlite3"
    assert transport.name == "local"
    parent = from_url("sandbox://../up.sqlite3")
    assert isinstance(parent, SandboxTransport)
    assert parent.path.name == "up.sqlite3"
    assert parent.path.parent.resolve() == tmp_path.parent.resolve()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sandbox://mail.sqlite3", "sandbox://./relative"),
        (f"sandbox://u:{SECRET}@x/mail.sqlite3", "no credentials"),
        ("sandbox://:8025/x", "no credentials or port"),
        ("sandbox:///x.sqlite3?path=/y", "URL path"),
    ],
)
def test_sandbox_bad_forms(url: str, expected: str) -> None:
    with pytest.raises(ConfigurationError, match=expected) as caught:
        from_url(url)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("url", ["memory://?bogus=1", "console://?bogus=1", "sandbox://?bogus=1"])
def test_unknown_query_parameter_names_the_allowed_ones(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        from_url(url)
    text = str(caught.value)
    assert "'bogus'" in text
    assert "takes name" in text


def test_building_a_transport_creates_no_file(tmp_path: Path) -> None:
    from_url(f"sandbox://{tmp_path}/new/mail.sqlite3")
    assert not (tmp_path / "new").exists()


# -- composition -------------------------------------------------------------------


def test_composition_splits_on_top_level_spaces_and_nests() -> None:
    inner = "failover(smtp://u:p@a:587 roundrobin(sendgrid://K@default brevo://K@default))"
    assert _split_routes(inner.removeprefix("failover(").removesuffix(")"), "x") == [
        "smtp://u:p@a:587",
        "roundrobin(sendgrid://K@default brevo://K@default)",
    ]
    assert _split_routes("  memory://   console://  ", "x") == ["memory://", "console://"]


def test_composition_children_parse_with_their_own_secrets() -> None:
    routes = _split_routes("smtp://u:p%2Fw@a:587 mailjet://k:s@default", "x")
    specs = [parse_url(route) for route in routes]
    assert [(s.scheme, s.username, s.password, s.host, s.port) for s in specs] == [
        ("smtp", "u", "p/w", "a", 587),
        ("mailjet", "k", "s", "default", None),
    ]


def test_empty_composition_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="at least one URL"):
        from_url("failover()")


def test_unclosed_composition_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"missing '\)'"):
        from_url("failover(memory:// console://")


def test_text_after_composition_must_be_a_query() -> None:
    with pytest.raises(ConfigurationError, match=r"'\?query'"):
        from_url("failover(memory://)junk")


def test_bad_child_in_a_composition_hides_its_secret() -> None:
    with pytest.raises(ConfigurationError) as caught:
        from_url(f"failover(memory:// nope://user:{SECRET}@host)")
    assert "'nope'" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_url_spec_is_frozen() -> None:
    spec = parse_url("memory://")
    assert isinstance(spec, UrlSpec)
    with pytest.raises(AttributeError):
        spec.host = "x"  # type: ignore[misc]


# -- SMTP ----------------------------------------------------------------------------


def _smtp(url: str) -> Any:
    from unisend.transports.smtp import SMTPTransport

    transport = from_url(url)
    assert isinstance(transport, SMTPTransport)
    return transport


def test_smtp_with_credentials_is_starttls() -> None:
    transport = _smtp(f"smtp://user%40corp:{SECRET}@mail.example.com:587")
    assert (transport.host, transport.port, transport.security) == (
        "mail.example.com",
        587,
        "starttls",
    )
    assert transport.username == "user@corp"
    assert transport.name == "smtp"
    assert SECRET not in repr(transport)
    assert SECRET not in str(transport)


def test_smtp_default_port_is_587() -> None:
    assert _smtp("smtp://mail.example.com").port == 587


def test_smtps_is_implicit_tls_on_465() -> None:
    transport = _smtp(f"smtps://user:{SECRET}@mail.example.com")
    assert (transport.port, transport.security, transport.name) == (465, "ssl", "smtp")
    assert _smtp("smtps://mail.example.com:2465").port == 2465


def test_smtps_refuses_another_security() -> None:
    with pytest.raises(ConfigurationError, match="security=ssl"):
        from_url("smtps://mail.example.com?security=starttls")


def test_plain_smtp() -> None:
    transport = _smtp("smtp://mx.example.com:25?security=none")
    assert (transport.port, transport.security, transport.allow_insecure_auth) == (
        25,
        "none",
        False,
    )
    opted_in = _smtp("smtp://u:p@mx.example.com:25?security=none&allow_insecure_auth=true")
    assert opted_in.allow_insecure_auth is True


def test_smtp_typed_query_parameters() -> None:
    transport = _smtp(
        "smtp://h?min_tls=1.3&timeout=7.5&local_hostname=client.example.com&name=relay"
    )
    assert transport.min_tls == "1.3"
    assert transport.timeout == 7.5
    assert transport.local_hostname == "client.example.com"
    assert transport.name == "relay"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://h?timeout=soon", "timeout='soon' must be a float"),
        ("smtp://h?allow_insecure_auth=maybe", "allow_insecure_auth='maybe' must be a bool"),
        ("smtp://u:p@h?bogus=1", "unknown query parameter 'bogus'; this scheme takes"),
        ("smtp://:25", "host"),
    ],
)
def test_smtp_bad_options(url: str, expected: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(expected)):
        from_url(url)


def test_smtp_unknown_parameter_lists_the_allowed_ones() -> None:
    with pytest.raises(ConfigurationError) as caught:
        from_url(f"smtp://u:{SECRET}@h?bogus=1")
    text = str(caught.value)
    for allowed in ("security", "min_tls", "allow_insecure_auth", "timeout"):
        assert allowed in text
    assert SECRET not in text


# -- compositions built ----------------------------------------------------------------


def test_failover_and_roundrobin_are_built_and_nest() -> None:
    from unisend import Failover, RoundRobin

    failover = from_url("failover(memory://?name=a memory://?name=b)?cooldown=5")
    assert isinstance(failover, Failover)
    assert failover.name == "failover"
    nested = from_url(
        "failover(roundrobin(memory://?name=a memory://?name=b)?weights=2,1 console://)"
    )
    assert isinstance(nested, Failover)
    assert isinstance(from_url("roundrobin(memory:// memory://?name=c)"), RoundRobin)
    assert from_url("failover(memory://)?name=mail").name == "mail"


def test_composition_unknown_option_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="'bogus'"):
        from_url("failover(memory:// console://)?bogus=1")


def test_smtp_credentials_in_the_query_are_refused_without_echo() -> None:
    from unisend import ConfigurationError, from_url

    with pytest.raises(ConfigurationError, match="user part") as caught:
        from_url("smtp://mail.example.com?password=hunter2-secret")
    assert "hunter2-secret" not in str(caught.value)


def test_provider_url_user_part_is_masked_whole() -> None:
    from unisend._redact import redact_url

    assert redact_url("mailjet://PUBKEY:SECRET@default") == "mailjet://***@default"
    assert redact_url("smtp://ann:SECRET@mx.example.com") == "smtp://ann:***@mx.example.com"
    assert redact_url("brevo://***@default?api_key=K1&timeout=3").endswith("api_key=***&timeout=3")


# -- credentials with reserved characters (issue 9, item 1) ------------------------------


def _conf_error(url: object) -> ConfigurationError:
    """The ConfigurationError ``from_url(url)`` raises (any other exception fails)."""
    with pytest.raises(ConfigurationError) as caught:
        from_url(url)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize(
    ("url", "secret", "code"),
    [
        ("smtp://AKIA:BH4x/yz+SECRET@email-smtp.example.com:587", "BH4x/yz+SECRET", "%2F"),
        ("mailjet://KEY1:SEC/RET9@default", "SEC/RET9", "%2F"),
        ("sendgrid://SG.ab/cd@default", "SG.ab/cd", "%2F"),
        ("sendgrid://SG.ab#cd@default", "SG.ab#cd", "%23"),
        ("postmark://pm-to?ken@default", "pm-to?ken", "%3F"),
        ("failover(smtp://u:pa/ss9w@h memory://)", "pa/ss9w", "%2F"),
    ],
)
def test_a_reserved_character_in_a_credential_is_masked_and_explained(
    url: str, secret: str, code: str
) -> None:
    error = _conf_error(url)
    assert code in str(error) and "percent-encode" in str(error)
    pieces = [piece for piece in re.split("[/#?]", secret) if len(piece) >= 4]
    assert leaks(error, [secret, *pieces], frames=False) == []


def test_the_encoded_forms_work() -> None:
    ses = parse_url("smtp://AKIA:BH4x%2Fyz+SECRET@email-smtp.example.com:587")
    assert (ses.username, ses.password, ses.host, ses.port) == (
        "AKIA",
        "BH4x/yz+SECRET",
        "email-smtp.example.com",
        587,
    )
    assert parse_url("mailjet://KEY:SEC%2FRET@default").password == "SEC/RET"
    assert parse_url("sendgrid://SG.a%23b%3Fc@default").username == "SG.a#b?c"


def test_plus_parens_and_at_signs_in_credentials_are_taken_as_they_are() -> None:
    spec = parse_url("smtp://u:p(a)s+s@w@mx.example.com:25")
    assert (spec.username, spec.password, spec.host) == ("u", "p(a)s+s@w", "mx.example.com")
    assert "p(a)s+s" not in spec.display and spec.display == "smtp://u:***@mx.example.com:25"
    routes = _split_routes("smtp://u:p)s(s@h:25 roundrobin(sendgrid://K)(@default memory://)", "x")
    assert routes == ["smtp://u:p)s(s@h:25", "roundrobin(sendgrid://K)(@default memory://)"]
    transport = from_url("failover(smtp://u:p)ss@h:25 roundrobin(memory:// console://))")
    assert repr(transport).startswith("<Failover")
    assert "p)ss" not in repr(transport)


def test_an_unclosed_ipv6_host_is_a_configuration_error() -> None:
    error = _conf_error("smtp://user:pw-9x@[::1")
    assert "brackets" in str(error)
    assert leaks(error, ["pw-9x"], frames=False) == []


def test_spaces_and_control_characters_are_refused_without_echo() -> None:
    for url in ("smtp://u:pa ss-1@h", "sendgrid://SG.key\nmore@default"):
        error = _conf_error(url)
        assert "%20" in str(error)
        assert leaks(error, ["pa ss-1", "SG.key", "more"], frames=False) == []


@pytest.mark.parametrize("url", ["", "  \n"])
def test_an_empty_url_says_so(url: str) -> None:
    assert "the URL is empty" in str(_conf_error(url))


def test_a_bare_key_where_the_url_goes_is_not_echoed() -> None:
    error = _conf_error("SG.the-whole-api-key")
    assert "scheme://" in str(error)
    assert "the-whole-api-key" not in str(error)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("roundrobin(sendgrid://K@default))", "one ')' too many"),
        ("failover(memory://))?cooldown=1", "one ')' too many"),
        ("failover(memory:// console://", "missing ')'"),
        ("failover(roundrobin(memory:// console://)", "missing ')'"),
    ],
)
def test_unbalanced_parentheses_are_refused(url: str, problem: str) -> None:
    assert problem in str(_conf_error(url))


def test_a_stray_closing_paren_inside_a_composition_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="closes nothing"):
        _split_routes("memory://) console://", "x")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (None, "UNISEND_URL"),
        (MemoryTransport(), "pass a transport to Mailer(transport) directly"),
        (42, "got int"),
    ],
)
def test_from_url_needs_a_string(value: object, words: str) -> None:
    assert words in str(_conf_error(value))


#: Characters that end or split a URL's user part, plus some that don't.
_RESERVED = "/+#?()@:%=&;,!$*'[]~-._"
_SECRETS = st.text(alphabet=st.sampled_from(_RESERVED + "aZ09"), min_size=3, max_size=30).map(
    lambda middle: f"Qz{middle}Wv"
)
_TEMPLATES = [
    "smtp://user:{s}@mx.example.com:587",
    "smtps://user:{s}@[::1]:465",
    "sendgrid://{s}@default",
    "mailjet://KEY:{s}@default",
    "postmark://{s}@default?message_stream=outbound",
    "failover(smtp://user:{s}@mx.example.com memory://)",
    "roundrobin(memory:// failover(brevo://{s}@default console://))?cooldown=5",
    "nope://{s}@default",
    "smtp://user:{s}@mx.example.com:port",
]


@settings(max_examples=300, deadline=None)
@given(secret=_SECRETS, template=st.sampled_from(_TEMPLATES))
def test_random_secrets_never_reach_an_error(secret: str, template: str) -> None:
    """Whatever a credential holds, from_url builds the route or raises a
    ConfigurationError, and the credential is nowhere in the error or its chain."""
    url = template.format(s=secret)
    try:
        transport = from_url(url)
    except ConfigurationError as error:
        assert leaks(error, [secret, unquote(secret)], frames=False) == []
        if any(char in secret for char in "/?#") and not template.startswith("nope"):
            assert "percent-encode" in str(error)
        return
    assert secret not in repr(transport) and unquote(secret) not in repr(transport)
    transport.close()


@settings(max_examples=200, deadline=None)
@given(secret=_SECRETS)
def test_random_secrets_parse_back_percent_decoded(secret: str) -> None:
    encoded = quote(secret, safe="")
    assert parse_url(f"smtp://user:{encoded}@h:25").password == secret
    assert parse_url(f"mailjet://k:{encoded}@default").password == secret
    if not any(char in secret for char in "/?#"):
        # written as it is, the credential is read as it is (then percent-decoded)
        assert parse_url(f"smtp://user:{secret}@h:25").password == unquote(secret)
        assert parse_url(f"sendgrid://{secret}@default").username.startswith("Qz")
