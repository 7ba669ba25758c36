"""The ``unisend`` command line, run as a subprocess (``python -m unisend``) the way
users run it, plus a few in-process edge cases through ``main(argv)``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import unisend
from unisend.cli import main
from unisend.transports.sandbox import SandboxTransport

REPO_ROOT = Path(unisend.__file__).resolve().parent.parent
SECRET = "Pa55-w0rd-XYZ"

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "cli.sqlite3"


@pytest.fixture
def run(store: Path, tmp_path: Path) -> Run:
    """Run ``python -m unisend ARGS`` with the sandbox at ``store``."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        full_env["PYTHONPATH"] = str(REPO_ROOT)
        full_env["UNISEND_SANDBOX"] = str(store)
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "unisend", *args],
            capture_output=True,
            text=True,
            env=full_env,
            cwd=tmp_path,
            timeout=60,
        )

    return run


SEND = ("send", "--from", "Ann <ann@example.com>", "--to", "bob@example.com")


def test_send_list_show(run: Run, store: Path, tmp_path: Path) -> None:
    attachment = tmp_path / "notes.txt"
    attachment.write_bytes(b"attached bytes\n")
    html = tmp_path / "body.html"
    html.write_text("<p>Hi <b>Bob</b></p>", encoding="utf-8")
    sent = run(
        *SEND,
        "--to", "carol@example.com",
        "--cc", "dan@example.com",
        "--bcc", "eve@example.com",
        "--subject", "CLI hello",
        "--text", "Body from the command line",
        "--html-file", str(html),
        "--attach", str(attachment),
        "--header", "X-Ticket: 42",
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    lines = dict(line.split(": ", 1) for line in sent.stdout.splitlines())
    assert lines["route"] == "sandbox"
    message_id = lines["message_id"]
    assert message_id.startswith("<") and message_id.endswith(">")
    assert "stayed local" in sent.stderr and str(store) in sent.stderr

    [stored] = SandboxTransport(store).list()
    assert stored.message_id == message_id
    assert stored.recipients == (
        "bob@example.com",
        "carol@example.com",
        "dan@example.com",
        "eve@example.com",
    )

    listed = run("sandbox", "list")
    assert listed.returncode == 0, listed.stderr
    [row] = listed.stdout.splitlines()
    assert row.split()[0] == str(stored.id)
    for expected in ("ann@example.com", "bob@example.com", "eve@example.com", "CLI hello"):
        assert expected in row

    shown = run("sandbox", "show", str(stored.id))
    assert shown.returncode == 0, shown.stderr
    assert "Subject: CLI hello" in shown.stdout
    assert f"Message-ID: {message_id}" in shown.stdout
    assert "Body from the command line" in shown.stdout
    assert "X-Ticket: 42" in shown.stdout
    assert "notes.txt" in shown.stdout
    assert "eve@example.com" not in shown.stdout  # Bcc stays in the envelope
    assert shown.stdout.encode() == stored.raw.replace(b"\r\n", b"\n")

    by_message_id = run("sandbox", "show", message_id)
    assert by_message_id.returncode == 0
    assert by_message_id.stdout == shown.stdout

    cleared = run("sandbox", "clear")
    assert cleared.returncode == 0
    assert "deleted 1 message" in cleared.stdout
    empty = run("sandbox", "list")
    assert empty.returncode == 0
    assert "is empty" in empty.stdout


def test_bad_address_exits_2_naming_the_field(run: Run, store: Path) -> None:
    done = run("send", "--from", "ann@example.com", "--to", "not-an-address", "--text", "x")
    assert done.returncode == 2
    assert done.stderr.startswith("error: InvalidMessage: ")
    assert "to" in done.stderr and "not-an-address" in done.stderr
    assert "Traceback" not in done.stderr
    assert not store.exists()


def test_unknown_scheme_hides_the_secret(run: Run) -> None:
    url = f"nope://user:{SECRET}@mail.example.com"
    done = run(*SEND, "--text", "x", "--url", url)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ConfigurationError: ")
    assert "'nope'" in done.stderr
    assert SECRET not in done.stdout + done.stderr
    from_env = run(*SEND, "--text", "x", env={"UNISEND_URL": url})
    assert from_env.returncode == 2
    assert SECRET not in from_env.stdout + from_env.stderr


@pytest.mark.parametrize("value", ["X-Evil: a\r\nBcc: victim@example.com", "X-Evil: a\nb"])
def test_header_with_line_break_exits_2(run: Run, store: Path, value: str) -> None:
    done = run(*SEND, "--text", "x", "--header", value)
    assert done.returncode == 2
    assert done.stderr.startswith("error: InvalidMessage: ")
    assert "X-Evil" in done.stderr
    assert not store.exists()  # nothing sent


def test_send_error_exits_1(run: Run, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = run(*SEND, "--text", "x", "--url", f"sandbox://{blocker}/s.sqlite3")
    assert done.returncode == 1
    assert done.stderr.startswith("error: ProviderError: ")


def test_check_url(run: Run, tmp_path: Path) -> None:
    done = run("check-url", f"sandbox://{tmp_path}/x.sqlite3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"<SandboxTransport name='sandbox' path={str(tmp_path / 'x.sqlite3')!r}>"
    )
    smtp = run("check-url", f"smtp://user:{SECRET}@mail.example.com:587")
    assert smtp.returncode == 0, smtp.stderr
    assert "SMTPTransport" in smtp.stdout and "mail.example.com" in smtp.stdout
    assert SECRET not in smtp.stdout + smtp.stderr
    bad = run("check-url", f"nope://u:{SECRET}@h")
    assert bad.returncode == 2
    assert SECRET not in bad.stdout + bad.stderr


def test_version_and_usage(run: Run) -> None:
    version = run("--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"unisend {unisend.__version__}"
    assert run().returncode == 2
    assert run("sandbox").returncode == 2


# -- in process ----------------------------------------------------------------------


def test_main_returns_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["send", "--from", "a@example.com", "--to", "b@example.com", "--text", "hi"])
    assert code == 0
    out, err = capsys.readouterr()
    assert out.startswith("route: sandbox\nmessage_id: <")
    assert "stayed local" in err
    [stored] = SandboxTransport(os.environ["UNISEND_SANDBOX"]).list()
    assert stored.recipients == ("b@example.com",)
    assert out.rstrip().endswith(stored.message_id)


def test_header_without_colon(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SEND, "--text", "x", "--header", "NoColonHere"]) == 2
    err = capsys.readouterr().err
    assert err == "error: InvalidMessage: --header 'NoColonHere' must look like 'Name: value'\n"


def test_repeated_header(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SEND, "--text", "x", "--header", "X-A: 1", "--header", "X-A: 2"]) == 2
    assert "'X-A' is given twice" in capsys.readouterr().err


