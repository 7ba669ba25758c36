"""The delivery engine: an I/O-free plan that any driver can run, one status table for
every HTTP transport and ScriptedTransport, transports that never reach into the engine,
and the test outbox as an injection point rather than patches."""

from __future__ import annotations

import ast
import asyncio
import inspect
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import unisend
from unisend import (
    AllRoutesFailed,
    AsyncMailer,
    Failover,
    Mailer,
    Message,
    RetryPolicy,
    SendError,
    SendResult,
    TransientError,
    _mailer,
)
from unisend._delivery import Sleep, Try, TryBatch, deliver, deliver_batch
from unisend.testing import capture_outbox
from unisend.transports import MemoryTransport, ScriptedTransport, SendGridTransport
from unisend.transports._http import HttpTransport
from unisend.transports._status import error_class

PACKAGE = Path(unisend.__file__).parent
ENGINE = {"_delivery", "_retry", "_routing", "_bulk", "_mailer", "_hooks"}

MakeMessage = Callable[..., Message]


def third_driver(plan: Any, log: list[str]) -> Any:
    """A driver written from the interface in _delivery's docstring alone (as a spool
    would): it logs every step and never really sleeps."""
    outcome: Any = None
    try:
        while True:
            step = plan.send(outcome)
            if type(step) is Sleep:
                log.append(f"sleep {step.seconds}")
                outcome = None
            elif type(step) is Try:
                log.append(f"try {step.route.name}")
                try:
                    outcome = step.route.send(step.message)
                except SendError as error:
                    outcome = error
            else:
                assert type(step) is TryBatch
                log.append(f"batch {step.route.name} x{len(step.messages)}")
                outcome = step.route.send_many(step.messages)
    except StopIteration as done:
        return done.value


def test_another_driver_runs_the_same_plan_as_the_mailer(make_message: MakeMessage) -> None:
    message = make_message()
    policy = RetryPolicy(attempts=2, backoff=1, jitter=False)

    def router() -> Failover:
        return Failover(
            [ScriptedTransport(["503"], name="a"), ScriptedTransport(["503", "ok"], name="b")]
        )

    log: list[str] = []
    result = third_driver(deliver(router(), message, policy), log)
    assert log == ["try a", "sleep 1.0", "try a", "try b", "sleep 1.0", "try b"]
    slept: list[float] = []
    mailed = Mailer(router(), retry=RetryPolicy(**_fields(policy), sleep=slept.append)).send(
        message
    )
    assert slept == [1.0, 1.0]
    assert [(a.transport, type(a.error)) for a in result.attempts] == [
        (a.transport, type(a.error)) for a in mailed.attempts
    ]
    assert result.transport == mailed.transport == "b"


def _fields(policy: RetryPolicy) -> dict[str, Any]:
    return {"attempts": policy.attempts, "backoff": policy.backoff, "jitter": policy.jitter}


def test_a_plan_raises_what_the_caller_sees(make_message: MakeMessage) -> None:
    plan = deliver(
        Failover([ScriptedTransport(["401"], name="a"), ScriptedTransport(["403"], name="b")]),
        make_message(),
        RetryPolicy(attempts=3),
    )
    log: list[str] = []
    with pytest.raises(AllRoutesFailed) as caught:
        third_driver(plan, log)
    assert log == ["try a", "try b"] and [e.transport for e in caught.value.errors] == ["a", "b"]


def test_batch_rounds_are_a_plan_too(make_message: MakeMessage) -> None:
    class Batch(ScriptedTransport):
        batch_limit = 10

    route = Batch(["503", "ok"], name="batch")
    messages = [make_message(subject=f"m{i}") for i in range(3)]
    log: list[str] = []
    outcomes = third_driver(
        deliver_batch(route, messages, RetryPolicy(attempts=2, backoff=2, jitter=False)), log
    )
    # the first message failed once and went again alone, after the wait
    assert log == ["batch batch x3", "sleep 2.0", "batch batch x1"]
    assert all(isinstance(o, SendResult) for o in outcomes)
    assert [len(o.attempts) for o in outcomes] == [2, 1, 1]
    first, second, third = (o.attempts for o in outcomes if isinstance(o, SendResult))
    # one request carried the second and third: they share its one (immutable) record
    assert second is third and second[0].error is None and second[0].transport == "batch"
    # the first message's trail is its own: the failed round, then the retry alone
    assert first[0].error is not None and first[0].error.status_code == 503
    assert first[1].error is None and first[1] is not second[0]


