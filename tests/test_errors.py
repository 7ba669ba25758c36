"""The error tree of DESIGN.md: relations, fields, retryability and str()."""

from __future__ import annotations

import itertools

import pytest

import unisend
from unisend import (
    AllRoutesFailed,
    AuthenticationError,
    ConfigurationError,
    InvalidMessage,
    MessageRejected,
    ProviderError,
    RateLimited,
    SendError,
    TransientError,
    UnisendError,
)

#: child -> parent, exactly as drawn in DESIGN.md.
TREE: dict[type[Exception], type[Exception] | None] = {
    UnisendError: None,
    InvalidMessage: UnisendError,
    ConfigurationError: UnisendError,
    SendError: UnisendError,
    TransientError: SendError,
    RateLimited: TransientError,
    ProviderError: SendError,
    AuthenticationError: ProviderError,
    MessageRejected: SendError,
    AllRoutesFailed: SendError,
}


def _ancestors(cls: type[Exception]) -> set[type[Exception]]:
    found = {cls}
    parent = TREE[cls]
    while parent is not None:
        found.add(parent)
        parent = TREE[parent]
    return found


@pytest.mark.parametrize(("a", "b"), list(itertools.product(TREE, TREE)))
def test_subclass_relations_are_exactly_the_tree(a: type[Exception], b: type[Exception]) -> None:
    assert issubclass(a, b) == (b in _ancestors(a))


def test_every_error_is_importable_from_unisend() -> None:
    for cls in TREE:
        assert getattr(unisend, cls.__name__) is cls
        assert cls.__name__ in unisend.__all__


def test_invalid_message_is_also_a_value_error() -> None:
    assert issubclass(InvalidMessage, ValueError)
    with pytest.raises(ValueError):
        raise InvalidMessage("to: bad")
    # and nothing else in the tree is
    assert not any(issubclass(cls, ValueError) for cls in TREE if cls is not InvalidMessage)


def test_unisend_error_is_an_exception() -> None:
    assert issubclass(UnisendError, Exception)


SEND_ERRORS = [cls for cls in TREE if issubclass(cls, SendError)]


def _make(cls: type[SendError], text: str = "failed", **kw: object) -> SendError:
    if cls is AllRoutesFailed:
        return AllRoutesFailed(text, errors=[], **kw)  # type: ignore[arg-type]
    return cls(text, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", SEND_ERRORS)
def test_retryable_only_for_transient_and_rate_limited(cls: type[SendError]) -> None:
    expected = cls in (TransientError, RateLimited)
    assert cls.retryable is expected
    assert _make(cls).retryable is expected


@pytest.mark.parametrize("cls", SEND_ERRORS)
def test_send_error_field_defaults(cls: type[SendError]) -> None:
    error = _make(cls)
    assert error.transport == ""
    assert error.status_code is None
    assert error.provider_code is None
    assert error.ambiguous is False
    assert error.message == "failed"


def test_fields_are_kept() -> None:
    error = ProviderError("suspended", transport="sendgrid", status_code=403, provider_code="x1")
    assert (error.transport, error.status_code, error.provider_code) == ("sendgrid", 403, "x1")


def test_rate_limited_retry_after() -> None:
    assert RateLimited("slow down").retry_after is None
    limited = RateLimited("slow down", retry_after=2.5, transport="brevo", status_code=429)
    assert limited.retry_after == 2.5
    assert limited.status_code == 429
    assert isinstance(limited, TransientError)


def test_message_rejected_rejected_map() -> None:
    assert MessageRejected("no").rejected == {}
    source = {"a@example.com": "550 no such user"}
    rejected = MessageRejected("no", rejected=source, status_code=550)
    assert rejected.rejected == source
    source["b@example.com"] = "changed"
    assert "b@example.com" not in rejected.rejected  # a copy, not the caller's dict


def test_all_routes_failed_keeps_errors_in_order() -> None:
    first = TransientError("timeout", transport="a", ambiguous=True)
    second = AuthenticationError("bad key", transport="b", status_code=401)
    error = AllRoutesFailed("every route failed", errors=(first, second), transport="failover")
    assert error.errors == [first, second]
    assert error.ambiguous is True  # one of the tries may have been accepted
    assert AllRoutesFailed("x", errors=[second]).ambiguous is False


def test_str_of_send_error() -> None:
    assert str(SendError("boom")) == "boom"
    assert str(SendError("boom", transport="smtp")) == "boom [transport=smtp]"
    full = TransientError("server busy", transport="smtp", status_code=451, provider_code="4.3.0")
    assert str(full) == "server busy [transport=smtp, status=451, code=4.3.0]"
    assert repr(full) == "TransientError('server busy', transport='smtp')"


def test_str_of_other_errors_is_the_text() -> None:
    assert str(InvalidMessage("to: fix it")) == "to: fix it"
    assert str(ConfigurationError("unknown scheme 'x'")) == "unknown scheme 'x'"
