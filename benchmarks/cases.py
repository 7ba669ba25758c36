"""unisend's cases for the shared peer harness (``peers.py --extra-cases benchmarks/cases.py``).

Each case runs in its own process beside the peers of the same run, so its ratio to the
raw limit case is taken in the same repeat. Import unisend inside the case functions
(the harness's parent process loads this file too). ``benchmarks/run.sh`` has the
commands; ``benchmarks/RESULTS.md`` the figures.

Groups:

* ``unisend_smtp``: ``Mailer(SMTPTransport)`` inside ``with`` (one connection), against
  ``smtplib_reuse``; Django's backend runs in the same run.
* ``unisend_<provider>``: ``Mailer.send`` per message, against ``httpx_sync``; the vendor
  SDK of the provider runs in the same run (mailtrap's SDK speaks only https, so
  ``unisend_mailtrap_tls`` is measured against ``httpx_sync_tls`` too).
* ``unisend_<provider>_batch``: ``Mailer.send_many`` on a batch endpoint, against the
  same provider's one-request-per-message case.
* ``unisend_sendgrid_async<K>_lat50``: ``AsyncMailer.send_many(concurrency=K)`` against
  the stub that answers 50 ms late (bound K / 50 ms), with the async transport unisend
  picks (its aiohttp adapter when aiohttp is installed) and with the httpcore-only fallback.
* ``opt_*``: the raw options measured to choose the async transport (httpx on many small
  httpcore pools), beside ``httpx_async128_lat50`` / ``httpx_aiohttp_async128_lat50``.
"""

from __future__ import annotations

from peers import API_KEY, _workers, case, expect, sendgrid_payload


def _message(m):  # peers.Message -> unisend.Message
    from unisend import Message

    return Message(sender=m.sender, to=m.to, subject=m.subject, text=m.text, html=m.html)


def _send_each(n, srv, transport) -> None:
    from unisend import Mailer, RetryPolicy

    mailer = Mailer(transport, retry=RetryPolicy(attempts=1, backoff=0))
    srv.ready()
    with mailer:
        for i in range(n):
            result = mailer.send(_message(srv.message(i)))
            expect(result.message_id is not None, f"no message id: {result}")


def _send_batch(n, srv, transport) -> None:
    from unisend import Mailer, RetryPolicy, SendResult

    mailer = Mailer(transport, retry=RetryPolicy(attempts=1, backoff=0))
    srv.ready()
    with mailer:
        results = mailer.send_many([_message(srv.message(i)) for i in range(n)])
    failed = [r for r in results if not isinstance(r, SendResult)]
    expect(len(results) == n and not failed, f"{len(failed)} failed, first: {failed[:1]}")


# ---------------------------------------------------------------- SMTP


@case(server="smtp", limit="smtplib_reuse")
def case_unisend_smtp(n, srv):
    """unisend Mailer(SMTPTransport), one connection inside `with` (issue 2's benchmark)."""
    from unisend.transports import SMTPTransport

    _send_each(n, srv, SMTPTransport(srv.smtp.host, srv.smtp.port, security="none"))


# ---------------------------------------------------------------- HTTP, sync, per provider


def _http(name: str, base_url: str, **extra):
    from unisend import transports

    factories = {
        "sendgrid": lambda: transports.SendGridTransport(api_key=API_KEY, base_url=base_url),
        "postmark": lambda: transports.PostmarkTransport(server_token=API_KEY, base_url=base_url),
        "mailjet": lambda: transports.MailjetTransport(
            api_key=API_KEY, secret_key="bench-secret", base_url=base_url
        ),
        "brevo": lambda: transports.BrevoTransport(api_key=API_KEY, base_url=base_url),
        "mailtrap": lambda: transports.MailtrapTransport(token=API_KEY, base_url=base_url, **extra),
    }
    return factories[name]()


@case(server="http", limit="httpx_sync")
def case_unisend_sendgrid(n, srv):
    """unisend SendGridTransport, Mailer.send per message (vs sendgrid_sdk)."""
    _send_each(n, srv, _http("sendgrid", srv.http))


@case(server="http", limit="httpx_sync")
def case_unisend_postmark(n, srv):
    """unisend PostmarkTransport, Mailer.send per message (vs postmarker)."""
    _send_each(n, srv, _http("postmark", srv.http))


@case(server="http", limit="httpx_sync")
def case_unisend_mailjet(n, srv):
    """unisend MailjetTransport, Mailer.send per message (vs mailjet_rest)."""
    _send_each(n, srv, _http("mailjet", srv.http))


@case(server="http", limit="httpx_sync")
def case_unisend_brevo(n, srv):
    """unisend BrevoTransport, Mailer.send per message (vs brevo_python, sib_api_v3_sdk)."""
    _send_each(n, srv, _http("brevo", srv.http))


@case(server="http", limit="httpx_sync")
def case_unisend_mailtrap(n, srv):
    """unisend MailtrapTransport, Mailer.send per message, plain http."""
    _send_each(n, srv, _http("mailtrap", srv.http))


@case(server="https", limit="httpx_sync_tls")
def case_unisend_mailtrap_tls(n, srv):
    """unisend MailtrapTransport over TLS (vs mailtrap_sdk, mailtrap_sending_api)."""
    _send_each(n, srv, _http("mailtrap", srv.https, ca_file=srv.https_ca))


# ---------------------------------------------------------------- HTTP batch send_many


@case(server="http", limit="unisend_postmark")
def case_unisend_postmark_batch(n, srv):
    """Mailer.send_many on Postmark's /email/batch (500 a request) vs one request each."""
    _send_batch(n, srv, _http("postmark", srv.http))


