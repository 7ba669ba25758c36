"""The hook API (on_attempt, on_failover) and the ``unisend`` logger: INFO per failover,
DEBUG per attempt, never a secret or a message body."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from unisend import AllRoutesFailed, Attempt, Failover, Message, RetryPolicy, RoundRobin, SendError
from unisend.transports import ScriptedTransport

from .conftest import Deliver, FakeClock

Policy = Callable[..., RetryPolicy]


def test_on_attempt_sees_every_try_as_it_happens(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    seen: list[Attempt] = []
    primary = ScriptedTransport(["503", "timeout"], name="p")
    backup = ScriptedTransport(["ok"], name="b")
    router = Failover([primary, backup], on_attempt=seen.append, _clock=clock)
    result = deliver(router, message, policy_for(attempts=2))
    assert seen == list(result.attempts)
    assert [(a.transport, a.error is None) for a in seen] == [
        ("p", False),
        ("p", False),
        ("b", True),
    ]


def test_on_failover_reports_from_to_and_the_error(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    calls: list[tuple[str, str | None, SendError]] = []
    r1 = ScriptedTransport(["500"], name="r1")
    r2 = ScriptedTransport(["401"], name="r2")
    r3 = ScriptedTransport(["ok", "500"], name="r3")
    router = Failover([r1, r2, r3], on_failover=lambda *args: calls.append(args), _clock=clock)
    deliver(router, message, policy_for(attempts=1))
    assert [(f, t, type(e).__name__) for f, t, e in calls] == [
        ("r1", "r2", "TransientError"),
        ("r2", "r3", "AuthenticationError"),
    ]
    calls.clear()
    router.reset()
    with pytest.raises(AllRoutesFailed):
        deliver(router, message, policy_for(attempts=1))
    # the last route given up on has no successor: to is None
    assert [(f, t) for f, t, _ in calls] == [("r1", "r2"), ("r2", "r3"), ("r3", None)]


def test_nested_routers_report_attempts_to_every_level(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    inner_seen: list[str] = []
    outer_seen: list[str] = []
    inner = RoundRobin(
        [ScriptedTransport(["500"], name="x"), ScriptedTransport(["500"], name="y")],
        on_attempt=lambda a: inner_seen.append(a.transport),
        _clock=clock,
    )
    outer = Failover(
        [inner, ScriptedTransport(["ok"], name="z")],
        on_attempt=lambda a: outer_seen.append(a.transport),
        _clock=clock,
    )
    deliver(outer, message, policy_for(attempts=1))
    assert inner_seen == ["x", "y"]
    assert outer_seen == ["x", "y", "z"]


def test_a_failing_hook_never_changes_the_outcome(
    deliver: Deliver,
    message: Message,
    clock: FakeClock,
    policy_for: Policy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(*args: object) -> None:
        raise RuntimeError("hook bug")

    backup = ScriptedTransport(["ok"], name="b")
    router = Failover(
        [ScriptedTransport(["500"], name="p"), backup],
        on_attempt=explode,
        on_failover=explode,
        _clock=clock,
    )
    with caplog.at_level(logging.ERROR, logger="unisend"):
        result = deliver(router, message, policy_for(attempts=1))
    assert result.transport == "b" and backup.sent == [message]
    assert sum("hook" in r.getMessage() for r in caplog.records) == 3


def test_logging_levels_and_no_secrets_or_bodies(
    deliver: Deliver,
    message: Message,
    clock: FakeClock,
    policy_for: Policy,
    caplog: pytest.LogCaptureFixture,
    make_message: Callable[..., Message],
) -> None:
    secret_body = make_message(text="TOP-SECRET-BODY-42", subject="Private subject 17")
    router = Failover(
        [
            ScriptedTransport(["503"], name="primary"),
            ScriptedTransport(["ok"], name="backup"),
        ],
        _clock=clock,
    )
    with caplog.at_level(logging.DEBUG, logger="unisend"):
        deliver(router, secret_body, policy_for(attempts=2))
    info = [r for r in caplog.records if r.levelno == logging.INFO]
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(info) == 1
    assert "primary" in info[0].getMessage() and "trying backup" in info[0].getMessage()
    assert len(debug) == 3  # primary twice, backup once
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "TOP-SECRET-BODY-42" not in text and "Private subject 17" not in text
    assert "bob@example.com" not in text and "ann@example.com" not in text
    assert all(r.name == "unisend" for r in caplog.records)
