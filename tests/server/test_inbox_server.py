"""``unisend sandbox serve`` as a subprocess: smtplib (not unisend) sends, the JSON API
and the event stream read back, and the sandbox CLI and ``sandbox://`` share the store."""

from __future__ import annotations

import hashlib
import json
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest
from servers.inbox import Inbox, command, launch, start_inbox

from unisend import Attachment, Mailer, Message

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000000030101005c2f6e2a0000000049454e44ae426082"
)


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inbox]:
    with start_inbox(tmp_path_factory.mktemp("inbox") / "store.sqlite3") as running:
        yield running


def send(inbox: Inbox, raw: bytes, sender: str, recipients: list[str], **kw: object) -> None:
    with smtplib.SMTP(inbox.smtp_host, inbox.smtp_port, timeout=30) as client:
        client.sendmail(sender, recipients, raw, **kw)  # type: ignore[arg-type]


def newest(inbox: Inbox) -> dict[str, object]:
    with inbox.api() as api:
        summary = api.get("/api/messages", params={"limit": 1}).json()["messages"][0]
        detail: dict[str, object] = api.get(f"/api/messages/{summary['id']}").json()
    return detail


def multipart() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ann Sender <ann@example.com>"
    message["To"] = "Bob <bob@example.com>, carol@example.com"
    message["Subject"] = "Quarterly report"
    message["Message-ID"] = "<report-1@example.com>"
    message.set_content("Hello Bob,\nthe numbers are in.\n")
    message.add_alternative('<p>Hello <b>Bob</b> <img src="cid:chart@x"></p>', subtype="html")
    html = message.get_payload()[1]  # type: ignore[index]
    html.add_related(PNG, "image", "png", cid="<chart@x>", filename="chart.png")
    message.add_attachment(bytes(range(256)), "application", "octet-stream", filename="data.bin")
    return message


def test_banner_says_where_to_point_smtp_and_the_browser(inbox: Inbox) -> None:
    assert f"SMTP  {inbox.smtp_host}:{inbox.smtp_port}" in inbox.banner
    assert f"port {inbox.smtp_port}" in inbox.banner
    assert inbox.url.startswith("http://127.0.0.1:")
    assert str(inbox.path) in inbox.banner
    # "starts in under a second" is measured by benchmarks/inbox_ingest.py; a loaded CI
    # machine gets slack here
    assert inbox.started_in < 5


def test_multipart_message_field_by_field_and_raw_bytes_exactly(inbox: Inbox) -> None:
    raw = multipart().as_bytes(policy=policy.SMTP)
    send(inbox, raw, "ann@example.com", ["bob@example.com", "carol@example.com", "bcc@x.org"])
    detail = newest(inbox)
    assert detail["sender"] == "ann@example.com"
    assert detail["recipients"] == ["bob@example.com", "carol@example.com", "bcc@x.org"]
    assert detail["subject"] == "Quarterly report"
    assert detail["message_id"] == "<report-1@example.com>"
    assert detail["size"] == len(raw)
    assert detail["text"] == "Hello Bob,\r\nthe numbers are in.\r\n"
    assert "<b>Bob</b>" in str(detail["html"])
    assert ["Subject", "Quarterly report"] in detail["headers"]  # type: ignore[operator]
    assert detail["attachments"] == [
        {
            "index": 0,
            "filename": "chart.png",
            "content_type": "image/png",
            "size": len(PNG),
            "content_id": "chart@x",
        },
        {
            "index": 1,
            "filename": "data.bin",
            "content_type": "application/octet-stream",
            "size": 256,
            "content_id": None,
        },
    ]
    with inbox.api() as api:
        got = api.get(f"/api/messages/{detail['id']}/raw")
        assert got.headers["content-type"] == "message/rfc822"
        assert got.content == raw
        part = api.get(f"/api/messages/{detail['id']}/attachments/1")
        assert part.content == bytes(range(256))
        assert part.headers["content-disposition"].startswith("attachment;")
        assert api.get(f"/api/messages/{detail['id']}/attachments/0").content == PNG
        listed = api.get("/api/messages", params={"limit": 1}).json()["messages"][0]
    assert listed["attachments"] == 2
    assert set(listed) == {
        "id",
        "time",
        "sender",
        "recipients",
        "subject",
        "message_id",
        "size",
        "attachments",
    }


