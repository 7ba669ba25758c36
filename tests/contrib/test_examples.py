"""Every example runs as its docstring says (subprocesses, loopback servers only)."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from servers.smtp import USER, SMTPServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python args...`` from the repository root with a clean unisend env."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("UNISEND_")}
    full.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60
    )


def smtp_url(server: SMTPServer) -> str:
    return f"smtp://127.0.0.1:{server.port}?security=none"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_send_script(smtp_plain: SMTPServer, tmp_path: Path) -> None:
    attachment = tmp_path / "report.csv"
    attachment.write_text("a,b\n")
    done = run(
        [
            "examples/send_script.py",
            "bob@example.com",
            "--subject",
            "Hi",
            "--text",
            "Hello Bob",
            "--attach",
            str(attachment),
        ],
        UNISEND_URL=smtp_url(smtp_plain),
    )
    assert done.returncode == 0, done.stderr
    (received,) = smtp_plain.messages
    parsed = received.parsed()
    assert done.stdout.strip() == f"sent via smtp: {parsed['Message-ID']}"
    assert received.rcpt_tos == ["bob@example.com"] and parsed["Subject"] == "Hi"
    assert [p.get_filename() for p in parsed.iter_attachments()] == ["report.csv"]


def test_send_script_without_url_uses_the_sandbox(tmp_path: Path) -> None:
    store = tmp_path / "sandbox.sqlite3"
    done = run(["examples/send_script.py", "bob@example.com"], UNISEND_SANDBOX=str(store))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sent via sandbox: <")
    from unisend.transports.sandbox import SandboxTransport

    assert [m.recipients for m in SandboxTransport(store).list()] == [("bob@example.com",)]


def test_send_script_reports_errors(smtp_server_factory: Callable[..., SMTPServer]) -> None:
    bad = run(["examples/send_script.py", "not-an-address"], UNISEND_URL="memory://")
    assert bad.returncode == 2 and "not an email address" in bad.stderr
    server = smtp_server_factory(auth=True)  # plain, but AUTH required
    url = f"smtp://{USER}:hunter2-wrong@127.0.0.1:{server.port}?security=none"
    refused = run(
        ["examples/send_script.py", "bob@example.com"],
        UNISEND_URL=url + "&allow_insecure_auth=true",
    )
    assert refused.returncode == 1 and refused.stderr.startswith("not sent:")
    assert "Authentication" in refused.stderr or "535" in refused.stderr
    assert "hunter2" not in refused.stderr + refused.stdout
    assert server.messages == []


def test_failover_example(smtp_plain: SMTPServer) -> None:
    done = run(
        ["examples/failover.py", "bob@example.com"],
        PRIMARY_URL=f"smtp://127.0.0.1:{closed_port()}?security=none&timeout=2",
        BACKUP_URL=smtp_url(smtp_plain),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:3] == [
        "attempt primary: TransientError",
        "attempt primary: TransientError",
        "attempt backup: ok",
    ]
    (received,) = smtp_plain.messages
    assert lines[3] == f"accepted by backup: {received.parsed()['Message-ID']}"


@pytest.fixture
def flask_server(smtp_plain: SMTPServer) -> Iterator[str]:
    """``flask --app examples/flask_app.py run`` on a free port, as the docstring says."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNISEND_")}
    env.update(PYTHONPATH=str(ROOT), UNISEND_URL=smtp_url(smtp_plain), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "examples/flask_app.py",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    seen = []
    while True:
        try:
            line = lines.get(timeout=20)
        except queue.Empty:
            proc.kill()
            raise AssertionError(f"flask did not start: {seen}") from None
        seen.append(line)
        found = re.search(r"Running on (http://127\.0\.0\.1:\d+)", line)
        if found:
            break
    try:
        yield found.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_flask_app_example(flask_server: str, smtp_plain: SMTPServer) -> None:
    response = httpx.post(f"{flask_server}/signup", data={"email": "bob@example.com"})
    assert response.status_code == 200, response.text
    (received,) = smtp_plain.messages
    assert response.json() == {
        "message_id": received.parsed()["Message-ID"],
        "transport": "smtp",
    }
    assert received.mail_from == "shop@example.com"
    bad = httpx.post(f"{flask_server}/signup", data={"email": "nope"})
    assert bad.status_code == 400 and "email address" in bad.json()["error"]


def test_flask_app_factory_in_process() -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        import flask_app
    finally:
        sys.path.remove(str(EXAMPLES))
    app = flask_app.create_app({"UNISEND_URL": "memory://"})
    with app.app_context(), flask_app.mail.record_messages() as outbox:
        response = app.test_client().post("/signup", data={"email": "eve@example.com"})
    assert response.status_code == 200
    assert [m.subject for m in outbox] == ["Welcome to the shop"]


MANAGE = "examples/django_project/manage.py"


def test_django_project_check_and_sendtestemail(smtp_plain: SMTPServer) -> None:
    url = smtp_url(smtp_plain)
    checked = run([MANAGE, "check"], UNISEND_URL=url)
    assert checked.returncode == 0, checked.stderr
    done = run([MANAGE, "sendtestemail", "bob@example.com"], UNISEND_URL=url)
    assert done.returncode == 0, done.stderr
    admins = run([MANAGE, "sendtestemail", "--admins"], UNISEND_URL=url)
    assert admins.returncode == 0, admins.stderr
    first, second = smtp_plain.messages
    assert first.rcpt_tos == ["bob@example.com"]
    assert first.parsed()["From"] == "Example Shop <shop@example.com>"
    assert "Test email from" in first.parsed()["Subject"]
    assert second.rcpt_tos == ["ada@example.com"]
    assert second.mail_from == "errors@example.com"


def test_django_project_contact_view(smtp_plain: SMTPServer) -> None:
    code = (
        "from django.test import Client; import json; "
        "r = Client().post('/contact/', {'email': 'bob@example.com'}); "
        "print(r.status_code, r.content.decode())"
    )
    done = run([MANAGE, "shell", "-c", code], UNISEND_URL=smtp_url(smtp_plain))
    assert done.returncode == 0, done.stderr
    (received,) = smtp_plain.messages
    parsed = received.parsed()
    status, body = done.stdout.strip().splitlines()[-1].split(" ", 1)  # after shell chatter
    assert status == "200"
    assert body == f'{{"sent": 1, "message_id": "{parsed["Message-ID"]}"}}'
    assert parsed["Reply-To"] == "support@example.com"
    assert parsed.get_body(("html",)) is not None


def test_celery_example_keeps_its_sandbox_in_the_repository_root() -> None:
    """``celery --workdir examples`` runs the worker in examples/; its ``sandbox://`` store
    is still the root's ./.unisend/sandbox.sqlite3, where ``unisend sandbox list`` looks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNISEND_")}
    env.update(PYTHONPATH=str(ROOT), UNISEND_URL="sandbox://")
    code = (
        "import celery_worker\nfrom unisend import from_url\nprint(from_url('sandbox://').path)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=EXAMPLES, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == ROOT / ".unisend" / "sandbox.sqlite3"
    env["UNISEND_SANDBOX"] = "/tmp/elsewhere.sqlite3"  # an explicit choice is kept
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=EXAMPLES, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.stdout.strip() == "/tmp/elsewhere.sqlite3"
