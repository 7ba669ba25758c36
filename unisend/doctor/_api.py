"""The HTTP provider route checks: ``connect`` (TCP to the API host) and ``api-key``
(one read-only call that needs the key; nothing is sent)."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from .._errors import ConfigurationError
from .._tls import client_context
from .._version import __version__
from ._net import ConnectFailure, Deadline, connect, host_port
from ._results import Results
from ._routes import Route

#: The checks of an HTTP route after ``dns``, in order.
API_IDS = ("connect", "api-key")
_TIMEOUTS = (TimeoutError, asyncio.TimeoutError)


async def check_api(route: Route, addresses: list[str], deadline: Deadline, out: Results) -> None:
    """Run the checks of one HTTP provider route."""
    proxy = proxy_for(route.key_url)
    if proxy:
        # httpx will go through the proxy: a direct connection proves nothing either way.
        out.add("connect", "skip", f"through the proxy in ${proxy}: the api-key call tests it")
        await _check_key(route, deadline, out)
        return
    outcome = await connect(addresses, route.port, asyncio.Protocol, deadline)
    where = host_port(route.host, route.port)
    if isinstance(outcome, ConnectFailure):
        kind = {"refused": "refused", "timeout": "timed out"}.get(outcome.kind, outcome.text)
        out.add(
            "connect",
            "fail",
            f"connection to {where} {kind}",
            "a firewall or proxy blocks outgoing HTTPS: allow it to "
            f"{route.host}, or set HTTPS_PROXY"
            if outcome.kind == "timeout"
            else f"check base_url: nothing answers on {where}",
            address=outcome.address,
            error=outcome.kind,
        )
        out.skip(API_IDS, "no connection")
        return
    outcome.transport.close()
    out.add("connect", "ok", f"connected to {where}", address=outcome.address)
    await _check_key(route, deadline, out)


def proxy_for(url: str) -> str | None:
    """The proxy variable httpx would use for ``url`` (it honours the same variables)."""
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(url)
    proxies = getproxies()
    if parts.scheme not in proxies and "all" not in proxies:
        return None
    if proxy_bypass(parts.hostname or ""):
        return None
    return f"{parts.scheme}_proxy".upper() if parts.scheme in proxies else "ALL_PROXY"


async def _check_key(route: Route, deadline: Deadline, out: Results) -> None:
    import httpx

    from ..transports._http import HttpTransport

    transport = route.transport
    assert isinstance(transport, HttpTransport) and route.provider is not None
    if getattr(transport, "sandbox", False) and route.provider.name == "postmark":
        out.add("api-key", "skip", "Postmark's sandbox uses the public test token: no key to check")
        return
    try:
        verify: ssl.SSLContext | bool = client_context(route.min_tls, route.ca_file)
    except ConfigurationError as exc:
        out.add("api-key", "fail", "the TLS settings are unusable", str(exc))
        return
    headers = {
        **transport._auth_headers(),
        "Accept": "application/json",
        "User-Agent": f"unisend-doctor/{__version__}",
    }
    endpoint = route.key_url
    try:
        async with httpx.AsyncClient(
            verify=verify, timeout=max(deadline.left(), 0.01), follow_redirects=False
        ) as client:
            response = await deadline.run(client.get(endpoint, headers=headers))
    except (*_TIMEOUTS, httpx.TimeoutException):
        out.add(
            "api-key",
            "fail",
            f"no answer from {endpoint} in time",
            "the API did not answer: check the network path to it (proxy, firewall) and retry",
        )
        return
    except httpx.HTTPError as exc:
        cause: Any = exc.__cause__ or exc.__context__
        while cause is not None and not isinstance(cause, ssl.SSLError):
            cause = cause.__cause__ or cause.__context__
        if isinstance(cause, ssl.SSLCertVerificationError):
            out.add(
                "api-key",
                "fail",
                f"the certificate of {route.host} is not trusted ({cause.verify_message})",
                "a proxy may be intercepting HTTPS: give its CA with ca_file= (or "
                "SSL_CERT_FILE); never turn verification off",
            )
            return
        out.add(
            "api-key",
            "fail",
            f"the call to {endpoint} failed: {type(exc).__name__}",
            "check base_url and the network path to the API",
        )
        return
    _read_status(route, response.status_code, _brevo_ip_block(route, response), out)


def _brevo_ip_block(route: Route, response: Any) -> bool:
    """Brevo answers 401 "unrecognised IP address" to a valid key from an IP outside its
    Authorized IPs list."""
    if route.provider is None or route.provider.name != "brevo" or response.status_code != 401:
        return False
    return "unrecognised ip" in response.text.lower() or "unrecognized ip" in response.text.lower()


def _read_status(route: Route, status: int, ip_blocked: bool, out: Results) -> None:
    assert route.provider is not None
    name = route.provider.name
    call = f"GET {route.provider.key_path}"
    details: dict[str, Any] = {"status_code": status, "endpoint": route.key_url}
    if 200 <= status < 300:
        out.add("api-key", "ok", f"the key works ({call}: {status})", **details)
    elif ip_blocked:
        out.add(
            "api-key",
            "warn",
            f"the key is valid, but {name} does not accept calls from this IP ({status})",
            "add this machine's IP address to Brevo's Authorised IPs (Security settings), or "
            "turn that restriction off",
            **details,
        )
    elif status == 401:
        out.add(
            "api-key",
            "fail",
            f"{name} refused the key ({call}: 401)",
            f"the key is wrong or revoked: create a new API key in the {name} dashboard and put "
            f"it in the URL ({route.scheme}://KEY@default)",
            **details,
        )
    elif status == 403:
        out.add(
            "api-key",
            "warn",
            f"{name} knows the key but forbids this call ({call}: 403)",
            "the key lacks a permission, or an IP allow-list excludes this machine: check the "
            f"key's permissions (it must be allowed to send mail) and IP settings at {name}",
            **details,
        )
    elif status == 404:
        out.add(
            "api-key",
            "fail",
            f"{route.key_url} does not exist (404)",
            "check base_url: it should be the provider's API root",
            **details,
        )
    elif status == 429:
        out.add(
            "api-key",
            "warn",
            f"{name} is rate limiting this key ({status})",
            "too many calls right now: try again in a minute",
            **details,
        )
    else:
        out.add(
            "api-key",
            "warn",
            f"{name} answered {status} to {call}",
            f"{name} may be having trouble: check its status page and try again",
            **details,
        )


__all__ = ["API_IDS", "check_api", "proxy_for"]