def test_non_ascii_8bit_message(inbox: Inbox) -> None:
    raw = (
        "From: Zoë <zoe@example.com>\r\n"
        "To: bob@example.com\r\n"
        "Subject: =?utf-8?b?w5xiZXIgZGllIEJyw7xja2Ug8J+MiQ==?=\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "Grüße aus Köln — 日本語 🌉\r\n"
    ).encode()
    send(inbox, raw, "zoe@example.com", ["bob@example.com"], mail_options=["BODY=8BITMIME"])
    detail = newest(inbox)
    assert detail["subject"] == "Über die Brücke 🌉"
    assert detail["text"] == "Grüße aus Köln — 日本語 🌉\r\n"
    assert detail["html"] is None
    assert ["From", "Zoë <zoe@example.com>"] in detail["headers"]  # type: ignore[operator]
    with inbox.api() as api:
        assert api.get(f"/api/messages/{detail['id']}/raw").content == raw


def test_smtputf8_envelope_and_headers(inbox: Inbox) -> None:
    raw = (
        "From: Jörg <jörg@bücher.example>\r\n"
        "To: 田中 <田中@例え.jp>\r\n"
        "Subject: Grüße, 田中さん\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "こんにちは\r\n"
    ).encode()
    with smtplib.SMTP(inbox.smtp_host, inbox.smtp_port, timeout=30) as client:
        client.ehlo()
        assert client.has_extn("smtputf8")
        client.sendmail("jörg@bücher.example", ["田中@例え.jp"], raw, mail_options=["SMTPUTF8"])
    detail = newest(inbox)
    assert detail["sender"] == "jörg@bücher.example"
    assert detail["recipients"] == ["田中@例え.jp"]
    assert detail["subject"] == "Grüße, 田中さん"
    assert detail["text"] == "こんにちは\r\n"
    with inbox.api() as api:
        assert api.get(f"/api/messages/{detail['id']}/raw").content == raw
        found = api.get("/api/messages", params={"q": "田中"}).json()
    assert found["messages"][0]["id"] == detail["id"]


def test_large_message_round_trips_and_over_size_is_refused(inbox: Inbox) -> None:
    big = bytes(range(256)) * (16 * 4096)  # 16 MiB, 21.3 MiB as base64
    message = EmailMessage()
    message["From"] = "ann@example.com"
    message["To"] = "bob@example.com"
    message["Subject"] = "big one"
    message.set_content("see attached")
    message.add_attachment(big, "application", "octet-stream", filename="big.bin")
    raw = message.as_bytes(policy=policy.SMTP)
    assert 20 * 2**20 < len(raw) < 25 * 2**20
    send(inbox, raw, "ann@example.com", ["bob@example.com"])
    detail = newest(inbox)
    assert detail["subject"] == "big one"
    with inbox.api() as api:
        assert hashlib.sha256(api.get(f"/api/messages/{detail['id']}/raw").content).digest() == (
            hashlib.sha256(raw).digest()
        )
        attachment = api.get(f"/api/messages/{detail['id']}/attachments/0").content
    assert attachment == big
    with smtplib.SMTP(inbox.smtp_host, inbox.smtp_port, timeout=30) as client:
        client.ehlo()
        assert client.esmtp_features["size"] == str(25 * 1024 * 1024)
        too_big = b"Subject: x\r\n\r\n" + b"a" * 998 + b"\r\n"
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("a@x.org", ["b@x.org"], too_big * 26_000)  # ~26 MB
        assert refused.value.smtp_code == 552


