"""A real Postfix with Cyrus SASL, configured in a temporary folder and run on loopback.

:class:`Postfix` writes its own ``main.cf`` / ``master.cf`` (own config, queue and data
directories, log file through ``postlogd``), a sasldb made by ``saslpasswd2`` (PLAIN,
LOGIN, CRAM-MD5), a trustme certificate, and two listeners on free loopback ports:

- ``submission_port``: STARTTLS required before AUTH (``smtpd_tls_auth_only``);
- ``smtps_port``: implicit TLS (``smtpd_tls_wrappermode``).

Mail for ``@example.net`` is delivered by Postfix's ``virtual`` agent into Maildirs under
``mail/``; :meth:`Postfix.wait_for_mail` reads them back. Starting Postfix needs root and
the Debian packages ``postfix``, ``sasl2-bin`` and ``libsasl2-modules`` (``.ci/install``);
:func:`unavailable_reason` says why it cannot run here, for a loud skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import trustme

#: The domain Postfix delivers locally (virtual mailboxes).
DOMAIN = "example.net"
#: SASL accounts (user@realm, password); the second has a non-ASCII password.
ACCOUNTS = {
    "ann@example.net": "postfix-Passw0rd",
    "joerg@example.net": "pässwörd-Ünïcødé-日本",
}
#: Virtual mailboxes that receive mail.
MAILBOXES = ("bob", "carol")


def unavailable_reason() -> str | None:
    """Why a Postfix cannot be started here, or None when it can."""
    if os.geteuid() != 0:
        return "starting Postfix needs root (it runs its daemons as the postfix user)"
    for tool in ("postfix", "saslpasswd2", "postconf"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            return f"{tool} is not installed (.ci/install installs postfix and sasl2-bin)"
    plugins = list(Path("/usr/lib").glob("*/sasl2/libcrammd5.so*"))
    if not plugins:
        return "Cyrus SASL's plugins are missing (.ci/install installs libsasl2-modules)"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "there is no postfix user (the postfix package creates it)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        list(args), input=stdin, capture_output=True, text=True, check=False, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr or done.stdout}")
    return done.stdout


class Postfix:
    """One Postfix instance; ``start()`` / ``stop()`` or use as a context manager."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="unisend-postfix-"))
        self.root.chmod(0o755)  # the postfix user must reach its queue under it
        self.config = self.root / "etc"
        self.queue = self.root / "queue"
        self.data = self.root / "data"
        self.mail = self.root / "mail"
        self.log = self.root / "maillog"
        self.host = "127.0.0.1"
        self.submission_port = _free_port()
        self.smtps_port = _free_port()
        self.ca = trustme.CA()
        self.ca_file = str(self.root / "ca.pem")
        self.started = False

    # -- set-up ------------------------------------------------------------------------------

    def _write_config(self) -> None:
        user = pwd.getpwnam("postfix")
        for directory in (self.config, self.queue, self.data, self.mail, self.config / "sasl"):
            directory.mkdir(parents=True, exist_ok=True)
        os.chown(self.data, user.pw_uid, user.pw_gid)
        os.chown(self.mail, user.pw_uid, user.pw_gid)
        self.ca.cert_pem.write_to_path(self.ca_file)
        cert = self.ca.issue_cert("127.0.0.1", "localhost", "mx.unisend.test")
        cert_file = self.config / "cert.pem"
        cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
        cert_file.chmod(0o600)

        sasldb = self.config / "sasldb2"
        for account, password in ACCOUNTS.items():
            name, _, realm = account.partition("@")
            _run("saslpasswd2", "-p", "-c", "-f", str(sasldb), "-u", realm, name, stdin=password)
        os.chown(sasldb, 0, user.pw_gid)
        sasldb.chmod(0o640)
        (self.config / "sasl" / "smtpd.conf").write_text(
            "pwcheck_method: auxprop\n"
            "auxprop_plugin: sasldb\n"
            "mech_list: PLAIN LOGIN CRAM-MD5\n"
            f"sasldb_path: {sasldb}\n"
        )
        (self.config / "vmailbox").write_text(
            "".join(f"{box}@{DOMAIN} {DOMAIN}/{box}/\n" for box in MAILBOXES)
        )
        (self.config / "main.cf").write_text(
            f"""\
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.data}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.unisend.test
mydomain = unisend.test
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
maillog_file = {self.log}
maillog_file_prefixes = {self.root}
alias_maps =
alias_database =
local_recipient_maps =
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_client_connection_rate_limit = 0
smtputf8_enable = yes
message_size_limit = 52428800
smtpd_tls_chain_files = {cert_file}
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_tls_loglevel = 1
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = {self.config / "sasl"}
smtpd_sasl_security_options = noanonymous
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {self.mail}
virtual_mailbox_maps = texthash:{self.config / "vmailbox"}
virtual_uid_maps = static:{user.pw_uid}
virtual_gid_maps = static:{user.pw_gid}
virtual_minimum_uid = 1
virtual_mailbox_limit = 0
"""
        )
        services = [
            f"{self.host}:{self.submission_port} inet n - n - - smtpd"
            " -o smtpd_tls_security_level=encrypt",
            f"{self.host}:{self.smtps_port} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes",
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "tlsmgr unix - - n 1000? 1 tlsmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "proxywrite unix - - n - 1 proxymap",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "local unix - n n - - local",
            "virtual unix - n n - - virtual",
            "lmtp unix - - n - - lmtp",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ]
        (self.config / "master.cf").write_text("\n".join(services) + "\n")

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Postfix:
        """Configure and start; returns once both ports accept connections."""
        self._write_config()
        try:
            _run("postfix", "-c", str(self.config), "start")
        except RuntimeError as exc:  # postfix says why only in its log (or on a tty)
            raise RuntimeError(f"{exc}\n{self.log_text()}") from None
        self.started = True
        deadline = time.monotonic() + 20
        for port in (self.submission_port, self.smtps_port):
            while True:
                try:
                    socket.create_connection((self.host, port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"Postfix did not listen on {port}: {self.log_text()}"
                        ) from None
                    time.sleep(0.05)
        # Let the probes' own "disconnect from" lines reach the log first, so that a test
        # waiting for its session's disconnect never mistakes a probe's for it.
        while self.log_text().count("disconnect from") < 2:
            if time.monotonic() > deadline:
                raise RuntimeError(f"Postfix did not log the probes: {self.log_text()}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Stop every daemon of this instance and remove its folder."""
        if self.started:
            subprocess.run(
                ["postfix", "-c", str(self.config), "stop"], capture_output=True, check=False
            )
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Postfix:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- reading results ---------------------------------------------------------------------

    def log_text(self) -> str:
        """Postfix's log so far."""
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_mark(self) -> int:
        """A position in the log; :meth:`log_since` reads what came after it."""
        return len(self.log_text())

    def log_since(self, mark: int) -> str:
        return self.log_text()[mark:]

    def maildir(self, mailbox: str) -> Path:
        return self.mail / DOMAIN / mailbox / "new"

    def delivered(self, mailbox: str) -> list[Path]:
        """The files in ``mailbox``'s Maildir ``new/``, oldest first."""
        folder = self.maildir(mailbox)
        if not folder.is_dir():
            return []
        return sorted(folder.iterdir(), key=lambda path: path.stat().st_mtime_ns)

    def wait_for_mail(self, mailbox: str, count: int, timeout: float = 20.0) -> list[bytes]:
        """The raw messages in ``mailbox`` once there are ``count`` of them."""
        deadline = time.monotonic() + timeout
        while len(self.delivered(mailbox)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(self.delivered(mailbox))} of {count} messages reached {mailbox}; "
                    f"log:\n{self.log_text()[-3000:]}"
                )
            time.sleep(0.05)
        return [path.read_bytes() for path in self.delivered(mailbox)]

    def wait_for_message(self, mailbox: str, message_id: str, timeout: float = 10.0) -> bytes:
        """The raw delivered copy of the message with ``message_id`` in ``mailbox``."""
        needle = message_id.encode()
        deadline = time.monotonic() + timeout
        while True:
            for path in self.delivered(mailbox):
                raw = path.read_bytes()
                if needle in raw:
                    return raw
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{message_id} did not reach {mailbox}; log:\n{self.log_text()[-3000:]}"
                )
            time.sleep(0.05)

    @staticmethod
    def parse(raw: bytes) -> EmailMessage:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        return message

    def wait_for_log(self, needle: str, mark: int = 0, timeout: float = 10.0) -> str:
        """The log after ``mark`` once it contains ``needle``."""
        deadline = time.monotonic() + timeout
        while needle not in self.log_since(mark):
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not in the log:\n{self.log_since(mark)}")
            time.sleep(0.05)
        return self.log_since(mark)


__all__ = ["ACCOUNTS", "DOMAIN", "MAILBOXES", "Postfix", "unavailable_reason"]