@case(server="http", limit="unisend_mailtrap")
def case_unisend_mailtrap_batch(n, srv):
    """Mailer.send_many on Mailtrap's /api/batch (500 a request) vs one request each."""
    _send_batch(n, srv, _http("mailtrap", srv.http))


# ---------------------------------------------------------------- HTTP async with latency


async def _async_send_many(n, srv, use_aiohttp: bool) -> None:
    from unisend import AsyncMailer, RetryPolicy, SendResult
    from unisend.transports import _async_http

    _async_http.USE_AIOHTTP = use_aiohttp
    mailer = AsyncMailer(_http("sendgrid", srv.http), retry=RetryPolicy(attempts=1, backoff=0))
    srv.ready()
    async with mailer:
        messages = [_message(srv.message(i)) for i in range(n)]
        results = await mailer.send_many(messages, concurrency=srv.in_flight)
    failed = [r for r in results if not isinstance(r, SendResult)]
    expect(len(results) == n and not failed, f"{len(failed)} failed, first: {failed[:1]}")


@case(server="http", limit="aiohttp_async128_lat50", latency_ms=50, in_flight=128)
async def case_unisend_sendgrid_async128_lat50(n, srv):
    """AsyncMailer.send_many(concurrency=128), SendGrid, 50 ms stub (bound 2,560/s)."""
    await _async_send_many(n, srv, use_aiohttp=True)


@case(server="http", limit="aiohttp_async128_lat50", latency_ms=50, in_flight=128)
async def case_unisend_sendgrid_async128_lat50_httpcore(n, srv):
    """The same on the fallback without aiohttp: many small httpcore pools."""
    await _async_send_many(n, srv, use_aiohttp=False)


@case(server="http", limit="aiohttp_async32_lat50", latency_ms=50, in_flight=32)
async def case_unisend_sendgrid_async32_lat50(n, srv):
    """AsyncMailer.send_many(concurrency=32) (the default), SendGrid, 50 ms stub."""
    await _async_send_many(n, srv, use_aiohttp=True)


# ---------------------------------------------------------------- raw options (the choice)


def _sharded(shards: int, per: int):
    """httpx on `shards` httpcore pools of `per` connections, least busy first (raw)."""
    import httpx

    class Sharded(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            limits = httpx.Limits(max_connections=per, max_keepalive_connections=per)
            self.pools = [httpx.AsyncHTTPTransport(limits=limits) for _ in range(shards)]
            self.busy = [0] * shards

        async def handle_async_request(self, request):
            i = self.busy.index(min(self.busy))
            self.busy[i] += 1
            try:
                response = await self.pools[i].handle_async_request(request)
                await response.aread()
                return response
            finally:
                self.busy[i] -= 1

        async def aclose(self) -> None:
            for pool in self.pools:
                await pool.aclose()

    return Sharded()


async def _raw_sharded(n, srv, shards: int, per: int) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {API_KEY}"}
    transport = _sharded(shards, per)
    async with httpx.AsyncClient(base_url=srv.http, transport=transport, headers=headers) as c:
        srv.ready()

        async def send_one(i):
            r = await c.post("/v3/mail/send", json=sendgrid_payload(srv.message(i)))
            expect(r.status_code == 202, f"status {r.status_code}")

        await _workers(n, srv.in_flight, send_one)


@case(server="http", limit="aiohttp_async128_lat50", latency_ms=50, in_flight=128)
async def case_opt_httpx_pools8x16_async128_lat50(n, srv):
    """Raw httpx.AsyncClient on 8 httpcore pools of 16 connections, 128 in flight."""
    await _raw_sharded(n, srv, 8, 16)


@case(server="http", limit="aiohttp_async128_lat50", latency_ms=50, in_flight=128)
async def case_opt_httpx_pools32x4_async128_lat50(n, srv):
    """Raw httpx.AsyncClient on 32 httpcore pools of 4 connections, 128 in flight."""
    await _raw_sharded(n, srv, 32, 4)


@case(server="http", limit="aiohttp_async128_lat50", latency_ms=50, in_flight=128)
async def case_opt_httpx_pools64x2_async128_lat50(n, srv):
    """Raw httpx.AsyncClient on 64 httpcore pools of 2 connections, 128 in flight."""
    await _raw_sharded(n, srv, 64, 2)


# ---------------------------------------------------------------- HTTP sync: the client choice
# HttpTransport._sync_client() builds an ApiClient (no cookie jar, URLs parsed once); these
# two cases run the same Mailer.send loop on a plain httpx.Client, to keep that choice
# measurable (benchmarks/RESULTS.md, "Sync HTTP: the client layer, not the transport").


def _on_plain_httpx_client(transport):
    import httpx

    from unisend.transports._http import USER_AGENT

    transport._client = httpx.Client(
        base_url=transport.base_url,
        timeout=transport.timeout,
        verify=transport._ssl_verify(),
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )
    return transport


@case(server="http", limit="httpx_sync")
def case_opt_unisend_sendgrid_plain_client(n, srv):
    """unisend_sendgrid on a plain httpx.Client instead of ApiClient."""
    _send_each(n, srv, _on_plain_httpx_client(_http("sendgrid", srv.http)))


@case(server="http", limit="httpx_sync")
def case_opt_unisend_postmark_plain_client(n, srv):
    """unisend_postmark on a plain httpx.Client instead of ApiClient."""
    _send_each(n, srv, _on_plain_httpx_client(_http("postmark", srv.http)))
