"""Mailer and AsyncMailer: defaults, validation before I/O, retry on one transport."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from unisend import (
    AsyncMailer,
    ConfigurationError,
    InvalidMessage,
    Mailer,
    Message,
    RetryPolicy,
    SendResult,
    TransientError,
)
from unisend.transports.base import Transport
from unisend.transports.memory import MemoryTransport


class FlakyTransport(Transport):
    """Fails ``failures`` times with TransientError, then accepts."""

    default_name = "flaky"

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls = 0

    def send(self, message: Message) -> SendResult:
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientError("try later", status_code=503)
        return SendResult(message_id=f"id-{self.calls}", transport=self.name)


def no_sleep_policy(attempts: int = 3) -> tuple[RetryPolicy, list[float]]:
    slept: list[float] = []
    return RetryPolicy(attempts=attempts, sleep=slept.append, jitter=False), slept


def test_default_sender_fills_a_missing_sender() -> None:
    memory = MemoryTransport()
    mailer = Mailer(memory, default_sender="Ops <ops@example.com>")
    mailer.send(Message(to="bob@example.com", text="x"))
    assert memory.outbox[0].sender is not None
    assert memory.outbox[0].sender.email == "ops@example.com"


def test_no_sender_anywhere_raises_before_io() -> None:
    memory = MemoryTransport()
    with pytest.raises(InvalidMessage, match="no sender"):
        Mailer(memory).send(Message(to="bob@example.com", text="x"))
    assert memory.outbox == []


def test_retry_on_transient_then_success_records_attempts() -> None:
    policy, slept = no_sleep_policy()
    flaky = FlakyTransport(failures=2)
    result = Mailer(flaky, retry=policy).send(
        Message(sender="a@b.example", to="c@d.example", text="x")
    )
    assert result.message_id == "id-3"
    assert [a.error is None for a in result.attempts] == [False, False, True]
    assert slept == [0.5, 1.0]


def test_retry_exhausted_raises_the_last_error() -> None:
    policy, _ = no_sleep_policy(attempts=2)
    flaky = FlakyTransport(failures=5)
    with pytest.raises(TransientError) as info:
        Mailer(flaky, retry=policy).send(Message(sender="a@b.example", to="c@d.example", text="x"))
    assert flaky.calls == 2
    assert info.value.transport == "flaky"


def test_no_retry_policy_tries_once() -> None:
    flaky = FlakyTransport(failures=1)
    with pytest.raises(TransientError):
        Mailer(flaky, retry=RetryPolicy(attempts=1, backoff=0)).send(
            Message(sender="a@b.example", to="c@d.example", text="x")
        )
    assert flaky.calls == 1


def test_send_many_validates_everything_first(make_message: Callable[..., Message]) -> None:
    memory = MemoryTransport()
    mailer = Mailer(memory)
    good = make_message()
    with pytest.raises(InvalidMessage):
        mailer.send_many([good, Message(to="x@example.com", text="no sender")])
    assert memory.outbox == []


def test_send_many_returns_errors_in_place(make_message: Callable[..., Message]) -> None:
    class OddFails(Transport):
        default_name = "odd"

        def send(self, message: Message) -> SendResult:
            if message.subject == "fail":
                raise TransientError("down")
            return SendResult(message_id=message.subject, transport=self.name)

    mailer = Mailer(OddFails(), retry=RetryPolicy(attempts=1, backoff=0))
    results = mailer.send_many(
        [make_message(subject="a"), make_message(subject="fail"), make_message(subject="c")]
    )
    assert isinstance(results[0], SendResult) and results[0].message_id == "a"
    assert isinstance(results[1], TransientError)
    assert isinstance(results[2], SendResult) and results[2].message_id == "c"


def test_from_env_reads_unisend_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNISEND_URL", "memory://")
    mailer = Mailer.from_env()
    assert isinstance(mailer.transport, MemoryTransport)


def test_from_url_unknown_scheme_hides_the_secret() -> None:
    with pytest.raises(ConfigurationError) as info:
        Mailer.from_url("nosuch://user:hunter2-secret@host")
    assert "hunter2-secret" not in str(info.value)
    assert "nosuch" in str(info.value)


def test_mailer_context_manager_closes_the_transport() -> None:
    closed: list[bool] = []

    class Closing(MemoryTransport):
        def close(self) -> None:
            closed.append(True)

    with Mailer(Closing()) as mailer:
        mailer.send(Message(sender="a@b.example", to="c@d.example", text="x"))
    assert closed == [True]


async def test_async_mailer_retries_without_blocking() -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    policy = RetryPolicy(attempts=3, jitter=False, async_sleep=fake_sleep)
    flaky = FlakyTransport(failures=1)
    async with AsyncMailer(flaky, retry=policy) as mailer:
        result = await mailer.send(Message(sender="a@b.example", to="c@d.example", text="x"))
    assert result.message_id == "id-2"
    assert slept == [0.5]


@pytest.mark.parametrize("cls", [Mailer, AsyncMailer])
def test_a_missing_url_is_a_configuration_error_at_construction(cls: type[Mailer]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        cls(None)  # type: ignore[arg-type]  # os.environ.get("UNISEND_URL") when unset
    assert "UNISEND_URL" in str(caught.value) and f"{cls.__name__}()" in str(caught.value)
    with pytest.raises(ConfigurationError, match="got int"):
        cls(25)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [Mailer, AsyncMailer])
def test_from_url_with_a_transport_says_to_pass_it_directly(cls: type[Mailer]) -> None:
    with pytest.raises(ConfigurationError, match=r"Mailer\(transport\) directly"):
        cls.from_url(MemoryTransport())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="UNISEND_URL"):
        cls.from_url(None)  # type: ignore[arg-type]
