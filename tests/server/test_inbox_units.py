"""The inbox's pieces in process: the store shares the sandbox's file and table, header
reading, MIME parsing of odd and hostile input, and what the CLI imports."""

from __future__ import annotations

import subprocess
import sys
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from unisend import Mailer, Message
from unisend.server import command, mime
from unisend.server.store import Store, header_fields
from unisend.transports import sandbox


def test_store_path_is_found_as_sandbox_list_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("UNISEND_SANDBOX")
    assert command.store_path(None) == sandbox.SandboxTransport().path
    monkeypatch.setenv("UNISEND_SANDBOX", str(tmp_path / "env.sqlite3"))
    assert command.store_path(None) == tmp_path / "env.sqlite3"
    monkeypatch.setenv("UNISEND_URL", "sandbox://./from-url.sqlite3")
    assert command.store_path(None) == tmp_path / "from-url.sqlite3"
    assert command.store_path("given.sqlite3") == tmp_path / "given.sqlite3"


def test_store_and_sandbox_transport_see_each_others_messages(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    store = Store(path)
    raw = b"Subject: =?utf-8?q?caf=C3=A9?=\r\nMessage-ID: <m1@x>\r\n\r\nhi\r\n"
    first = store.add(raw, "a@x.org", ["b@x.org", "c@x.org"])
    with Mailer(f"sandbox://{path}") as mailer:
        mailer.send(Message(sender="s@x.org", to="t@x.org", subject="via url", text="x"))
    transport = sandbox.SandboxTransport(path)
    stored = transport.get(first)
    assert stored is not None
    assert stored.raw == raw
    assert stored.subject == "café"
    assert stored.message_id == "<m1@x>"
    assert stored.recipients == ("b@x.org", "c@x.org")
    assert stored.route == "smtp"
    total, rows = store.search("", 10, 0)
    assert total == 2 and [r.subject for r in rows] == ["via url", "café"]
    assert store.ids_after(first) == [first + 1]
    assert store.delete(first) and not store.delete(first)
    assert transport.get(first) is None
    assert store.delete_all() == 1
    assert store.max_id() == 0
    transport.close()
    store.close()


def test_header_fields() -> None:
    raw = (
        b"From: a@x.org\r\n"
        b"Subject: =?utf-8?b?w5xiZXI=?=\r\n"
        b" continued\r\n"
        b"message-id: <id@x>\r\n"
        b"\r\n"
        b"Subject: in the body, not a header\r\n"
    )
    assert header_fields(raw) == (3, "Über continued", "<id@x>")
    assert header_fields("Subject: Grüße\n\nbody".encode()) == (1, "Grüße", "")
    assert header_fields(b"")[1:] == ("", "")
    count, subject, _ = header_fields(b"Subject: =?bogus?x?nonsense?=\r\n\r\n")
    assert count == 1 and "nonsense" in subject


def _message_with_everything() -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "all parts"
    message.set_content("text body")
    message.add_alternative('<p><img src="cid:pic%40x"><img src="CID:missing@x"></p>', "html")
    html = message.get_payload()[1]  # type: ignore[index]
    html.add_related(b"GIF89a", "image", "gif", cid="<pic@x>")
    inner = EmailMessage()
    inner["Subject"] = "forwarded"
    inner.set_content("inner text")
    message.add_attachment(inner)
    message.add_attachment(b"\x00\x01", "application", "octet-stream")
    return message


def test_parse_bodies_attachments_and_cid() -> None:
    parsed = mime.parse(_message_with_everything().as_bytes(policy=policy.SMTP))
    assert parsed.text == "text body\r\n"  # line endings as sent
    assert parsed.html is not None and "cid:pic%40x" in parsed.html
    kinds = [(a.content_type, a.filename, a.content_id) for a in parsed.attachments]
    assert kinds == [
        ("image/gif", "part-1.gif", "pic@x"),
        ("message/rfc822", "part-2.eml", None),
        ("application/octet-stream", "part-3.bin", None),
    ]
    assert parsed.attachments[0].payload() == b"GIF89a"
    assert b"Subject: forwarded" in parsed.attachments[1].payload()
    assert parsed.attachments[2].payload() == b"\x00\x01"
    html = mime.resolve_cids(parsed.html, parsed, {0: "/a/0", 1: "/a/1", 2: "/a/2"})
    assert '<img src="/a/0">' in html
    assert 'src="CID:missing@x"' in html  # unknown ids are left alone (and load nothing)


def test_parse_survives_hostile_and_broken_input() -> None:
    unknown_charset = b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nabc\xff\r\n"
    assert mime.parse(unknown_charset).text == "abc\ufffd\r\n"
    assert mime.parse(b"").text == ""
    assert mime.parse(b"\xff\xfe: \x00\r\n\r\n").attachments == []
    nested = b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n"
    for depth in range(1, 60):
        nested += b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (
            depth - 1,
            depth,
        )
    parsed = mime.parse(nested)  # deeper than MAX_DEPTH: cut off, no RecursionError
    assert parsed.attachments == []
    many = b"Content-Type: multipart/mixed; boundary=z\r\n\r\n" + (
        b"--z\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n" * (mime.MAX_PARTS + 50)
    )
    assert len(mime.parse(many).attachments) == mime.MAX_PARTS


def test_cli_and_import_unisend_stay_light() -> None:
    code = (
        "import sys, unisend, unisend.cli; unisend.cli.build_parser(); "
        "heavy = [m for m in ('starlette', 'uvicorn', 'aiosmtpd', 'cryptography', "
        "'unisend.server.serve', 'unisend.server.app') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_server_extra_names_what_to_install(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['starlette'] = None; from unisend.cli import main; "
        f"sys.exit(main(['sandbox', 'serve', '--path', {str(tmp_path / 's.sqlite3')!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2
    assert "pip install 'unisend[server]'" in result.stderr
    assert "starlette" in result.stderr


def test_host_port_parsing() -> None:
    from unisend import ConfigurationError

    assert command.host_port("127.0.0.1:1025", "--smtp") == ("127.0.0.1", 1025)
    assert command.host_port("[::1]:0", "--smtp") == ("::1", 0)
    assert command.host_port("localhost:8025", "--http") == ("localhost", 8025)
    for bad in ("1025", ":1025", "host:", "host:99999", "host:x"):
        with pytest.raises(ConfigurationError, match="HOST:PORT"):
            command.host_port(bad, "--smtp")


def test_path_may_come_before_or_after_serve() -> None:
    from unisend.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["sandbox", "--path", "a.db", "serve"]).path == "a.db"
    assert parser.parse_args(["sandbox", "serve", "--path", "b.db"]).path == "b.db"
    defaults = parser.parse_args(["sandbox", "serve"])
    assert (defaults.path, defaults.smtp, defaults.http) == (
        None,
        "127.0.0.1:1025",
        "127.0.0.1:8025",
    )
    assert (defaults.smtp_auth, defaults.tls) == (None, False)


async def test_a_store_failure_answers_451_so_the_client_retries() -> None:
    from aiosmtpd.smtp import Envelope

    from unisend.server.smtp import Handler

    async def broken(raw: bytes, sender: str, recipients: object) -> int:
        raise OSError("disk full")

    envelope = Envelope()
    envelope.mail_from = "a@x.org"
    envelope.rcpt_tos = ["b@x.org"]
    envelope.original_content = b"Subject: x\r\n\r\nbody\r\n"
    reply = await Handler(broken).handle_DATA(None, None, envelope)  # type: ignore[arg-type]
    assert reply.startswith("451 ")
    assert "disk full" not in reply
