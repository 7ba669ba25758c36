"""URL options are declared per scheme, typed (``unisend._url.OPTIONS``): each one is a
keyword of the transport it builds, of that type, and a value of another type is refused."""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any, Optional, Union

import pytest

from unisend import ConfigurationError, Failover, RoundRobin, from_url
from unisend._url import OPTIONS, SCHEMES, UrlSpec
from unisend.transports._http import HttpTransport

#: Options a URL sets differently from the constructor keyword of the same name.
ROUTER_RETRY = {"attempts", "backoff", "max_backoff", "max_retry_after", "jitter"}


def _members(annotation: Any) -> set[Any]:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return set(typing.get_args(annotation)) - {type(None)}
    return {annotation}


def _constructor_hints(cls: type) -> dict[str, Any]:
    """Each constructor keyword's annotation, evaluated (``**options: Unpack[...]``, only
    importable for type checkers, is left out: its keywords are the base's)."""
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        init = vars(klass).get("__init__")
        if init is None or klass is object:
            continue
        for name, param in inspect.signature(init).parameters.items():
            if not isinstance(param.annotation, str):
                continue
            try:
                hints[name] = eval(param.annotation, init.__globals__)
            except NameError:
                continue
    return hints


def _transport_class(scheme: str) -> type:
    """The class ``from_url`` builds for ``scheme``."""
    import unisend.transports as transports

    name = {"smtps": "smtp", "mailtrap+sandbox": "mailtrap"}.get(scheme, scheme)
    (cls,) = [
        getattr(transports, exported)
        for exported in transports.__all__
        if exported.lower() == f"{name}transport"
    ]
    return cls


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_every_declared_option_is_a_typed_keyword_of_the_transport(scheme: str) -> None:
    cls = _transport_class(scheme)
    hints = _constructor_hints(cls)
    for name, kind in OPTIONS[scheme].items():
        assert name in hints, f"{scheme}: ?{name}= is not a keyword of {cls.__name__}"
        assert kind in _members(hints[name]), f"{scheme}: ?{name}= is {kind}, not {hints[name]}"
    if issubclass(cls, HttpTransport):
        assert set(OPTIONS[scheme]) >= {"base_url", "timeout", "connect_timeout", "ca_file"}


def test_router_options_are_its_keywords_or_the_retry_policy() -> None:
    for router in (Failover, RoundRobin):
        hints = _constructor_hints(router)
        for name in OPTIONS[router.default_name]:
            assert name in hints or name in ROUTER_RETRY, name


def test_optional_types_need_no_string_parsing() -> None:
    # Optional[int] and int | None are both plain declarations now
    spec = UrlSpec("smtp", query={"pool_size": "4", "local_hostname": "mx"}, display="smtp://h")
    assert spec.options() == {"pool_size": 4, "local_hostname": "mx"}
    assert int in _members(Optional[int]) and int in _members(int | None)  # noqa: UP045


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("smtp://h?pool_size=many", "pool_size='many' must be a int"),
        ("smtp://h?allow_insecure_auth=maybe", "must be a bool"),
        ("sendgrid://k@default?timeout=soon", "must be a float"),
        ("memory://?colour=red", "this scheme takes name"),
        ("failover(memory://)?weights=1", "unknown query parameter 'weights'"),
    ],
)
def test_values_of_the_wrong_type_are_refused(url: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment.replace("(", r"\(")):
        from_url(url)


def test_mailtrap_inbox_id_passes_through() -> None:
    transport = from_url("mailtrap+sandbox://tok@default?inbox_id=42")
    assert transport.inbox_id in (42, "42")  # type: ignore[attr-defined]


#: Constructor keywords a URL sets some other way (its user part, host, port or path).
NOT_FROM_THE_QUERY = {"host", "port", "username", "password", "path", "api_key", "secret_key"}
NOT_FROM_THE_QUERY |= {"server_token", "token"}


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_every_scalar_keyword_of_the_transport_is_declared(scheme: str) -> None:
    """The other direction: a new scalar keyword must be declared (or listed above)."""
    cls = _transport_class(scheme)
    scalar = {
        name
        for name, hint in _constructor_hints(cls).items()
        if _members(hint) and _members(hint) <= {bool, int, float, str}
    }
    missing = scalar - set(OPTIONS[scheme]) - NOT_FROM_THE_QUERY
    assert not missing, f"{scheme}: declare {sorted(missing)} in unisend._url.OPTIONS"
