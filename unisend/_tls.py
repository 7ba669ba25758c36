"""The library's own client TLS context, built once and shared.

``client_context()`` starts from :func:`ssl.create_default_context` (system trust store,
``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` honoured, certificate and hostname verified) and
raises the floor to TLS 1.2, or 1.3 when asked. Contexts are cached per
``(min_tls, ca_file)`` and the trust-store variables, so no send ever reloads a CA bundle
from disk (the stall of encode/httpx#3627).
"""

from __future__ import annotations

import functools
import os
import ssl

from ._errors import ConfigurationError

#: ``min_tls`` values the library accepts.
TLS_VERSIONS: dict[str, ssl.TLSVersion] = {
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


def check_min_tls(min_tls: str) -> str:
    """Return ``min_tls`` if it is ``"1.2"`` or ``"1.3"``, else raise ConfigurationError."""
    if min_tls not in TLS_VERSIONS:
        raise ConfigurationError(
            f"min_tls={min_tls!r} is not supported; use '1.2' (the default) or '1.3'"
        )
    return min_tls


def client_context(min_tls: str = "1.2", ca_file: str | None = None) -> ssl.SSLContext:
    """The verifying client SSLContext for ``min_tls`` (``"1.2"`` or ``"1.3"``).

    ``ca_file`` (a PEM bundle) replaces the system trust store, as ``curl --cacert``
    does. The same context object is returned for the same arguments and environment;
    treat it as read-only.
    """
    check_min_tls(min_tls)
    return _build(
        min_tls,
        os.fspath(ca_file) if ca_file is not None else None,
        os.environ.get("SSL_CERT_FILE"),
        os.environ.get("SSL_CERT_DIR"),
    )


@functools.lru_cache(maxsize=32)
def _build(
    min_tls: str, ca_file: str | None, cert_file: str | None, cert_dir: str | None
) -> ssl.SSLContext:
    # cert_file / cert_dir are only cache keys: create_default_context reads them itself.
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except FileNotFoundError:
        raise ConfigurationError(f"ca_file {ca_file!r} does not exist") from None
    except (ssl.SSLError, OSError) as exc:
        raise ConfigurationError(
            f"ca_file {ca_file!r} is not a readable PEM certificate bundle ({exc})"
        ) from None
    context.minimum_version = TLS_VERSIONS[min_tls]
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


__all__ = ["TLS_VERSIONS", "check_min_tls", "client_context"]
