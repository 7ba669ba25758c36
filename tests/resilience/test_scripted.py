"""ScriptedTransport: every outcome maps to the right result or error class."""

from __future__ import annotations

import asyncio

import pytest

from unisend import (
    AuthenticationError,
    ConfigurationError,
    Message,
    MessageRejected,
    ProviderError,
    RateLimited,
    SendError,
    TransientError,
)
from unisend.transports import ScriptedTransport


@pytest.mark.parametrize(
    ("entry", "cls", "status", "ambiguous", "recorded"),
    [
        ("429", RateLimited, 429, False, False),
        ("503", TransientError, 503, False, False),
        ("500", TransientError, 500, False, False),
        ("408", TransientError, 408, False, False),
        ("timeout", TransientError, None, True, True),
        ("reset", TransientError, None, False, False),
        ("refused", TransientError, None, False, False),
        ("401", AuthenticationError, 401, False, False),
        ("403", ProviderError, 403, False, False),
        ("404", ProviderError, 404, False, False),
        ("400", MessageRejected, 400, False, False),
        ("413", MessageRejected, 413, False, False),
        ("422", MessageRejected, 422, False, False),
    ],
)
def test_error_outcomes(
    message: Message,
    entry: str,
    cls: type[SendError],
    status: int | None,
    ambiguous: bool,
    recorded: bool,
) -> None:
    transport = ScriptedTransport([entry], name="s")
    with pytest.raises(SendError) as caught:
        transport.send(message)
    error = caught.value
    assert type(error) is cls
    assert (error.status_code, error.ambiguous, error.transport) == (status, ambiguous, "s")
    assert error.retryable is issubclass(cls, TransientError)
    assert transport.calls == 1 and (transport.sent == [message]) is recorded


def test_rate_limited_carries_retry_after(message: Message) -> None:
    transport = ScriptedTransport(["429:1", "429:2.5", "429"])
    after = []
    for _ in range(3):
        with pytest.raises(RateLimited) as caught:
            transport.send(message)
        after.append(caught.value.retry_after)
    assert after == [1.0, 2.5, None]


def test_ok_and_2xx_are_accepted_with_distinct_ids(message: Message) -> None:
    transport = ScriptedTransport(["ok", "202", "OK"], name="s")
    results = [transport.send(message) for _ in range(3)]
    assert [r.transport for r in results] == ["s", "s", "s"]
    assert len({r.message_id for r in results}) == 3
    assert transport.sent == [message] * 3 and transport.calls == 3


def test_the_last_entry_repeats_when_the_script_runs_out(message: Message) -> None:
    transport = ScriptedTransport(["503", "ok"])
    with pytest.raises(TransientError):
        transport.send(message)
    for _ in range(5):
        transport.send(message)
    assert transport.calls == 6 and len(transport.sent) == 5


def test_async_follows_the_same_script(message: Message) -> None:
    transport = ScriptedTransport(["503", "ok"])

    async def run() -> str:
        try:
            await transport.asend(message)
        except TransientError:
            pass
        return (await transport.asend(message)).transport

    assert asyncio.run(run()) == "scripted"
    assert transport.calls == 2 and transport.sent == [message]


def test_reset_starts_over(message: Message) -> None:
    transport = ScriptedTransport(["ok", "500"])
    transport.send(message)
    transport.reset()
    assert transport.calls == 0 and transport.sent == []
    assert transport.send(message).transport == "scripted"


@pytest.mark.parametrize(
    ("script", "fragment"),
    [
        ([], "at least one outcome"),
        ("ok", "list of outcomes"),
        (["ok", "teapot"], "outcome 2 \\('teapot'\\)"),
        (["199"], "outcome 1"),
        (["600"], "outcome 1"),
        (["503:2"], "429:<seconds>"),
        ([503], "outcome 1"),
    ],
)
def test_bad_scripts_are_configuration_errors(script: object, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        ScriptedTransport(script)  # type: ignore[arg-type]


def test_repr_is_short() -> None:
    transport = ScriptedTransport(["503"] * 50 + ["ok"], name="s")
    assert (
        repr(transport)
        == "<ScriptedTransport name='s' script=[503, 503, 503, 503, 503, ...] calls=0>"
    )