def _dialogue(inbox: Inbox, lines: list[bytes]) -> list[bytes]:
    """Talk SMTP by hand; one reply line per command (after the greeting)."""
    replies = []
    with socket.create_connection((inbox.smtp_host, inbox.smtp_port), timeout=10) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        for line in lines:
            sock.sendall(line)
            reply = reader.readline()
            while reply[3:4] == b"-":
                reply = reader.readline()
            replies.append(reply)
    return replies


def test_cr_or_lf_in_envelope_addresses_is_refused(inbox: Inbox) -> None:
    replies = _dialogue(
        inbox,
        [
            b"EHLO test\r\n",
            b"MAIL FROM:<a\rb@example.com>\r\n",
            b"MAIL FROM:<ok@example.com>\r\n",
            b"RCPT TO:<bob@example.com\rX-Injected: yes>\r\n",
            b"RCPT TO:<b\x00ob@example.com>\r\n",
            b"QUIT\r\n",
        ],
    )
    assert replies[1].startswith(b"553") or replies[1].startswith(b"501"), replies
    assert replies[2].startswith(b"250"), replies
    assert replies[3][:3] in (b"553", b"501"), replies
    assert replies[4][:3] in (b"553", b"501"), replies


def test_too_many_header_fields_are_refused(inbox: Inbox) -> None:
    raw = b"".join(b"X-Filler-%d: y\r\n" % i for i in range(1001)) + b"\r\nbody\r\n"
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(inbox, raw, "a@example.com", ["b@example.com"])
    assert refused.value.smtp_code == 552


def test_any_credentials_pass_without_smtp_auth(inbox: Inbox) -> None:
    with smtplib.SMTP(inbox.smtp_host, inbox.smtp_port, timeout=30) as client:
        client.login("whoever", "whatever")
        client.sendmail("a@example.com", ["b@example.com"], b"Subject: logged in\r\n\r\nx\r\n")
    assert newest(inbox)["subject"] == "logged in"


def test_unknown_ids_are_404_json(inbox: Inbox) -> None:
    with inbox.api() as api:
        for path in (
            "/api/messages/999999",
            "/api/messages/abc",
            "/api/messages/99999999999999999999999",
            "/api/messages/999999/raw",
            "/api/messages/999999/attachments/0",
            "/view/999999.html",
            "/api/nothing-here",
        ):
            response = api.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == "application/json", path
            assert "error" in response.json(), path
        assert api.delete("/api/messages/999999").status_code == 404
        first = api.get("/api/messages", params={"limit": 1}).json()["messages"][0]["id"]
        missing = api.get(f"/api/messages/{first}/attachments/77")
        assert missing.status_code == 404 and "error" in missing.json()


def test_api_limits_are_enforced(inbox: Inbox) -> None:
    with inbox.api() as api:
        assert api.get("/api/messages", params={"limit": 501}).status_code == 400
        assert api.get("/api/messages", params={"limit": "-1"}).status_code == 400
        assert api.get("/api/messages", params={"offset": "x"}).status_code == 400
        assert api.get("/api/messages", params={"q": "x" * 257}).status_code == 400
        page = api.get("/api/messages", params={"limit": 2, "offset": 1}).json()
        everything = api.get("/api/messages", params={"limit": 500}).json()
        assert page["total"] == everything["total"] >= 3
        assert [m["id"] for m in page["messages"]] == [m["id"] for m in everything["messages"][1:3]]
        ids = [m["id"] for m in everything["messages"]]
        assert ids == sorted(ids, reverse=True)  # newest first
        big_body = api.request("DELETE", "/api/messages/1", content=b"x" * 70_000)
        assert big_body.status_code == 413


