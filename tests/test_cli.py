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


# -- issue 9: secrets, hints, ids, pipes -----------------------------------------------


def _clean_failure(done: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """Assert ``done`` failed the documented way; return its stderr."""
    assert done.returncode == code, done.stderr
    assert done.stderr.startswith("error: ") or "\nerror: " not in done.stderr
    assert "error: " in done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


@pytest.mark.parametrize(
    ("url", "secrets", "hint"),
    [
        (
            "smtp://AKIA:BH4x/yz+SECRET@email-smtp.example.com:587",
            ["BH4x/yz+SECRET", "yz+SECRET"],
            "%2F",
        ),
        ("mailjet://KEY:SEC/RET-77@default", ["SEC/RET-77", "RET-77"], "%2F"),
        ("sendgrid://SG.ab/cd@default", ["SG.ab/cd", "SG.ab"], "%2F"),
        ("smtp://user:pw-9x@[::1", ["pw-9x"], "brackets"),
        ("roundrobin(sendgrid://K3y-xyz@default))", ["K3y-xyz"], "one ')' too many"),
    ],
)
def test_bad_urls_exit_2_without_the_secret(
    run: Run, url: str, secrets: list[str], hint: str
) -> None:
    for done in (
        run("check-url", url),
        run(*SEND, "--text", "x", env={"UNISEND_URL": url}),
    ):
        stderr = _clean_failure(done)
        assert stderr.startswith("error: ConfigurationError: ")
        assert hint in stderr
        for secret in secrets:
            assert secret not in done.stdout + stderr


def test_hints_and_user_names_survive_redaction(run: Run) -> None:
    hint = _clean_failure(run(*SEND, "--text", "x", "--url", "sendgrid://default"))
    assert "write it as sendgrid://API_KEY@default" in hint
    user = _clean_failure(run("check-url", "smtp://annie@mail.example.com"))
    assert "SMTP user 'annie'" in user


def test_secret_values_are_masked_in_whatever_the_cli_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Defence in depth: the CLI masks the values of the user's URL in any message, even
    one a transport wrote with the secret in it (here an SMTP user name, which is not
    masked by the library, given as a provider key)."""
    code = main(["check-url", "nope://Very-Secret-Key-1@default"])
    err = capsys.readouterr().err
    assert code == 2 and "Very-Secret-Key-1" not in err
    from unisend.cli import _fail

    _fail("SendError", "the key Very%2FSecret went wrong", ["Very/Secret", "Very%2FSecret"])
    assert capsys.readouterr().err == "error: SendError: the key *** went wrong\n"


@pytest.mark.parametrize(
    "args",
    [
        ("sandbox", "show", "99999999999999999999999"),
        ("sandbox", "show", "²"),
        ("sandbox", "show", "\u0661"),  # ARABIC-INDIC DIGIT ONE
        ("sandbox", "list", "--limit", "99999999999999999999"),
        ("sandbox", "list", "--limit", "-1"),
        ("sandbox", "list", "--limit", "٣"),
    ],
)
def test_bad_ids_and_limits_exit_2(run: Run, args: tuple[str, ...]) -> None:
    _clean_failure(run(*args))


def test_an_id_picks_the_message_it_names(run: Run, store: Path) -> None:
    for subject in ("first", "second"):
        assert run(*SEND, "--subject", subject, "--text", "x").returncode == 0
    assert "Subject: first" in run("sandbox", "show", "1").stdout
    assert "Subject: first" in run("sandbox", "show", "0001").stdout
    _clean_failure(run("sandbox", "show", "\u0661"))  # an Arabic-Indic one is not id 1
    assert "second" in run("sandbox", "list", "--limit", "1").stdout


def test_a_closed_pipe_ends_quietly(run: Run, store: Path, tmp_path: Path) -> None:
    sandbox = SandboxTransport(store)
    from unisend import Message

    subject = "s" * 900
    for _ in range(150):  # ~150 kB of listing: more than a pipe buffer holds
        sandbox.send(Message(sender="a@example.com", to="b@example.com", subject=subject, text="x"))
    sandbox.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PYTHONPATH=str(REPO_ROOT), UNISEND_SANDBOX=str(store))
    done = subprocess.run(
        ["bash", "-c", f"'{sys.executable}' -m unisend sandbox list --limit 0 | head -1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert len(done.stdout.splitlines()) == 1 and subject in done.stdout
    assert done.stderr == ""


def test_inline_html_and_no_abbreviations(run: Run, store: Path) -> None:
    sent = run(*SEND, "--subject", "inline", "--text", "plain", "--html", "<p>x</p>")
    assert sent.returncode == 0, sent.stderr
    [stored] = SandboxTransport(store).list()
    assert b"<p>x</p>" in stored.raw and b"text/html" in stored.raw
    both = run(*SEND, "--text", "x", "--html", "<p>x</p>", "--html-file", "body.html")
    assert both.returncode == 2 and "not allowed with" in both.stderr
    abbreviated = run(*SEND, "--text", "x", "--html-f", "body.html")
    assert abbreviated.returncode == 2 and "unrecognized arguments: --html-f" in abbreviated.stderr
    assert run("sandbox", "li").returncode == 2


def test_a_reserved_character_in_a_url_option_is_explained_not_echoed(run: Run) -> None:
    done = run(*SEND, "--text", "x", "--url", "sendgrid://SG.ab/cd+ef@default")
    stderr = _clean_failure(done)
    assert stderr.startswith("error: ConfigurationError: sendgrid://***@default: ")
    assert "%2F" in stderr
    assert "SG.ab" not in stderr and "cd+ef" not in stderr
