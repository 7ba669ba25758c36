"""The ``unisend`` command line (``python -m unisend`` works too).

::

    unisend send --from ADDR --to ADDR --subject S --text T [--url URL]
    unisend sandbox list | show ID | clear | serve
    unisend check-url URL
    unisend doctor [--url URL] [--domain D] [--json] [--nameserver IP[:PORT]]... [--no-login]

Errors print ``error: <ClassName>: <what to fix>`` on stderr and exit with 2 for a bad
message or configuration, 1 for a failed send. Nothing a URL carries as a secret is
ever printed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ._errors import ConfigurationError, InvalidMessage, SendError, UnisendError
from ._redact import redact_secrets, url_secrets
from ._version import __version__
from .spool import cli as spool_cli

if TYPE_CHECKING:
    from .transports.sandbox import SandboxTransport, StoredMessage

#: Exit codes (EXIT_PIPE: the reader of stdout went away, as for a tool killed by SIGPIPE).
EXIT_OK, EXIT_SEND_FAILED, EXIT_USAGE, EXIT_PIPE = 0, 1, 2, 141

#: The largest id SQLite can store (a 64-bit signed integer).
MAX_ID = 2**63 - 1


class CliError(Exception):
    """A problem with the command line itself, reported like a unisend error."""

    def __init__(self, kind: str, text: str, code: int) -> None:
        super().__init__(text)
        self.kind, self.text, self.code = kind, text, code


# -- argument parsing ----------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse without prefix matching (``--html`` must never be read as
    ``--html-file``); ``add_subparsers`` makes every subcommand's parser one too."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(**kwargs)


def whole_number(text: str) -> int:
    """An argparse ``type``: ASCII digits only, at most :data:`MAX_ID` (``int()`` also
    takes other scripts' digits, ``+1`` and ``1_0``)."""
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (digits 0-9)")
    value = int(text)
    if value > MAX_ID:
        raise argparse.ArgumentTypeError(f"{text} is too large (at most {MAX_ID})")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``unisend`` command."""
    parser = _Parser(
        prog="unisend",
        description="Send email through SMTP or an HTTP provider, or into the local sandbox.",
    )
    parser.add_argument("--version", action="version", version=f"unisend {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    send = commands.add_parser(
        "send",
        help="send one message",
        description=(
            "Send one message. The route is --url, else $UNISEND_URL, else sandbox:// "
            "(an error instead with UNISEND_REQUIRE_URL=1)."
        ),
    )
    send.add_argument("--from", dest="sender", required=True, metavar="ADDR", help="sender")
    send.add_argument("--to", action="append", required=True, metavar="ADDR", help="recipient")
    send.add_argument("--cc", action="append", default=[], metavar="ADDR")
    send.add_argument("--bcc", action="append", default=[], metavar="ADDR")
    send.add_argument("--reply-to", action="append", default=[], metavar="ADDR")
    send.add_argument("--subject", default="", metavar="S")
    body = send.add_mutually_exclusive_group()
    body.add_argument("--text", metavar="T", help="the plain-text body")
    body.add_argument(
        "--text-file", metavar="F", help="read the plain-text body from F (- = stdin)"
    )
    html = send.add_mutually_exclusive_group()
    html.add_argument("--html", metavar="HTML", help="the html body")
    html.add_argument("--html-file", metavar="F", help="read the html body from F (- = stdin)")
    send.add_argument("--attach", action="append", default=[], metavar="FILE")
    send.add_argument(
        "--header", action="append", default=[], metavar='"K: V"', help="an extra header"
    )
    send.add_argument("--url", metavar="URL", help="where to send (default: $UNISEND_URL)")

    sandbox = commands.add_parser(
        "sandbox",
        help="read the local sandbox",
        description="Read or empty the local sandbox store (where sandbox:// keeps mail).",
    )
    sandbox.add_argument(
        "--path",
        metavar="FILE",
        help="the sandbox file (default: the path in a sandbox:// $UNISEND_URL, "
        "else $UNISEND_SANDBOX, else ./.unisend/sandbox.sqlite3)",
    )
    actions = sandbox.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list stored messages, newest first")
    listing.add_argument(
        "--limit", type=whole_number, default=20, help="how many (default 20; 0 = all)"
    )
    show = actions.add_parser("show", help="print one stored message (raw RFC 5322)")
    show.add_argument("id", metavar="ID", help="the sandbox id, or the Message-ID")
    actions.add_parser("clear", help="delete every stored message")
    from .server import command as serve_command  # `sandbox serve` lives in its own module

    serve_command.add_parser(actions)

    check = commands.add_parser(
        "check-url", help="parse a configuration URL and show the transport it builds"
    )
    check.add_argument("url", metavar="URL")
    spool_cli.add_parser(commands)

    from .doctor.cli import add_parser as add_doctor

    add_doctor(commands)
    return parser


# -- commands ------------------------------------------------------------------------


def _read(path: str, what: str) -> bytes:
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        return Path(path).read_bytes()
    except OSError as exc:
        raise CliError(
            "InvalidMessage", f"cannot read {what} {path!r}: {exc.strerror or exc}", EXIT_USAGE
        ) from None


def _read_text(path: str, what: str) -> str:
    try:
        return _read(path, what).decode("utf-8")
    except UnicodeDecodeError:
        raise CliError(
            "InvalidMessage", f"{what} {path!r} is not UTF-8 text; convert it to UTF-8", EXIT_USAGE
        ) from None


def _headers(values: Sequence[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, colon, text = value.partition(":")
        if not colon or not name.strip():
            raise CliError(
                "InvalidMessage", f"--header {value!r} must look like 'Name: value'", EXIT_USAGE
            )
        if name.strip() in headers:
            raise CliError(
                "InvalidMessage", f"--header {name.strip()!r} is given twice", EXIT_USAGE
            )
        headers[name.strip()] = text.strip(" ")
    return headers


def _cmd_send(args: argparse.Namespace, out: TextIO) -> int:
    from ._mailer import Mailer, url_from_env
    from ._message import Attachment, Message

    text = args.text
    if args.text_file is not None:
        text = _read_text(args.text_file, "--text-file")
    html = args.html
    if args.html_file is not None:
        html = _read_text(args.html_file, "--html-file")
    attachments = [Attachment(Path(path).name, _read(path, "--attach")) for path in args.attach]
    message = Message(
        sender=args.sender,
        to=args.to,
        cc=args.cc,
        bcc=args.bcc,
        reply_to=args.reply_to,
        subject=args.subject,
        text=text,
        html=html,
        attachments=attachments,
        headers=_headers(args.header),
    )
    url = args.url or url_from_env()
    with Mailer.from_url(url) as mailer:
        result = mailer.send(message)
    out.write(f"route: {result.transport}\nmessage_id: {result.message_id}\n")
    return EXIT_OK


def _sandbox(path: str | None) -> SandboxTransport:
    from ._url import parse_url
    from .transports.sandbox import SandboxTransport, path_from_spec

    if path is None:
        url = os.environ.get("UNISEND_URL", "")
        if url.strip().lower().startswith("sandbox://"):
            path = path_from_spec(parse_url(url.strip()))
    return SandboxTransport(path)


def _one_line(stored: StoredMessage) -> str:
    to = ", ".join(stored.recipients)
    when = stored.time.strftime("%Y-%m-%d %H:%M:%S")
    return f"{stored.id:>5}  {when}  {stored.sender}  ->  {to}  |  {stored.subject}"


def _cmd_sandbox(args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "serve":
        from .server import command as serve_command

        return serve_command.run(args, out)
    with _sandbox(args.path) as sandbox:
        if args.action == "list":
            stored = sandbox.list(limit=args.limit or None)
            if not stored:
                out.write(f"the sandbox {sandbox.path} is empty\n")
            out.writelines(_one_line(item) + "\n" for item in stored)
            return EXIT_OK
        if args.action == "show":
            key = args.id.strip()
            found = sandbox.get(_sandbox_id(key)) if key.isdigit() else sandbox.find(key)
            if found is None:
                raise CliError(
                    "NotFound",
                    f"no message {key!r} in the sandbox {sandbox.path}; see `unisend sandbox list`",
                    EXIT_SEND_FAILED,
                )
            out.flush()
            raw = found.raw.replace(b"\r\n", b"\n")
            buffer = getattr(out, "buffer", None)
            if buffer is not None:
                buffer.write(raw)
                buffer.flush()
            else:
                out.write(raw.decode("utf-8", "replace"))
            return EXIT_OK
        deleted = sandbox.clear()
        out.write(f"deleted {deleted} message(s) from {sandbox.path}\n")
        return EXIT_OK


def _sandbox_id(key: str) -> int:
    """The sandbox id ``key`` names (digits, as `list` shows them); anything else that is
    not a Message-ID (those hold an ``@``) is a usage error."""
    try:
        return whole_number(key)
    except argparse.ArgumentTypeError as exc:
        problem = str(exc)
    raise CliError(
        "UsageError",
        f"ID {problem}: give the number `unisend sandbox list` shows, or the Message-ID",
        EXIT_USAGE,
    )


def _cmd_check_url(args: argparse.Namespace, out: TextIO) -> int:
    from ._url import from_url

    transport = from_url(args.url)
    try:
        out.write(f"{redact_secrets(repr(transport), url_secrets(args.url))}\n")
    finally:
        transport.close()
    return EXIT_OK


# -- entry point ---------------------------------------------------------------------


@contextmanager
def _log_to_stderr() -> Iterator[None]:
    """Show unisend's warnings (e.g. "mail stayed local") on stderr while a command runs."""
    logger = logging.getLogger("unisend")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler.setLevel(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def _fail(kind: str, text: str, secrets: Sequence[str]) -> None:
    """Print ``error: KIND: TEXT`` with every secret value the user gave masked (only
    those: hints such as ``sendgrid://API_KEY@default`` stay as they are)."""
    sys.stderr.write(f"error: {kind}: {redact_secrets(text, secrets)}\n")


def _stdout_gone() -> int:
    """The reader of stdout went away (``unisend sandbox list | head -1``): stop quietly,
    and point stdout at devnull so the interpreter's last flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (stdout replaced in-process)
        pass
    return EXIT_PIPE


def main(argv: list[str] | None = None) -> int:
    """Run the ``unisend`` command with ``argv`` (default: ``sys.argv[1:]``); return the
    exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    secrets = url_secrets(
        getattr(args, "url", None), getattr(args, "spool", None), os.environ.get("UNISEND_URL")
    )
    from .doctor.cli import run as doctor

    commands = {
        "send": _cmd_send,
        "sandbox": _cmd_sandbox,
        "check-url": _cmd_check_url,
        "spool": spool_cli.run,
        "doctor": doctor,
    }
    try:
        with _log_to_stderr():
            code = commands[args.command](args, sys.stdout)
            sys.stdout.flush()  # here, so a closed pipe is seen while it can be handled
            return code
    except BrokenPipeError:
        return _stdout_gone()
    except CliError as exc:
        _fail(exc.kind, exc.text, secrets)
        return exc.code
    except (InvalidMessage, ConfigurationError) as exc:
        _fail(type(exc).__name__, str(exc), secrets)
        return EXIT_USAGE
    except SendError as exc:
        _fail(type(exc).__name__, str(exc), secrets)
        return EXIT_SEND_FAILED
    except UnisendError as exc:  # pragma: no cover - every UnisendError is one of the above
        _fail(type(exc).__name__, str(exc), secrets)
        return EXIT_SEND_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except OSError as exc:  # e.g. a sandbox file that cannot be opened
        _fail(type(exc).__name__, str(exc), secrets)
        return EXIT_SEND_FAILED


__all__ = ["build_parser", "main"]