def test_security_headers_on_every_response(inbox: Inbox) -> None:
    with inbox.api() as api:
        first = api.get("/api/messages", params={"limit": 1}).json()["messages"][0]["id"]
        for path in ("/", "/static/app.js", "/api/messages", f"/api/messages/{first}/raw"):
            response = api.get(path)
            assert response.headers["x-content-type-options"] == "nosniff", path
            csp = response.headers["content-security-policy"]
            assert "default-src 'none'" in csp, path
            assert "'unsafe-inline'" not in csp.split("style-src")[0], path
        page_csp = api.get("/").headers["content-security-policy"]
        assert "script-src 'self'" in page_csp and "frame-ancestors 'none'" in page_csp
        assert "sandbox" in api.get(f"/api/messages/{first}/raw").headers["content-security-policy"]


def test_foreign_origin_and_host_are_refused(inbox: Inbox) -> None:
    with inbox.api() as api:
        first = api.get("/api/messages", params={"limit": 1}).json()["messages"][0]["id"]
        refused = api.delete(f"/api/messages/{first}", headers={"Origin": "http://evil.example"})
        assert refused.status_code == 403
        assert api.delete("/api/messages", headers={"Origin": "null"}).status_code == 403
        assert api.get(f"/api/messages/{first}").status_code == 200  # still there
        events = api.get("/api/events", headers={"Origin": "http://evil.example"})
        assert events.status_code == 403
        rebound = api.get("/api/messages", headers={"Host": "attacker.example:8025"})
        assert rebound.status_code == 421


def test_delete_one_with_same_origin(inbox: Inbox) -> None:
    send(inbox, b"Subject: to delete\r\n\r\nx\r\n", "a@example.com", ["b@example.com"])
    doomed = newest(inbox)["id"]
    with inbox.api() as api:
        deleted = api.delete(f"/api/messages/{doomed}", headers={"Origin": inbox.url})
        assert deleted.status_code == 200 and deleted.json() == {"deleted": 1}
        assert api.get(f"/api/messages/{doomed}").status_code == 404


def test_events_deliver_new_ids(inbox: Inbox) -> None:
    got: list[dict[str, object]] = []
    ready = threading.Event()

    def listen() -> None:
        with (
            httpx.Client(timeout=20, trust_env=False) as client,
            client.stream("GET", f"{inbox.url}/api/events") as stream,
        ):
            assert stream.headers["content-type"].startswith("text/event-stream")
            event = None
            for line in stream.iter_lines():
                ready.set()
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "message":
                    got.append(json.loads(line[6:]))
                    if len(got) == 3:
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert ready.wait(10)
    for n in (1, 2):
        send(inbox, b"Subject: live %d\r\n\r\nx\r\n" % n, "a@example.com", ["b@example.com"])
    # written by this process through sandbox://, found by the server's poller
    with Mailer(f"sandbox://{inbox.path}") as mailer:
        mailer.send(Message(sender="a@example.com", to="b@example.com", subject="polled", text="x"))
    listener.join(10)
    with inbox.api() as api:
        newest = [m["id"] for m in api.get("/api/messages?limit=3").json()["messages"]]
    assert got == [{"id": newest[2]}, {"id": newest[1]}, {"id": newest[0]}]


