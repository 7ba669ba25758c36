"""Server certificates for the doctor's TLS tests.

trustme cannot choose validity dates, so leaf certificates are made with ``cryptography``
and signed by a trustme CA: valid, about to expire, expired, for another host, or signed
by a CA the client does not trust.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class ServerCert:
    """A certificate + key on disk that the test SMTP server presents (it calls
    :meth:`server_context`, like ``servers.smtp.TestCA``)."""

    def __init__(self, directory: Path, name: str, cert_pem: bytes, key_pem: bytes) -> None:
        self.cert_file = directory / f"{name}.crt"
        self.key_file = directory / f"{name}.key"
        self.cert_file.write_bytes(cert_pem)
        self.key_file.write_bytes(key_pem)

    def server_context(self, max_tls: ssl.TLSVersion | None = None) -> ssl.SSLContext:
        """A server context presenting this certificate; ``max_tls`` caps the version."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        if max_tls is not None:
            context.maximum_version = max_tls
        return context


def issue(
    ca: trustme.CA,
    directory: Path,
    name: str,
    hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
    *,
    not_before: dt.timedelta = dt.timedelta(days=-1),
    not_after: dt.timedelta = dt.timedelta(days=365),
) -> ServerCert:
    """A leaf certificate for ``hosts`` signed by ``ca``, valid from now + ``not_before``
    to now + ``not_after``."""
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + not_before)
        .not_valid_after(now + not_after)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return ServerCert(directory, name, cert.public_bytes(serialization.Encoding.PEM), key_pem)
