"""unisend's SMTP pool cases for the shared peer harness.

Loaded beside the main cases (``--extra-cases`` may be given more than once)::

    peers.py --extra-cases benchmarks/cases.py --extra-cases benchmarks/cases_smtp_pool.py \\
        --cases unisend_smtp_async_pool8,unisend_smtp_async_pool1_lat20,... --repeats 3

* ``unisend_smtp_async_pool8``: ``AsyncMailer`` over ``SMTPTransport(pool_size=8)`` with 8
  sends in flight, against ``smtplib_reuse`` (raw smtplib, one connection); target >= 2x.
* ``unisend_smtp_async_pool{1,4,8}_lat20``: the same against the sink that answers each
  DATA 20 ms late, K = pool size in flight (bound K x 50/s), against ``smtplib_reuse_lat20``;
  target: near-linear in the pool size.
* ``unisend_smtp_threads8_pool8``: the sync pool shared by 8 threads, no latency.
* ``opt_aiosmtplib_render_8conn[_lat20]``: the native asyncio alternative (aiosmtplib, the same
  unisend message and renderer), measured to choose between it and threads over smtplib.

Each message is built (``unisend.Message``) inside the timed loop, as the peers build
theirs. Import unisend inside the case functions: the harness parent loads this file too.
"""

from __future__ import annotations

from peers import _workers, case, expect


def _message(m):  # peers.Message -> unisend.Message
    from unisend import Message

    return Message(sender=m.sender, to=m.to, subject=m.subject, text=m.text, html=m.html)


async def _async_pool(n, srv, pool_size: int, in_flight: int) -> None:
    from unisend import AsyncMailer, RetryPolicy
    from unisend.transports import SMTPTransport

    transport = SMTPTransport(srv.smtp.host, srv.smtp.port, security="none", pool_size=pool_size)
    mailer = AsyncMailer(transport, retry=RetryPolicy(attempts=1, backoff=0))
    srv.ready()
    async with mailer:

        async def send_one(i: int) -> None:
            result = await mailer.send(_message(srv.message(i)))
            expect(result.message_id is not None, f"no message id: {result}")

        await _workers(n, in_flight, send_one)


@case(server="smtp", limit="smtplib_reuse")
async def case_unisend_smtp_async_pool8(n, srv):
    """unisend AsyncMailer, SMTPTransport(pool_size=8), 8 sends in flight."""
    await _async_pool(n, srv, 8, 8)


@case(server="smtp", limit="smtplib_reuse")
def case_unisend_smtp_threads8_pool8(n, srv):
    """unisend Mailer, SMTPTransport(pool_size=8) shared by 8 threads."""
    import threading

    from unisend import Mailer, RetryPolicy
    from unisend.transports import SMTPTransport

    transport = SMTPTransport(srv.smtp.host, srv.smtp.port, security="none", pool_size=8)
    mailer = Mailer(transport, retry=RetryPolicy(attempts=1, backoff=0))
    indexes = iter(range(n))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            while True:
                with lock:
                    i = next(indexes, None)
                if i is None:
                    return
                mailer.send(_message(srv.message(i)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    srv.ready()
    with mailer:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    expect(not errors, f"{len(errors)} thread(s) failed, first: {errors[:1]}")


@case(server="smtp", limit="smtplib_reuse_lat20", latency_ms=20, in_flight=1, scale=0.25)
async def case_unisend_smtp_async_pool1_lat20(n, srv):
    """AsyncMailer, pool_size=1, 1 in flight, DATA answered 20 ms late (bound 50/s)."""
    await _async_pool(n, srv, srv.in_flight, srv.in_flight)


@case(server="smtp", limit="smtplib_reuse_lat20", latency_ms=20, in_flight=4, scale=0.25)
async def case_unisend_smtp_async_pool4_lat20(n, srv):
    """AsyncMailer, pool_size=4, 4 in flight, DATA answered 20 ms late (bound 200/s)."""
    await _async_pool(n, srv, srv.in_flight, srv.in_flight)


@case(server="smtp", limit="smtplib_reuse_lat20", latency_ms=20, in_flight=8, scale=0.25)
async def case_unisend_smtp_async_pool8_lat20(n, srv):
    """AsyncMailer, pool_size=8, 8 in flight, DATA answered 20 ms late (bound 400/s)."""
    await _async_pool(n, srv, srv.in_flight, srv.in_flight)


# -- the alternative measured before choosing threads over a native asyncio client ----------


async def _aiosmtplib_rendered(n, srv, connections: int) -> None:
    import asyncio

    import aiosmtplib

    from unisend._mime import render

    clients = [
        aiosmtplib.SMTP(hostname=srv.smtp.host, port=srv.smtp.port, start_tls=False)
        for _ in range(connections)
    ]
    srv.ready()
    await asyncio.gather(*(c.connect() for c in clients))
    free = list(clients)

    async def send_one(i: int) -> None:
        m = srv.message(i)
        data = render(_message(m)).data  # unisend's renderer, on the event loop
        client = free.pop()
        try:
            await client.sendmail(m.sender, [m.to], data)
        finally:
            free.append(client)

    await _workers(n, connections, send_one)
    await asyncio.gather(*(c.quit() for c in clients))


@case(server="smtp", limit="smtplib_reuse")
async def case_opt_aiosmtplib_render_8conn(n, srv):
    """Native asyncio option: aiosmtplib, 8 connections, unisend.Message + unisend's renderer."""
    await _aiosmtplib_rendered(n, srv, 8)


@case(server="smtp", limit="smtplib_reuse_lat20", latency_ms=20, in_flight=8, scale=0.25)
async def case_opt_aiosmtplib_render_8conn_lat20(n, srv):
    """The native option against the sink that answers DATA 20 ms late (bound 400/s)."""
    await _aiosmtplib_rendered(n, srv, 8)