def test_transports_import_nothing_from_the_engine() -> None:
    for path in sorted((PACKAGE / "transports").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level else []
                names += [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                parts = set(name.replace("unisend.", "").split("."))
                assert not parts & ENGINE, f"{path.name} imports {name} from the engine"


def test_a_transport_is_send_check_close_only() -> None:
    from unisend.transports.base import Transport

    assert not hasattr(Transport, "deliver") and not hasattr(Transport, "adeliver")
    assert inspect.iscoroutinefunction(Transport.asend)


# -- one status table ------------------------------------------------------------------


def test_scripted_and_http_transports_classify_every_status_alike() -> None:
    http = SendGridTransport(api_key="SG.k")
    for status in range(300, 600):
        scripted = ScriptedTransport([str(status)])
        with pytest.raises(SendError) as caught:
            scripted.send(Message(sender="a@example.com", to="b@example.com", text="t"))
        expected = HttpTransport._error_class(http, status, _details())
        assert type(caught.value) is expected is error_class(status), status
    assert error_class(408) is TransientError


def _details() -> Any:
    from unisend.transports._http import ErrorDetails

    return ErrorDetails("")


@pytest.fixture
def answers_408() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that answers 408 to the first request, then 202."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.path)
            status = 408 if len(seen) == 1 else 202
            self.send_response(status)
            self.send_header("Content-Length", "0")
            if status == 202:
                self.send_header("X-Message-Id", "id-2")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_http_408_is_transient_and_retried(
    answers_408: tuple[str, list[str]], make_message: MakeMessage
) -> None:
    url, seen = answers_408
    route = SendGridTransport(api_key="SG.k", base_url=url)
    with route, pytest.raises(TransientError) as caught:
        route.send(make_message())
    assert caught.value.status_code == 408 and caught.value.retryable
    policy = RetryPolicy(attempts=2, backoff=0)
    seen.clear()
    with Mailer(SendGridTransport(api_key="SG.k", base_url=url), retry=policy) as mailer:
        result = mailer.send(make_message())
    assert result.message_id == "id-2" and len(seen) == 2
    assert [a.error.status_code if a.error else None for a in result.attempts] == [408, None]


# -- the outbox is an injection point ---------------------------------------------------


def test_capture_replaces_no_attribute(make_message: MakeMessage) -> None:
    before = {name: vars(_mailer.Mailer).get(name) for name in ("send", "send_many")}
    async_before = vars(_mailer.AsyncMailer)["send_many"]
    with capture_outbox() as outbox:
        assert {name: vars(_mailer.Mailer).get(name) for name in before} == before
        assert vars(_mailer.AsyncMailer)["send_many"] is async_before
        Mailer(ScriptedTransport(["500"])).send(make_message())
    assert len(outbox) == 1


def test_captured_async_send_many_stays_async_and_checks_first(make_message: MakeMessage) -> None:
    async def go() -> list[SendResult | SendError]:
        mailer = AsyncMailer(ScriptedTransport(["500"]))
        pending = mailer.send_many([make_message(), make_message()])
        assert inspect.isawaitable(pending)
        return await pending

    with capture_outbox() as outbox:
        outcomes = asyncio.run(go())
    assert len(outbox) == 2 and all(o.transport == "memory" for o in outcomes)  # type: ignore[union-attr]


def test_capture_follows_the_context_not_the_process(make_message: MakeMessage) -> None:
    route = MemoryTransport(name="own")
    seen: list[str] = []

    def elsewhere() -> None:  # a thread started without this context: not captured
        seen.append(Mailer(route).send(make_message()).transport)

    with capture_outbox() as outbox:
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        seen.append(Mailer(route).send(make_message()).transport)
    assert seen == ["own", "memory"] and len(outbox) == 1 and len(route.outbox) == 1


def test_a_thread_given_the_context_is_captured(make_message: MakeMessage) -> None:
    import contextvars

    route = MemoryTransport(name="own")
    with capture_outbox() as outbox:
        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(Mailer(route).send, make_message()))
        thread.start()
        thread.join()
    assert len(outbox) == 1 and route.outbox == []


def test_the_engine_needs_no_tenacity() -> None:
    import subprocess
    import sys

    code = (
        "import sys, asyncio; from unisend import Mailer, AsyncMailer, Failover, RetryPolicy, "
        "Message; from unisend.transports import ScriptedTransport; "
        "m = Message(sender='a@example.com', to='b@example.com', text='t'); "
        "p = RetryPolicy(attempts=2, backoff=0.001); "
        "Mailer(Failover([ScriptedTransport(['503', 'ok'])]), retry=p).send(m); "
        "asyncio.run(AsyncMailer(ScriptedTransport(['503', 'ok']), retry=p).send(m)); "
        "print('tenacity' in sys.modules, 'httpx' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