def test_reserved_header(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SEND, "--text", "x", "--header", "Subject: sneaky"]) == 2
    assert "use Message(subject=...)" in capsys.readouterr().err


def test_missing_attachment(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.pdf"
    assert main([*SEND, "--text", "x", "--attach", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: InvalidMessage: cannot read --attach")
    assert "nope.pdf" in err


def test_text_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    body = tmp_path / "body.txt"
    body.write_text("from a file\n", encoding="utf-8")
    assert main([*SEND, "--text-file", str(body), "--url", "memory://"]) == 0
    assert "route: memory" in capsys.readouterr().out


def test_text_and_text_file_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SEND, "--text", "a", "--text-file", "b"]) == 2
    assert "not allowed with" in capsys.readouterr().err


def test_no_body(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SEND, "--url", "memory://"]) == 2
    assert "needs text, html or template_id" in capsys.readouterr().err


def test_show_unknown_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "show", "999"]) == 1
    assert "no message '999'" in capsys.readouterr().err


def test_sandbox_path_option_and_url_env(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = tmp_path / "chosen.sqlite3"
    monkeypatch.setenv("UNISEND_URL", f"sandbox://{chosen}")
    assert main([*SEND, "--text", "x"]) == 0
    assert chosen.exists()
    capsys.readouterr()
    assert main(["sandbox", "list"]) == 0  # finds it through UNISEND_URL
    assert "bob@example.com" in capsys.readouterr().out
    monkeypatch.delenv("UNISEND_URL")
    assert main(["sandbox", "--path", str(chosen), "list"]) == 0
    assert "bob@example.com" in capsys.readouterr().out
    assert main(["sandbox", "list"]) == 0  # the UNISEND_SANDBOX default is still empty
    assert "is empty" in capsys.readouterr().out


@pytest.mark.parametrize(
    "url",
    [
        "smtp://user:{s}@mail.example.com",
        "smtp://user:{s}%2Fx@mail.example.com?security=ssl",
        "sendgrid://{s}@default",
        "mailjet://key:{s}@default",
        "failover(smtp://u:{s}@a memory://)",
    ],
)
def test_check_url_never_prints_the_secret(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code = main(["check-url", url.format(s=SECRET)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("<")
    assert SECRET not in out + err