def test_sandbox_url_and_sandbox_list_share_the_store(inbox: Inbox) -> None:
    # sandbox:// (another process's writer) -> the API and the event stream
    with Mailer(f"sandbox://{inbox.path}") as mailer:
        mailer.send(
            Message(
                sender="app@example.com",
                to="user@example.com",
                subject="from sandbox://",
                text="hi",
                attachments=[Attachment("a.txt", b"attached")],
            )
        )
    detail = newest(inbox)
    assert detail["subject"] == "from sandbox://"
    assert detail["sender"] == "app@example.com"
    assert detail["attachments"][0]["filename"] == "a.txt"  # type: ignore[index]
    # SMTP -> `unisend sandbox list`
    send(inbox, b"Subject: seen by the CLI\r\n\r\nx\r\n", "smtp@example.com", ["z@example.com"])
    listed = subprocess.run(
        [sys.executable, "-m", "unisend", "sandbox", "--path", str(inbox.path), "list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "seen by the CLI" in listed and "from sandbox://" in listed
    assert "smtp@example.com  ->  z@example.com" in listed


def test_search_matches_subject_sender_and_recipients(inbox: Inbox) -> None:
    send(inbox, b"Subject: Needle 100%_done\r\n\r\nx\r\n", "finder@seek.example", ["r@hay.example"])
    with inbox.api() as api:
        for q in ("needle", "100%_", "seek.example", "HAY.EXAMPLE"):
            found = api.get("/api/messages", params={"q": q}).json()
            assert [m["subject"] for m in found["messages"]] == ["Needle 100%_done"], q
        assert api.get("/api/messages", params={"q": "%"}).json()["total"] == 1


def test_delete_all_and_ids_are_not_reused(tmp_path: Path) -> None:
    with start_inbox(tmp_path / "own.sqlite3") as inbox:
        for n in range(3):
            send(inbox, b"Subject: %d\r\n\r\nx\r\n" % n, "a@example.com", ["b@example.com"])
        with inbox.api() as api:
            assert api.delete("/api/messages").json() == {"deleted": 3}
            assert api.get("/api/messages").json() == {"total": 0, "messages": []}
        send(inbox, b"Subject: after\r\n\r\nx\r\n", "a@example.com", ["b@example.com"])
        assert newest(inbox)["id"] == 4


def test_smtp_auth_and_starttls(tmp_path: Path) -> None:
    secret = "s3cr3t-Passw0rd"  # smtplib sends ASCII credentials only
    with start_inbox(tmp_path / "auth.sqlite3", "--smtp-auth", f"ann:{secret}", "--tls") as inbox:
        assert secret not in inbox.banner
        assert "STARTTLS offered" in inbox.banner
        raw = b"Subject: over tls\r\n\r\nx\r\n"
        with smtplib.SMTP(inbox.smtp_host, inbox.smtp_port, timeout=30) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            assert not client.has_extn("auth")  # AUTH only after STARTTLS
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.sendmail("a@example.com", ["b@example.com"], raw)
            assert refused.value.smtp_code == 530
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # a self-signed certificate made at start
        with smtplib.SMTP(inbox.smtp_host, inbox.smtp_port, timeout=30) as client:
            client.starttls(context=context)
            der = client.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
            assert der is not None
            fingerprint = hashlib.sha256(der).hexdigest().upper()
            assert ":".join(fingerprint[i : i + 2] for i in range(0, 64, 2)) in inbox.banner
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("ann", "wrong")
            client.login("ann", secret)
            client.sendmail("a@example.com", ["b@example.com"], raw)
        assert newest(inbox)["subject"] == "over tls"
        code, _, err = inbox.stop()
        assert code == 0
        assert secret not in err


def test_sigterm_with_an_open_event_stream_exits_0_quickly(tmp_path: Path) -> None:
    inbox = launch(command(tmp_path / "stop.sqlite3"))
    with (
        httpx.Client(timeout=10, trust_env=False) as client,
        client.stream("GET", f"{inbox.url}/api/events") as stream,
    ):
        next(stream.iter_lines())  # the stream is open
        code, took, err = inbox.stop()
    assert code == 0, err
    assert took < 3.0
    assert "Traceback" not in err


def test_sigint_stops_cleanly(tmp_path: Path) -> None:
    import signal

    inbox = launch(command(tmp_path / "int.sqlite3"))
    code, _, err = inbox.stop(signal.SIGINT)
    assert code == 0, err
    assert "stopped" in inbox.output


def test_binding_beyond_loopback_warns(tmp_path: Path) -> None:
    args = command(tmp_path / "open.sqlite3")
    args[args.index("--http") + 1] = "0.0.0.0:0"
    inbox = launch(args)
    assert inbox.url.startswith("http://0.0.0.0:")
    local = inbox.url.replace("0.0.0.0", "127.0.0.1")  # reached over loopback only
    with httpx.Client(base_url=local, trust_env=False, timeout=10) as api:
        assert api.get("/api/messages").status_code == 200
        foreign = api.delete("/api/messages", headers={"Origin": "http://evil.example"})
        assert foreign.status_code == 403
        assert api.delete("/api/messages", headers={"Origin": local}).status_code == 200
    code, _, err = inbox.stop()
    assert code == 0
    assert "reachable from other machines" in err
    assert "web inbox" in err and "Host header check against DNS rebinding is off" in err


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "unisend", "sandbox", "serve", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_bad_addresses_and_a_busy_port_are_usage_errors(tmp_path: Path) -> None:
    result = _cli("--path", str(tmp_path / "x.sqlite3"), "--smtp", "nonsense")
    assert result.returncode == 2
    assert "--smtp 'nonsense' must look like HOST:PORT" in result.stderr
    result = _cli("--path", str(tmp_path / "x.sqlite3"), "--smtp-auth", "only-user-no-colon")
    assert result.returncode == 2
    assert "only-user-no-colon" not in result.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        store = str(tmp_path / "x.sqlite3")
        result = _cli("--path", store, "--smtp", "127.0.0.1:0", "--http", f"127.0.0.1:{port}")
    assert result.returncode == 2
    assert f"cannot listen for HTTP on 127.0.0.1:{port}" in result.stderr
    assert "--http HOST:PORT" in result.stderr
    assert time.monotonic() - started < 10


def test_message_html_is_served_inert(inbox: Inbox) -> None:
    hostile = (
        b"Subject: hostile\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b'<script>alert(1)</script><img src="http://127.0.0.1:9/x"><base href="http://e.x/">\r\n'
    )
    send(inbox, hostile, "a@example.com", ["b@example.com"])
    id = newest(inbox)["id"]
    with inbox.api() as api:
        view = api.get(f"/view/{id}.html")
        remote = api.get(f"/view/{id}.html?remote=1")
    csp = view.headers["content-security-policy"]
    assert "script-src 'none'" in csp and "sandbox" in csp and "base-uri 'none'" in csp
    assert "img-src 'self' data:" in csp
    assert "script-src 'none'" in remote.headers["content-security-policy"]
    assert "img-src * data:" in remote.headers["content-security-policy"]
    assert BytesParser(policy=policy.default).parsebytes(hostile).get_content() == view.text


def test_django_smtp_settings_from_the_docs_deliver_here(inbox: Inbox) -> None:
    code = f"""
import django
from django.conf import settings
settings.configure(
    EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
    EMAIL_HOST="127.0.0.1",
    EMAIL_PORT={inbox.smtp_port},
    EMAIL_USE_TLS=False,
)
django.setup()
from django.core.mail import EmailMultiAlternatives
mail = EmailMultiAlternatives("Django says hi", "plain", "shop@example.com", ["bob@example.com"])
mail.attach_alternative("<p>hi from <b>Django</b></p>", "text/html")
mail.attach("report.csv", "a,b\\n1,2\\n", "text/csv")
mail.send()
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    detail = newest(inbox)
    assert detail["subject"] == "Django says hi"
    assert detail["html"] == "<p>hi from <b>Django</b></p>"
    assert [a["filename"] for a in detail["attachments"]] == ["report.csv"]  # type: ignore[attr-defined]


def test_unisend_smtp_url_from_the_docs_delivers_here(inbox: Inbox) -> None:
    url = f"smtp://127.0.0.1:{inbox.smtp_port}?security=none"
    with Mailer(url) as mailer:
        sender = "Zoë <zoë@exämple.example>"
        message = Message(sender=sender, to="b@example.com", subject="Ünï", text="x")
        result = mailer.send(message)
    detail = newest(inbox)
    assert detail["subject"] == "Ünï"
    assert detail["message_id"] == result.message_id
    assert detail["sender"] == "zoë@exämple.example"  # SMTPUTF8 envelope
