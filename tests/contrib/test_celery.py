"""Celery: the JSON payload, retry decisions, and a real worker on a real Redis broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from hypothesis import given, settings
from hypothesis import strategies as st

from unisend import (
    Address,
    AllRoutesFailed,
    Attachment,
    InvalidMessage,
    Message,
    MessageRejected,
    ProviderError,
    RateLimited,
    TransientError,
)
from unisend.contrib.celery import (
    TASK_NAME,
    SendFailed,
    message_from_payload,
    message_to_payload,
    retry_countdown,
    send_message,
)
from unisend.testing import Outbox
from unisend.transports.sandbox import SandboxTransport

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BINARY = bytes(range(256)) * 3


def full_message() -> Message:
    return Message(
        sender="Zoë Ünïcode <zoe@example.com>",
        to=["Bob <bob@example.com>", "ann@bücher.example"],
        cc="carl@example.com",
        bcc=["dora@example.com"],
        reply_to='"Help, Desk" <help@example.com>',
        subject="Report \u2013 Q3",
        text="plain",
        html="<p>html</p>",
        attachments=[
            Attachment("data.bin", BINARY, "application/octet-stream"),
            Attachment("logo.png", b"\x89PNG\r\n\x1a\n\x00", "image/png", True, "logo@x"),
            Attachment("empty.txt", b""),
        ],
        headers={"X-Campaign": "spring"},
        tags=["t1"],
        metadata={"user": "42"},
        send_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        provider_options={"sendgrid": {"asm": {"group_id": 1}}},
    )


def test_payload_round_trips_exactly_through_json() -> None:
    import json

    message = full_message()
    payload = json.loads(json.dumps(message_to_payload(message)))
    assert message_from_payload(payload) == message
    assert payload["message"]["attachments"][0]["content_b64"].isascii()


@given(
    content=st.binary(max_size=512),
    filename=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,30}", fullmatch=True),
    name=st.text(
        st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20
    ),
    subject=st.text(
        st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=40
    ),
)
@settings(max_examples=60, deadline=None)
def test_payload_round_trip_property(
    content: bytes, filename: str, name: str, subject: str
) -> None:
    import json

    message = Message(
        sender=Address("a@example.com", name),
        to="b@example.com",
        subject=subject,
        text="t",
        attachments=[Attachment(filename, content)],
    )
    assert message_from_payload(json.loads(json.dumps(message_to_payload(message)))) == message


def test_template_message_round_trips() -> None:
    message = Message(
        sender="a@example.com",
        to="b@example.com",
        template_id="welcome",
        template_data={"name": "Bob", "items": [1, 2]},
    )
    assert message_from_payload(message_to_payload(message)) == message


@pytest.mark.parametrize(
    "payload",
    [{"message": {}}, {"unisend": 99, "message": {}}, "not a dict"],
)
def test_foreign_payload_is_invalid(payload: Any) -> None:
    with pytest.raises(InvalidMessage, match="payload"):
        message_from_payload(payload)


def test_bad_base64_is_invalid() -> None:
    payload = message_to_payload(full_message())
    payload["message"]["attachments"][0]["content_b64"] = "***"
    with pytest.raises(InvalidMessage, match="base64"):
        message_from_payload(payload)


def test_countdown_prefers_retry_after_and_caps_it() -> None:
    conf = {"unisend_retry_backoff": 2.0, "unisend_retry_backoff_max": 30.0}
    assert retry_countdown(RateLimited("slow down", retry_after=7.0), 0, conf) == 7.0
    assert retry_countdown(RateLimited("slow down", retry_after=900.0), 0, conf) == 30.0
    routes = AllRoutesFailed("all", errors=[TransientError("x"), RateLimited("y", retry_after=3)])
    assert retry_countdown(routes, 0, conf) == 3.0
    for retries, high in [(0, 2.0), (1, 4.0), (2, 8.0), (6, 30.0)]:
        delay = retry_countdown(TransientError("flaky"), retries, conf)
        assert high / 2 <= delay <= high


@pytest.fixture
def eager_app() -> Iterator[Celery]:
    app = Celery("eager", set_as_current=True)
    app.conf.update(
        task_always_eager=True,
        task_eager_propagates=True,
        unisend_url="memory://",
        unisend_default_sender="worker@example.com",
        unisend_retry={"attempts": 1, "backoff": 0},
    )
    yield app


def test_eager_task_sends_through_the_outbox_fixture(
    eager_app: Celery, unisend_outbox: Outbox
) -> None:
    from unisend.contrib.celery import send_later

    message = Message(to="bob@example.com", subject="queued", text="hi")
    outcome = send_later(message).get()
    assert outcome["transport"] == "memory" and outcome["retries"] == 0
    (sent,) = unisend_outbox.assert_sent(count=1, to="bob@example.com", subject="queued")
    assert sent.sender is not None and sent.sender.email == "worker@example.com"


class _Fails:
    name = "scripted"

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def send(self, message: object) -> None:
        self.calls += 1
        raise self.error

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "error",
    [
        MessageRejected("no such user", rejected={"bob@example.com": "550"}, status_code=550),
        ProviderError("account suspended", status_code=403),
        AllRoutesFailed("all down", errors=[ProviderError("a"), MessageRejected("b")]),
    ],
)
def test_permanent_errors_fail_at_once(eager_app: Celery, error: Exception) -> None:
    from unisend.contrib import celery as module

    transport = _Fails(error)
    module.worker_mailer(eager_app).transport = transport  # type: ignore[assignment]
    try:
        with pytest.raises(SendFailed, match=type(error).__name__):
            send_message.apply(args=(message_to_payload(full_message()),)).get()
    finally:
        module._mailers.clear()
    assert transport.calls == 1  # no Celery retry


# --- a real worker on a real broker -------------------------------------------------


def _worker_env(redis_url: str, unisend_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNISEND_", "CELERY_"))}
    env.update(
        CELERY_BROKER_URL=redis_url,
        UNISEND_URL=unisend_url,
        UNISEND_RETRY_BACKOFF="0.05",
        UNISEND_MAX_RETRIES="3",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


@pytest.fixture
def client(redis_url: str) -> Iterator[Celery]:
    app = Celery("client", broker=redis_url, backend=redis_url, set_as_current=False)
    app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"])
    yield app
    app.close()


def start_worker(client: Celery, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start the example worker and wait until it answers a ping."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--workdir",
            str(EXAMPLES),
            "-A",
            "celery_worker",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"test-{os.getpid()}-{time.monotonic_ns()}@localhost",
        ],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while not client.control.ping(timeout=0.2):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the worker did not start:\n{log.read_text()}")
    return proc


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_real_worker_delivers_to_the_sandbox(
    redis_url: str, client: Celery, tmp_path: Path
) -> None:
    store = tmp_path / "mail.sqlite3"
    env = _worker_env(redis_url, f"sandbox://{store}")
    worker = start_worker(client, env, tmp_path / "worker.log")
    try:
        # the example's own enqueue path: python examples/celery_worker.py RECIPIENT
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / "celery_worker.py"), "bob@example.com"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "transport=sandbox" in done.stdout
        attached = full_message()
        outcome = client.send_task(TASK_NAME, args=(message_to_payload(attached),)).get(timeout=30)
    finally:
        stop_worker(worker)
    stored = SandboxTransport(store).list(limit=None)
    assert [m.subject for m in reversed(stored)] == [
        "Hello from a Celery worker",
        "Report \u2013 Q3",
    ]
    assert stored[0].message_id == outcome["message_id"]
    parts = {p.get_filename(): p.get_content() for p in stored[0].email().iter_attachments()}
    assert parts["data.bin"] == BINARY


class _Replies(dict):  # type: ignore[type-arg]
    """RCPT faults: ``once`` addresses are refused the first time only."""

    def __init__(self, once: dict[str, str], always: dict[str, str]) -> None:
        super().__init__(always)
        self.once = dict(once)

    def get(self, key: str, default: Any = None) -> Any:
        if key in self.once:
            return self.once.pop(key)
        return super().get(key, default)


@pytest.fixture(scope="module")
def smtp_worker(
    redis_url: str, smtp_ca: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, Celery, Path]]:
    """A STARTTLS+AUTH SMTP server and a real worker whose route is that server.

    ``flaky@example.com`` is refused with 451 once; ``nobody@example.com`` always 550.
    """
    from servers.smtp import PASSWORD, USER, Faults, SMTPServer

    faults = Faults(
        rcpt=_Replies(
            once={"flaky@example.com": "451 4.3.0 try again later"},
            always={"nobody@example.com": "550 5.1.1 no such user"},
        )
    )
    server = SMTPServer(ca=smtp_ca, tls="starttls", auth=True, faults=faults).start()
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    url = f"smtp://{USER}:{PASSWORD}@127.0.0.1:{server.port}?ca_file={smtp_ca.ca_file}"
    app = Celery("client", broker=redis_url, backend=redis_url, set_as_current=False)
    app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"])
    worker = start_worker(app, _worker_env(redis_url, url), log)
    try:
        yield server, app, log
    finally:
        stop_worker(worker)
        app.close()
        server.stop()


def _send(app: Celery, **fields: Any) -> Any:
    message = Message(sender="shop@example.com", subject="s", text="t", **fields)
    return app.send_task(TASK_NAME, args=(message_to_payload(message),))


def test_real_worker_retries_a_transient_failure(smtp_worker: tuple[Any, Celery, Path]) -> None:
    server, app, log = smtp_worker
    outcome = _send(app, to="flaky@example.com").get(timeout=30)
    assert outcome["retries"] == 1  # one Celery retry after the 451
    assert outcome["transport"] == "smtp"
    (received,) = [m for m in server.messages if m.rcpt_tos == ["flaky@example.com"]]
    assert received.parsed()["Message-ID"] == outcome["message_id"]
    assert "retry 1" in log.read_text()


def test_real_worker_records_a_rejection_without_retry(
    smtp_worker: tuple[Any, Celery, Path],
) -> None:
    server, app, _ = smtp_worker
    rcpts_before = server.recorder.commands.count("RCPT")
    result = _send(app, to="nobody@example.com")
    with pytest.raises(Exception, match="MessageRejected") as caught:
        result.get(timeout=30)
    assert type(caught.value).__name__ == "SendFailed"
    assert result.state == "FAILURE"
    assert server.recorder.commands.count("RCPT") == rcpts_before + 1  # tried once only


def _with_bodies(raw: bytes) -> bytes:
    """A kombu message plus its decoded body (kombu base64-encodes task bodies)."""
    import base64
    import json

    try:
        envelope = json.loads(raw)
        return raw + base64.b64decode(envelope["body"])
    except (ValueError, KeyError, TypeError):
        return raw


def test_no_secret_in_broker_results_or_logs(
    smtp_worker: tuple[Any, Celery, Path], redis_url: str
) -> None:
    import redis
    from servers.smtp import PASSWORD, USER

    server, app, log = smtp_worker
    outcome = _send(app, to="carol@example.com").get(timeout=30)
    # a task parked on a queue no worker reads: its arguments stay in Redis to inspect
    message = Message(sender="shop@example.com", to="parked@example.com", subject="s", text="t")
    app.send_task(TASK_NAME, args=(message_to_payload(message),), queue="parked")
    assert server.recorder.auth and server.recorder.auth[-1] == ("PLAIN", USER, True)
    client = redis.Redis.from_url(redis_url)
    stored = b""
    for key in client.scan_iter():
        kind = client.type(key)
        if kind == b"string":
            stored += client.get(key) or b""
        elif kind == b"list":
            stored += b"".join(_with_bodies(item) for item in client.lrange(key, 0, -1))
        elif kind == b"hash":
            stored += b"".join(k + v for k, v in client.hgetall(key).items())
        elif kind in (b"set", b"zset"):
            stored += b"".join(
                client.zrange(key, 0, -1) if kind == b"zset" else client.smembers(key)
            )
    client.close()
    assert outcome["message_id"].encode() in stored  # the result was scanned
    assert b"parked@example.com" in stored  # and the task arguments
    assert PASSWORD.encode() not in stored
    assert PASSWORD not in log.read_text()


@pytest.mark.parametrize(
    ("error", "countdown"),
    [
        (TransientError("connection reset"), None),
        (RateLimited("slow down", retry_after=7.5), 7.5),
        (AllRoutesFailed("all down", errors=[ProviderError("a"), TransientError("b")]), None),
    ],
)
def test_transient_errors_are_retried_until_the_limit(
    eager_app: Celery, error: Exception, countdown: float | None
) -> None:
    from celery.exceptions import Retry

    from unisend.contrib import celery as module

    eager_app.conf.update(unisend_max_retries=2, unisend_retry_backoff=4.0)
    transport = _Fails(error)
    module.worker_mailer(eager_app).transport = transport  # type: ignore[assignment]
    payload = message_to_payload(full_message())
    try:
        for retries in (0, 1):
            with pytest.raises(Retry) as retry:
                send_message.apply(args=(payload,), retries=retries).get()
            if countdown is None:
                assert 2.0 * 2**retries <= retry.value.when <= 4.0 * 2**retries
            else:
                assert retry.value.when == countdown
            assert type(error).__name__ in str(retry.value.exc)
        with pytest.raises(SendFailed, match=type(error).__name__):
            send_message.apply(args=(payload,), retries=2).get()  # the limit: give up
    finally:
        module._mailers.clear()
    assert transport.calls == 3
